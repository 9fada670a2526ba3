"""Faults injected for real: Redis killed and restarted under respondent traffic, a Celery worker killed
mid-task, PostgreSQL restarted under a running gunicorn. Each test starts its own Redis/PostgreSQL/worker/
gunicorn processes on their own ports (Redis 6390-6399, PostgreSQL 5490-5499) and stops only those."""

from __future__ import annotations

import copy
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import requests
from django.test import override_settings
from django_tenants.utils import tenant_context

from tests.conftest import ROOT, free_port, gunicorn_start, host_of, process_stop

pytestmark = pytest.mark.faults

REDIS_PORTS = range(6390, 6400)
POSTGRES_PORTS = range(5490, 5500)
PG_BIN = Path("/usr/lib/postgresql/15/bin")
GOOD = {"q_name": "Ann", "q_role": "dev", "q_nps": 9, "q_why": "Fast", "q_features": ["logic", "analytics"]}


# --- processes the tests own ----------------------------------------------------------------------


class RedisServer:
    """A redis-server of our own (no persistence): ``kill`` is a crash, ``start`` again comes back empty."""

    def __init__(self) -> None:
        self.port = free_port(REDIS_PORTS)
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def env(self) -> dict[str, str]:
        """Settings for a gunicorn/worker whose cache, broker and results all live on this server."""
        return {
            "TEST_REDIS_URL": self.url(0),
            "TEST_CELERY_BROKER_URL": self.url(1),
            "TEST_CELERY_RESULT_BACKEND": self.url(2),
        }

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.kill()


@dataclass
class Outcome:
    kind: str  # draft | submit
    status: int
    body: Any
    at: float
    key: str = ""
    answers: dict[str, Any] = field(default_factory=dict)


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:300]


def _assert_unavailable_shape(outcome: Outcome) -> None:
    error = outcome.body["error"]
    assert error["code"] == "service_unavailable", outcome
    assert error["message"], outcome
    assert error["request_id"], outcome


def _published(tenant: object) -> Any:
    from tenant_apps.surveys import services

    with tenant_context(tenant):
        return services.survey_create_published(title="Faults", definition=copy.deepcopy(services.DEMO_DEFINITION))


def _wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> float:
    """Seconds until ``check()`` holds."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)
    return time.monotonic() - started


def _ready(url: str) -> int:
    try:
        return requests.get(f"{url}/readyz", timeout=5).status_code
    except requests.RequestException:
        return 0


# --- 1. Redis killed and restarted under respondent traffic -------------------------------------------


@dataclass
class Traffic:
    """Respondents on a published survey: save a draft, update it, submit with an Idempotency-Key."""

    url: str
    host: str
    link: str
    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _record(
        self, kind: str, response: requests.Response, key: str = "", answers: dict[str, Any] | None = None
    ) -> Outcome:
        outcome = Outcome(kind, response.status_code, _json(response), time.monotonic(), key, answers or {})
        with self.lock:
            self.outcomes.append(outcome)
        return outcome

    def draft(self, session: requests.Session, answers: dict[str, Any], saved: dict[str, Any] | None = None) -> Outcome:
        body: dict[str, Any] = {"answers": answers, "page": "p_about"}
        if saved:
            body |= {"submission_id": saved["submission_id"], "token": saved["token"]}
        response = session.put(
            f"{self.url}/api/v1/s/{self.link}/draft/", json=body, headers={"Host": self.host}, timeout=10
        )
        return self._record("draft", response, answers=answers)

    def submit(self, session: requests.Session, key: str) -> Outcome:
        response = session.post(
            f"{self.url}/api/v1/s/{self.link}/submit/",
            json={"answers": GOOD},
            headers={"Host": self.host, "Idempotency-Key": key},
            timeout=10,
        )
        return self._record("submit", response, key)

    def respondent(self, name: str, rounds: int | None, stop: threading.Event | None = None) -> None:
        session = requests.Session()
        done = 0
        while (rounds is None or done < rounds) and not (stop and stop.is_set()):
            first = self.draft(session, {"q_name": f"{name}-{done}"})
            if first.status == 200:
                self.draft(session, {"q_name": f"{name}-{done}", "q_role": "pm"}, first.body)
            self.submit(session, f"fault-{name}-{done}-{uuid.uuid4().hex[:8]}")
            done += 1

    def run(self, respondents: int, rounds: int | None = None, stop: threading.Event | None = None) -> list[Any]:
        threads = [
            threading.Thread(target=self.respondent, args=(f"r{i}", rounds, stop), daemon=True)
            for i in range(respondents)
        ]
        for thread in threads:
            thread.start()
        return threads


def test_redis_killed_and_restarted_under_respondent_traffic(redis_server, make_tenant):
    from tenant_apps.responses.models import Answer, Submission, SubmissionKey
    from tenant_apps.responses.services import drafts_sync
    from tenant_apps.surveys.models import Survey

    tenant = make_tenant()
    survey = _published(tenant)
    server, url = gunicorn_start(redis_server.env(), workers=2)
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        traffic = Traffic(url=url, host=host_of(tenant), link=survey.public_link)
        for thread in traffic.run(respondents=3, rounds=3):
            thread.join(timeout=60)
        assert {o.status for o in traffic.outcomes} <= {200, 201}, traffic.outcomes

        # The beat task's sync, run against the server's Redis: drafts saved so far are now in PostgreSQL.
        drafts, expected = {}, {}
        for outcome in traffic.outcomes:  # in order: a draft's update follows its first save
            if outcome.kind == "draft":
                drafts[outcome.body["submission_id"]] = outcome.body
                expected[outcome.body["submission_id"]] = outcome.answers
        cache = {"default": {**_settings_cache(), "LOCATION": redis_server.url(0)}}
        with override_settings(CACHES=cache), tenant_context(tenant):
            assert drafts_sync() == len(drafts)
        session = requests.Session()
        for body in drafts.values():  # saved after the sync: these changes are lost with Redis (one sync interval)
            assert traffic.draft(session, {"q_name": "lost"}, body).status == 200

        # Traffic keeps going while Redis is killed (no persistence: it comes back empty) and restarted.
        before_outage = len(traffic.outcomes)
        threads = traffic.run(respondents=3, stop=stop)
        time.sleep(1.0)
        redis_server.kill()
        killed_at = time.monotonic()
        assert _wait_for(lambda: _ready(url) == 503, 5, "/readyz 503 while Redis is down") < 5
        readyz_down = requests.get(f"{url}/readyz", timeout=5).json()
        assert readyz_down["checks"]["redis"]["ok"] is False
        assert readyz_down["checks"]["postgres"]["ok"] is True
        time.sleep(2.0)
        redis_server.start()
        back_at = time.monotonic()
        ready_after = _wait_for(lambda: _ready(url) == 200, 10, "/readyz 200 after Redis is back")
        _wait_for(
            lambda: sum(1 for o in traffic.outcomes[before_outage:] if o.at > back_at and o.status in (200, 201)) >= 9,
            15,
            "respondent traffic succeeds again after Redis is back",
        )
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

        during = traffic.outcomes[before_outage:]
        outage = [o for o in during if killed_at < o.at < back_at]
        after = [o for o in during if o.at > back_at]
        first_ok = min(o.at for o in after if o.status in (200, 201)) - back_at
        submits = [o for o in traffic.outcomes if o.kind == "submit"]
        accepted = {o.key for o in submits if o.status == 201}
        refused = [o for o in submits if o.status == 503]
        print(
            f"\nRedis outage: {len(during)} requests around it ({len(outage)} during), "
            f"{len(submits)} submits, {len(accepted)} accepted, {len(refused)} 503, "
            f"{sum(1 for o in traffic.outcomes if o.status not in (200, 201, 503))} other; "
            f"/readyz 200 {ready_after:.2f} s and first 2xx {first_ok:.2f} s after Redis restarted"
        )
        # Submits and draft saves either succeed or fail cleanly: 503 in the common shape, never a 500.
        assert not [o for o in traffic.outcomes if o.status not in (200, 201, 503)]
        assert [o for o in outage if o.status == 503], "the outage was not observed by any request"
        for outcome in traffic.outcomes:
            if outcome.status == 503:
                _assert_unavailable_shape(outcome)

        # Never a half-written submission: exactly the accepted ones are stored, each whole.
        with tenant_context(tenant):
            submissions = Submission.objects.filter(survey_id=survey.pk)
            assert set(SubmissionKey.objects.filter(survey_id=survey.pk).values_list("idempotency_key", flat=True)) == (
                accepted
            )
            assert submissions.count() == len(accepted)
            ids = list(submissions.values_list("id", flat=True))
            assert {Answer.objects.filter(submission_id=sid).count() for sid in ids} <= {len(GOOD)}
            assert Answer.objects.filter(survey_id=survey.pk).count() == len(GOOD) * len(accepted)
            assert Survey.objects.get(pk=survey.pk).response_count == len(accepted)
        # A refused submit was not written: retrying it (same key) creates it now (201), it is not replayed (200).
        for outcome in refused:
            retry = traffic.submit(session, outcome.key)
            assert retry.status == 201, (outcome, retry)

        # Every draft synced before the crash resumes from PostgreSQL with its answers as of the sync.
        for uid, body in drafts.items():
            resumed = session.get(
                f"{url}/api/v1/s/{survey.public_link}/draft/{uid}/",
                params={"token": body["token"]},
                headers={"Host": host_of(tenant)},
                timeout=10,
            )
            assert resumed.status_code == 200, resumed.content
            assert resumed.json()["answers"] == expected[uid]
        assert server.poll() is None, "gunicorn was not restarted"
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        process_stop(server)


def _settings_cache() -> dict[str, Any]:
    from django.conf import settings

    return dict(settings.CACHES["default"])
