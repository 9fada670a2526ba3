"""Faults injected for real: Redis killed and restarted under respondent traffic, a Celery worker killed
mid-task, PostgreSQL restarted under a running gunicorn. Each test starts its own Redis/PostgreSQL/worker/
gunicorn processes on their own ports (Redis 6390-6399, PostgreSQL 5490-5499) and stops only those."""

from __future__ import annotations

import contextlib
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
import psycopg.sql
import pytest
import redis
import requests
from django.test import override_settings
from django_tenants.utils import tenant_context

from tests.conftest import ROOT, free_port, gunicorn_start, host_of, process_stop

pytestmark = pytest.mark.faults

REDIS_PORTS = range(6390, 6400)
POSTGRES_PORTS = range(5490, 5500)
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
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
    retry_after: str | None = None


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
    assert int(outcome.retry_after or 0) > 0, outcome


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
        outcome = Outcome(
            kind,
            response.status_code,
            _json(response),
            time.monotonic(),
            key,
            answers or {},
            response.headers.get("Retry-After"),
        )
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
        # Redis failing right after a submit commits (here: refusing the counters' PFADD, deterministically;
        # a crash at that moment does the same) must not turn the stored submission into an error answer.
        control = redis.Redis(port=redis_server.port)
        control.acl_setuser(
            "default", enabled=True, nopass=True, commands=["+@all", "-pfadd"], keys=["*"], channels=["*"]
        )
        try:
            after_commit = traffic.submit(session, f"fault-after-commit-{uuid.uuid4().hex[:8]}")
        finally:
            control.acl_setuser("default", enabled=True, nopass=True, commands=["+@all"], keys=["*"], channels=["*"])
        assert after_commit.status == 201, after_commit
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
            assert {Answer.objects.filter(submission_id=sid).count() for sid in ids} == {len(GOOD)}
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


# --- 2. A Celery worker killed mid-task -----------------------------------------------------------------


def _large_definition(questions: int = 500, references: int = 60) -> dict[str, Any]:
    """The largest survey the compiler accepts, each question shown on conditions over many earlier ones:
    compiling it takes seconds, long enough to kill the worker in the middle."""
    items = []
    for i in range(questions):
        question: dict[str, Any] = {"id": f"q{i}", "type": "number", "text": f"Question {i}"}
        if i:
            question["visible_if"] = {
                "any": [
                    {"all": [{"q": f"q{j}", "op": "gte", "value": j}, {"q": f"q{j}", "op": "lte", "value": j + 10}]}
                    for j in range(max(0, i - references), i)
                ]
            }
        items.append(question)
    pages = [{"id": f"p{n}", "title": f"Page {n}", "questions": items[n : n + 10]} for n in range(0, questions, 10)]
    return {"pages": pages, "end_screens": [{"id": "done", "text": "Thank you."}]}


class Worker:
    """A Celery worker of our own as deployed (prefork pool, late acks) on our own broker, in a process
    group of its own so that ``kill`` takes the main process and its pool child at once (a crashed host or
    an OOM-killed container). Its log is kept to read."""

    def __init__(self, env: dict[str, str], name: str, queue: str = "high_priority") -> None:
        self.log_path = ROOT / "var" / f"test-faults-worker-{queue}-{name}-{os.getpid()}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "--pool=prefork",
                    "--concurrency=1",
                    "-Q",
                    queue,
                    "-n",
                    f"{name}-{uuid.uuid4().hex[:6]}@%h",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float) -> float:
        def seen() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited ({self.process.returncode}):\n{self.log()[-3000:]}")
            return text in self.log()

        return _wait_for(seen, timeout, f"worker log line {text!r}", interval=0.05)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # the group is the worker's own (start_new_session)
        self.process.wait(timeout=10)


def test_worker_killed_mid_publish_is_redelivered_and_publishes_once(redis_server, make_tenant):
    from kombu import Connection

    from tenant_apps.audit.models import AuditEvent
    from tenant_apps.surveys.models import Publication, Survey, SurveyVersion
    from tenant_apps.surveys.services import survey_create
    from tenant_apps.surveys.tasks import publication_compile

    visibility = 3
    env = {**redis_server.env(), "CELERY_VISIBILITY_TIMEOUT": str(visibility)}
    workers = [Worker(env, "first")]  # starts while the survey is created
    try:
        tenant = make_tenant()
        with tenant_context(tenant):
            survey = survey_create(title="Large", definition=_large_definition(), created_by_id=None)
            # The publish request as publication_request makes it, sent below to our own broker.
            publication = Publication.objects.create(
                survey=survey, revision=survey.revision, definition=survey.definition
            )
        workers[0].wait_log("ready.", 60)
        with Connection(redis_server.url(1)) as broker:
            sent = publication_compile.apply_async(
                kwargs={"schema_name": tenant.schema_name, "publication_id": publication.pk}, connection=broker
            )
        workers[0].wait_log(f"[{sent.id}] received", 120)
        results = redis.Redis.from_url(redis_server.url(2))
        meta = f"celery-task-meta-{sent.id}"
        _wait_for(lambda: b'"STARTED"' in (results.get(meta) or b""), 30, "the task started")
        time.sleep(0.3)  # loading and compiling the definition takes seconds: kill it in the middle

        # First only the pool child dies (OOM killer): the worker rejects the message back to the queue
        # (task_reject_on_worker_lost) and runs it again at once.
        results.delete(meta)
        child = int(subprocess.check_output(["pgrep", "-P", str(workers[0].process.pid)]).split()[0])
        os.kill(child, signal.SIGKILL)
        _wait_for(lambda: workers[0].log().count(f"[{sent.id}] received") == 2, 120, "the task is received again")
        _wait_for(lambda: b'"STARTED"' in (results.get(meta) or b""), 30, "the task started again")
        time.sleep(0.3)
        # Then the whole worker dies with its child (a lost host): the message waits, unacknowledged.
        workers[0].kill()
        killed_at = time.monotonic()
        with tenant_context(tenant):
            assert Publication.objects.get(pk=publication.pk).status == Publication.Status.PENDING, (
                "the task finished before the kill: make the survey larger"
            )
            assert not SurveyVersion.objects.filter(survey=survey).exists()
        assert "succeeded" not in workers[0].log()
        # Late ack: the message the dead worker had taken is still in the broker, unacknowledged.
        broker_db = redis.Redis.from_url(redis_server.url(1))
        assert broker_db.hlen("unacked") == 1

        workers.append(Worker(env, "second"))
        workers[1].wait_log(f"[{sent.id}] received", 180)
        redelivered = time.monotonic() - killed_at
        workers[1].wait_log(f"[{sent.id}] succeeded", 60)
        done = time.monotonic() - killed_at
        print(f"\nWorker killed mid-task: redelivered after {redelivered:.1f} s, published {done:.1f} s after the kill")

        with tenant_context(tenant):
            publication.refresh_from_db()
            assert publication.status == Publication.Status.PUBLISHED
            versions = list(SurveyVersion.objects.filter(survey=survey))
            assert len(versions) == 1
            assert publication.version_id == versions[0].pk
            assert Survey.objects.get(pk=survey.pk).current_version_id == versions[0].pk
            published = AuditEvent.objects.filter(
                action="survey.published", target_type="survey", target_id=str(survey.pk)
            )
            assert published.count() == 1
        # Nothing left to deliver again: the queue drains and the message is acknowledged. (A delivery made
        # while the second run was still going, the visibility timeout being short here, is a no-op.)
        _wait_for(
            lambda: broker_db.llen("high_priority") == 0 and broker_db.hlen("unacked") == 0,
            30,
            "the broker holds no message any more",
            interval=0.2,
        )
        with tenant_context(tenant):
            assert SurveyVersion.objects.filter(survey=survey).count() == 1
    finally:
        for worker in workers:
            worker.kill()


# --- 3. PostgreSQL restarted under a running gunicorn ------------------------------------------------------


class PostgresServer:
    """A PostgreSQL 15 cluster of our own (trust auth on 127.0.0.1), run as the ``postgres`` OS user."""

    def __init__(self) -> None:
        self.port = free_port(POSTGRES_PORTS)
        self.root = Path(tempfile.mkdtemp(prefix="faults-pg-", dir="/tmp"))
        # initdb refuses to run as root: as root, run the server as the postgres OS user.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"

    def _pg(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [*self.as_user, *args],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def init(self) -> None:
        self._pg(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off -c full_page_writes=off"
        self._pg(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.SubprocessError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, user: str, db: str) -> str:
        return f"postgres://{user}@127.0.0.1:{self.port}/{db}"


@pytest.fixture
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        check=False,
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env},
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout


def test_postgres_restart_is_survived_without_restarting_gunicorn(postgres_server, redis_server):
    from shared_apps.tenants.services import tenant_domain

    database = "survey_faults"
    env = {
        **redis_server.env(),
        "DATABASE_ADMIN_URL": postgres_server.url("postgres", "postgres"),
        "TEST_DATABASE_URL": postgres_server.url("survey_app", database),
        "TEST_DATABASE_OWNER_URL": postgres_server.url("survey_owner", database),
    }
    _manage(env, "setup_database")
    _manage(env, "migrate", "--noinput", "-v", "0")
    slug = f"restart-{uuid.uuid4().hex[:8]}"
    _manage(env, "create_tenant", "--slug", slug, "--name", "Restart Ltd", "--admin-email", "a@restart.test", "--demo")
    with psycopg.connect(postgres_server.url("postgres", database), autocommit=True) as admin:
        schema = admin.execute("SELECT schema_name FROM tenants_organisation WHERE slug = %s", [slug]).fetchone()[0]
        link = admin.execute(
            psycopg.sql.SQL("SELECT public_link FROM {}.surveys_survey WHERE current_version_id IS NOT NULL").format(
                psycopg.sql.Identifier(schema)
            )
        ).fetchone()[0]
    server, url = gunicorn_start(env, workers=2)
    session = requests.Session()
    outcomes: list[Outcome] = []

    def submit(host: str = tenant_domain(slug)) -> Outcome:
        key = f"pg-{uuid.uuid4().hex}"
        response = session.post(
            f"{url}/api/v1/s/{link}/submit/",
            json={"answers": GOOD},
            headers={"Host": host, "Idempotency-Key": key},
            timeout=10,
        )
        outcome = Outcome(
            "submit",
            response.status_code,
            _json(response),
            time.monotonic(),
            key,
            {},
            response.headers.get("Retry-After"),
        )
        outcomes.append(outcome)
        return outcome

    try:
        assert [submit().status for _ in range(4)] == [201] * 4  # both gunicorn workers hold a connection now
        assert _ready(url) == 200

        postgres_server.stop("fast")
        down = []
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            down.append(submit())
            # A host no process has cached: the failure happens in the tenant middleware, outside DRF.
            down.append(submit(host=tenant_domain(f"nobody-{uuid.uuid4().hex[:6]}")))
            time.sleep(0.05)
        readyz_down = requests.get(f"{url}/readyz", timeout=10)
        assert readyz_down.status_code == 503
        assert readyz_down.json()["checks"]["postgres"]["ok"] is False
        assert readyz_down.json()["checks"]["redis"]["ok"] is True
        assert {o.status for o in down} == {503}, [o for o in down if o.status != 503][:3]
        for outcome in down:
            _assert_unavailable_shape(outcome)

        postgres_server.start()  # returns once PostgreSQL accepts connections
        back_at = time.monotonic()
        recovered = _wait_for(lambda: submit().status == 201, 5, "a submit succeeds after PostgreSQL is back", 0.1)
        ready = _wait_for(lambda: _ready(url) == 200, 5, "/readyz 200 after PostgreSQL is back", 0.1)
        assert [submit().status for _ in range(6)] == [201] * 6  # every worker has reconnected
        after = [o for o in outcomes if o.at > back_at]
        print(
            f"\nPostgreSQL restart: {len(down)} requests during the outage, all 503; first 201 {recovered:.2f} s "
            f"and /readyz 200 {ready:.2f} s after PostgreSQL was back; "
            f"{sum(1 for o in after if o.status == 201)}/{len(after)} 2xx after; gunicorn not restarted"
        )
        assert not [o for o in after if o.status not in (201, 503)]
        assert server.poll() is None
        # Only the accepted submits are stored: none half-written by the outage.
        with psycopg.connect(postgres_server.url("postgres", database), autocommit=True) as admin:
            stored = admin.execute(
                # (the demo organisation's own demo responses carry no Idempotency-Key)
                psycopg.sql.SQL(
                    "SELECT idempotency_key FROM {}.responses_submissionkey WHERE idempotency_key IS NOT NULL"
                ).format(psycopg.sql.Identifier(schema))
            ).fetchall()
        assert {row[0] for row in stored} == {o.key for o in outcomes if o.status == 201}
    finally:
        process_stop(server)


def test_a_read_only_redis_answers_503_not_500(redis_server, tenant_a):
    """After a failover the old primary becomes a replica and answers READONLY to every write: respondents
    get a clean 503 they may retry, never a 500, and nothing is half-written."""
    survey = _published(tenant_a)
    client = redis.Redis(port=redis_server.port)
    dead_primary = free_port(range(6395, 6400))
    client.execute_command("REPLICAOF", "127.0.0.1", dead_primary)  # serves stale reads, refuses writes
    process, base = gunicorn_start(env=redis_server.env())
    try:
        host = {"Host": host_of(tenant_a)}
        saved = requests.put(
            f"{base}/api/v1/s/{survey.public_link}/draft/", json={"answers": {"q_name": "Ro"}}, headers=host, timeout=10
        )
        assert saved.status_code == 503, saved.text
        assert saved.json()["error"]["code"] == "service_unavailable"
        assert saved.headers["Retry-After"]
    finally:
        process_stop(process)
        client.execute_command("REPLICAOF", "NO", "ONE")
