"""The staff web app's shell (``frontend/``, built by ``make assets`` into ``build/static/app/``): every path
under ``/app/`` on a tenant host answers the same ``index.html`` and the app routes in the browser. The page
itself is never cached (it names the current hashed chunks); the chunks are long-cached by WhiteNoise."""

from __future__ import annotations

from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_GET

INDEX = "app/index.html"


@require_GET
def staff_app(request: HttpRequest, path: str = "") -> HttpResponse:
    found = finders.find(INDEX)
    if not found:
        return HttpResponse("The staff app is not built yet: run `make assets`.", status=503, content_type="text/plain")
    response = HttpResponse(Path(str(found)).read_bytes(), content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Frame-Options"] = "DENY"
    response["Referrer-Policy"] = "same-origin"
    return response


@require_GET
def tenant_home(request: HttpRequest) -> HttpResponse:
    """``/`` on an organisation's host opens the staff app."""
    return HttpResponseRedirect("/app/")
