"""Test-only views: a view that fails (Sentry) and one that echoes the client address the app sees (nginx)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from shared_apps.core.http import client_ip


@csrf_exempt
def boom(request: HttpRequest) -> JsonResponse:
    raise RuntimeError("deliberate failure for the Sentry test")


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"client_ip": client_ip(request), "remote_addr": request.META.get("REMOTE_ADDR")})


test_patterns = [path("_test/boom/", boom), path("_test/whoami/", whoami)]
