"""The branded respondent page: server-rendered shell, the survey inlined, logic in the browser."""

from __future__ import annotations

import json
import re
from typing import Any

from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billing.limits import responses_exhausted
from shared_apps.core.errors import DomainError
from tenant_apps.responses.services import ResponseError, resume_code_open
from tenant_apps.surveys.load import now, survey_load

CSS_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
CSS_VALUE_RE = re.compile(r"^[#\w\s.,()%-]{1,80}$")
STATUS_PAGES = {
    "survey_not_found": (404, "Survey not found"),
    "survey_closed": (410, "This survey is closed"),
    "survey_not_open": (403, "This survey is not open yet"),
    "survey_full": (410, "This survey is full"),
    "sign_in_required": (401, "Sign in to answer this survey"),
    "invitation_required": (403, "This survey is by invitation"),
    "invitation_invalid": (403, "This invitation link is not valid"),
    "invitation_used": (410, "You have already responded"),
    "not_accepting_responses": (503, "This survey is not accepting responses"),
}
PAGE_MESSAGES = {
    "survey_not_found": "There is no survey at this link. Check the address you were given.",
    "sign_in_required": "This survey is for members of the organisation; open it from your account.",
    "invitation_required": "Open the personal link you received by e-mail to answer this survey.",
    "not_accepting_responses": "This survey cannot take more responses at the moment. Please try again later.",
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
    invitation: Any = None
    message = ""
    token = request.GET.get("i", "")[:300]
    if code == "open" and loaded is not None and (token or loaded.access == "invited"):
        # A personal invitation link (tenant_apps.distribution): the only way into an invited survey.
        from tenant_apps.distribution.links import invitation_open

        if not token:
            code = "invitation_required"
        else:
            try:
                invitation = invitation_open(token=token, survey_id=loaded.survey_id)
            except DomainError as exc:
                code, message = exc.code, exc.message
    elif code == "open" and loaded is not None and loaded.access != "anonymous":
        code = "sign_in_required"
    if code == "open" and responses_exhausted(organisation=organisation):  # the plan's monthly responses
        code = "not_accepting_responses"
    if code != "open" or loaded is None:
        status, heading = STATUS_PAGES[code]
        message = message or (
            loaded.availability(now())[1]
            if loaded is not None and code not in PAGE_MESSAGES
            else PAGE_MESSAGES.get(code, "")
        )
        survey_branding = json.loads(loaded.body)["survey"].get("branding") if loaded is not None else None
        branding, css_vars = branding_for(organisation, survey_branding)
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
    document = json.loads(loaded.body)
    branding, css_vars = branding_for(organisation, document["survey"].get("branding"))
    # Inline the survey (no second request); "</" is escaped so the JSON cannot close the script element.
    survey_json = loaded.body.decode().replace("</", "<\\/")
    # A short resume code (?r=) opens here into the draft's id and token; the page then loads the draft.
    resume: dict[str, Any] = {}
    if invitation is not None:
        # The page sends the token with every call, and fills hidden fields (and so piping) from the contact.
        resume["invitation"] = token
        resume["hidden"] = invitation.hidden_answers(document["definition"])
    if request.GET.get("r"):
        try:
            uid, draft_token = resume_code_open(survey_id=loaded.survey_id, code=request.GET["r"][:100])
            resume.update(submission_id=uid, token=draft_token)
        except ResponseError as exc:
            resume["error"] = exc.message
    response = render(
        request,
        "respondent/page.html",
        {
            "organisation": organisation,
            "branding": branding,
            "css_vars": css_vars,
            "title": document["survey"]["title"],
            "survey_json": survey_json,
            "resume": resume,
            "script": _script_url(),
        },
    )
    response["Cache-Control"] = "private, no-cache"
    response["X-Frame-Options"] = "SAMEORIGIN"
    return response


def _script_url() -> str:
    """The minified bundle (hashed name) once built and collected, else the ES module itself."""
    name = "surveys/respondent.min.js"
    if not staticfiles_storage.exists(name) and not _found(name):
        name = "surveys/respondent.js"
    return staticfiles_storage.url(name)


def _found(name: str) -> bool:
    from django.contrib.staticfiles import finders

    return bool(finders.find(name))
