"""The aggregation pipeline: dirty marks on submit, then (every 5 s, per tenant with marks) a watermark run
per survey that rewrites the affected (version, day) buckets from the raw rows. Call inside the tenant's
context.

Why buckets are recomputed instead of counted forward: a run locks the survey's watermark row, finds the
buckets touched since the watermark (new submissions and soft deletions, with an overlap for transactions
that commit late), deletes their cells and inserts them again from the raw rows, and moves the watermark, all
in one transaction. A re-run, a duplicated task (it waits on the lock, then recomputes the same buckets to
the same values) or a crash (the transaction rolls back) can never count a submission twice, and a
soft-deleted submission leaves the cells at the next run because its bucket is recomputed without it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django_redis import get_redis_connection

from shared_apps.core.cache import tenant_key
from shared_apps.core.tenancy import current_schema
from tenant_apps.analytics.cells import Where, cells_sql, types_param, version_questions
from tenant_apps.surveys.models import SurveyVersion

logger = logging.getLogger(__name__)

# Global: the schemas with at least one dirty survey (the 5-second beat reads only this).
DIRTY_SCHEMAS = "analytics:dirty-schemas"
# A transaction that commits later than this after its ``submitted_at`` is picked up by the next run anyway.
OVERLAP = dt.timedelta(minutes=5)
HLL_DAYS_TTL = 60 * 60 * 24 * 800


def dirty_key(schema: str) -> str:
    return tenant_key(schema, "analytics", "dirty")


def hll_key(schema: str, survey_id: int, day: dt.date) -> str:
    return tenant_key(schema, "analytics", "hll", survey_id, day.isoformat())


def mark_dirty(pipe: Any, *, schema: str, survey_id: int) -> None:
    """Queue, on a Redis pipeline the caller executes, "this survey has new data" (no database write)."""
    pipe.sadd(dirty_key(schema), survey_id)
    pipe.sadd(DIRTY_SCHEMAS, schema)


def survey_mark_dirty(*, survey_id: int) -> None:
    """After this transaction commits, mark the survey dirty (used on soft delete)."""
    schema = current_schema()

    def _mark() -> None:
        pipe = get_redis_connection("default").pipeline(transaction=False)
        mark_dirty(pipe, schema=schema, survey_id=survey_id)
        pipe.execute()

    transaction.on_commit(_mark)


@dataclass(frozen=True)
class AggregateRun:
    survey_id: int
    buckets: list[tuple[int, dt.date]]
    cells: int


BUCKETS_SQL = """
SELECT DISTINCT version_id, (submitted_at AT TIME ZONE 'UTC')::date FROM responses_submission
WHERE survey_id = %(survey)s AND id > %(last_id)s
UNION
SELECT DISTINCT version_id, (submitted_at AT TIME ZONE 'UTC')::date FROM responses_submission
WHERE survey_id = %(survey)s AND submitted_at >= %(since)s
UNION
SELECT DISTINCT version_id, (submitted_at AT TIME ZONE 'UTC')::date FROM responses_submission
WHERE survey_id = %(survey)s AND deleted_at IS NOT NULL AND deleted_at >= %(since)s
"""
BUCKET_WHERE = Where(
    submissions=(
        "s.submitted_at >= %(lo)s AND s.submitted_at < %(hi)s AND (s.version_id, (s.submitted_at AT TIME ZONE "
        "'UTC')::date) IN (SELECT * FROM unnest(%(bucket_versions)s::bigint[], %(bucket_days)s::date[]))"
    ),
    answers="a.submitted_at >= %(lo)s AND a.submitted_at < %(hi)s",
)


def survey_types(*, survey_id: int) -> str:
    versions = SurveyVersion.objects.filter(survey_id=survey_id).values_list("pk", "number", "definition")
    return types_param(version_questions(versions))


def survey_aggregate(*, survey_id: int, full: bool = False) -> AggregateRun:
    """One watermark run for a survey (``full``: every bucket, e.g. after an erasure)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO analytics_watermark (survey_id, until, last_id, runs, generation, updated_at) "
            "VALUES (%s, NULL, 0, 0, 0, now()) ON CONFLICT (survey_id) DO NOTHING",
            [survey_id],
        )
        cursor.execute("SELECT until, last_id FROM analytics_watermark WHERE survey_id = %s FOR UPDATE", [survey_id])
        until, last_id = cursor.fetchone()
        now = timezone.now()
        cursor.execute(
            "SELECT coalesce(max(id), %s) FROM responses_submission WHERE survey_id = %s AND id > %s",
            [last_id, survey_id, last_id],
        )
        max_id = cursor.fetchone()[0]
        since = None if full or until is None else until - OVERLAP
        if since is None:
            cursor.execute(
                "SELECT DISTINCT version_id, (submitted_at AT TIME ZONE 'UTC')::date FROM responses_submission "
                "WHERE survey_id = %s",
                [survey_id],
            )
            buckets = [(int(v), d) for v, d in cursor.fetchall()]
            cursor.execute("DELETE FROM analytics_cell WHERE survey_id = %s", [survey_id])
            cursor.execute("DELETE FROM analytics_total WHERE survey_id = %s", [survey_id])
        else:
            cursor.execute(BUCKETS_SQL, {"survey": survey_id, "since": since, "last_id": last_id})
            buckets = sorted({(int(v), d) for v, d in cursor.fetchall()})
        cells = _buckets_rewrite(cursor, survey_id, buckets, delete=since is not None) if buckets else 0
        if buckets:
            _totals_rewrite(cursor, survey_id, sorted({v for v, _ in buckets}))
        cursor.execute(
            "UPDATE analytics_watermark SET until = %s, last_id = greatest(last_id, %s), runs = runs + 1, "
            "generation = generation + %s, changed_at = CASE WHEN %s THEN now() ELSE changed_at END, "
            "updated_at = now() WHERE survey_id = %s",
            [now, max_id, 1 if buckets else 0, bool(buckets), survey_id],
        )
        if buckets:
            schema = current_schema()
            days = sorted({d for _, d in buckets})
            transaction.on_commit(lambda: _respondents_rebuild(schema, survey_id, days))
    return AggregateRun(survey_id=survey_id, buckets=buckets, cells=cells)


def _buckets_rewrite(cursor: Any, survey_id: int, buckets: list[tuple[int, dt.date]], *, delete: bool) -> int:
    versions = [v for v, _ in buckets]
    days = [d for _, d in buckets]
    lo = dt.datetime.combine(min(days), dt.time(), tzinfo=dt.UTC)
    hi = dt.datetime.combine(max(days) + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    params = {"survey": survey_id, "bucket_versions": versions, "bucket_days": days, "lo": lo, "hi": hi}
    if delete:
        cursor.execute(
            "DELETE FROM analytics_cell WHERE survey_id = %(survey)s AND (version_id, day) IN "
            "(SELECT * FROM unnest(%(bucket_versions)s::bigint[], %(bucket_days)s::date[]))",
            params,
        )
    cursor.execute(
        "INSERT INTO analytics_cell (survey_id, version_id, day, question_id, key, n, sum, sum_sq, min, max) "
        f"SELECT %(survey)s, cells.* FROM ({cells_sql(BUCKET_WHERE)}) AS cells",
        {**params, "types": survey_types(survey_id=survey_id)},
    )
    return int(cursor.rowcount)


def _totals_rewrite(cursor: Any, survey_id: int, versions: list[int]) -> None:
    """Rewrite the versions' totals (``models.Total``) from their cells, in the run's transaction: a function
    of the cells like they are of the raw rows (one index range of cells per version, not the raw answers)."""
    params = {"survey": survey_id, "versions": versions}
    cursor.execute(
        "DELETE FROM analytics_total WHERE survey_id = %(survey)s AND version_id = ANY(%(versions)s::bigint[])",
        params,
    )
    cursor.execute(
        "INSERT INTO analytics_total (survey_id, version_id, question_id, key, n, sum, sum_sq, min, max) "
        "SELECT survey_id, version_id, question_id, key, sum(n), sum(sum), sum(sum_sq), min(min), max(max) "
        "FROM analytics_cell WHERE survey_id = %(survey)s AND version_id = ANY(%(versions)s::bigint[]) "
        "GROUP BY 1, 2, 3, 4",
        params,
    )


RESPONDENTS_SQL = """
SELECT (s.submitted_at AT TIME ZONE 'UTC')::date,
       coalesce(k.respondent_key, 'user:' || s.respondent_id::text, s.uid::text)
FROM responses_submission s LEFT JOIN responses_submissionkey k ON k.uid = s.uid
WHERE s.survey_id = %(survey)s AND s.deleted_at IS NULL AND s.submitted_at >= %(lo)s AND s.submitted_at < %(hi)s
  AND (s.submitted_at AT TIME ZONE 'UTC')::date = ANY(%(days)s::date[])
"""


def _respondents_rebuild(schema: str, survey_id: int, days: list[dt.date]) -> None:
    """Rewrite the days' HyperLogLogs from the remaining (not deleted) submissions, in one query: idempotent,
    and a deleted submission's respondent leaves the estimate."""
    lo = dt.datetime.combine(min(days), dt.time(), tzinfo=dt.UTC)
    hi = dt.datetime.combine(max(days) + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    members: dict[dt.date, list[str]] = {day: [] for day in days}
    with connection.cursor() as cursor:
        cursor.execute(RESPONDENTS_SQL, {"survey": survey_id, "lo": lo, "hi": hi, "days": days})
        for day, member in cursor.fetchall():
            members[day].append(member)
    pipe = get_redis_connection("default").pipeline(transaction=True)
    for day, found in members.items():
        key = hll_key(schema, survey_id, day)
        pipe.delete(key)
        for start in range(0, len(found), 5000):
            pipe.pfadd(key, *found[start : start + 5000])
        pipe.expire(key, HLL_DAYS_TTL)
    pipe.execute()


def survey_respondents_rebuild(*, survey_id: int, days: list[dt.date]) -> None:
    """After this transaction commits, rewrite the days' respondent HyperLogLogs from the remaining rows
    (an erasure removed submissions whose days a full run no longer sees)."""
    if days:
        schema = current_schema()
        transaction.on_commit(lambda: _respondents_rebuild(schema, survey_id, sorted(set(days))))


def tenant_aggregate() -> list[AggregateRun]:
    """The aggregation task's body for the current tenant: take the dirty marks first (marks set while this
    runs stay for the next run), aggregate each survey, give the marks back if a run fails."""
    schema = current_schema()
    redis = get_redis_connection("default")
    survey_ids = sorted(int(s) for s in redis.spop(dirty_key(schema), 10_000) or [])
    runs = []
    for index, survey_id in enumerate(survey_ids):
        try:
            runs.append(survey_aggregate(survey_id=survey_id))
        except Exception:
            pipe = redis.pipeline(transaction=False)
            for left in survey_ids[index:]:
                mark_dirty(pipe, schema=schema, survey_id=left)
            pipe.execute()
            raise
    return runs
