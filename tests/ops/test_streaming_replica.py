"""A real streaming replica (``deploy/scripts/ensure-replica.sh``: ``pg_basebackup -R`` of the local cluster,
hot standby on a port of the test's own) behind the ``replica`` alias of a real gunicorn: analytics reads are
served by the replica (shown by pausing its replay: the API answers what the replica has, not the primary),
``/readyz`` reports its lag, and when it lags too far or stops the API falls back to the primary and keeps
answering."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import requests
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.analytics.services import survey_aggregate
from tests.conftest import ROOT, free_port, gunicorn_start, host_of, login, process_stop
from tests.tenant_apps.analytics.helpers import insert_submission, survey_with_two_versions

SCRIPT = ROOT / "deploy" / "scripts" / "ensure-replica.sh"
ANSWERS = {"q_single": "a", "q_yes": True, "q_nps": 9, "q_num": 5, "q_src": "ads"}


@pytest.fixture
def streaming_replica(django_db_setup: None) -> Iterator[int]:
    """A hot standby of the local cluster on a free port; stopped, its slot dropped and its copy removed
    afterwards."""
    port = free_port()
    data = _data_dir(port)
    subprocess.run([SCRIPT, "start", str(port), data], check=True, capture_output=True, timeout=300)
    yield port
    subprocess.run([SCRIPT, "drop", str(port), data], check=False, capture_output=True, timeout=120)


def _data_dir(port: int) -> str:
    return f"/tmp/survey-test-replica-{port}"  # noqa: S108 - the postgres user must reach it; the port is ours


def _on_replica(port: int, sql: str) -> Any:
    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True) as conn:
        return conn.execute(sql).fetchone()[0]


def _submit(survey_id: int, versions: dict[int, tuple[int, dict[str, Any]]], count: int) -> None:
    for _ in range(count):
        insert_submission(
            survey_id=survey_id, version_id=versions[2][0], definition=versions[2][1], answers=ANSWERS,
            at=timezone.now(),
        )  # fmt: skip
    survey_aggregate(survey_id=survey_id)


def _caught_up(port: int, timeout: float = 60) -> None:
    primary_lsn = connection.cursor().execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
    deadline = time.monotonic() + timeout
    while _on_replica(port, f"SELECT pg_last_wal_replay_lsn() >= '{primary_lsn}'::pg_lsn") is not True:
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.2)


def test_analytics_reads_come_from_the_streaming_replica_and_fall_back_when_it_stops(
    streaming_replica, tenant_a, make_member
):
    port = streaming_replica
    database = connection.settings_dict["NAME"]
    with tenant_context(tenant_a):
        survey, versions = survey_with_two_versions()
        _submit(survey.pk, versions, 2)
    _caught_up(port)
    tokens = login(tenant_a, make_member(tenant_a, "analyst").email)
    headers = {"Host": host_of(tenant_a), "Authorization": f"Bearer {tokens['access']}"}
    server, url = gunicorn_start(
        env={
            "TEST_DATABASE_REPLICA_URL": f"postgres://survey_app@127.0.0.1:{port}/{database}",
            "TEST_ANALYTICS_REPLICA_MAX_LAG": "3600",  # phase 1: a paused replica stays in use
        }
    )
    try:
        ready = requests.get(f"{url}/readyz", timeout=10).json()
        replica = ready["checks"]["replica"]
        assert replica["configured"] is True
        assert replica["up"] is True
        assert replica["analytics_reads_from"] == "replica"
        assert replica["lag_seconds"] is not None
        assert replica["lag_seconds"] < 5

        def responses(query: str = "") -> int:
            answer = requests.get(f"{url}/api/v1/surveys/{survey.pk}/analytics/{query}", headers=headers, timeout=30)
            assert answer.status_code == 200, answer.text
            return int(answer.json()["totals"]["responses"])

        slots = connection.cursor().execute(
            "SELECT active FROM pg_replication_slots WHERE slot_name = %s", [f"survey_replica_{port}"]
        )
        assert slots.fetchall() == [(True,)]  # streaming through its slot: WAL it needs is kept
        assert responses() == 2
        # Replay paused: the primary gets 3 more responses, the API (reading the replica) still says 2.
        _on_replica(port, "SELECT pg_wal_replay_pause()")
        with tenant_context(tenant_a):
            _submit(survey.pk, versions, 3)
        assert responses("?completion=completed") == 2
        _on_replica(port, "SELECT pg_wal_replay_resume()")
        _caught_up(port)
        assert responses("?completion=all") == 5

        # The replica stops: readiness stays green (reads fall back), and the API answers from the primary.
        subprocess.run([SCRIPT, "stop", str(port), _data_dir(port)], check=True, timeout=120)
        with tenant_context(tenant_a):
            _submit(survey.pk, versions, 1)
        deadline = time.monotonic() + 30  # the replica check is cached for up to 5 s per process
        while True:
            ready_response = requests.get(f"{url}/readyz", timeout=10)
            replica = ready_response.json()["checks"]["replica"]
            if replica["up"] is False or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert ready_response.status_code == 200
        assert replica["up"] is False
        assert replica["analytics_reads_from"] == "primary"
        assert responses("?completion=completed&version=2") == 6
    finally:
        process_stop(server)
