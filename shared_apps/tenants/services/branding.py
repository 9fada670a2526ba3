"""Respondent-page branding: one validator for the organisation's branding and each survey's override."""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.exceptions import ValidationError

from shared_apps.core import registry
from shared_apps.tenants.cache import tenants_invalidate
from shared_apps.tenants.models import Organisation

BRANDING_KEYS = ("logo_url", "primary_color", "accent_color", "css_vars")
BRANDING_MAX_BYTES = 4096
LOGO_MAX_LENGTH = 500  # as the API schema documents
_LOGO_RE = re.compile(r"https?://[^\s\"'<>()\\]{3,500}")
_COLOR_RE = re.compile(r"#[0-9a-fA-F]{6}")
_CSS_NAME_RE = re.compile(r"[a-z][a-z0-9-]{0,40}")
_CSS_VALUE_RE = re.compile(r"[#\w\s.,()%-]{1,80}")


def branding_errors(branding: Any) -> dict[str, list[str]]:
    """Problems with a branding object, keyed by its setting; empty when it is valid.

    ``logo_url``: an http(s) URL (no ``javascript:``/``data:``, no quotes or brackets); colours:
    ``#rrggbb`` only (nothing a stylesheet could be broken out of); ``css_vars``: up to 20 plain
    name -> value pairs; no other keys; at most ``BRANDING_MAX_BYTES`` as JSON."""
    if not isinstance(branding, dict):
        return {"branding": ["A JSON object with " + ", ".join(BRANDING_KEYS) + "."]}
    errors: dict[str, list[str]] = {}
    if len(json.dumps(branding, default=str)) > BRANDING_MAX_BYTES:
        return {"branding": [f"At most {BRANDING_MAX_BYTES} bytes of branding settings."]}
    for key in sorted(set(branding) - set(BRANDING_KEYS), key=str):
        errors[str(key)] = [f"Unknown branding setting; use {', '.join(sorted(BRANDING_KEYS))}."]
    logo = branding.get("logo_url")
    if logo is not None and not (isinstance(logo, str) and len(logo) <= LOGO_MAX_LENGTH and _LOGO_RE.fullmatch(logo)):
        errors["logo_url"] = [f"An http(s) URL of at most {LOGO_MAX_LENGTH} characters."]
    for key in ("primary_color", "accent_color"):
        if key in branding and not (isinstance(branding[key], str) and _COLOR_RE.fullmatch(branding[key])):
            errors[key] = ["A colour like #1a2b3c."]
    css_vars = branding.get("css_vars", {})
    if (
        not isinstance(css_vars, dict)
        or len(css_vars) > 20
        or not all(
            _CSS_NAME_RE.fullmatch(str(k)) and isinstance(v, str) and _CSS_VALUE_RE.fullmatch(v)
            for k, v in css_vars.items()
        )
    ):
        errors["css_vars"] = ["Up to 20 name -> value pairs; names like 'radius', values like '12px' or '#fff'."]
    return errors


def branding_validate(branding: Any, *, field: str | None = None) -> None:
    """Raise ValidationError when the branding is not valid: keyed by setting, or, with ``field``
    (e.g. a survey's ``branding``), under that field with each message naming its setting."""
    errors = branding_errors(branding)
    if not errors:
        return
    if field is None:
        raise ValidationError(errors)
    raise ValidationError(
        {field: [msg if key == "branding" else f"{key}: {msg}" for key, msgs in errors.items() for msg in msgs]}
    )


def tenant_branding_set(*, organisation: Organisation, branding: dict[str, Any]) -> Organisation:
    """Validate and store the respondent-page branding: logo URL, two colours, CSS variables."""
    branding_validate(branding)
    before = organisation.branding
    organisation.branding = branding
    organisation.save(update_fields=["branding", "updated_at"])
    tenants_invalidate()
    registry.audit(
        action="tenant.branding_updated",
        target_type="organisation",
        target_id=organisation.slug,
        changes={"before": before, "after": branding},
    )
    return organisation
