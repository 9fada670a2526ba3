"""deploy/nginx in front of a real gunicorn: Debian's nginx with a self-signed certificate made by openssl.
TLS 1.3 only, HSTS and friends, compression and long-cached static files, the body size limit, the anonymous
rate limit (429), and the client's address reaching the app through one trusted proxy hop."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from string import Template

import pytest
from django.conf import settings

from tests.conftest import free_port, gunicorn_start, host_of, process_stop

NGINX_DIR = Path(__file__).resolve().parents[2] / "deploy" / "nginx"


class Edge:
    def __init__(self, https_port: int, http_port: int, cert: Path) -> None:
        self.https_port, self.http_port, self.cert = https_port, http_port, cert

    def context(self, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.cert))
        context.check_hostname = False
        if maximum is not None:
            context.maximum_version = maximum
        return context

    def request(
        self,
        method: str,
        path: str,
        host: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        source: str = "127.0.0.1",
    ) -> tuple[http.client.HTTPResponse, bytes]:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.https_port, context=self.context(), timeout=10, source_address=(source, 0)
        )
        connection.request(method, path, body=body, headers={"Host": host, **(headers or {})})
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response, data


@pytest.fixture(scope="module")
def edge(django_db_setup: None) -> Iterator[Edge]:
    root = Path(tempfile.mkdtemp(prefix="survey-nginx-"))
    os.chmod(root, 0o755)  # noqa: S103 - nginx's workers (nobody) read the static files
    cert, key = root / "tls.crt", root / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,DNS:*.localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    static = root / "static" / "surveys"
    static.mkdir(parents=True)
    (static / "app.0123abcd.js").write_text("console.log('survey platform');\n" * 200)
    os.chmod(root / "static", 0o755)  # noqa: S103
    os.chmod(static, 0o755)  # noqa: S103
    server, upstream = gunicorn_start(env={"DJANGO_SETTINGS_MODULE": "tests.ops.settings", "TRUSTED_PROXY_COUNT": "1"})
    https_port = free_port(range(5570, 5590))
    http_port = free_port(range(https_port + 1, 5590))
    rendered = Template((NGINX_DIR / "survey.conf.template").read_text()).safe_substitute(
        PLATFORM_DOMAIN=settings.PLATFORM_DOMAIN,
        API_UPSTREAM=upstream.removeprefix("http://"),
        HTTP_PORT=str(http_port),
        HTTPS_PORT=str(https_port),
        TLS_CERT=str(cert),
        TLS_KEY=str(key),
        STATIC_ROOT=str(root / "static"),
    )
    (root / "survey.conf").write_text(rendered)
    shutil.copy(NGINX_DIR / "survey-proxy.conf", root / "survey-proxy.conf")
    (root / "nginx.conf").write_text(
        f"""
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    include survey.conf;
}}
"""
    )
    check = subprocess.run(
        ["nginx", "-t", "-p", str(root), "-c", str(root / "nginx.conf")], check=False, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    nginx = subprocess.Popen(["nginx", "-p", str(root), "-c", str(root / "nginx.conf")], stderr=subprocess.DEVNULL)
    edge = Edge(https_port, http_port, cert)
    deadline = time.monotonic() + 10
    while True:
        try:
            response, _ = edge.request("GET", "/healthz", settings.PLATFORM_DOMAIN)
            if response.status == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, (root / "error.log").read_text()
        time.sleep(0.1)
    yield edge
    process_stop(nginx)
    process_stop(server)
    shutil.rmtree(root, ignore_errors=True)


def test_tls_13_only_and_security_headers(edge, tenant_a):
    with edge.context().wrap_socket(socket.create_connection(("127.0.0.1", edge.https_port))) as tls:
        assert tls.version() == "TLSv1.3"
    with pytest.raises(ssl.SSLError):
        edge.context(maximum=ssl.TLSVersion.TLSv1_2).wrap_socket(
            socket.create_connection(("127.0.0.1", edge.https_port))
        )
    response, body = edge.request(
        "GET", "/api/v1/tenant/", host_of(tenant_a), headers={"X-Request-ID": "edge-request-0001"}
    )
    assert response.status in (200, 401), body
    assert response.headers["Strict-Transport-Security"].startswith("max-age=63072000")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"] == "edge-request-0001"  # carried to the app and back
    plain = http.client.HTTPConnection("127.0.0.1", edge.http_port, timeout=5)
    plain.request("GET", "/api/v1/tenant/", headers={"Host": host_of(tenant_a)})
    redirect = plain.getresponse()
    assert redirect.status == 301
    assert redirect.headers["Location"] == f"https://{host_of(tenant_a)}/api/v1/tenant/"


def test_static_files_long_cached_and_compressed(edge):
    response, body = edge.request(
        "GET", "/static/surveys/app.0123abcd.js", "localhost", headers={"Accept-Encoding": "gzip"}
    )
    assert response.status == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert len(body) < 1000 < len("console.log('survey platform');\n" * 200)
    assert edge.request("GET", "/metrics", "localhost")[0].status == 404


def test_client_ip_reaches_the_app_and_spoofing_does_not(edge, tenant_a):
    # The client connects from 127.0.0.2 and claims to be 203.0.113.9; gunicorn only ever sees nginx (127.0.0.1).
    response, body = edge.request(
        "GET", "/_test/whoami/", host_of(tenant_a), headers={"X-Forwarded-For": "203.0.113.9"}, source="127.0.0.2"
    )
    assert response.status == 200, body
    seen = json.loads(body)
    assert seen == {"client_ip": "127.0.0.2", "remote_addr": "127.0.0.1"}


def test_body_size_limit_and_anonymous_rate_limit(edge, tenant_b):
    big = b"{" + b" " * (3 * 1024 * 1024) + b"}"
    response, _ = edge.request(
        "POST",
        "/_test/whoami/",
        host_of(tenant_b),
        headers={"Content-Type": "application/json"},
        body=big,
        source="127.0.0.4",
    )
    assert response.status == 413
    # 20/min with a burst of 10 per anonymous IP: of 20 quick requests, 11 pass and the rest get 429
    statuses = [
        edge.request("GET", "/_test/whoami/", host_of(tenant_b), source="127.0.0.3")[0].status for _ in range(20)
    ]
    # (a slow machine may earn one more token while the 20 run: 20/min is one every 3 s)
    assert statuses[:11] == [200] * 11, statuses
    assert statuses.count(429) >= 8, statuses
    assert set(statuses) == {200, 429}
    # Another address is not affected; a token holder has the larger allowance.
    assert edge.request("GET", "/_test/whoami/", host_of(tenant_b), source="127.0.0.5")[0].status == 200
    token = {"Authorization": "Bearer t0ken"}
    authorized = [
        edge.request("GET", "/_test/whoami/", host_of(tenant_b), headers=token, source="127.0.0.3")[0].status
        for _ in range(15)
    ]
    assert 429 not in authorized, authorized
