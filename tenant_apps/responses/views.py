"""The branded respondent page: server-rendered shell, the survey inlined, logic in the browser."""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tenant_apps.surveys.load import now, survey_load

CSS_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
CSS_VALUE_RE = re.compile(r"^[#\w\s.,()%-]{1,80}$")
STATUS_PAGES = {
    "survey_not_found": (404, "Survey not found"),
    "survey_closed": (410, "This survey is closed"),
    "survey_not_open": (403, "This survey is not open yet"),
    "survey_full": (410, "This survey is full"),
    "sign_in_required": (401, "Sign in to answer this survey"),
}


def branding_for(organisation: Any, survey_branding: dict[str, Any] | None) -> tuple[dict[str, Any], list[Any]]:
    """The organisation's branding with the survey's overrides; CSS variables re-checked before output."""
    branding = {**(getattr(organisation, "branding", None) or {}), **(survey_branding or {})}
    css_vars = [
        (k, v)
        for k, v in (branding.get("css_vars") or {}).items()
        if isinstance(v, str) and CSS_NAME_RE.match(str(k)) and CSS_VALUE_RE.match(v)
    ]
    for key in ("primary_color", "accent_color"):
        if key in branding and not re.fullmatch(r"#[0-9a-fA-F]{6}", str(branding[key])):
            branding.pop(key)
    return branding, css_vars


def respondent_page(request: HttpRequest, link: str) -> HttpResponse:
    organisation = request.tenant  # type: ignore[attr-defined]
    loaded = survey_load(link=link)
    code = "survey_not_found" if loaded is None or loaded.status == "archived" else loaded.availability(now())[0]
    if code == "open" and loaded is not None and loaded.access != "anonymous":
        code = "sign_in_required"
    if code != "open" or loaded is None:
        status, heading = STATUS_PAGES[code]
        message = (
            loaded.availability(now())[1]
            if loaded is not None and code not in ("survey_not_found", "sign_in_required")
            else {
                "survey_not_found": "There is no survey at this link. Check the address you were given.",
                "sign_in_required": "This survey is for members of the organisation; open it from your account.",
            }.get(code, "")
        )
        branding, css_vars = branding_for(organisation, None)
        return render(
            request,
            "respondent/status.html",
            {
                "organisation": organisation,
                "branding": branding,
                "css_vars": css_vars,
                "code": code,
                "heading": heading,
                "message": message,
            },
            status=status,
        )
    import json

    document = json.loads(loaded.body)
    branding, css_vars = branding_for(organisation, document["survey"].get("branding"))
    # Inline the survey (no second request); "</" is escaped so the JSON cannot close the script element.
    survey_json = loaded.body.decode().replace("</", "<\\/")
    response = render(
        request,
        "respondent/page.html",
        {
            "organisation": organisation,
            "branding": branding,
            "css_vars": css_vars,
            "title": document["survey"]["title"],
            "survey_json": survey_json,
        },
    )
    response["Cache-Control"] = "private, no-cache"
    response["X-Frame-Options"] = "SAMEORIGIN"
    return response
