"""Hosts, the common error shape, health and readiness, OpenAPI, request ids."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client

from tests.conftest import ROOT


def _assert_error_shape(body: dict, code: str) -> None:
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["error"]["request_id"]


def test_unknown_host_is_a_json_404():
    response = Client(HTTP_HOST="nobody.localhost").get("/api/v1/tenant/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    _assert_error_shape(response.json(), "tenant_not_found")
    assert "nobody.localhost" in response.json()["error"]["message"]


def test_disallowed_host_is_a_json_400():
    response = Client(HTTP_HOST="evil.example.com").get("/api/v1/tenant/")
    assert response.status_code == 400
    _assert_error_shape(response.json(), "invalid_host")


def test_unknown_path_on_tenant_is_a_json_404(client_for, tenant_a):
    response = client_for(tenant_a).get("/no/such/path")
    assert response.status_code == 404
    _assert_error_shape(response.json(), "not_found")


def test_method_not_allowed_uses_the_error_shape(client_for, tenant_a):
    response = client_for(tenant_a).delete("/api/v1/tenant/")
    assert response.status_code == 405
    _assert_error_shape(response.json(), "method_not_allowed")


def test_tenant_info_is_the_hosts_own_tenant(client_for, tenant_a, tenant_b):
    """Cross-tenant: each host answers with its own organisation, never the other's."""
    assert client_for(tenant_a).get("/api/v1/tenant/").json()["slug"] == tenant_a.slug
    assert client_for(tenant_b).get("/api/v1/tenant/").json()["slug"] == tenant_b.slug


def test_template_schema_is_not_reachable_by_host():
    response = Client(HTTP_HOST="template.localhost").get("/api/v1/tenant/")
    assert response.status_code == 404


def test_request_id_is_echoed_or_generated(client_for, tenant_a):
    client = client_for(tenant_a)
    assert client.get("/api/v1/tenant/", HTTP_X_REQUEST_ID="req-12345678")["X-Request-ID"] == "req-12345678"
    generated = client.get("/api/v1/tenant/", HTTP_X_REQUEST_ID="bad id!")["X-Request-ID"]
    assert len(generated) == 32


@pytest.mark.parametrize("host", ["localhost", "anything.example.com", "127.0.0.1"])
def test_healthz_answers_on_any_host(host):
    response = Client(HTTP_HOST=host).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_postgres_and_redis(client_for, tenant_a):
    response = client_for(tenant_a).get("/readyz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["postgres"]["ok"] is True
    assert checks["redis"]["ok"] is True


def test_readyz_is_503_when_redis_is_unreachable(settings):
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"},
    }
    caches["default"].close()
    try:
        response = Client(HTTP_HOST="localhost").get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["redis"]["ok"] is False
        assert body["checks"]["postgres"]["ok"] is True
    finally:
        caches["default"].close()


def test_readyz_is_503_when_postgres_is_unreachable():
    connection.close()
    original_port = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = "1"
    try:
        response = Client(HTTP_HOST="localhost").get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["postgres"]["ok"] is False
    finally:
        connection.close()
        connection.settings_dict["PORT"] = original_port
    assert Client(HTTP_HOST="localhost").get("/readyz").status_code == 200


def test_openapi_schema_and_viewers_on_both_hosts(public_client, client_for, tenant_a):
    schema = public_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/signup/" in document["paths"]
    tenant_schema = client_for(tenant_a).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/tenant/" in tenant_schema["paths"]
    assert "/api/v1/signup/" not in tenant_schema["paths"]
    for path in ("/api/docs/", "/api/redoc/"):
        page = public_client.get(path)
        assert page.status_code == 200
        assert b"<html" in page.content.lower() or b"<!doctype html" in page.content.lower()


def test_swagger_assets_are_served_locally(public_client):
    page = public_client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "cdn.jsdelivr" not in page


def _settings_subprocess(env_overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "config.settings.production", **env_overrides}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_settings_refuse_to_start_without_secrets():
    missing = _settings_subprocess({})
    assert missing.returncode != 0
    assert "DJANGO_SECRET_KEY" in missing.stderr
    weak = _settings_subprocess({"DJANGO_SECRET_KEY": "dev-only-insecure-secret-key-change-me-0123456789"})
    assert weak.returncode != 0
    assert "real secret" in weak.stderr
    no_hosts = _settings_subprocess({"DJANGO_SECRET_KEY": "k" * 64})
    assert no_hosts.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS" in no_hosts.stderr
    full = {
        "DJANGO_SECRET_KEY": "k" * 64,
        "DJANGO_ALLOWED_HOSTS": "surveys.example.com,.surveys.example.com",
        "DATABASE_URL": "postgres://app@db/survey",
        "DATABASE_OWNER_URL": "postgres://owner@db/survey",
        "REDIS_URL": "redis://cache:6379/0",
    }
    started = _settings_subprocess(full)
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "started"
    no_db = _settings_subprocess({k: v for k, v in full.items() if k != "DATABASE_OWNER_URL"})
    assert no_db.returncode != 0
    assert "DATABASE_OWNER_URL" in no_db.stderr
