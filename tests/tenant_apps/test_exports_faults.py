"""An export survives its worker being killed outright: the message (late ack) is redelivered to a new
worker, which resumes from the checkpoint, and the file is complete and correct (every row once, in order).
Runs its own Redis and workers, like tests/test_faults.py."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import redis
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from tests.tenant_apps.test_exports import V1
from tests.test_faults import Worker, _wait_for, redis_server  # noqa: F401 - the fixture

pytestmark = pytest.mark.faults
ROWS = 3000


def _bulk_submissions(survey_id: int, version_id: int) -> None:
    """ROWS submissions with two answers each, written in one statement (1 ms apart, in the past)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH s AS (
                INSERT INTO responses_submission (submitted_at, uid, survey_id, version_id, variables, meta)
                SELECT %(now)s - (%(rows)s - i) * interval '1 millisecond', gen_random_uuid(), %(survey)s,
                       %(version)s, '{}', '{}'
                FROM generate_series(1, %(rows)s) AS i
                RETURNING id, submitted_at
            )
            INSERT INTO responses_answer (submitted_at, submission_id, survey_id, question_id, value, number, choices)
            SELECT s.submitted_at, s.id, %(survey)s, q.qid, q.value, q.number, q.choices FROM s,
                LATERAL (VALUES ('q_name', to_jsonb('row ' || s.id), NULL::float8, NULL::jsonb),
                                ('q_age', to_jsonb(s.id %% 90), (s.id %% 90)::float8, NULL::jsonb))
                AS q(qid, value, number, choices)
            """,
            {"now": timezone.now(), "rows": ROWS, "survey": survey_id, "version": version_id},
        )


def test_worker_killed_mid_export_resumes_and_the_file_is_complete(redis_server, make_tenant):  # noqa: F811
    from kombu import Connection

    from tenant_apps.exports.models import ExportJob
    from tenant_apps.exports.tasks import export_run_task
    from tenant_apps.surveys import services

    env = {**redis_server.env(), "CELERY_VISIBILITY_TIMEOUT": "3", "EXPORT_CHUNK_ROWS": "10"}
    workers = [Worker(env, "first", queue="exports")]
    try:
        tenant = make_tenant()
        with tenant_context(tenant):
            survey = services.survey_create_published(title="Big", definition=V1)
            _bulk_submissions(survey.pk, survey.current_version_id)
            expected = [
                (str(uid), f"row {sid}")
                for sid, uid in connection.cursor()
                .execute(
                    "SELECT id, uid FROM responses_submission WHERE survey_id = %s ORDER BY submitted_at, id",
                    [survey.pk],
                )
                .fetchall()
            ]
            job = ExportJob.objects.create(
                survey=survey, format="ndjson", options={}, expires_at=timezone.now() + dt.timedelta(days=1)
            )
        assert len(expected) == ROWS
        workers[0].wait_log("ready.", 60)
        with Connection(redis_server.url(1)) as broker:
            sent = export_run_task.apply_async(
                kwargs={"schema_name": tenant.schema_name, "job_id": job.pk}, connection=broker
            )

        def progressed() -> bool:
            with tenant_context(tenant):
                job.refresh_from_db()
            return job.rows_done >= 200

        _wait_for(progressed, 60, "the export stored some parts", interval=0.01)
        workers[0].kill()
        with tenant_context(tenant):
            job.refresh_from_db()
        killed_at_row = job.rows_done
        assert job.status == ExportJob.Status.RUNNING, "the export finished before the kill: add rows"
        assert 0 < killed_at_row < ROWS
        assert redis.Redis.from_url(redis_server.url(1)).hlen("unacked") == 1  # late ack: still in the broker

        workers.append(Worker(env, "second", queue="exports"))
        workers[1].wait_log(f"[{sent.id}] succeeded", 120)
        assert "export resumed" in workers[1].log()
        with tenant_context(tenant):
            job.refresh_from_db()
            assert job.status == ExportJob.Status.READY
            assert job.rows_done == ROWS
            with default_storage.open(job.storage_key, "rb") as handle:
                lines = [json.loads(line) for line in handle]
        assert [(line["submission_uid"], line["q_name"]) for line in lines] == expected
        print(f"\nExport worker killed at row {killed_at_row} of {ROWS}; the resumed run completed the file")
    finally:
        for worker in workers:
            worker.kill()
