"""The page a signup's verification link opens (platform host). GET only shows a button (mail scanners
follow links; they must not create organisations); the button's POST verifies and starts provisioning."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from shared_apps.tenants.models import Organisation
from shared_apps.tenants.services import signup_verify
from shared_apps.tenants.services.signup import SIGNUP_TOKEN_SALT


@require_http_methods(["GET", "POST"])
def signup_verify_page(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        token = request.GET.get("token", "")
        name = ""
        try:
            data = signing.loads(token, salt=SIGNUP_TOKEN_SALT)
            organisation = Organisation.objects.filter(public_id=data.get("o")).only("name").first()
            name = organisation.name if organisation else ""
        except (signing.BadSignature, ValidationError, TypeError, AttributeError):
            pass
        if not name:
            return render(
                request,
                "signup/verify.html",
                {"heading": "This link is not valid", "error": "Please sign up again."},
                status=400,
            )
        return render(
            request,
            "signup/verify.html",
            {"heading": "Confirm your organisation", "confirm": True, "token": token, "organisation_name": name},
        )
    try:
        organisation, _admin = signup_verify(token=request.POST.get("token", ""))
    except ValidationError as exc:
        message = " ".join(exc.message_dict.get("token", exc.messages))
        return render(
            request, "signup/verify.html", {"heading": "This link cannot be used", "error": message}, status=400
        )
    return render(
        request,
        "signup/verify.html",
        {
            "heading": "Thank you: your organisation is being set up",
            "message": f"{organisation.name} will be ready in a few seconds; sign in with the e-mail and password "
            "you chose.",
            "status_url": request.build_absolute_uri(reverse("signup-status", args=[organisation.public_id])),
        },
        status=202,
    )


@require_http_methods(["GET"])
def product_page(request: HttpRequest) -> HttpResponse:
    """``/`` on the platform host: what the product does, and the signup form (it posts to the signup API)."""
    return render(request, "product/index.html", {"platform_domain": settings.PLATFORM_DOMAIN})
