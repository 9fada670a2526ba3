"""Analytics benchmark: generate submissions x 20 questions (3 versions, 12 months) with COPY, aggregate, then
p50/p95/p99 of the API (summary cold and warm, filtered summary, cross-tab, funnel), each next to the
equivalent hand-written SQL GROUP BY on the same data in the same run, and the aggregation lag while
submissions arrive at a sustained rate (aggregation every 5 s, as beat runs it).

    manage.py bench_analytics --submissions 500000     # 10 M answers (the issue's size)
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared_apps.accounts.models import User
from shared_apps.accounts.services import password_generate
from shared_apps.core import rls
from shared_apps.core.cache import l1_clear
from shared_apps.core.partitions import ensure_monthly_partitions
from shared_apps.tenants.services import tenant_create, tenant_hard_delete
from shared_apps.tenants.services.base import owner_cursor
from tenant_apps.analytics.selectors import RESULTS_ACTIVE, RESULTS_QUIET
from tenant_apps.analytics.services import survey_aggregate, tenant_aggregate
from tenant_apps.members import tokens
from tenant_apps.members.services import membership_ensure
from tenant_apps.responses.services import submission_create
from tenant_apps.surveys import services
from tenant_apps.surveys.models import Publication, Survey

CHOICES = [{"id": f"c{i}", "text": f"Choice {i}"} for i in range(1, 6)]


def _definition(version: int) -> dict[str, Any]:
    questions: list[dict[str, Any]] = []
    for i in range(1, 6):
        questions.append({"id": f"q{i}", "type": "single_choice", "text": f"Single {i}", "choices": CHOICES})
    for i in range(6, 8):
        questions.append({"id": f"q{i}", "type": "multiple_choice", "text": f"Multi {i}", "choices": CHOICES})
    for i in range(8, 11):
        questions.append({"id": f"q{i}", "type": "rating", "text": f"Rating {i}", "scale": 5})
    questions += [
        {"id": "q11", "type": "nps", "text": "NPS"},
        {"id": "q12", "type": "nps", "text": "NPS 2"},
        {"id": "q13", "type": "number", "text": "Number", "min": 0, "max": 1000},
        {"id": "q14", "type": "number", "text": "Number 2", "min": 0, "max": 1000},
        {"id": "q15", "type": "number", "text": "Number 3", "min": 0, "max": 1000},
        {"id": "q16", "type": "yes_no", "text": "Yes?"},
        {"id": "q17", "type": "hidden", "text": "utm_source"},
        {"id": "q18", "type": "date", "text": "When?"},
        {"id": "q19", "type": "long_text", "text": f"Why? (v{version})"},
        {"id": "q20", "type": "dropdown", "text": "Drop", "choices": CHOICES},
    ]
    return {
        "pages": [{"id": f"p{n}", "title": f"Page {n}", "questions": questions[n * 5 : n * 5 + 5]} for n in range(4)]
    }


def _answer(rng: random.Random, qid: str) -> tuple[Any, float | None, Any]:  # noqa: PLR0911
    n = int(qid[1:])
    if n <= 5 or n == 20:
        value = f"c{rng.randint(1, 5)}"
        return value, None, [value]
    if n <= 7:
        picked = [c["id"] for c in CHOICES if rng.random() < 0.4] or ["c1"]
        return picked, None, picked
    if n <= 10:
        v = rng.randint(1, 5)
        return v, float(v), None
    if n <= 12:
        v = rng.randint(0, 10)
        return v, float(v), None
    if n <= 15:
        v = rng.randint(0, 1000)
        return v, float(v), None
    if n == 16:
        return rng.random() < 0.5, None, None
    if n == 17:
        return rng.choice(["ads", "newsletter", "partner", "search"]), None, None
    if n == 18:
        return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", None, None
    return rng.choice(["fast and simple", "too slow", "simple pricing", "great support team"]), None, None


def _pcts(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return f"p50 {q[49]:8.1f}  p95 {q[94]:8.1f}  p99 {q[98]:8.1f} ms"


class Command(BaseCommand):
    help = "Analytics: COPY-generated data, API p50/p95/p99 next to hand-written SQL, aggregation lag."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--submissions", type=int, default=500_000)
        parser.add_argument("--iterations", type=int, default=40)
        parser.add_argument("--rate", type=float, default=20.0, help="submissions per second for the lag test")
        parser.add_argument("--lag-seconds", type=float, default=30.0)
        parser.add_argument("--keep", action="store_true", help="keep the benchmark organisation afterwards")
        parser.add_argument("--generate-only", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = f"bench-analytics-{uuid.uuid4().hex[:6]}"
        tenant = tenant_create(
            slug=slug,
            name="Bench analytics",
            admin_email=f"{slug}@example.test",
            admin_password=password_generate(),
            plan="enterprise",  # unlimited: the lag run submits past the free plan's 100 responses a month
        ).organisation
        analyst = User.objects.create_user(f"analyst-{slug}@example.test", password_generate())
        try:
            self._run(tenant, analyst, options)
        finally:
            if options["keep"]:
                self.stdout.write(f"kept {tenant.schema_name}")
            else:
                tenant_hard_delete(slug=slug)
                User.objects.filter(email__in=[f"{slug}@example.test", analyst.email]).delete()

    def _run(self, tenant: Any, analyst: User, options: dict[str, Any]) -> None:
        out = self.stdout.write
        with tenant_context(tenant):
            membership_ensure(user=analyst, role_slug="analyst")
            survey = services.survey_create_published(title="Bench", definition=_definition(1))
            for version in (2, 3):
                survey = services.definition_replace(survey=survey, definition=_definition(version))
                publication = services.publication_request(survey=survey, requested_by_id=None)
                services.publication_compile_run(publication=Publication.objects.get(pk=publication.pk))
            survey = Survey.objects.select_related("current_version").get(pk=survey.pk)
            version_ids = list(survey.versions.order_by("number").values_list("pk", flat=True))
        started = time.perf_counter()
        answers = self._generate(tenant.schema_name, survey.pk, version_ids, options["submissions"])
        out(f"generated {options['submissions']} submissions, {answers} answers with COPY in "
            f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        if options["generate_only"]:
            return
        with tenant_context(tenant):
            started = time.perf_counter()
            survey_aggregate(survey_id=survey.pk, full=True)
            out(f"first full aggregation: {time.perf_counter() - started:.1f} s")
            # Issued now: at 10 M answers generating and aggregating outlast an access token issued before.
            access = tokens.tokens_issue(user_id=analyst.pk, schema=tenant.schema_name).access
        host = f"{tenant.slug}.{settings.PLATFORM_DOMAIN}"
        client = Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {access}")
        base = f"/api/v1/surveys/{survey.pk}/analytics"
        n = options["iterations"]
        schema = tenant.schema_name

        def cold() -> None:
            l1_clear()
            RESULTS_ACTIVE.invalidate_now(schema)
            RESULTS_QUIET.invalidate_now(schema)

        def api(path: str, params: dict[str, str] | None = None) -> Callable[[], None]:
            def call() -> None:
                response = client.get(path, params or {})
                assert response.status_code == 200, response.content  # noqa: S101 - a benchmark's sanity check

            return call

        where = json.dumps({"q": "q1", "op": "equals", "value": "c2"})
        sql_summary = "SELECT question_id, value, count(*) FROM responses_answer WHERE survey_id = %s GROUP BY 1, 2"
        sql_filtered = (
            "SELECT a.question_id, a.value, count(*) FROM responses_answer a WHERE a.survey_id = %s AND EXISTS ("
            "SELECT 1 FROM responses_answer f WHERE f.submission_id = a.submission_id "
            "AND f.submitted_at = a.submitted_at AND f.question_id = 'q1' AND f.value = '\"c2\"') GROUP BY 1, 2"
        )
        sql_crosstab = (
            "SELECT r.value, c.value, count(*) FROM responses_answer r JOIN responses_answer c "
            "ON c.submission_id = r.submission_id AND c.submitted_at = r.submitted_at "
            "WHERE r.survey_id = %s AND r.question_id = 'q1' AND c.survey_id = r.survey_id AND c.question_id = 'q2' "
            "GROUP BY 1, 2"
        )
        sql_funnel = "SELECT question_id, count(*) FROM responses_answer WHERE survey_id = %s GROUP BY 1"
        rows = [
            ("summary, cold cache", api(f"{base}/"), cold, sql_summary),
            ("summary, warm cache", api(f"{base}/"), None, None),
            ("filtered summary (cold)", api(f"{base}/", {"where": where}), cold, sql_filtered),
            ("cross-tab q1 x q2 (cold)", api(f"{base}/crosstab/", {"rows": "q1", "columns": "q2"}), cold, sql_crosstab),
            ("funnel (cold)", api(f"{base}/funnel/"), cold, sql_funnel),
        ]
        out(f"\n{'':28}{'API':42}hand-written SQL GROUP BY")
        for label, call, before, sql in rows:
            call()  # warm the process (imports, connection)
            api_ms = self._time(call, n, before)
            line = f"{label:28}{_pcts(api_ms)}   |   "
            if sql is not None:
                with tenant_context(tenant):
                    sql_ms = self._time(functools.partial(self._sql, sql, survey.pk), max(5, n // 4))
                line += _pcts(sql_ms)
            out(line)
        self._lag(tenant, survey, options["rate"], options["lag_seconds"])

    def _generate(self, schema: str, survey_id: int, version_ids: list[int], count: int) -> int:
        rng = random.Random(1)  # noqa: S311 - benchmark data
        now = timezone.now()
        start = now - dt.timedelta(days=365)
        qids = [f"q{i}" for i in range(1, 21)]
        answers = 0
        with owner_cursor() as raw:
            for table in ("responses_submission", "responses_answer"):
                ensure_monthly_partitions(raw, schema_name=schema, table=table, today=now.date(), months_back=13)
            rls.secure_schema(raw, schema_name=schema, app_role=settings.DATABASE_APP_ROLE)
            raw.execute(f'SELECT coalesce(max(id), 0) FROM "{schema}".responses_submission')
            first = raw.fetchone()[0] + 1
            times = sorted(start + dt.timedelta(seconds=rng.uniform(0, 365 * 86400)) for _ in range(count))
            with raw.copy(
                f'COPY "{schema}".responses_submission (id, submitted_at, uid, survey_id, version_id, started_at) '
                "FROM STDIN"
            ) as copy:
                for i, at in enumerate(times):
                    version = version_ids[min(len(version_ids) - 1, i * len(version_ids) // count)]
                    copy.write_row(
                        (
                            first + i,
                            at,
                            uuid.uuid4(),
                            survey_id,
                            version,
                            at - dt.timedelta(seconds=rng.randint(30, 900)),
                        )
                    )
            with raw.copy(
                f'COPY "{schema}".responses_answer (submitted_at, submission_id, survey_id, question_id, value, '
                "number, choices) FROM STDIN"
            ) as copy:
                for i, at in enumerate(times):
                    for qid in qids:
                        value, number, choices = _answer(rng, qid)
                        copy.write_row(
                            (at, first + i, survey_id, qid, json.dumps(value), number,
                             json.dumps(choices) if choices is not None else None)
                        )  # fmt: skip
                        answers += 1
            raw.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{schema}\".responses_submission', 'id'), %s)",
                [first + count],
            )
            raw.execute(f'ANALYZE "{schema}".responses_submission')
            raw.execute(f'ANALYZE "{schema}".responses_answer')
        return answers

    def _sql(self, sql: str, survey_id: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, [survey_id])
            cursor.fetchall()

    def _time(self, fn: Callable[[], Any], n: int, before: Callable[[], Any] | None = None) -> list[float]:
        samples = []
        for _ in range(n):
            if before:
                before()
            started = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - started) * 1000)
        return samples

    def _lag(self, tenant: Any, survey: Survey, rate: float, seconds: float) -> None:
        """Submissions at ``rate``/s through the submit service; aggregation every 5 s; lag = from a
        submission's commit to the end of the first run that includes it."""
        committed: list[float] = []
        lags: list[float] = []
        stop = threading.Event()
        lock = threading.Lock()
        definition = survey.current_version.definition  # type: ignore[union-attr]

        def produce() -> None:
            rng = random.Random(2)  # noqa: S311 - benchmark data
            with tenant_context(tenant):
                while not stop.is_set():
                    tick = time.perf_counter()
                    answers = {f"q{i}": _answer(rng, f"q{i}")[0] for i in (1, 8, 11, 13, 16, 17)}
                    submission_create(
                        survey_id=survey.pk, version_id=survey.current_version_id, definition=definition,  # type: ignore[arg-type]
                        answers=answers,
                    )  # fmt: skip
                    with lock:
                        committed.append(time.perf_counter())
                    time.sleep(max(0.0, 1 / rate - (time.perf_counter() - tick)))
            connection.close()

        producer = threading.Thread(target=produce)
        producer.start()
        end = time.perf_counter() + seconds
        with tenant_context(tenant):
            while time.perf_counter() < end:
                time.sleep(5)
                run_start = time.perf_counter()
                with lock:
                    pending = [t for t in committed if t <= run_start]
                    del committed[: len(pending)]
                tenant_aggregate()
                done = time.perf_counter()
                lags += [done - t for t in pending]
        stop.set()
        producer.join()
        if len(lags) >= 2:
            q = statistics.quantiles(lags, n=100, method="inclusive")
            self.stdout.write(
                f"\naggregation lag at {rate:.0f} submissions/s over {seconds:.0f} s ({len(lags)} submissions): "
                f"p50 {q[49]:.2f} s, p95 {q[94]:.2f} s (aggregation every 5 s)"
            )
