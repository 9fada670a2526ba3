"""Benchmark: export N submissions x 20 answers to CSV and XLSX as the exports task does it (server-side
cursor, parts, assembly), in a child process whose peak RSS is measured, next to PostgreSQL's own
``COPY (SELECT ...) TO STDOUT`` of the same rows in the same run. ``make bench-export`` (scratch database);
``BENCH_EXPORT_ROWS`` (default 1 000 000), ``BENCH_EXPORT_FORMATS`` (default ``csv,xlsx``)."""

from __future__ import annotations

import json
import os
import resource
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

ROWS = int(os.environ.get("BENCH_EXPORT_ROWS", "1000000"))
FORMATS = os.environ.get("BENCH_EXPORT_FORMATS", "csv,xlsx").split(",")
BATCH = 50_000


def definition() -> dict:
    kinds = ("number", "single_choice", "short_text", "multiple_choice", "yes_no")
    questions = []
    for n in range(20):
        q: dict = {"id": f"q{n}", "type": kinds[n % 5], "text": f"Question {n}"}
        if q["type"] in ("single_choice", "multiple_choice"):
            q["choices"] = [{"id": f"c{c}", "text": f"Choice {c}"} for c in range(5)]
        questions.append(q)
    pages = [{"id": f"p{i}", "title": f"Page {i}", "questions": questions[i * 5 : (i + 1) * 5]} for i in range(4)]
    return {"end_screens": [{"id": "thanks", "text": "Thank you!"}], "pages": pages}


# Answers per kind (n % 5): number, single choice, text, multiple choice, yes/no.
FILL_SQL = """
WITH s AS (
    INSERT INTO responses_submission (submitted_at, uid, survey_id, version_id, variables, meta)
    SELECT %(start)s + i * interval '1 microsecond', gen_random_uuid(), %(survey)s, %(version)s, '{}', '{}'
    FROM generate_series(%(first)s, %(last)s) AS i
    RETURNING id, submitted_at
)
INSERT INTO responses_answer (submitted_at, submission_id, survey_id, question_id, value, number, choices)
SELECT s.submitted_at, s.id, %(survey)s, 'q' || n,
       CASE n %% 5 WHEN 0 THEN to_jsonb(n) WHEN 1 THEN '"c2"'::jsonb WHEN 2 THEN to_jsonb('answer ' || n)
                   WHEN 3 THEN '["c1", "c3"]'::jsonb ELSE 'true'::jsonb END,
       CASE WHEN n %% 5 = 0 THEN n END,
       CASE n %% 5 WHEN 1 THEN '["c2"]'::jsonb WHEN 3 THEN '["c1", "c3"]'::jsonb END
FROM s, generate_series(0, 19) AS n
"""


def setup() -> tuple[str, int]:
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from shared_apps.tenants.services import tenant_create
    from tenant_apps.surveys.services import survey_create_published

    organisation = tenant_create(
        slug=f"bench-export-{uuid.uuid4().hex[:6]}",
        name="Export bench",
        admin_email=f"bench-{uuid.uuid4().hex[:6]}@example.test",
        admin_password=secrets.token_urlsafe(16),
        plan="enterprise",
    ).organisation
    with tenant_context(organisation):
        survey = survey_create_published(title="Export bench", definition=definition())
        start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        started = time.monotonic()
        for first in range(1, ROWS + 1, BATCH):
            with connection.cursor() as cursor:
                cursor.execute(
                    FILL_SQL,
                    {
                        "start": start,
                        "survey": survey.pk,
                        "version": survey.current_version_id,
                        "first": first,
                        "last": min(ROWS, first + BATCH - 1),
                    },
                )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE responses_submission; ANALYZE responses_answer")
        print(f"filled {ROWS} submissions x 20 answers in {time.monotonic() - started:.0f} s", flush=True)
    return organisation.schema_name, survey.pk


def copy_baseline(schema: str, survey_id: int) -> dict:
    from django.db import connection
    from django_tenants.utils import schema_context

    from tenant_apps.exports.services import _SUBMISSIONS_SQL

    params = {"survey": survey_id, "after_at": "-infinity", "after_id": 0, "since": None, "until": None}
    params["version_id"] = None
    with schema_context(schema), connection.cursor() as cursor:
        started, size, rows = time.monotonic(), 0, 0
        # psycopg binds the parameters client-side for COPY: the very query the export runs.
        with cursor.cursor.copy(f"COPY ({_SUBMISSIONS_SQL}) TO STDOUT WITH (FORMAT csv)", params) as copy:
            for block in copy:
                size += len(block)
                rows += bytes(block).count(b"\n")
        elapsed = time.monotonic() - started
    return {"what": "COPY (SELECT ...) TO STDOUT", "rows": rows, "seconds": elapsed, "bytes": size}


def export_child(schema: str, survey_id: int, fmt: str) -> None:
    """In a child process: one export as the task runs it; prints its figures as JSON."""
    import django

    django.setup()
    import datetime as dt

    from django.utils import timezone
    from django_tenants.utils import schema_context

    from tenant_apps.exports.models import ExportJob
    from tenant_apps.exports.services import export_run

    with schema_context(schema):
        job = ExportJob.objects.create(
            survey_id=survey_id, format=fmt, options={}, expires_at=timezone.now() + dt.timedelta(days=1)
        )
        started = time.monotonic()
        job = export_run(job_id=job.pk)
        elapsed = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "what": f"export {fmt}",
                "rows": job.rows_done,
                "seconds": elapsed,
                "bytes": job.size,
                "peak_rss_mb": peak_mb,
                "status": job.status,
            }
        )
    )


def main() -> None:
    schema, survey_id = setup()
    results = [copy_baseline(schema, survey_id)]
    for fmt in FORMATS:
        out = subprocess.run(
            [sys.executable, __file__, "--child", schema, str(survey_id), fmt],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    print(f"\n{'':32} {'rows':>9} {'seconds':>8} {'rows/s':>9} {'MB out':>8} {'peak RSS MB':>12}")
    for r in results:
        rss = f"{r['peak_rss_mb']:.0f}" if "peak_rss_mb" in r else "-"
        print(
            f"{r['what']:32} {r['rows']:>9} {r['seconds']:>8.1f} {r['rows'] / r['seconds']:>9.0f} "
            f"{(r['bytes'] or 0) / 1e6:>8.1f} {rss:>12}"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        export_child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
