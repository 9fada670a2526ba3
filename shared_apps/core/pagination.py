"""Cursor pagination that refuses a crafted cursor with 400 ``invalid_cursor`` instead of querying with it.

DRF's cursor is base64 of ``o=<offset>&r=<reverse>&p=<position>``; the position is compared with the first
ordering field. A position that is not a valid value of that field (``p=99999-01-01`` on a timestamp, a NUL)
raised inside the query (500); an undecodable cursor was a 404. Every cursor-paginated list uses this class.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.views import APIView

from shared_apps.core.parsers import InputRefused, text_problem


class InvalidCursor(InputRefused):
    default_code = "invalid_cursor"

    def __init__(self) -> None:
        super().__init__("cursor", "This cursor is not valid; start again from the first page.")


class CursorPagination(pagination.CursorPagination):
    _model: type[Model] | None = None

    def paginate_queryset(self, queryset: Any, request: Request, view: APIView | None = None) -> list[Any] | None:
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> pagination.Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except NotFound as exc:
            raise InvalidCursor from exc
        if cursor is None or cursor.position is None:
            return cursor
        position = str(cursor.position)
        if text_problem(position):
            raise InvalidCursor
        ordering = self.ordering if isinstance(self.ordering, list | tuple) else [self.ordering]
        if self._model is not None and ordering:
            try:
                field: Any = self._model._meta.get_field(str(ordering[0]).lstrip("-"))
            except FieldDoesNotExist:
                return cursor
            try:
                if field.to_python(position) is None:
                    raise InvalidCursor
            except (DjangoValidationError, ValueError, TypeError, OverflowError) as exc:
                raise InvalidCursor from exc
        return cursor
