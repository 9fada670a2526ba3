"""Benchmark: draft save and submit for a 20-question survey through a real server (gunicorn, production
settings) under a separate load process (wrk), next to the ceilings measured in the same run by tools that are
not our code (benchmarks/ceilings.py): wrk against a bare WSGI JSON app under the same gunicorn settings,
redis-benchmark SET of a 2 KB value, pgbench replaying the submit service's own statements. Ends with a
profile of the submit path. Run with ``make bench-respondent`` (scratch database)."""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from benchmarks._common import ROOT, published_survey, server, wrk
from benchmarks.ceilings import pgbench, print_path, redis_benchmark, submit_transaction_sql, tools_check

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "sync")
THREADS = int(os.environ.get("BENCH_THREADS", "1"))
DB_CLIENTS = int(os.environ.get("BENCH_DB_CLIENTS", str(WORKERS * THREADS)))  # the server's database connections
PROFILE_CALLS = int(os.environ.get("BENCH_PROFILE_CALLS", "300"))
SKIP = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT|SET |SELECT set_config)", re.IGNORECASE)


def build() -> tuple[dict, dict]:
    kinds = ("number", "single_choice", "short_text", "multiple_choice", "yes_no")
    questions, answers = [], {}
    for n in range(20):
        kind = kinds[n % 5]
        q: dict = {"id": f"q{n}", "type": kind, "text": f"Question {n}", "required": n % 3 == 0}
        if kind in ("single_choice", "multiple_choice"):
            q["choices"] = [{"id": f"c{c}", "text": f"Choice {c}"} for c in range(5)]
        if n % 4 == 1:
            q["visible_if"] = {"q": f"q{n - 1}", "op": "is_answered"}
        questions.append(q)
        answers[q["id"]] = {
            "number": n,
            "single_choice": "c2",
            "short_text": f"answer {n}",
            "multiple_choice": ["c1", "c3"],
            "yes_no": True,
        }[kind]
    pages = [{"id": f"p{i}", "title": f"Page {i}", "questions": questions[i * 5 : (i + 1) * 5]} for i in range(4)]
    return {"end_screens": [{"id": "thanks", "text": "Thank you!"}], "pages": pages}, answers


def main() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import tenant_context

    from shared_apps.tenants.models import Organisation
    from tenant_apps.responses.services import submission_create
    from tenant_apps.surveys.models import Survey

    tools_check()
    definition, answers = build()
    slug = os.environ.get("BENCH_SLUG", "bench-resp")
    survey, host = published_survey(slug, "Bench respondents", "Respondent benchmark", definition)
    organisation = Organisation.objects.get(slug=slug)
    link = survey.public_link
    body = json.dumps({"answers": answers})
    draft_body = json.dumps({"answers": answers, "page": "p2"})
    lua = 'wrk.method = "{m}"\nwrk.body = {b}\nwrk.headers["Content-Type"] = "application/json"\n'
    put, post = lua.format(m="PUT", b=json.dumps(draft_body)), lua.format(m="POST", b=json.dumps(body))

    with server(WORKERS, WORKER_CLASS, THREADS) as base:
        warm = max(1, SECONDS // 5)  # every worker's caches and first calls, unmeasured
        wrk(f"{base}/api/v1/s/{link}/", host, warm, CONNECTIONS)
        wrk(f"{base}/api/v1/s/{link}/draft/", host, warm, CONNECTIONS, put)
        wrk(f"{base}/api/v1/s/{link}/submit/", host, warm, CONNECTIONS, post)
        draft = wrk(f"{base}/api/v1/s/{link}/draft/", host, SECONDS, CONNECTIONS, put)
        submit = wrk(f"{base}/api/v1/s/{link}/submit/", host, SECONDS, CONNECTIONS, post)
    with server(WORKERS, WORKER_CLASS, THREADS, app="benchmarks.bare_wsgi") as bare:
        http_put = wrk(f"{bare}/", host, SECONDS, CONNECTIONS, put)
        http_post = wrk(f"{bare}/", host, SECONDS, CONNECTIONS, post)
    redis_set = redis_benchmark(settings.REDIS_URL, clients=CONNECTIONS, requests=10000 * SECONDS)

    # The database ceiling: the statements the submit service runs, captured from one call, replayed by pgbench
    # (one transaction each, fresh uid) with as many clients as the server has database connections, and as wrk has.
    with tenant_context(organisation), CaptureQueriesContext(connection) as captured:
        uid = submission_create(
            survey_id=survey.pk, version_id=survey.current_version_id, definition=definition, answers=answers
        ).uid
    statements = [q["sql"] for q in captured.captured_queries if not SKIP.match(q["sql"] or "")]
    script = submit_transaction_sql(statements, uid)
    (ROOT / "var").mkdir(exist_ok=True)
    (ROOT / "var" / "bench-submit.sql").write_text(script)
    schema = organisation.schema_name
    database = {}
    for clients, whose in sorted({(DB_CLIENTS, "= server's DB conns"), (CONNECTIONS, "= wrk conns")}):
        database[f"DB, {clients} clients: pgbench -f var/bench-submit.sql ({whose})"] = pgbench(
            script,
            settings.DATABASE_APP_URL,
            clients=clients,
            seconds=SECONDS,
            options=f"-c search_path={schema},public -c app.tenant={schema}",
        )

    title = f"gunicorn {WORKERS} {WORKER_CLASS} workers x {THREADS} threads, wrk 2 threads x {CONNECTIONS} connections"
    print_path(
        f"draft save: {title}, {SECONDS}s each",
        draft,
        {
            "HTTP: wrk PUT -> bare WSGI JSON, same gunicorn": http_put,
            f"Redis: redis-benchmark SET 2 KB, {CONNECTIONS} clients": redis_set,
        },
        "PUT /api/v1/s/<link>/draft/ (new draft each)",
    )
    print_path(
        f"submit: {title}, {SECONDS}s each",
        submit,
        {"HTTP: wrk POST -> bare WSGI JSON, same gunicorn": http_post, **database},
        "POST /api/v1/s/<link>/submit/ (20 answers)",
    )
    print(f"(pgbench replays {len(statements)} statements per transaction: var/bench-submit.sql)")
    with tenant_context(organisation):
        stored = Survey.objects.get(pk=survey.pk).response_count
    print(f"submissions stored by the server run: {stored}")

    profiler = cProfile.Profile()
    with tenant_context(organisation):
        for _ in range(5):
            submission_create(
                survey_id=survey.pk, version_id=survey.current_version_id, definition=definition, answers=answers
            )
        profiler.enable()
        for _ in range(PROFILE_CALLS):
            submission_create(
                survey_id=survey.pk, version_id=survey.current_version_id, definition=definition, answers=answers
            )
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(18)
    print(f"\nprofile of the submit service ({PROFILE_CALLS} calls, cumulative):")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])


if __name__ == "__main__":
    main()
