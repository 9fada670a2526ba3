"""The unsubscribe page behind every invitation's link: GET asks, POST (the button, or a mail
client's RFC 8058 one-click POST) unsubscribes the contact from the whole organisation."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from tenant_apps.distribution import links, services
from tenant_apps.responses.views import branding_for


@csrf_exempt  # the signed token is the proof; mail clients' one-click unsubscribe POSTs without a session
@require_http_methods(["GET", "POST"])
def unsubscribe_page(request: HttpRequest) -> HttpResponse:
    organisation = request.tenant  # type: ignore[attr-defined]
    branding, css_vars = branding_for(organisation, None)
    token = (request.GET.get("token") or request.POST.get("token") or "")[: links.TOKEN_MAX_LENGTH]
    context: dict[str, object] = {
        "organisation": organisation,
        "branding": branding,
        "css_vars": css_vars,
        "token": token,
        "done": False,
        "error": "",
    }
    status = 200
    if links.unsubscribe_contact_id(token) is None:
        context["error"] = "This unsubscribe link is not valid: open the link from the e-mail again."
        status = 404
    elif request.method == "POST":
        services.contact_unsubscribe(token=token)
        context["done"] = True
    response = render(request, "respondent/unsubscribe.html", context, status=status)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Frame-Options"] = "DENY"
    return response
