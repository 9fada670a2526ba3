"""Benchmark the per-request cost of authentication + permission check, cache warm and cold,
next to its raw parts (JWT signature check alone, one Redis round trip) measured in the same run."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import RequestFactory
from django_redis import get_redis_connection
from django_tenants.utils import tenant_context
from rest_framework.request import Request

from shared_apps.accounts.models import User
from shared_apps.accounts.services import password_generate
from shared_apps.core.cache import l1_clear
from shared_apps.tenants.services import tenant_create, tenant_hard_delete
from tenant_apps.members import tokens
from tenant_apps.members.access import PRINCIPALS, HasTenantPermission, TenantJWTAuthentication
from tenant_apps.members.services import membership_ensure


def _time(fn: Callable[[], Any], n: int, before: Callable[[], Any] | None = None) -> list[float]:
    samples = []
    for _ in range(n):
        if before:
            before()
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1e6)
    return samples


class Command(BaseCommand):
    help = "Median/p95 cost (microseconds) of JWT authentication + permission check per request."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--iterations", type=int, default=2000)

    def handle(self, *args: Any, **options: Any) -> None:
        n = options["iterations"]
        slug = f"bench-auth-{uuid.uuid4().hex[:6]}"
        created = tenant_create(
            slug=slug, name="Bench auth", admin_email=f"{slug}@example.test", admin_password=password_generate()
        )
        tenant = created.organisation
        try:
            analyst = User.objects.create_user(f"analyst-{slug}@example.test", password_generate())
            with tenant_context(tenant):
                membership_ensure(user=analyst, role_slug="analyst")
                pair = tokens.tokens_issue(user_id=analyst.pk, schema=tenant.schema_name)
                rows = self._measure(tenant, analyst.pk, pair.access, n)
            User.objects.filter(pk=analyst.pk).delete()
        finally:
            tenant_hard_delete(slug=slug)
            User.objects.filter(email=f"{slug}@example.test").delete()
        self.stdout.write(f"auth + permission check per request, {n} iterations, microseconds:")
        self.stdout.write(f"{'case':<44}{'p50':>9}{'p95':>9}{'p99':>9}")
        for name, samples in rows:
            q = statistics.quantiles(samples, n=100)
            self.stdout.write(f"{name:<44}{statistics.median(samples):>9.1f}{q[94]:>9.1f}{q[98]:>9.1f}")

    def _measure(self, tenant: Any, user_id: int, access: str, n: int) -> list[tuple[str, list[float]]]:
        factory = RequestFactory()
        auth, permission = TenantJWTAuthentication(), HasTenantPermission()

        class View:
            required_permission = "analytics.view"

        def check() -> None:
            django_request = factory.get("/api/v1/x", HTTP_AUTHORIZATION=f"Bearer {access}")
            django_request.tenant = tenant  # type: ignore[attr-defined]
            request = Request(django_request)
            result = auth.authenticate(request)
            if result is None:
                raise CommandError("authentication failed in the benchmark")
            request.user = result[0]  # type: ignore[assignment]
            if not permission.has_permission(request, View()):
                raise CommandError("permission check failed in the benchmark")

        redis = get_redis_connection("default")

        def cold() -> None:
            l1_clear()
            redis.delete(PRINCIPALS.redis_key(tenant.schema_name, user_id))

        def build_only() -> None:
            django_request = factory.get("/api/v1/x", HTTP_AUTHORIZATION=f"Bearer {access}")
            django_request.tenant = tenant  # type: ignore[attr-defined]
            Request(django_request)

        check()  # start the invalidation listener, warm everything
        return [
            ("raw: building the request objects only", _time(build_only, n)),
            ("raw: JWT signature + claims check only", _time(lambda: tokens.access_decode(access), n)),
            ("raw: one Redis EXISTS round trip", _time(lambda: redis.exists("bench:none"), n)),
            ("auth + permission, cache warm (L1)", _time(check, n)),
            ("auth + permission, L1 cold, Redis warm", _time(check, n, before=l1_clear)),
            ("auth + permission, cold (PostgreSQL)", _time(check, max(200, n // 10), before=cold)),
        ]
