"""Checks on a contact's fields, shared by the API, the CSV import and the services."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator

from shared_apps.core.parsers import text_problem
from tenant_apps.distribution.personal import ContactPersonal

ATTRIBUTE_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
RESERVED = frozenset({"email", "first_name", "last_name"})
MAX_ATTRIBUTES = 50
MAX_VALUE = 500
MAX_NAME = 100
_email = EmailValidator()


class FieldErrors(ValueError):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def _text(value: Any, name: str, limit: int, errors: dict[str, list[str]]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.setdefault(name, []).append("Must be text.")
        return ""
    problem = text_problem(value)
    if problem:
        errors.setdefault(name, []).append(problem)
        return ""
    value = value.strip()
    if len(value) > limit:
        errors.setdefault(name, []).append(f"At most {limit} characters.")
    return value


def personal_clean(*, email: Any, first_name: Any = "", last_name: Any = "", attributes: Any = None) -> ContactPersonal:
    """A checked ``ContactPersonal`` or ``FieldErrors`` naming every bad field."""
    errors: dict[str, list[str]] = {}
    address = _text(email, "email", 254, errors)
    if "email" not in errors:
        try:
            _email(address)
        except DjangoValidationError:
            errors["email"] = ["Enter a valid e-mail address."]
    first = _text(first_name, "first_name", MAX_NAME, errors)
    last = _text(last_name, "last_name", MAX_NAME, errors)
    clean_attributes: dict[str, str] = {}
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict):
        errors["attributes"] = ["Must be an object of name: text."]
        attributes = {}
    if len(attributes) > MAX_ATTRIBUTES:
        errors["attributes"] = [f"At most {MAX_ATTRIBUTES} attributes."]
        attributes = {}
    for name, value in attributes.items():
        if not isinstance(name, str) or not ATTRIBUTE_NAME_RE.match(name) or name in RESERVED:
            errors.setdefault("attributes", []).append(
                f"{str(name)[:70]!r}: names are a letter then letters, digits or _ (at most 64), "
                "and not email, first_name or last_name."
            )
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            errors.setdefault("attributes", []).append(f"{name}: must be text or a number.")
            continue
        text = _text(str(value), f"attributes.{name}", MAX_VALUE, errors)
        clean_attributes[name] = text
    if errors:
        raise FieldErrors(errors)
    return ContactPersonal(email=address, first_name=first, last_name=last, attributes=clean_attributes)
