"""Sessions, authentication and messages for the admin, on the platform host only.

Tenant hosts authenticate with JWTs and never get a session, a session cookie or ``request.user`` from
here (Django's admin checks accept these subclasses of its middleware). Put them after the tenant middleware.
"""

from __future__ import annotations

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse

from shared_apps.operators.services import on_platform_host


class PlatformSessionMiddleware(SessionMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if on_platform_host(request):
            super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not hasattr(request, "session"):
            return response
        return super().process_response(request, response)


class PlatformAuthenticationMiddleware(AuthenticationMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if on_platform_host(request):
            super().process_request(request)


class PlatformMessageMiddleware(MessageMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if on_platform_host(request):
            super().process_request(request)
