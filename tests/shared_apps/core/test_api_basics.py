"""Hosts, the common error shape, health and readiness, OpenAPI, request ids."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client

from tests.conftest import ROOT, host_of


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
        "VAULT_ADDR": "https://vault.example.com:8200",
        "VAULT_ROLE_ID": "survey-app",
        "VAULT_SECRET_ID": "s" * 36,
    }
    no_vault = _settings_subprocess({k: v for k, v in full.items() if k != "VAULT_ADDR"})
    assert no_vault.returncode != 0
    assert "VAULT_ADDR" in no_vault.stderr
    no_auth = _settings_subprocess({k: v for k, v in full.items() if k != "VAULT_SECRET_ID"})
    assert no_auth.returncode != 0
    assert "auth method" in no_auth.stderr
    dev_token = _settings_subprocess({**full, "VAULT_TOKEN": "root"})
    assert dev_token.returncode != 0
    assert "development token" in dev_token.stderr
    started = _settings_subprocess(full)
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "started"
    no_db = _settings_subprocess({k: v for k, v in full.items() if k != "DATABASE_OWNER_URL"})
    assert no_db.returncode != 0
    assert "DATABASE_OWNER_URL" in no_db.stderr


# --- one error shape, whatever the URL, host, format or DEBUG ------------------------------------------

FORMAT_URLS = {
    "tenant": ["/api/v1/tenant/", "/api/v1/me/", "/api/v1/surveys/", "/api/v1/members/", "/api/schema/"],
    "platform": ["/api/v1/signup/", f"/api/v1/signup/{uuid.UUID(int=0)}/", "/api/schema/"],
}


@pytest.mark.parametrize("host_kind", ["tenant", "platform"])
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_unknown_format_is_a_4xx_in_the_error_shape(host_kind, signed_in, tenant_a, make_member, api_client_for):
    """``?format=<unknown>`` used to answer 500 (IndexError in the error handler)."""
    if host_kind == "platform":
        client = Client(HTTP_HOST="localhost")
        if signed_in:  # a tenant's token means nothing on the platform host: still a clean 4xx
            client.defaults["HTTP_AUTHORIZATION"] = api_client_for(make_member(tenant_a), tenant_a).defaults[
                "HTTP_AUTHORIZATION"
            ]
    else:
        client = api_client_for(make_member(tenant_a), tenant_a) if signed_in else Client(HTTP_HOST=host_of(tenant_a))
    for url in FORMAT_URLS[host_kind]:
        for fmt in ("xml", "csv", "nonsense"):
            response = client.get(url, {"format": fmt})
            assert response.status_code in (404, 406), (url, fmt, response.status_code)
            assert response["Content-Type"] == "application/json"
            _assert_error_shape(response.json(), "not_found" if response.status_code == 404 else "not_acceptable")


def test_unknown_api_urls_are_json_even_with_debug_on(settings, client_for, tenant_a):
    """With DEBUG=True Django answered its HTML page listing every URL pattern."""
    settings.DEBUG = True
    for client in (client_for(tenant_a), Client(HTTP_HOST="localhost")):
        for path in ("/api/nope/", "/api/v1/surveys/not-a-number/", "/api/v1/nothing/here/"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert response["Content-Type"] == "application/json", path
            assert b"urlpatterns" not in response.content
            _assert_error_shape(response.json(), "not_found")


def test_domain_errors_are_mapped_once(make_member, api_client_for, tenant_a):
    """A service's DomainError subclass keeps its code and status; Django's ValidationError is a 400."""
    client = api_client_for(make_member(tenant_a), tenant_a)
    admin_role = next(r for r in client.get("/api/v1/roles/").json() if r["slug"] == "admin")
    refused = client.patch(f"/api/v1/roles/{admin_role['id']}/", {"name": "X"}, content_type="application/json")
    assert refused.status_code == 400
    _assert_error_shape(refused.json(), "membership_refused")
    assert "built-in role" in refused.json()["error"]["message"]
    wrong = client.post(
        "/api/v1/auth/password/change/",
        {"current_password": "not-it", "new_password": "another-long-passphrase-42"},
        content_type="application/json",
    )
    assert wrong.status_code == 400
    _assert_error_shape(wrong.json(), "invalid")
    assert wrong.json()["error"]["details"]["current_password"]


def test_domain_error_class_carries_code_message_status():
    from shared_apps.core.errors import DomainError
    from shared_apps.tenants.services import TenantError
    from tenant_apps.members.services import MembershipError
    from tenant_apps.responses.services import ResponseError
    from tenant_apps.surveys.services import RevisionConflict, SurveyError

    for cls in (TenantError, MembershipError, SurveyError, RevisionConflict, ResponseError):
        assert issubclass(cls, DomainError)
    conflict = RevisionConflict("stale")
    assert (conflict.code, conflict.status, conflict.message) == ("revision_conflict", 412, "stale")
    gone = ResponseError("survey_full", "Full.", 410)
    assert (gone.code, gone.status, gone.message) == ("survey_full", 410, "Full.")
    assert DomainError("x", code="c", status=409, details={"a": ["b"]}).details == {"a": ["b"]}


# --- Django's refusals of hostile requests ----------------------------------------------------------


def test_oversized_json_body_is_413(settings, client_for, tenant_a):
    body = b'{"email": "a@example.test", "password": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + b'"}'
    response = client_for(tenant_a).post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 413
    _assert_error_shape(response.json(), "payload_too_large")


def _demo_link(tenant) -> str:
    from django_tenants.utils import tenant_context

    from tenant_apps.surveys.models import Survey

    with tenant_context(tenant):
        return Survey.objects.filter(status=Survey.Status.PUBLISHED).values_list("public_link", flat=True)[0]


def _many_fields(count: int) -> tuple[bytes, str]:
    boundary = "fuzzboundary"
    parts = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\n1\r\n' for i in range(count))
    return f"{parts}--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_too_many_form_fields_is_400(settings, client_for, tenant_a):
    body, content_type = _many_fields(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)
    response = client_for(tenant_a).post(f"/api/v1/s/{_demo_link(tenant_a)}/files/", body, content_type=content_type)
    assert response.status_code == 400
    _assert_error_shape(response.json(), "too_many_fields")


def test_form_bodies_are_refused_by_json_endpoints(client_for, tenant_a):
    response = client_for(tenant_a).post(
        "/api/v1/auth/token/", "email=a%40example.test&password=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    _assert_error_shape(response.json(), "unsupported_media_type")


def test_suspicious_errors_outside_views_use_the_shape():
    from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
    from django.test import RequestFactory

    from shared_apps.core.errors import handler400

    request = RequestFactory().get("/")
    assert handler400(request, RequestDataTooBig("big")).status_code == 413
    generic = handler400(request, SuspiciousOperation("odd"))
    assert generic.status_code == 400
    assert json.loads(generic.content)["error"]["code"] == "bad_request"


def test_hostile_requests_through_gunicorn(live_servers, tenant_a, settings):
    """The same answers from a real gunicorn process; its own limits answer 4xx, never 500."""
    import requests

    base = live_servers[0]
    headers = {"Host": host_of(tenant_a)}
    big = requests.post(
        f"{base}/api/v1/auth/token/",
        data=b'{"password": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + b'"}',
        headers={**headers, "Content-Type": "application/json"},
        timeout=30,
    )
    assert big.status_code == 413
    _assert_error_shape(big.json(), "payload_too_large")
    body, content_type = _many_fields(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)
    many = requests.post(
        f"{base}/api/v1/s/{_demo_link(tenant_a)}/files/",
        data=body,
        headers={**headers, "Content-Type": content_type},
        timeout=30,
    )
    assert many.status_code == 400
    _assert_error_shape(many.json(), "too_many_fields")
    unknown_format = requests.get(f"{base}/api/v1/tenant/?format=nonsense", headers=headers, timeout=30)
    assert unknown_format.status_code == 404
    _assert_error_shape(unknown_format.json(), "not_found")
    bad_host = requests.get(f"{base}/api/v1/tenant/", headers={"Host": "evil.example.com"}, timeout=30)
    assert bad_host.status_code == 400
    _assert_error_shape(bad_host.json(), "invalid_host")
    # gunicorn's own limits (gunicorn.conf.py): answered by gunicorn itself, before Django.
    long_line = requests.get(f"{base}/api/v1/tenant/?q={'a' * 9000}", headers=headers, timeout=30)
    assert long_line.status_code == 414
    many_headers = requests.get(
        f"{base}/api/v1/tenant/", headers={**headers, **{f"X-H{i}": "1" for i in range(120)}}, timeout=30
    )
    assert many_headers.status_code in (400, 431)
    long_header = requests.get(f"{base}/api/v1/tenant/", headers={**headers, "X-Big": "a" * 9000}, timeout=30)
    assert long_header.status_code in (400, 431)


# --- hosts -----------------------------------------------------------------------------------------------


def test_hosts_are_case_insensitive(tenant_a):
    for host in (host_of(tenant_a).upper(), host_of(tenant_a).title(), host_of(tenant_a) + "."):
        response = Client(HTTP_HOST=host).get("/api/v1/tenant/")
        assert response.status_code == 200, (host, response.content)
        assert response.json()["slug"] == tenant_a.slug
    assert Client(HTTP_HOST="LOCALHOST").get("/api/v1/signup/").status_code == 405  # the platform's URLs


def test_port_does_not_identify_a_tenant(tenant_a):
    response = Client(HTTP_HOST=f"{host_of(tenant_a)}:9999").get("/api/v1/tenant/")
    assert response.status_code == 200
    assert response.json()["slug"] == tenant_a.slug


def test_www_prefix(tenant_a):
    """``www.<platform>`` is the platform host; ``www.<tenant host>`` is no organisation's host."""
    platform = Client(HTTP_HOST="www.localhost").get("/api/schema/", HTTP_ACCEPT="application/json")
    assert platform.status_code == 200
    assert "/api/v1/signup/" in platform.json()["paths"]
    tenant = Client(HTTP_HOST=f"www.{host_of(tenant_a)}").get("/api/v1/tenant/")
    assert tenant.status_code == 404
    _assert_error_shape(tenant.json(), "tenant_not_found")


# --- the OpenAPI contract ----------------------------------------------------------------------------


@pytest.mark.parametrize("urlconf", ["config.urls_tenant", "config.urls_public"])
def test_openapi_schema_validates_without_warnings(urlconf, tmp_path):
    """``spectacular --validate --fail-on-warn``: no component-name collisions (``Output`` used to be three
    different serializers), no unresolved bodies or authenticators, a valid OpenAPI document."""
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--urlconf",
            urlconf,
            "--validate",
            "--fail-on-warn",
            "--file",
            str(tmp_path / "schema.yaml"),
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def _ref(response: dict) -> str:
    return response["content"]["application/json"]["schema"].get("$ref", "")


def test_openapi_documents_the_real_contract(client_for, tenant_a, public_client):
    document = client_for(tenant_a).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    schemas = document["components"]["schemas"]
    # Swagger's Authorize button: a bearer scheme, required by member endpoints, optional on public ones.
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert document["paths"]["/api/v1/me/"]["get"]["security"] == [{"bearerAuth": []}]
    assert {} in document["paths"]["/api/v1/s/{link}/"]["get"]["security"]
    # Each endpoint names its own body, not another view's (they all resolved to the audit event).
    me = _ref(document["paths"]["/api/v1/me/"]["get"]["responses"]["200"])
    tenant = _ref(document["paths"]["/api/v1/tenant/"]["get"]["responses"]["200"])
    version = _ref(document["paths"]["/api/v1/surveys/{id}/versions/{number}/"]["get"]["responses"]["200"])
    assert len({me, tenant, version}) == 3
    assert "permissions" in schemas[me.rsplit("/", 1)[-1]]["properties"]
    # Paginated lists are documented as {next, previous, results}.
    for path in ("/api/v1/audit/", "/api/v1/members/", "/api/v1/surveys/{id}/submissions/"):
        body = schemas[_ref(document["paths"][path]["get"]["responses"]["200"]).rsplit("/", 1)[-1]]
        assert set(body["properties"]) == {"next", "previous", "results"}, path
        assert body["properties"]["results"]["type"] == "array"
    validate = schemas[
        _ref(document["paths"]["/api/v1/surveys/{id}/validate/"]["post"]["responses"]["200"]).split("/")[-1]
    ]
    assert set(validate["properties"]) == {"valid", "errors"}
    # Builder bodies are real objects with named fields (no free-form additionalProp1).
    page_add = document["paths"]["/api/v1/surveys/{id}/pages/"]["post"]["requestBody"]["content"]
    page = schemas[page_add["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert {"id", "title", "questions"} <= set(page["properties"])
    # Every operation documents its error answers with the shared Error component.
    assert set(schemas["Error"]["properties"]) == {"error"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            for status_code in ("400", "404"):
                assert _ref(responses[status_code]).endswith("/Error"), (method, path, status_code)
            if method in ("post", "put", "patch"):
                assert {"413", "415"} <= set(responses), (method, path)
            if operation.get("security") and {} not in operation["security"]:
                assert {"401", "403"} <= set(responses), (method, path)
    assert "412" in document["paths"]["/api/v1/surveys/{id}/definition/"]["put"]["responses"]
    assert "409" in document["paths"]["/api/v1/s/{link}/submit/"]["post"]["responses"]
    # The description's placeholders are code, not swallowed as HTML tags.
    platform = public_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    description = platform["info"]["description"]
    assert "`<slug>.<platform domain>`" in description
    assert "<slug>" not in description.replace("`<slug>.<platform domain>`", "")
