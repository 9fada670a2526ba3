"""Test session: a real PostgreSQL database re-created and migrated as the owner role, real Redis.

The test process itself connects as the *application* role (as the web and worker processes do),
so row-level security applies to everything the tests do through the ORM. Tests commit for real
(no per-test transaction rollback): tenants are provisioned with DDL on another connection and a
real Celery worker must see the data. Tests therefore use unique names and clean up what they
change in shared places.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client

from shared_apps.accounts.models import User
from shared_apps.tenants.models import Organisation
from tests.factories import PASSWORD, MemberFactory, TenantFactory, unique_slug

__all__ = ["PASSWORD", "unique_slug"]  # re-exported: tests import them from here

ROOT = Path(__file__).resolve().parent.parent


def owner_env() -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "SURVEY_DB_ROLE": "owner"}


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker: pytest.FixtureRequest) -> Iterator[None]:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        call_command("setup_database", "--recreate", stdout=open(os.devnull, "w"))  # noqa: SIM115
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=owner_env(),
            check=True,
        )
    for url in {settings.REDIS_URL, settings.CELERY_BROKER_URL, settings.CELERY_RESULT_BACKEND}:
        if url:
            redis.Redis.from_url(url).flushdb()
    return


CATALOG_ANALYZE_SECONDS = 15.0


@pytest.fixture(scope="session", autouse=True)
def _catalog_statistics(django_db_setup: None) -> Iterator[None]:
    """Keep the system catalogs' statistics fresh while the suite provisions hundreds of tenants. Each clone
    adds thousands of catalog rows faster than autovacuum's analyze follows, and with stale statistics
    django-tenants' ``clone_schema`` queries get plans that made one clone take 16-44 s instead of 1-2 s late
    in a run (measured here). A thread re-analyzes them every 15 s (as the superuser: they are its tables)."""
    import threading

    import psycopg

    stop = threading.Event()
    dbname = connection.settings_dict["NAME"]
    host, port = connection.settings_dict["HOST"] or "127.0.0.1", connection.settings_dict["PORT"] or "5432"

    def analyze() -> None:
        while not stop.wait(CATALOG_ANALYZE_SECONDS):
            try:
                with psycopg.connect(host=host, port=port, user="postgres", dbname=dbname, autocommit=True) as conn:
                    tables = conn.execute(
                        "SELECT oid::regclass::text FROM pg_class "
                        "WHERE relnamespace = 'pg_catalog'::regnamespace AND relkind = 'r'"
                    ).fetchall()
                    for (table,) in tables:
                        conn.execute(f"ANALYZE {table}")
            except psycopg.Error:
                continue  # the next round tries again (e.g. while a test restarts a server)

    thread = threading.Thread(target=analyze, name="catalog-analyze", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)


@pytest.fixture(scope="session")
def vault_server() -> Iterator[dict[str, Any]]:
    """A real OpenBao (``bao server -dev``) on a free port with its own root token and transit mounted, for the
    whole session: provisioning creates each tenant's transit key there. Its address and token go to the
    settings and to the environment of the processes the session starts (Celery worker, gunicorn).
    ``stop()`` / ``start()`` take it down and bring it back (same port and token; dev mode keeps keys in
    memory, so a restart forgets them: tests that stop it use ``vault_server_private``)."""
    from shared_apps.core.devvault import bao_start, bao_stop

    process, addr, token = bao_start(log_path=ROOT / "var" / "test-bao.log")
    os.environ["TEST_VAULT_ADDR"], os.environ["TEST_VAULT_TOKEN"] = addr, token
    settings.VAULT_ADDR, settings.VAULT_TOKEN = addr, token
    yield {"addr": addr, "token": token, "process": process}
    bao_stop(process)


@pytest.fixture(autouse=True, scope="session")
def _db_access(
    vault_server: dict[str, Any], django_db_setup: None, django_db_blocker: pytest.FixtureRequest
) -> Iterator[None]:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        yield


@pytest.fixture(autouse=True)
def _public_schema_after_test() -> Iterator[None]:
    yield
    connection.set_schema_to_public()


@pytest.fixture
def make_tenant() -> Callable[..., Organisation]:
    """``make_tenant(slug=None, **kwargs)``: a freshly provisioned organisation (``TenantFactory``)."""

    def _make(slug: str | None = None, **kwargs: Any) -> Organisation:
        return TenantFactory(slug=slug or unique_slug(), **kwargs)

    return _make


def _session_tenant(prefix: str, name: str, admin_email: str) -> Organisation:
    return TenantFactory(slug=unique_slug(prefix), name=name, admin_email=admin_email, demo=True)


@pytest.fixture(scope="session")
def tenant_a() -> Organisation:
    return _session_tenant("alpha", "Alpha Ltd", "admin@alpha.test")


@pytest.fixture(scope="session")
def tenant_b() -> Organisation:
    return _session_tenant("beta", "Beta GmbH", "admin@beta.test")


def host_of(tenant: Organisation) -> str:
    from shared_apps.tenants.services import tenant_domain

    return tenant_domain(tenant.slug)


@pytest.fixture
def client_for() -> Callable[[Organisation], Client]:
    """A test client whose requests go to the tenant's host."""

    def _client(tenant: Organisation) -> Client:
        return Client(HTTP_HOST=host_of(tenant))

    return _client


@pytest.fixture
def public_client() -> Client:
    return Client(HTTP_HOST=settings.PLATFORM_DOMAIN)


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup: None) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker on the test broker, consuming every queue."""
    log = open(ROOT / "var" / "test-celery-worker.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-Q",
            "high_priority,analytics,exports,notifications,webhooks",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    from config.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Celery worker exited with {process.returncode}; see var/test-celery-worker.log")
        replies = app.control.ping(timeout=0.5)
        if replies:
            break
    else:
        process.kill()
        raise RuntimeError("Celery worker did not answer a ping within 60 s")
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


# --- identity helpers ----------------------------------------------------------------------------


@pytest.fixture
def make_member() -> Callable[..., User]:
    """``make_member(tenant, role="admin", email=None)``: a user with an active membership of ``role``."""

    def _make(tenant: Organisation, role: str = "admin", email: str | None = None) -> User:
        return MemberFactory(tenant=tenant, role=role, **({"email": email} if email else {}))

    return _make


def login(tenant: Organisation, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = Client(HTTP_HOST=host_of(tenant)).post(
        "/api/v1/auth/token/", {"email": email, "password": password}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def api_client_for() -> Callable[[User, Organisation], Client]:
    """A client on the tenant's host, signed in as ``user`` (Bearer access token)."""

    def _client(user: User, tenant: Organisation) -> Client:
        tokens = login(tenant, user.email)
        client = Client(HTTP_HOST=host_of(tenant), HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
        client.tokens = tokens  # type: ignore[attr-defined]
        return client

    return _client


# --- real SMTP ---------------------------------------------------------------------------------


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[object] = []

    async def handle_RCPT(
        self, server: object, session: object, envelope: object, address: str, rcpt_options: list[str]
    ) -> str:
        # Addresses at refused.test are refused, as a real server refuses an unknown mailbox.
        if address.lower().endswith("@refused.test"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)  # type: ignore[attr-defined]
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        import email

        self.messages.append(email.message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 OK"

    def wait_for(self, to: str, timeout: float = 30.0) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages:
                if to in str(message["To"]):  # type: ignore[index]
                    return message
            time.sleep(0.1)
        raise AssertionError(f"no email to {to} within {timeout}s")


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[_Mailbox]:
    """A real SMTP server (aiosmtpd) on the port the test settings send to."""
    from aiosmtpd.controller import Controller

    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=settings.EMAIL_PORT)
    controller.start()
    yield mailbox
    controller.stop()


# --- two real server processes ---------------------------------------------------------------------


def free_port(candidates: range | None = None) -> int:
    """A TCP port nobody listens on: the first free one of ``candidates``, else one the OS picks."""
    import socket

    for port in candidates or ():
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    if candidates:
        raise RuntimeError(f"no free port in {candidates}")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def gunicorn_start(env: dict[str, str] | None = None, workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    """A real gunicorn serving ``config.wsgi`` with the test settings (``env`` overrides the environment,
    e.g. another TEST_REDIS_URL or TEST_DATABASE_URL); returns once ``/healthz`` answers. The caller stops it."""
    import requests

    port = free_port()
    log = open(ROOT / "var" / f"test-gunicorn-{port}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()  # the child holds its own descriptor
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=3).status_code == 200:
                return process, url
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"server at {url} did not start; see var/test-gunicorn-{port}.log")
        time.sleep(0.2)


def process_stop(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Terminate a process this test session started; kill it when it does not exit in time."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


@pytest.fixture(scope="session")
def live_servers(django_db_setup: None) -> Iterator[list[str]]:
    """Two gunicorn processes (one worker each) serving the test database: base URLs."""
    servers = [gunicorn_start() for _ in range(2)]
    yield [url for _, url in servers]
    for process, _ in servers:
        process_stop(process)
