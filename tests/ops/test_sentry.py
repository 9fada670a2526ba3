"""Sentry: with SENTRY_DSN pointing at a local HTTP server, a failing request in a real gunicorn sends an
envelope tagged with the tenant and the request id, without the answers or personal data it carried."""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import brotli
import pytest
import requests

from tests.conftest import free_port, gunicorn_start, host_of, process_stop

SECRET_ANSWER = "my-secret-answer-about-salary-93811"
EMAIL = "respondent.private@example.org"


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":
            body = brotli.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        self.server.received.append((self.path, body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def sentry_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port(range(5570, 5590))), _Collector)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _events(received: list[tuple[str, bytes]]) -> list[dict]:
    events = []
    for _, body in received:
        lines = body.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                events.append(json.loads(payload))
    return events


def test_failing_request_reaches_sentry_tagged_and_scrubbed(sentry_server, tenant_a):
    port = sentry_server.server_address[1]
    process, url = gunicorn_start(
        env={
            "DJANGO_SETTINGS_MODULE": "tests.ops.settings",
            "SENTRY_DSN": f"http://publickey@127.0.0.1:{port}/42",
            "SENTRY_ENVIRONMENT": "test",
        }
    )
    try:
        response = requests.post(
            f"{url}/_test/boom/?email={EMAIL}",
            json={"answers": {"q_salary": SECRET_ANSWER}, "email": EMAIL},
            headers={
                "Host": host_of(tenant_a),
                "X-Request-ID": "sentry-test-request-0001",
                "Authorization": "Bearer secret-token-value",
                "Cookie": f"sessionid=abc; email={EMAIL}",
            },
            timeout=10,
        )
        assert response.status_code == 500
        assert response.json()["error"]["request_id"] == "sentry-test-request-0001"
        deadline = time.monotonic() + 15
        while not _events(sentry_server.received) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        process_stop(process)
    paths = {path for path, _ in sentry_server.received}
    assert paths == {"/api/42/envelope/"}
    (event,) = _events(sentry_server.received)
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["tags"]["tenant"] == tenant_a.schema_name
    assert event["tags"]["request_id"] == "sentry-test-request-0001"
    assert event["environment"] == "test"
    assert event["request"]["url"].endswith("/_test/boom/")
    assert "authorization" not in {name.lower() for name in event["request"]["headers"]}
    raw = b"".join(body for _, body in sentry_server.received).decode()
    for secret in (SECRET_ANSWER, EMAIL, "respondent.private", "secret-token-value", "sessionid"):
        assert secret not in raw, secret
