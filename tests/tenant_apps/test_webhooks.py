"""Webhooks against a real local HTTP receiver (a thread server on a free port) and the real worker:
signatures verified by the receiver, retries with backoff, a hanging receiver (the 10 s timeout),
auto-disable with an e-mail, redelivery, secret rotation, the SSRF guard, hostile input, tenancy."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.audit.models import AuditEvent
from tenant_apps.surveys import services as surveys
from tenant_apps.webhooks import schedule, services, signing, transport
from tenant_apps.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.conftest import host_of, login, unique_slug
from tests.factories import MemberFactory, SurveyFactory, TenantFactory


def _readme_verify() -> Callable[..., bool]:
    """The receiver-side check exactly as the README shows it (independent of the platform's own code)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("Verifying a delivery") :]
    code = section[section.index("```python\n") + len("```python\n") : section.index("```\n", 10)]
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    return namespace["verify"]  # type: ignore[no-any-return]


readme_verify = _readme_verify()


# --- a real HTTP receiver ------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


# behaviour(n, request) -> (status, seconds to hang before answering); n counts from 1 per path.
Behaviour = Callable[[int, Received], tuple[int, float]]


@dataclass
class Receiver:
    port: int
    requests: list[Received] = field(default_factory=list)
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def path(self, behaviour: Behaviour | None = None) -> str:
        path = f"/hook/{uuid.uuid4().hex[:10]}"
        self.behaviours[path] = behaviour or (lambda n, r: (200, 0))
        return path

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 60) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.at(path)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{path}: {len(self.at(path))} requests within {timeout}s, expected {count}")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    state = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
            with state.lock:
                state.requests.append(request)
                n = len([r for r in state.requests if r.path == self.path])
            behaviour = state.behaviours.get(self.path, lambda n, r: (404, 0))
            status, hang = behaviour(n, request)
            if hang:
                state.release.wait(hang)
            try:
                payload = json.dumps({"received": n, "status": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the sender gave up (timeout)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


# --- helpers -----------------------------------------------------------------------------------------


@dataclass
class Org:
    tenant: Any
    admin: Any
    client: Client


def _new_org() -> Org:
    from django.db import connection

    connection.set_schema_to_public()
    tenant = TenantFactory(slug=unique_slug("hooks"))
    admin = MemberFactory(tenant=tenant, role="admin")
    tokens = login(tenant, admin.email)
    connection.set_schema_to_public()
    return Org(tenant, admin, Client(HTTP_HOST=host_of(tenant), HTTP_AUTHORIZATION=f"Bearer {tokens['access']}"))


@pytest.fixture
def org() -> Org:
    """A fresh organisation per test that sends events, so no other test's endpoints receive them."""
    return _new_org()


@pytest.fixture(scope="module")
def shared_org() -> Org:
    """One organisation for the tests that send no events (input checks, the guard, CRUD)."""
    return _new_org()


@pytest.fixture(scope="module")
def other_org() -> Org:
    return _new_org()


def endpoint_count(org: Org) -> int:
    with tenant_context(org.tenant):
        return WebhookEndpoint.objects.count()


def create_endpoint(org: Org, url: str, events: list[str] | None = None) -> dict[str, Any]:
    response = org.client.post(
        "/api/v1/webhooks/",
        {"url": url, "events": events or ["survey.closed"], "description": "test"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def close_a_survey(tenant: Any) -> int:
    """A real domain event: a published survey is closed (``survey.closed``)."""
    survey = SurveyFactory(tenant=tenant, published=True)
    with tenant_context(tenant):
        surveys.survey_close(survey=survey)
    return survey.pk


def deliveries(org: Org, endpoint_id: int) -> list[dict[str, Any]]:
    response = org.client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries/")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def delivery_detail(org: Org, endpoint_id: int, delivery_id: int) -> dict[str, Any]:
    response = org.client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/")
    assert response.status_code == 200, response.content
    return response.json()


def wait_delivery(org: Org, endpoint_id: int, status: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for row in deliveries(org, endpoint_id):
            if row["status"] == status:
                return delivery_detail(org, endpoint_id, row["id"])
        time.sleep(0.2)
    raise AssertionError(f"no {status} delivery within {timeout}s: {deliveries(org, endpoint_id)}")


def verifying(secrets: dict[str, str]) -> Behaviour:
    """200 when the signature verifies with the secret the test put in ``secrets['secret']``, else 401."""

    def behaviour(n: int, request: Received) -> tuple[int, float]:
        ok = readme_verify(request.headers["survey-signature"], request.body, secrets["secret"])
        return (200 if ok else 401), 0

    return behaviour


# --- signature, payload ------------------------------------------------------------------------------


@pytest.mark.worker
def test_signed_versioned_payload_is_verified_by_the_receiver(org, receiver, celery_worker_process):
    secrets: dict[str, str] = {}
    path = receiver.path(verifying(secrets))
    endpoint = create_endpoint(org, receiver.url(path))
    assert endpoint["secret"].startswith("whsec_")
    secrets["secret"] = endpoint["secret"]
    survey_id = close_a_survey(org.tenant)

    (request,) = receiver.wait_for(path, 1)
    delivery = wait_delivery(org, endpoint["id"], "succeeded")
    payload = json.loads(request.body)
    assert set(payload) == {"id", "type", "api_version", "created_at", "data"}
    assert payload["type"] == "survey.closed"
    assert payload["api_version"] == services.API_VERSION
    assert payload["data"] == {"survey_id": survey_id}
    assert payload["id"].startswith("evt_")
    assert request.headers["survey-event-id"] == payload["id"] == delivery["event_id"]
    assert request.headers["survey-event-type"] == "survey.closed"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
    header = request.headers["survey-signature"]
    assert header.count("v1=") == 1
    assert signing.verify(header=header, body=request.body, secret=secrets["secret"], now=int(time.time()))
    assert not readme_verify(header, request.body, "whsec_wrong")
    assert not readme_verify(header, request.body + b" ", secrets["secret"])
    # the delivery log: request and response excerpts
    (attempt,) = delivery["attempt_log"]
    assert attempt["succeeded"]
    assert attempt["response_status"] == 200
    assert json.loads(attempt["request_body"]) == payload
    assert attempt["request_headers"]["Survey-Signature"] == header
    assert json.loads(attempt["response_body"]) == {"received": 1, "status": 200}
    assert attempt["address"] == "127.0.0.1"
    with tenant_context(org.tenant):
        assert AuditEvent.objects.filter(action="webhook.create", target_id=str(endpoint["id"])).exists()


@pytest.mark.worker
def test_event_filter_only_subscribed_events_are_sent(org, receiver, celery_worker_process):
    published = receiver.path()
    closed = receiver.path()
    create_endpoint(org, receiver.url(published), ["survey.published"])
    create_endpoint(org, receiver.url(closed), ["survey.closed", "export.completed"])
    SurveyFactory(tenant=org.tenant, published=True)  # survey.published only
    (request,) = receiver.wait_for(published, 1)
    assert json.loads(request.body)["type"] == "survey.published"
    assert json.loads(request.body)["data"]["version"] == 1
    time.sleep(2)
    assert receiver.at(closed) == []


@pytest.mark.worker
def test_response_completed_is_delivered_without_the_respondent_key(org, receiver, celery_worker_process):
    path = receiver.path()
    create_endpoint(org, receiver.url(path), ["response.completed"])
    survey = SurveyFactory(tenant=org.tenant, published=True)
    answers = {"q_name": "Ann", "q_role": "dev", "q_nps": 9, "q_why": "Fast", "q_features": ["logic", "analytics"]}
    response = Client(HTTP_HOST=host_of(org.tenant)).post(
        f"/api/v1/s/{survey.public_link}/submit/", {"answers": answers}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    (request,) = receiver.wait_for(path, 1)
    payload = json.loads(request.body)
    assert payload["type"] == "response.completed"
    assert payload["data"]["survey_id"] == survey.pk
    assert "respondent_key" not in payload["data"]


# --- retries, timeout, auto-disable, redelivery ---------------------------------------------------


@pytest.mark.worker
def test_a_receiver_that_fails_twice_then_succeeds(org, receiver, celery_worker_process):
    path = receiver.path(lambda n, r: ((500 if n <= 2 else 200), 0))
    endpoint = create_endpoint(org, receiver.url(path))
    close_a_survey(org.tenant)

    got = receiver.wait_for(path, 3)
    delivery = wait_delivery(org, endpoint["id"], "succeeded")
    gaps = [round(b.at - a.at, 2) for a, b in itertools.pairwise(got)]
    log = delivery["attempt_log"]
    print(f"\nobserved retry schedule (test settings: base 1 s, x2, ±20% jitter): gaps {gaps} s")
    assert [a["response_status"] for a in log] == [500, 500, 200]
    assert [a["succeeded"] for a in log] == [False, False, True]
    assert delivery["attempts"] == 3
    # the same event each time, a fresh signature each attempt
    assert len({r.headers["survey-event-id"] for r in got}) == 1
    assert [r.headers["survey-delivery-attempt"] for r in got] == ["1", "2", "3"]
    # scheduled waits: retry n waits base * 2**(n-1) * [0.8, 1.2]
    for attempt, nominal in zip(log[:2], (1.0, 2.0), strict=True):
        started = timezone.datetime.fromisoformat(attempt["started_at"])
        scheduled = (timezone.datetime.fromisoformat(attempt["retry_at"]) - started).total_seconds()
        waited = scheduled - attempt["duration_ms"] / 1000
        assert nominal * 0.8 - 0.05 <= waited <= nominal * 1.2 + 0.25, (attempt, waited)
    assert log[2]["retry_at"] is None
    # and the receiver saw them no earlier than scheduled
    assert gaps[0] >= 0.75
    assert gaps[1] >= 1.55
    assert gaps[0] < 6
    assert gaps[1] < 8
    with tenant_context(org.tenant):
        assert WebhookEndpoint.objects.get(pk=endpoint["id"]).consecutive_failures == 0


@pytest.mark.worker
def test_a_hanging_receiver_times_out_after_10_seconds_and_is_retried(org, receiver, celery_worker_process):
    path = receiver.path(lambda n, r: (200, 30 if n == 1 else 0))
    endpoint = create_endpoint(org, receiver.url(path))
    close_a_survey(org.tenant)

    delivery = wait_delivery(org, endpoint["id"], "succeeded", timeout=90)
    first, second = delivery["attempt_log"]
    assert first["error"] == "Timed out after 10 s."
    assert first["response_status"] is None
    assert 9_900 <= first["duration_ms"] <= 12_000, first
    assert second["succeeded"]
    assert second["duration_ms"] < 5_000


@pytest.mark.worker
@pytest.mark.usefixtures("celery_worker_process")
def test_auto_disable_after_consecutive_failures_emails_the_admins(org, receiver, smtp_server, make_member, settings):
    analyst = make_member(org.tenant, role="analyst")
    path = receiver.path(lambda n, r: (503, 0))
    endpoint = create_endpoint(org, receiver.url(path))
    close_a_survey(org.tenant)

    limit = settings.WEBHOOK_DISABLE_AFTER_FAILURES
    receiver.wait_for(path, limit)
    message = smtp_server.wait_for(org.admin.email, timeout=60)
    assert "disabled" in str(message["Subject"])
    assert receiver.url(path) in message.get_payload()  # type: ignore[attr-defined]
    detail = org.client.get(f"/api/v1/webhooks/{endpoint['id']}/").json()
    assert detail["is_active"] is False
    assert detail["consecutive_failures"] == limit
    assert f"{limit} failed deliveries in a row" in detail["disabled_reason"]
    (delivery,) = deliveries(org, endpoint["id"])
    assert delivery["status"] == "cancelled"
    assert delivery["attempts"] == limit
    time.sleep(2)
    assert len(receiver.at(path)) == limit  # nothing more is sent
    assert not any(org.admin.email != analyst.email and analyst.email in str(m["To"]) for m in smtp_server.messages)
    with tenant_context(org.tenant):
        assert AuditEvent.objects.filter(action="webhook.auto_disable", target_id=str(endpoint["id"])).exists()
    # redelivering to a disabled endpoint is refused; enabling it again resets the count
    refused = org.client.post(f"/api/v1/webhooks/{endpoint['id']}/deliveries/{delivery['id']}/redeliver/")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "webhook_disabled"
    enabled = org.client.patch(
        f"/api/v1/webhooks/{endpoint['id']}/", {"is_active": True}, content_type="application/json"
    ).json()
    assert enabled["is_active"] is True
    assert enabled["consecutive_failures"] == 0


@pytest.mark.worker
def test_manual_redelivery_sends_the_same_event_again(org, receiver, celery_worker_process):
    path = receiver.path()
    endpoint = create_endpoint(org, receiver.url(path))
    close_a_survey(org.tenant)
    (first,) = receiver.wait_for(path, 1)
    original = wait_delivery(org, endpoint["id"], "succeeded")

    response = org.client.post(f"/api/v1/webhooks/{endpoint['id']}/deliveries/{original['id']}/redeliver/")
    assert response.status_code == 202, response.content
    again = response.json()
    assert again["redelivery_of"] == original["id"]
    assert again["event_id"] == original["event_id"]
    _, second = receiver.wait_for(path, 2)
    assert second.body == first.body
    assert second.headers["survey-event-id"] == first.headers["survey-event-id"]
    assert second.headers["survey-delivery-id"] == str(again["id"]) != first.headers["survey-delivery-id"]
    with tenant_context(org.tenant):
        assert AuditEvent.objects.filter(action="webhook.redeliver", target_id=str(original["id"])).exists()


@pytest.mark.worker
def test_secret_rotation_signs_with_both_secrets_during_the_overlap(org, receiver, celery_worker_process):
    path = receiver.path()
    endpoint = create_endpoint(org, receiver.url(path))
    old = endpoint["secret"]
    rotated = org.client.post(
        f"/api/v1/webhooks/{endpoint['id']}/rotate-secret/", {"overlap_seconds": 3600}, content_type="application/json"
    )
    assert rotated.status_code == 200, rotated.content
    new = rotated.json()["secret"]
    assert new != old
    assert rotated.json()["previous_secret_expires_at"]
    close_a_survey(org.tenant)
    (during,) = receiver.wait_for(path, 1)
    header = during.headers["survey-signature"]
    assert header.count("v1=") == 2
    assert readme_verify(header, during.body, old)
    assert readme_verify(header, during.body, new)

    # no overlap: the old secret stops at once
    newest = org.client.post(
        f"/api/v1/webhooks/{endpoint['id']}/rotate-secret/", {"overlap_seconds": 0}, content_type="application/json"
    ).json()["secret"]
    close_a_survey(org.tenant)
    _, after = receiver.wait_for(path, 2)
    header = after.headers["survey-signature"]
    assert header.count("v1=") == 1
    assert readme_verify(header, after.body, newest)
    assert not readme_verify(header, after.body, new)
    assert not readme_verify(header, after.body, old)
    with tenant_context(org.tenant):
        assert AuditEvent.objects.filter(action="webhook.rotate_secret").count() == 2


def test_overlap_ends_when_the_previous_secret_expires(shared_org):
    org = shared_org
    endpoint = create_endpoint(org, "http://127.0.0.1:9/x")
    with tenant_context(org.tenant):
        row = WebhookEndpoint.objects.get(pk=endpoint["id"])
        row = services.webhook_secret_rotate(endpoint=row, overlap_seconds=60)
        now = timezone.now()
        current = services.endpoint_secret(row)
        assert current != endpoint["secret"]
        assert services.signing_secrets(row, now) == [current, endpoint["secret"]]
        assert services.signing_secrets(row, now + timedelta(seconds=61)) == [current]


# --- the SSRF guard ----------------------------------------------------------------------------------

REFUSED = [
    "http://127.0.0.1/x",
    "http://localhost:8080/x",
    "http://10.1.2.3/",
    "http://172.16.0.5/",
    "http://192.168.1.10/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0/",
    "http://100.64.0.1/",
    "http://2130706433/",  # 127.0.0.1 as one number
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_loopback_and_link_local_destinations_are_refused(shared_org, url):
    org = shared_org
    before = endpoint_count(org)
    with override_settings(WEBHOOK_ALLOW_PRIVATE_DESTINATIONS=False):
        response = org.client.post(
            "/api/v1/webhooks/", {"url": url, "events": ["survey.closed"]}, content_type="application/json"
        )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "webhook_destination_refused"
    assert endpoint_count(org) == before


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://127.0.0.1/", "javascript:alert(1)", "example.com"]
)
def test_a_url_that_is_not_http_is_a_400(shared_org, url):
    org = shared_org
    before = endpoint_count(org)
    response = org.client.post(
        "/api/v1/webhooks/", {"url": url, "events": ["survey.closed"]}, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_url"
    assert endpoint_count(org) == before


def test_a_public_address_passes_the_guard():
    with override_settings(WEBHOOK_ALLOW_PRIVATE_DESTINATIONS=False):
        target = transport.resolve("https://93.184.215.14:8443/hook?a=1")
    assert (target.scheme, target.host, target.port, target.path) == ("https", "93.184.215.14", 8443, "/hook?a=1")


def test_a_host_resolving_to_any_private_address_is_refused(monkeypatch):
    real = socket.getaddrinfo

    def fake(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "mixed.example":
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 80)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 80)),
            ]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with override_settings(WEBHOOK_ALLOW_PRIVATE_DESTINATIONS=False), pytest.raises(transport.DestinationRefused):
        transport.resolve("http://mixed.example/")


def test_dns_rebinding_cannot_redirect_the_request(receiver, monkeypatch):
    """The host is resolved once; the connection goes to that address whatever DNS says next, and the
    receiver still sees the original Host header."""
    real = socket.getaddrinfo
    calls: list[str] = []

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.example":
            calls.append(host)
            address = "127.0.0.1" if len(calls) == 1 else "10.255.255.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, receiver.port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    path = receiver.path()
    result = transport.post(url=receiver.url(path, host="rebind.example"), body=b"{}", headers={})
    assert result.status == 200, result
    assert result.address == "127.0.0.1"
    assert calls == ["rebind.example"]  # resolved exactly once
    (request,) = receiver.at(path)
    assert request.headers["host"] == f"rebind.example:{receiver.port}"


def test_the_guard_also_runs_at_delivery_time(shared_org, receiver):
    """An endpoint accepted earlier (or whose DNS changed since) is refused when sending."""
    org = shared_org
    path = receiver.path()
    endpoint = create_endpoint(org, receiver.url(path))
    with tenant_context(org.tenant):
        event = WebhookEvent.objects.create(
            event_id=f"evt_{uuid.uuid4().hex}", type="survey.closed", body="{}", created_at=timezone.now()
        )
        delivery = WebhookDelivery.objects.create(
            endpoint_id=endpoint["id"], event=event, next_attempt_at=timezone.now()
        )
        with override_settings(WEBHOOK_ALLOW_PRIVATE_DESTINATIONS=False):
            services.delivery_attempt(delivery_id=delivery.pk)
        attempt = WebhookAttempt.objects.get(delivery=delivery)
        assert "must be public" in attempt.error
        assert attempt.response_status is None
        WebhookEndpoint.objects.filter(pk=endpoint["id"]).delete()  # no retry reaches the receiver
    assert receiver.at(path) == []


def test_redirects_are_not_followed(receiver):
    path = receiver.path(lambda n, r: (302, 0))
    result = transport.post(url=receiver.url(path), body=b"{}", headers={})
    assert result.status == 302  # a failure for the delivery, never followed


# --- hostile input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"url": "http://127.0.0.1:9/x", "events": ["survey.deleted"]},
        {"url": "http://127.0.0.1:9/x", "events": []},
        {"url": "http://127.0.0.1:9/x", "events": "survey.closed"},
        {"url": "http://127.0.0.1:9/x"},
        {"events": ["survey.closed"]},
        {"url": "http://127.0.0.1:9/" + "x" * 2100, "events": ["survey.closed"]},
        {"url": ["http://127.0.0.1:9/x"], "events": ["survey.closed"]},
        {"url": "http://127.0.0.1:99999/x", "events": ["survey.closed"]},
        {"url": "http://user:pw@127.0.0.1:9/x", "events": ["survey.closed"]},
        {"url": "http://no-such-host.invalid/x", "events": ["survey.closed"]},
    ],
)
def test_bad_input_is_a_400_and_writes_nothing(shared_org, body):
    org = shared_org
    before = endpoint_count(org)
    response = org.client.post("/api/v1/webhooks/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert set(response.json()["error"]) >= {"code", "message"}
    assert endpoint_count(org) == before


def test_bad_patch_and_rotation_input(shared_org):
    org = shared_org
    endpoint = create_endpoint(org, "http://127.0.0.1:9/x")
    base = f"/api/v1/webhooks/{endpoint['id']}/"
    for body in ({"url": "ftp://x"}, {"events": ["nope"]}, {"events": []}, {"is_active": "maybe"}):
        response = org.client.patch(base, body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)
    for body in ({"overlap_seconds": -1}, {"overlap_seconds": 10**9}, {"overlap_seconds": "x"}):
        response = org.client.post(f"{base}rotate-secret/", body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)
    with tenant_context(org.tenant):
        row = WebhookEndpoint.objects.get(pk=endpoint["id"])
        assert (row.url, row.events) == ("http://127.0.0.1:9/x", ["survey.closed"])
        assert services.endpoint_secret(row) == endpoint["secret"]
        # Stored sealed with the organisation's key: the database never holds the secret in clear.
        assert row.secret.startswith("pii1.")
        assert endpoint["secret"] not in row.secret
    assert org.client.get(f"{base}deliveries/999999/").status_code == 404
    assert org.client.post(f"{base}deliveries/999999/redeliver/").status_code == 404


def test_crud_and_the_secret_is_shown_only_on_create_and_rotate(shared_org):
    org = shared_org
    endpoint = create_endpoint(org, "http://127.0.0.1:9/x", ["survey.closed", "survey.published"])
    listed = org.client.get("/api/v1/webhooks/").json()["results"]
    (mine,) = [e for e in listed if e["id"] == endpoint["id"]]
    assert "secret" not in mine
    detail = org.client.get(f"/api/v1/webhooks/{endpoint['id']}/").json()
    assert "secret" not in detail
    assert detail["events"] == ["survey.closed", "survey.published"]
    changed = org.client.patch(
        f"/api/v1/webhooks/{endpoint['id']}/",
        {"events": ["export.completed"], "description": "exports"},
        content_type="application/json",
    ).json()
    assert changed["events"] == ["export.completed"]
    assert changed["description"] == "exports"
    assert org.client.delete(f"/api/v1/webhooks/{endpoint['id']}/").status_code == 204
    assert org.client.get(f"/api/v1/webhooks/{endpoint['id']}/").status_code == 404
    with tenant_context(org.tenant):
        actions = set(AuditEvent.objects.filter(target_type="webhook").values_list("action", flat=True))
    assert {"webhook.create", "webhook.update", "webhook.delete"} <= actions


# --- tenancy -------------------------------------------------------------------------------------------


def test_another_tenants_webhooks_are_404(shared_org, other_org):
    org, other = shared_org, other_org
    mine = create_endpoint(org, "http://127.0.0.1:9/a")
    with tenant_context(org.tenant):
        taken = set(WebhookEndpoint.objects.values_list("pk", flat=True))
    theirs = create_endpoint(other, "http://127.0.0.1:9/b")
    while theirs["id"] in taken:  # ids are per schema: make sure theirs is not also one of ours
        theirs = create_endpoint(other, "http://127.0.0.1:9/b")
    with tenant_context(other.tenant):
        event = WebhookEvent.objects.create(
            event_id=f"evt_{uuid.uuid4().hex}", type="survey.closed", body="{}", created_at=timezone.now()
        )
        their_delivery = WebhookDelivery.objects.create(endpoint_id=theirs["id"], event=event, status="succeeded")
    c = org.client
    base = f"/api/v1/webhooks/{theirs['id']}/"
    assert c.get(base).status_code == 404
    assert c.patch(base, {"description": "x"}, content_type="application/json").status_code == 404
    assert c.post(f"{base}rotate-secret/", {}, content_type="application/json").status_code == 404
    assert c.get(f"{base}deliveries/").status_code == 404
    assert c.get(f"{base}deliveries/{their_delivery.pk}/").status_code == 404
    assert c.post(f"{base}deliveries/{their_delivery.pk}/redeliver/").status_code == 404
    # their delivery id under my endpoint is not found either
    assert c.get(f"/api/v1/webhooks/{mine['id']}/deliveries/{their_delivery.pk}/").status_code == 404
    assert c.post(f"/api/v1/webhooks/{mine['id']}/deliveries/{their_delivery.pk}/redeliver/").status_code == 404
    assert c.delete(base).status_code == 404
    listed = {e["id"] for e in c.get("/api/v1/webhooks/").json()["results"]}
    assert mine["id"] in listed
    assert theirs["id"] not in listed
    with tenant_context(other.tenant):
        row = WebhookEndpoint.objects.get(pk=theirs["id"])
        assert row.description == "test"
        assert services.endpoint_secret(row) == theirs["secret"]


@pytest.mark.worker
@pytest.mark.usefixtures("celery_worker_process")
def test_an_event_in_one_tenant_never_reaches_another_tenants_endpoint(org, receiver):
    other = _new_org()
    mine, theirs = receiver.path(), receiver.path()
    create_endpoint(org, receiver.url(mine))
    create_endpoint(other, receiver.url(theirs))
    close_a_survey(org.tenant)
    receiver.wait_for(mine, 1)
    time.sleep(2)
    assert receiver.at(theirs) == []


# --- schedule, sweep ---------------------------------------------------------------------------------------


def test_the_production_retry_schedule_spans_24_hours():
    with override_settings(
        WEBHOOK_RETRY_BASE_SECONDS=30.0,
        WEBHOOK_RETRY_MAX_DELAY_SECONDS=4 * 3600.0,
        WEBHOOK_RETRY_WINDOW_SECONDS=24 * 3600.0,
        WEBHOOK_RETRY_JITTER=0.2,
    ):
        rows = schedule.nominal_schedule()
        out = io.StringIO()
        call_command("webhook_retry_schedule", stdout=out)
    waits = [wait for _, wait, _ in rows]
    assert waits[:4] == [30.0, 60.0, 120.0, 240.0]
    assert max(waits) == 4 * 3600.0
    assert rows[-1][2] == 24 * 3600  # the last attempt at the window's end
    assert len(rows) == 14
    assert "attempt  2: wait 0h00m30s (0h00m24s..0h00m36s), at 0h00m30s" in out.getvalue()


def test_the_sweep_requeues_due_and_abandoned_deliveries(shared_org):
    org = shared_org
    endpoint = create_endpoint(org, "http://127.0.0.1:9/x")
    with tenant_context(org.tenant):
        event = WebhookEvent.objects.create(
            event_id=f"evt_{uuid.uuid4().hex}", type="survey.closed", body="{}", created_at=timezone.now()
        )
        past = timezone.now() - timedelta(seconds=5)
        due = WebhookDelivery.objects.create(endpoint_id=endpoint["id"], event=event, next_attempt_at=past)
        abandoned = WebhookDelivery.objects.create(
            endpoint_id=endpoint["id"], event=event, redelivery_of=due, status="sending", locked_until=past
        )
        later = WebhookDelivery.objects.create(
            endpoint_id=endpoint["id"],
            event=event,
            redelivery_of=due,
            next_attempt_at=timezone.now() + timedelta(hours=1),
        )
        assert services.deliveries_sweep() == 2
        # a duplicate message for a delivery that is not due does nothing
        assert services.delivery_attempt(delivery_id=later.pk) == "skipped"
        WebhookEndpoint.objects.filter(pk=endpoint["id"]).delete()
    del abandoned


@pytest.mark.worker
@pytest.mark.usefixtures("celery_worker_process")
def test_a_rolled_back_write_announces_nothing(org, receiver):
    from django.db import transaction

    from shared_apps.core.registry import emit_event

    path = receiver.path()
    create_endpoint(org, receiver.url(path), ["export.completed"])
    with tenant_context(org.tenant):
        with contextlib.suppress(RuntimeError), transaction.atomic():
            emit_event("export.completed", {"export_id": 1, "rolled_back": True})
            raise RuntimeError("the export's write fails")
        with transaction.atomic():
            emit_event("export.completed", {"export_id": 2, "rolled_back": False})
    (request,) = receiver.wait_for(path, 1)
    assert json.loads(request.body)["data"]["export_id"] == 2
    time.sleep(2)
    assert len(receiver.at(path)) == 1


def test_an_abandoned_delivery_is_sent_again_when_its_lease_expires(shared_org, receiver):
    """A worker killed mid-request leaves the delivery ``sending``; once the lease passes it is due again."""
    org = shared_org
    path = receiver.path()
    endpoint = create_endpoint(org, receiver.url(path))
    with tenant_context(org.tenant):
        event = WebhookEvent.objects.create(
            event_id=f"evt_{uuid.uuid4().hex}", type="survey.closed", body='{"a":1}', created_at=timezone.now()
        )
        delivery = WebhookDelivery.objects.create(
            endpoint_id=endpoint["id"],
            event=event,
            status="sending",
            locked_until=timezone.now() + timedelta(seconds=30),
        )
        assert services.delivery_attempt(delivery_id=delivery.pk) == "skipped"  # still leased
        WebhookDelivery.objects.filter(pk=delivery.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
        assert services.delivery_attempt(delivery_id=delivery.pk) == "succeeded"
        WebhookEndpoint.objects.filter(pk=endpoint["id"]).delete()
    (request,) = receiver.at(path)
    assert request.body == b'{"a":1}'


def test_retries_stop_at_the_end_of_the_window(shared_org, receiver, settings):
    """Test settings: a 60 s window. A failure near its end gets one last retry at the end; after the
    window the delivery is failed for good."""
    org = shared_org
    path = receiver.path(lambda n, r: (500, 0))
    endpoint = create_endpoint(org, receiver.url(path))
    window = settings.WEBHOOK_RETRY_WINDOW_SECONDS
    with tenant_context(org.tenant):
        event = WebhookEvent.objects.create(
            event_id=f"evt_{uuid.uuid4().hex}", type="survey.closed", body="{}", created_at=timezone.now()
        )
        near_end = WebhookDelivery.objects.create(endpoint_id=endpoint["id"], event=event, attempts=3)
        over = WebhookDelivery.objects.create(endpoint_id=endpoint["id"], event=event, redelivery_of=near_end)
        now = timezone.now()
        WebhookDelivery.objects.filter(pk=near_end.pk).update(
            created_at=now - timedelta(seconds=window - 2), next_attempt_at=now
        )
        WebhookDelivery.objects.filter(pk=over.pk).update(
            created_at=now - timedelta(seconds=window + 1), next_attempt_at=now
        )
        assert services.delivery_attempt(delivery_id=near_end.pk) == "pending"
        last = WebhookAttempt.objects.get(delivery_id=near_end.pk)
        assert last.number == 4
        # retry 4 would wait 4 s (±20 %): moved to the window's end instead
        assert last.retry_at <= near_end.created_at + timedelta(seconds=window) + timedelta(seconds=0.1)
        assert services.delivery_attempt(delivery_id=over.pk) == "failed"
        failed = WebhookDelivery.objects.get(pk=over.pk)
        assert failed.next_attempt_at is None
        assert failed.completed_at is not None
        WebhookEndpoint.objects.filter(pk=endpoint["id"]).delete()


def test_list_endpoints_do_not_grow_queries_with_rows(shared_org):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    org = shared_org
    endpoint = create_endpoint(org, "http://127.0.0.1:9/n")
    url = f"/api/v1/webhooks/{endpoint['id']}/deliveries/"

    def add_deliveries(n: int) -> None:
        with tenant_context(org.tenant):
            for _ in range(n):
                event = WebhookEvent.objects.create(
                    event_id=f"evt_{uuid.uuid4().hex}", type="survey.closed", body="{}", created_at=timezone.now()
                )
                WebhookDelivery.objects.create(endpoint_id=endpoint["id"], event=event, status="succeeded")

    def queries(path: str) -> int:
        org.client.get(path)  # warm caches (permissions)
        with CaptureQueriesContext(connection) as captured:
            assert org.client.get(path).status_code == 200
        return len(captured.captured_queries)

    add_deliveries(1)
    one, endpoints_one = queries(url), queries("/api/v1/webhooks/")
    add_deliveries(10)
    create_endpoint(org, "http://127.0.0.1:9/m")
    assert queries(url) == one
    assert queries("/api/v1/webhooks/") == endpoints_one


def _self_signed(tmp_path: Path, host: str) -> tuple[Path, Path]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_https_connects_to_the_checked_address_with_sni_and_certificate_checks(tmp_path, monkeypatch):
    """https: the TCP connection goes to the pinned IP while TLS sends SNI for, and verifies the
    certificate against, the host name of the URL."""
    import ssl

    host = "hooks.test"
    cert_path, key_path = _self_signed(tmp_path, host)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    seen: dict[str, Any] = {}

    def sni(sock: Any, name: str | None, ctx: Any) -> None:
        seen["sni"] = name

    context.sni_callback = sni

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen["host"] = self.headers["Host"]
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    real = socket.getaddrinfo

    def resolve(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == host:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(name, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    try:
        with override_settings(WEBHOOK_CA_BUNDLE=str(cert_path)):
            ok = transport.post(url=f"https://{host}:{port}/in", body=b"{}", headers={})
            # the same server under another name: the certificate does not match, nothing is sent
            wrong = transport.post(url=f"https://127.0.0.1:{port}/in", body=b"{}", headers={})
        untrusted = transport.post(url=f"https://{host}:{port}/in", body=b"{}", headers={})
    finally:
        server.shutdown()
        server.server_close()
    assert ok.status == 204, ok
    assert ok.address == "127.0.0.1"
    assert seen["sni"] == host
    assert seen["host"] == f"{host}:{port}"
    assert wrong.status is None
    assert wrong.error
    assert untrusted.status is None
    assert "certificate" in untrusted.error.lower() or "SSL" in untrusted.error
