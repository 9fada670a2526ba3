"""Server-rendered page behind the invitation e-mail's link (until the staff web app exists): the invited
person chooses a name and password and accepts, through the same service as the API."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from tenant_apps.members import services
from tenant_apps.responses.views import branding_for


@csrf_exempt  # the signed invitation token in the form is the proof; there is no session to ride on
@require_http_methods(["GET", "POST"])
def invitation_accept_page(request: HttpRequest) -> HttpResponse:
    organisation = request.tenant  # type: ignore[attr-defined]
    branding, css_vars = branding_for(organisation, None)
    source = request.POST if request.method == "POST" else request.GET
    context: dict[str, object] = {
        "organisation": organisation,
        "branding": branding,
        "css_vars": css_vars,
        "token": source.get("token", "")[:1000],
        "full_name": source.get("full_name", "")[:200],
        "errors": {},
    }
    status = 200
    if request.method == "POST":
        try:
            membership = services.invitation_accept(
                token=str(context["token"]),
                password=request.POST.get("password") or None,
                full_name=str(context["full_name"]),
            )
        except ValidationError as exc:  # the password validators raise a plain list
            found = exc.message_dict if hasattr(exc, "error_dict") else {"password": exc.messages}
            context["errors"] = {key: " ".join(messages) for key, messages in found.items()}
            status = 400
        except services.MembershipError as exc:
            context["errors"] = {"non_field_errors": str(exc)}
            status = 400
        else:
            context["membership"] = membership
    elif not context["token"]:
        context["errors"] = {"token": "This invitation link is incomplete: open the link from the e-mail again."}
        status = 400
    response = render(request, "respondent/invitation.html", context, status=status)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"  # the token is in the address
    response["X-Frame-Options"] = "DENY"
    return response
