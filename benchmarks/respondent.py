"""Benchmark: draft save and submit for a 20-question survey through a real server (gunicorn, production
settings) under a separate load process (wrk), next to the ceilings measured in the same run: the same
rows inserted straight through psycopg, and the same draft written straight to Redis. Ends with a
profile of the submit path. Run with ``make bench-respondent`` (scratch database)."""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from benchmarks._common import print_rows, published_survey, server, wrk

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "sync")
THREADS = int(os.environ.get("BENCH_THREADS", "1"))


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


def percentiles(samples: list[float], elapsed: float) -> dict[str, float]:
    q = statistics.quantiles(samples, n=100)
    return {"p50": statistics.median(samples), "p95": q[94], "p99": q[98], "rps": len(samples) / elapsed}


def threaded(work, clients: int, seconds: float) -> dict[str, float]:  # type: ignore[no-untyped-def]
    samples: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def loop() -> None:
        state = work()
        local = []
        while time.monotonic() < stop:
            started = time.perf_counter()
            next(state)
            local.append((time.perf_counter() - started) * 1000)
        with lock:
            samples.extend(local)

    threads = [threading.Thread(target=loop) for _ in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return percentiles(samples, time.monotonic() - started)


def psycopg_ceiling(schema: str, survey_id: int, version_id: int, answers: dict, clients: int) -> dict[str, float]:
    """1 submission + its answer rows per transaction, straight through psycopg (app role, same RLS)."""
    import psycopg
    from django.conf import settings

    url = settings.DATABASE_APP_URL

    def work():  # type: ignore[no-untyped-def]
        with psycopg.connect(url) as conn:
            conn.execute(
                "SELECT set_config('search_path', %s, false), set_config('app.tenant', %s, false)",
                [f'"{schema}",public', schema],
            )
            conn.commit()
            while True:
                with conn.transaction(), conn.cursor() as cur:
                    cur.execute(
                        "INSERT INTO responses_submission (submitted_at, uid, survey_id, version_id) "
                        "VALUES (now(), %s, %s, %s) RETURNING id",
                        [uuid.uuid4(), survey_id, version_id],
                    )
                    sid = cur.fetchone()[0]
                    cur.executemany(
                        "INSERT INTO responses_answer (submitted_at, submission_id, survey_id, "
                        "question_id, value) VALUES (now(), %s, %s, %s, %s)",
                        [(sid, survey_id, k, json.dumps(v)) for k, v in answers.items()],
                    )
                yield

    return threaded(work, clients, SECONDS)


def redis_ceiling(payload: bytes, clients: int) -> dict[str, float]:
    import redis
    from django.conf import settings

    def work():  # type: ignore[no-untyped-def]
        client = redis.Redis.from_url(settings.REDIS_URL)
        while True:
            client.set(f"bench:draft:{uuid.uuid4()}", payload, ex=60)
            yield

    return threaded(work, clients, SECONDS)


def main() -> None:
    import django

    django.setup()
    from django_tenants.utils import tenant_context

    from shared_apps.tenants.models import Organisation
    from tenant_apps.responses.services import submission_create
    from tenant_apps.surveys.models import Survey

    definition, answers = build()
    survey, host = published_survey("bench-resp", "Bench respondents", "Respondent benchmark", definition)
    organisation = Organisation.objects.get(slug="bench-resp")
    link = survey.public_link
    body = json.dumps({"answers": answers})
    draft_body = json.dumps({"answers": answers, "page": "p2"})
    lua = 'wrk.method = "{m}"\nwrk.body = {b}\nwrk.headers["Content-Type"] = "application/json"\n'

    rows: dict[str, dict[str, float]] = {}
    with server(WORKERS, WORKER_CLASS, THREADS) as base:
        wrk(f"{base}/api/v1/s/{link}/", host, 2, CONNECTIONS)  # warm caches in every worker
        rows["draft save: PUT /api/v1/s/<link>/draft/ (new draft each)"] = wrk(
            f"{base}/api/v1/s/{link}/draft/", host, SECONDS, CONNECTIONS, lua.format(m="PUT", b=json.dumps(draft_body))
        )
        rows["submit: POST /api/v1/s/<link>/submit/ (20 answers)"] = wrk(
            f"{base}/api/v1/s/{link}/submit/", host, SECONDS, CONNECTIONS, lua.format(m="POST", b=json.dumps(body))
        )
    rows["ceiling: Redis SET EX of the draft (4 clients)"] = redis_ceiling(draft_body.encode(), 4)
    with tenant_context(organisation):
        rows["ceiling: psycopg, 1 submission + 20 answers per tx (4 clients)"] = psycopg_ceiling(
            organisation.schema_name, survey.pk, survey.current_version_id, answers, 4
        )
    print_rows(
        f"respondent paths: gunicorn {WORKERS} {WORKER_CLASS} workers x {THREADS} threads, "
        f"wrk 2 threads x {CONNECTIONS} connections, {SECONDS}s each",
        rows,
    )
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
        for _ in range(300):
            submission_create(
                survey_id=survey.pk, version_id=survey.current_version_id, definition=definition, answers=answers
            )
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(18)
    print("\nprofile of the submit service (300 calls, cumulative):")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])


if __name__ == "__main__":
    main()
