"""OpenAPI (drf-spectacular) plumbing shared by both hosts' schemas.

Every operation documents the common error shape (component ``Error``) for the statuses it can answer:

- always 400 (malformed request, refused Host), 404 (unknown object or organisation, ``?format=``) and
  406 (``Accept`` the API cannot produce);
- 401/403 when the view authenticates (tenant host: bad token, missing permission, suspended organisation);
- 413/415 when it takes a body; 429 when it is rate limited;
- 402 on a tenant API's writes (views with ``billing_exempt``): billing restricted, or a plan limit reached;
- whatever else the view declares in ``error_statuses`` (e.g. 409, 410, 412).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema_serializer, inline_serializer
from rest_framework import serializers

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable, e.g. `not_found`, `invalid`.")
    message = serializers.CharField(help_text="For people.")
    details = serializers.DictField(
        required=False, help_text="Validation errors: field name -> list of messages (nested for nested input)."
    )
    request_id = serializers.CharField(help_text="Also in the `X-Request-ID` header; quote it to support.")


@extend_schema_serializer(component_name="Error")
class ErrorSerializer(serializers.Serializer):
    """The one error shape of the platform."""

    error = ErrorBodySerializer()


class ApiAutoSchema(AutoSchema):
    def get_serializer_name(self, serializer: serializers.Serializer, direction: Any) -> str:
        """A nested serializer is named after its API: ``MeApi.OutputSerializer`` -> ``MeOutput``, so two
        views' ``InputSerializer``/``OutputSerializer`` never share (and silently overwrite) a component."""
        cls = type(serializer)
        outer, _, inner = cls.__qualname__.rpartition(".")
        if not outer or "<locals>" in outer:
            return cls.__name__
        return outer.rsplit(".", 1)[-1].removesuffix("Api") + inner.removesuffix("Serializer")

    def error_statuses(self) -> list[int]:
        view = self.view
        codes = {400, 404, 406}
        if getattr(view, "authentication_classes", None):
            codes |= {401, 403}
        if self.method in BODY_METHODS:
            codes |= {413, 415}
        if getattr(view, "throttle_classes", None):
            codes.add(429)
        if self.method in {*BODY_METHODS, "DELETE"} and hasattr(view, "billing_exempt"):
            codes.add(402)
        codes |= set(getattr(view, "error_statuses", ()))
        return sorted(codes)

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for code in self.error_statuses():
            responses.setdefault(
                str(code), self._get_response_for_code(ErrorSerializer, str(code), direction=direction)
            )
        return responses


def paginated(results: serializers.BaseSerializer | serializers.Field, name: str) -> serializers.Serializer:
    """The body of a cursor-paginated list: ``{next, previous, results}``."""
    return inline_serializer(
        name=name,
        fields={
            "next": serializers.URLField(allow_null=True, help_text="The next page, or null."),
            "previous": serializers.URLField(allow_null=True, help_text="The previous page, or null."),
            "results": results,
        },
    )
