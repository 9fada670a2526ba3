"""Analytics reads: survey summary (totals and every question), one question, timeseries, funnel, cross-tab.
Call inside the tenant's context.

A filter of days and versions only is answered from the stored cells; any answer or hidden-field condition
reads the raw rows through the same cell SQL (``cells.py``) with the filter compiled into it, bounded by the
date range so PostgreSQL prunes partitions. Results are cached (``TenantCache``: process + Redis) under the survey's
aggregate generation, so new aggregates make every older entry unreachable at once.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django_redis import get_redis_connection
from rest_framework.exceptions import ValidationError

from shared_apps.core.cache import TenantCache
from shared_apps.core.tenancy import current_schema
from tenant_apps.analytics.cells import (
    CellKey,
    Figures,
    VersionQuestion,
    Where,
    bounds,
    cells_query,
    cells_total,
    types_param,
    version_questions,
)
from tenant_apps.analytics.filters import Filters, filters_parse, filters_where
from tenant_apps.analytics.models import Watermark
from tenant_apps.analytics.replica import read_connection
from tenant_apps.analytics.services import hll_key
from tenant_apps.analytics.stats import chi_square, mean_std, nps
from tenant_apps.responses.models import DraftCopy
from tenant_apps.surveys.definition import OTHER, iter_choices, iter_page_questions, iter_pages
from tenant_apps.surveys.models import Survey, SurveyVersion

# HyperLogLog's standard error in Redis (16384 registers).
HLL_ERROR = 0.0081
PERCENTILES = (0.25, 0.5, 0.75, 0.9, 0.99)
INTERVALS = ("hour", "day", "week", "month")
# Above this many answers (submissions), number percentiles (median completion time) of an unfiltered or
# days-only summary come from a block sample of about SAMPLE_ROWS rows. The sampled quantile's percentile rank is
# within +-PERCENTILES_ERROR of the requested one with 95 % confidence (1.96 * sqrt(0.25 / SAMPLE_ROWS), rounded up).
SAMPLE_ABOVE = 20_000
SAMPLE_ROWS = 10_000
PERCENTILES_ERROR = 0.01
LATEST_TEXTS = 5
TOP_TERMS = 10
TERMS_SAMPLE = 2000
MAX_CATEGORIES = 50
CATEGORICAL = frozenset({"choice", "boolean", "scale", "hidden"})
# The survey's language (``definition["language"]``) -> a PostgreSQL text search configuration.
TS_CONFIGS = {
    "en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian", "nl": "dutch",
    "pt": "portuguese", "sv": "swedish", "da": "danish", "fi": "finnish", "no": "norwegian", "ru": "russian",
}  # fmt: skip


def _results_cache(name: str, seconds: int) -> TenantCache[dict[str, Any]]:
    return TenantCache(
        name,
        l1_seconds=5,
        l2_seconds=seconds,
        encode=lambda value: json.dumps(value, separators=(",", ":"), default=str).encode(),
        decode=json.loads,
    )


# The TTL follows the survey's activity: a survey that got new aggregates in the last hour keeps results 5 minutes,
# a quiet one 60 minutes. Keys carry the aggregate generation, so new aggregates make older entries unreachable
# at once (they are never served stale; the TTL only bounds the memory they hold).
RESULTS_ACTIVE = _results_cache("analytics", 5 * 60)
RESULTS_QUIET = _results_cache("analytics-quiet", 60 * 60)
ACTIVE_WITHIN = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Context:
    """A survey with its versions, questions (every version) and parsed filters."""

    survey: Survey
    versions: dict[int, int]  # number -> id
    questions: list[VersionQuestion]
    filters: Filters
    generation: int
    until: dt.datetime | None
    aggregated_at: dt.datetime | None

    def where(self) -> Where:
        return filters_where(self.filters, survey_id=self.survey.pk, questions=self.questions)


def context_load(*, survey: Survey, params: Mapping[str, Any]) -> Context:
    versions_qs = SurveyVersion.objects.filter(survey=survey).order_by("number")
    rows = list(versions_qs.values_list("pk", "number", "definition"))
    versions = {number: pk for pk, number, _ in rows}
    filters = filters_parse(params, versions=versions)
    questions = version_questions(rows)
    mark = Watermark.objects.filter(survey_id=survey.pk).values_list("generation", "until", "changed_at").first()
    context = Context(
        survey=survey,
        versions=versions,
        questions=questions,
        filters=filters,
        generation=mark[0] if mark else 0,
        until=mark[1] if mark else None,
        aggregated_at=mark[2] if mark else None,
    )
    context.where()  # refuse a bad filter before any cache lookup
    return context


def cached(context: Context, name: str, compute: Any) -> dict[str, Any]:
    key = f"{context.survey.pk}:{context.generation}:{name}:{context.filters.digest()}"
    active = context.aggregated_at is not None and timezone.now() - context.aggregated_at < ACTIVE_WITHIN
    value = (RESULTS_ACTIVE if active else RESULTS_QUIET).get(current_schema(), key, load=compute)
    return value if value is not None else compute()


# --- cells ---------------------------------------------------------------------------------------------------------


def _cells(context: Context) -> dict[CellKey, Figures]:
    filters = context.filters
    if filters.simple:
        conditions, params = ["survey_id = %(survey)s"], {"survey": context.survey.pk}
        if filters.start:
            conditions.append("day >= %(start)s")
            params["start"] = filters.start  # type: ignore[assignment]
        if filters.end:
            conditions.append("day <= %(end)s")
            params["end"] = filters.end  # type: ignore[assignment]
        if filters.version_id:
            conditions.append("version_id = %(version)s")
            params["version"] = filters.version_id
        # Without a date range the per-version totals answer (tens of rows, not every day's cells).
        table = "analytics_cell" if filters.start or filters.end else "analytics_total"
        with read_connection().cursor() as cursor:
            cursor.execute(
                f"SELECT question_id, key, sum(n), sum(sum), sum(sum_sq), min(min), max(max) FROM {table} "
                f"WHERE {' AND '.join(conditions)} GROUP BY 1, 2",
                params,
            )
            return {(q, k): (int(n), s, ss, mn, mx) for q, k, n, s, ss, mn, mx in cursor.fetchall()}
    rows = cells_query(
        survey_id=context.survey.pk,
        types=types_param(context.questions),
        where=context.where(),
        using=read_connection(),
    )
    return cells_total(rows)


def _version_counts(context: Context) -> dict[int, int]:
    """Version id -> responses (from the same source as the cells)."""
    filters = context.filters
    if filters.simple:
        conditions, params = ["survey_id = %(survey)s", "question_id = ''", "key = 'submissions'"], {}
        params["survey"] = context.survey.pk
        if filters.start:
            conditions.append("day >= %(start)s")
            params["start"] = filters.start  # type: ignore[assignment]
        if filters.end:
            conditions.append("day <= %(end)s")
            params["end"] = filters.end  # type: ignore[assignment]
        table = "analytics_cell" if filters.start or filters.end else "analytics_total"
        sql = f"SELECT version_id, sum(n) FROM {table} WHERE {' AND '.join(conditions)} GROUP BY 1"
    else:
        where = context.where()
        params = {"survey": context.survey.pk, **(where.params or {})}
        sql = (
            "SELECT s.version_id, count(*) FROM responses_submission s WHERE s.survey_id = %(survey)s "
            f"AND s.deleted_at IS NULL AND {where.submissions} GROUP BY 1"
        )
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        return {int(v): int(n) for v, n in cursor.fetchall()}


def _submissions_sql(context: Context, select: str, tail: str = "") -> tuple[str, dict[str, Any]]:
    where = context.where()
    return (
        f"SELECT {select} FROM responses_submission s WHERE s.survey_id = %(survey)s AND s.deleted_at IS NULL "
        f"AND {where.submissions} {tail}",
        {"survey": context.survey.pk, **(where.params or {})},
    )


def _answers_sql(context: Context, select: str, question_ids: list[str], tail: str = "") -> tuple[str, dict[str, Any]]:
    """Answers of the filtered submissions. Without answer, hidden-field or version filters, the answers are
    read alone (their index on survey, question and time) minus the few soft-deleted submissions."""
    where = context.where()
    params = {"survey": context.survey.pk, "qids": question_ids, "qid": question_ids[0], **(where.params or {})}
    # One question: an equality, so ``ORDER BY a.submitted_at DESC LIMIT n`` walks the (survey, question, time)
    # index backwards and stops after n rows (``= ANY(array)`` loses the index order and sorts every answer).
    question = "a.question_id = %(qid)s" if len(question_ids) == 1 else "a.question_id = ANY(%(qids)s)"
    if context.filters.simple and context.filters.version_id is None:
        sql = (
            f"SELECT {select} FROM responses_answer a WHERE a.survey_id = %(survey)s AND {question} "
            f"AND {where.answers} AND NOT EXISTS (SELECT 1 FROM responses_submission d WHERE d.survey_id = %(survey)s "
            f"AND d.deleted_at IS NOT NULL AND d.id = a.submission_id) {tail}"
        )
        return sql, params
    sql = (
        f"SELECT {select} FROM responses_answer a JOIN responses_submission s ON s.id = a.submission_id "
        "AND s.submitted_at = a.submitted_at "
        f"WHERE a.survey_id = %(survey)s AND {question} AND s.survey_id = %(survey)s "
        f"AND s.deleted_at IS NULL AND {where.submissions} AND {where.answers} {tail}"
    )
    return sql, params


# --- totals --------------------------------------------------------------------------------------------------------


def _drafts_in_progress(context: Context) -> list[dict[str, Any]]:
    """Drafts not submitted yet (the periodic sync's copies: up to a minute behind Redis)."""
    if context.filters.completion != "all":
        return []
    qs = DraftCopy.objects.filter(survey_id=context.survey.pk, expires_at__gt=timezone.now())
    if context.filters.lo:
        qs = qs.filter(updated_at__gte=context.filters.lo)
    if context.filters.hi:
        qs = qs.filter(updated_at__lt=context.filters.hi)
    drafts = [d for d in qs.values_list("data", flat=True)[:10_000] if isinstance(d, dict)]
    if context.filters.version is not None:
        drafts = [d for d in drafts if d.get("version") in (context.filters.version, context.filters.version_id)]
    return drafts


def _unique_respondents(context: Context) -> int | None:
    """PFCOUNT over the days' HyperLogLogs (a union); ``None`` when a finer filter than days applies."""
    if not context.filters.simple or context.filters.version is not None:
        return None
    with read_connection().cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT day FROM analytics_cell WHERE survey_id = %s AND question_id = '' "
            "AND key = 'submissions' AND (%s::date IS NULL OR day >= %s) AND (%s::date IS NULL OR day <= %s)",
            [context.survey.pk, context.filters.start, context.filters.start, context.filters.end, context.filters.end],
        )
        days = [d for (d,) in cursor.fetchall()]
    if not days:
        return 0
    keys = [hll_key(current_schema(), context.survey.pk, d) for d in days]
    return int(get_redis_connection("default").pfcount(*keys))


def totals_compute(context: Context, cells: Mapping[CellKey, Figures]) -> dict[str, Any]:
    completed, _seconds, _, _, _ = cells.get(("", "submissions"), (0, None, None, None, None))
    drafts = _drafts_in_progress(context)
    started = completed + len(drafts)
    sql, params = _submissions_sql(
        context,
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM s.submitted_at - s.started_at))",
        "AND s.started_at IS NOT NULL",
    )
    percent = _sample_percent(context, completed)
    if percent is not None:  # the same block sample as the number percentiles (same stated error)
        sql = sql.replace(
            "FROM responses_submission s ",
            "FROM responses_submission s TABLESAMPLE SYSTEM (%(sample)s) REPEATABLE (0) ",
            1,
        )
    with read_connection().cursor() as cursor:
        cursor.execute(sql, {**params, "sample": percent})
        median = cursor.fetchone()[0]
    counts = _version_counts(context)
    numbers = {pk: number for number, pk in context.versions.items()}
    return {
        "responses": completed,
        "started": started if context.filters.completion == "all" else None,
        "in_progress": len(drafts) if context.filters.completion == "all" else None,
        "completion_rate": round(completed / started, 4) if context.filters.completion == "all" and started else None,
        "median_completion_seconds": float(median) if median is not None else None,
        "median_completion_exact": percent is None,
        "median_completion_error": None if percent is None else PERCENTILES_ERROR,
        "unique_respondents": _unique_respondents(context),
        "unique_respondents_error": HLL_ERROR,
        "versions": [{"version": numbers.get(v, 0), "responses": n} for v, n in sorted(counts.items())],
    }


# --- questions -----------------------------------------------------------------------------------------------------


def _latest(context: Context, qid: str) -> VersionQuestion:
    """The question as its latest version defines it (a question removed later keeps its last form)."""
    return [q for q in context.questions if q.question_id == qid][-1]


def _question_ids(context: Context) -> list[str]:
    """Current version's order first, then questions only older versions have."""
    ordered: list[str] = []
    for q in sorted(context.questions, key=lambda q: -q.version):
        if q.question_id not in ordered and q.version == max(v.version for v in context.questions):
            ordered.append(q.question_id)
    for q in context.questions:
        if q.question_id not in ordered:
            ordered.append(q.question_id)
    return ordered


def _labels(q: VersionQuestion, key: str = "choices") -> dict[str, str]:
    from tenant_apps.surveys.definition import QuestionRef

    ref = QuestionRef(page=None, index=0, id=q.question_id, type=q.type, question=q.question, path="")  # type: ignore[arg-type]
    return {c.id: str(c.choice.get("text", c.id)) for c in iter_choices(ref, key) if c.id is not None}


def _mean(figures: Figures | None) -> float | None:
    if figures is None or not figures[0] or figures[1] is None:
        return None
    return round(figures[1] / figures[0], 4)


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def _keys(cells: Mapping[CellKey, Figures], qid: str, prefix: str) -> dict[str, Figures]:
    return {k.removeprefix(prefix): v for (q, k), v in cells.items() if q == qid and k.startswith(prefix)}


def question_compute(  # noqa: PLR0912, PLR0915
    context: Context,
    cells: Mapping[CellKey, Figures],
    qid: str,
    percentiles: Mapping[str, tuple[dict[str, float] | None, bool]] | None = None,
) -> dict[str, Any]:
    q = _latest(context, qid)
    n, total, total_sq, low, high = cells.get((qid, ""), (0, None, None, None, None))
    out: dict[str, Any] = {
        "id": qid,
        "type": q.type,
        "text": str(q.question.get("text", "")),
        "versions": sorted({v.version for v in context.questions if v.question_id == qid}),
        "answered": n,
    }
    if q.kind == "choice":
        labels = _labels(q)
        counts = {k: v[0] for k, v in _keys(cells, qid, "c:").items()}
        ids = list(labels) + [k for k in counts if k not in labels and k != OTHER] + [OTHER]
        out["choices"] = [
            {"id": c, "text": labels.get(c, "Other" if c == OTHER else c), "count": counts.get(c, 0),
             "percent": _pct(counts.get(c, 0), n)}
            for c in ids
            if c != OTHER or q.question.get("other") is True or counts.get(OTHER)
        ]  # fmt: skip
        if q.type == "multiple_choice":
            out["mean_selections"] = round(sum(counts.values()) / n, 4) if n else None
        if q.question.get("other") is True or counts.get(OTHER):
            out["other_texts"] = _latest_texts(context, f"{qid}__other")
    elif q.kind == "boolean":
        counts = {k: v[0] for k, v in _keys(cells, qid, "c:").items()}
        out["choices"] = [
            {"id": key, "text": text, "count": counts.get(key, 0), "percent": _pct(counts.get(key, 0), n)}
            for key, text in (("true", "Yes"), ("false", "No"))
        ]
    elif q.kind in ("scale", "number"):
        mean, std = mean_std(n, total, total_sq)
        out.update(mean=mean, stddev=std, min=low, max=high)
        if q.kind == "scale":
            distribution = {float(k): v[0] for k, v in _keys(cells, qid, "v:").items()}
            out["distribution"] = [{"value": k, "count": c} for k, c in sorted(distribution.items())]
            if q.type == "nps":
                promoters = sum(c for k, c in distribution.items() if k >= 9)
                passives = sum(c for k, c in distribution.items() if 7 <= k <= 8)
                detractors = sum(c for k, c in distribution.items() if k <= 6)
                score = nps(promoters, passives, detractors)
                out["nps"] = {
                    "promoters": promoters,
                    "passives": passives,
                    "detractors": detractors,
                    "score": score[0] if score else None,
                    "ci95": [score[1], score[2]] if score else None,
                }
        else:
            sampled = percentiles.get(qid) if percentiles is not None else None
            if sampled is None:
                sampled = _percentiles(context, {qid: n})[qid]
            out["percentiles"], out["percentiles_exact"] = sampled
            out["percentiles_error"] = None if out["percentiles_exact"] else PERCENTILES_ERROR
    elif q.kind == "matrix":
        rows, columns = _labels(q, "rows"), _labels(q, "columns")
        found = {tuple(k.split(":", 1)): v[0] for k, v in _keys(cells, qid, "m:").items()}
        out["rows"] = [{"id": r, "text": t} for r, t in rows.items()]
        out["columns"] = [{"id": c, "text": t} for c, t in columns.items()]
        out["cells"] = [{"row": r, "column": c, "count": count} for (r, c), count in sorted(found.items())]
    elif q.kind == "ranking":
        labels = _labels(q)
        ranks = _keys(cells, qid, "r:")
        firsts = {k: v[0] for k, v in _keys(cells, qid, "f:").items()}
        out["items"] = [
            {"id": c, "text": labels.get(c, c), "mean_rank": _mean(ranks.get(c)), "first_place": firsts.get(c, 0)}
            for c in list(labels) + [k for k in ranks if k not in labels]
        ]
    elif q.kind == "date":
        months = {k: v[0] for k, v in _keys(cells, qid, "d:").items()}
        out["months"] = [{"month": m, "count": c} for m, c in sorted(months.items())]
    elif q.kind == "file":
        size = cells.get((qid, "size"))
        out["total_size"] = int(size[1]) if size and size[1] is not None else 0
    elif q.kind == "hidden":
        values = sorted(((k, v[0]) for k, v in _keys(cells, qid, "v:").items()), key=lambda kv: (-kv[1], kv[0]))
        out["values"] = [{"value": k, "count": c} for k, c in values[:MAX_CATEGORIES]]
    elif q.kind == "pii":
        out["personal_data"] = True  # answers are sealed: analytics counts them and shows nothing else
    else:  # text
        out["latest"] = _latest_texts(context, qid)
        out["top_terms"] = _top_terms(context, qid)
    return out


def _latest_texts(context: Context, qid: str) -> list[str]:
    sql, params = _answers_sql(context, "a.value #>> '{}'", [qid], f"ORDER BY a.submitted_at DESC LIMIT {LATEST_TEXTS}")
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        return [text for (text,) in cursor.fetchall()]


def _sample_percent(context: Context, n: int) -> float | None:
    """The percentage of table blocks to sample for ~``SAMPLE_ROWS`` of ``n`` rows, or ``None``: read them all
    (a small population, or a filter finer than days: those read the matching rows exactly)."""
    if n <= SAMPLE_ABOVE or not context.filters.simple or context.filters.version_id is not None:
        return None
    return min(100.0, 100.0 * SAMPLE_ROWS / n)


def _percentiles(context: Context, counts: Mapping[str, int]) -> dict[str, tuple[dict[str, float] | None, bool]]:
    """Number question id -> ``(p25..p99, exact)``, for every question of ``counts`` (id -> answers) in one
    pass. Over ``SAMPLE_ABOVE`` answers (unfiltered or days only) they come from one block sample of about
    ``SAMPLE_ROWS`` answers per question (``TABLESAMPLE SYSTEM``, repeatable): sorting every answer of every
    number question was the summary's largest cost. Error: ``PERCENTILES_ERROR`` (percentile rank, 95 %)."""
    if not counts:
        return {}
    qids = sorted(counts)
    sql, params = _answers_sql(
        context,
        "a.question_id, percentile_cont(%(percentiles)s::float8[]) WITHIN GROUP (ORDER BY a.number)",
        qids,
        "AND a.number IS NOT NULL GROUP BY 1",
    )
    percent = _sample_percent(context, min(counts.values()))
    if percent is not None:
        sampled = "FROM responses_answer a TABLESAMPLE SYSTEM (%(sample)s) REPEATABLE (0) "
        sql = sql.replace("FROM responses_answer a ", sampled, 1)
    with read_connection().cursor() as cursor:
        cursor.execute(sql, {**params, "percentiles": list(PERCENTILES), "sample": percent})
        found = dict(cursor.fetchall())
    return {
        qid: (
            {f"p{round(p * 100)}": v for p, v in zip(PERCENTILES, found[qid], strict=True)} if found.get(qid) else None,
            percent is None,
        )
        for qid in qids
    }


def _top_terms(context: Context, qid: str) -> list[dict[str, Any]]:
    """The most frequent words of the latest answers, by PostgreSQL full-text search in the survey's language."""
    language = context.survey.definition.get("language") if isinstance(context.survey.definition, dict) else None
    config = TS_CONFIGS.get(str(language or "")[:2], "simple")
    inner, params = _answers_sql(
        context, "a.value #>> '{}' AS text", [qid], f"ORDER BY a.submitted_at DESC LIMIT {TERMS_SAMPLE}"
    )
    sql = f"SELECT word, ndoc FROM ts_stat(%(stat)s) ORDER BY ndoc DESC, word LIMIT {TOP_TERMS}"
    with read_connection().cursor() as cursor:
        # ts_stat takes the text of a query: bind the inner query's parameters into it first.
        stat = cursor.mogrify(
            f"SELECT to_tsvector(%(config)s::regconfig, t.text) FROM ({inner}) t", {**params, "config": config}
        )
        cursor.execute(sql, {"stat": stat})
        return [{"term": word, "count": count} for word, count in cursor.fetchall()]


def summary(context: Context) -> dict[str, Any]:
    cells = _cells(context)
    qids = _question_ids(context)
    numbers = {qid for qid in qids if _latest(context, qid).kind == "number"}
    percentiles = _percentiles(context, {qid: cells.get((qid, ""), (0,))[0] for qid in numbers})
    return {
        "survey_id": context.survey.pk,
        "aggregated_until": context.until.isoformat() if context.until else None,
        "filters": json.loads(context.filters.canonical()),
        "totals": totals_compute(context, cells),
        "questions": [question_compute(context, cells, qid, percentiles) for qid in qids],
    }


def question_summary(context: Context, question_id: str) -> dict[str, Any] | None:
    if question_id not in _question_ids(context):
        return None
    cells = _cells(context)
    return {
        "survey_id": context.survey.pk,
        "filters": json.loads(context.filters.canonical()),
        "question": question_compute(context, cells, question_id),
    }


# --- timeseries ----------------------------------------------------------------------------------------------------


def timeseries_check(*, interval: str, tz: str) -> None:
    if interval not in INTERVALS:
        raise ValidationError({"interval": [f"One of {', '.join(INTERVALS)}."]})
    try:
        if len(tz) > 64 or tz.startswith(("/", ".")):
            raise ValueError(tz)
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValidationError({"tz": ["An IANA time zone, e.g. Europe/Paris."]}) from exc


def timeseries(context: Context, *, interval: str, tz: str) -> dict[str, Any]:
    timeseries_check(interval=interval, tz=tz)
    if context.filters.simple and interval != "hour" and tz == "UTC":
        conditions = ["survey_id = %(survey)s", "question_id = ''", "key = 'submissions'"]
        params: dict[str, Any] = {"survey": context.survey.pk, "interval": interval}
        for name, cond, value in (
            ("start", "day >= %(start)s", context.filters.start),
            ("end", "day <= %(end)s", context.filters.end),
            ("version", "version_id = %(version)s", context.filters.version_id),
        ):
            if value is not None:
                conditions.append(cond)
                params[name] = value
        sql = (
            "SELECT date_trunc(%(interval)s, day::timestamp), sum(n) FROM analytics_cell "
            f"WHERE {' AND '.join(conditions)} GROUP BY 1 ORDER BY 1"
        )
    else:
        sql, params = _submissions_sql(
            context, "date_trunc(%(interval)s, s.submitted_at AT TIME ZONE %(tz)s), count(*)", "GROUP BY 1 ORDER BY 1"
        )
        params.update(interval=interval, tz=tz)
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        points = [{"start": start.isoformat(), "responses": int(n)} for start, n in cursor.fetchall()]
    return {"survey_id": context.survey.pk, "interval": interval, "tz": tz, "points": points}


# --- funnel --------------------------------------------------------------------------------------------------------


def funnel(context: Context) -> dict[str, Any]:
    """Per page of the version (the filtered one, else the current one): respondents who reached it
    (completed responses that answered a question there, plus drafts on or past it), drafts that stopped
    there; per question: answers from responses and drafts."""
    number = context.filters.version or max(context.versions, default=0)
    definition = (
        SurveyVersion.objects.filter(pk=context.versions[number]).values_list("definition", flat=True).first()
        if number
        else None
    )
    cells = _cells(context)
    completed = cells.get(("", "submissions"), (0,))[0]
    drafts = _drafts_in_progress(context) if context.filters.completion == "all" else []
    pages = list(iter_pages(definition))
    page_index = {p.id: p.index for p in pages}
    stopped_at: dict[int, int] = {}
    for draft in drafts:
        index = page_index.get(draft.get("page"), 0)
        stopped_at[index] = stopped_at.get(index, 0) + 1
    steps = []
    for page in pages:
        questions: list[dict[str, Any]] = []
        for ref in iter_page_questions(page):
            if ref.id is None:
                continue
            in_drafts = sum(1 for d in drafts if isinstance(d.get("answers"), dict) and ref.id in d["answers"])
            questions.append({"id": ref.id, "answered": cells.get((ref.id, ""), (0,))[0] + in_drafts})
        reached_drafts = sum(c for i, c in stopped_at.items() if i >= page.index)
        answered = max((q["answered"] for q in questions), default=0)
        steps.append(
            {
                "page": page.id,
                "title": str(page.page.get("title", "")),
                "reached": max(answered, reached_drafts),
                "stopped": stopped_at.get(page.index, 0),
                "questions": questions,
            }
        )
    return {
        "survey_id": context.survey.pk,
        "version": number or None,
        "started": completed + len(drafts),
        "completed": completed,
        "pages": steps,
    }


# --- cross-tab -----------------------------------------------------------------------------------------------------


def _categories_sql(kind: str, alias: str) -> str:
    if kind == "choice":
        choices = f"CASE WHEN jsonb_typeof({alias}.choices) = 'array' THEN {alias}.choices ELSE '[]' END"
        return f"jsonb_array_elements_text({choices})"
    return f"(SELECT {alias}.value #>> '{{}}')"


def crosstab_check(context: Context, *, rows: str, columns: str) -> dict[str, str]:
    """Question id -> kind of the two axes, or a 400."""
    kinds = {q.question_id: q.kind for q in context.questions}
    for name, qid in (("rows", rows), ("columns", columns)):
        if qid not in kinds:
            raise ValidationError({name: ["Not a question of this survey."]})
        if kinds[qid] not in CATEGORICAL:
            raise ValidationError({name: ["Cross-tabs take choice, yes/no, rating, NPS or hidden-field questions."]})
    if rows == columns:
        raise ValidationError({"columns": ["Pick two different questions."]})
    return kinds


def crosstab(context: Context, *, rows: str, columns: str) -> dict[str, Any]:
    kinds = crosstab_check(context, rows=rows, columns=columns)
    where = context.where()
    # One pass: the row question's answers joined to the column question's answers of the same submission
    # (and partition), then to the submission for the filters; no CTE, so the planner sees real estimates.
    sql = f"""
    SELECT rk.key, ck.key, count(*)
    FROM responses_answer r
    JOIN responses_answer c ON c.submission_id = r.submission_id AND c.submitted_at = r.submitted_at
    JOIN responses_submission s ON s.id = r.submission_id AND s.submitted_at = r.submitted_at,
    LATERAL {_categories_sql(kinds[rows], "r")} AS rk(key),
    LATERAL {_categories_sql(kinds[columns], "c")} AS ck(key)
    WHERE r.survey_id = %(survey)s AND r.question_id = %(rows)s
      AND c.survey_id = %(survey)s AND c.question_id = %(columns)s
      AND s.survey_id = %(survey)s AND s.deleted_at IS NULL AND {where.submissions}
      AND {bounds(context.filters.lo, context.filters.hi, "r")}
    GROUP BY 1, 2
    """
    with read_connection().cursor() as cursor:
        cursor.execute(sql, {"survey": context.survey.pk, "rows": rows, "columns": columns, **(where.params or {})})
        found = [(str(r), str(c), int(n)) for r, c, n in cursor.fetchall()]
    row_totals: dict[str, int] = {}
    column_totals: dict[str, int] = {}
    for r, c, n in found:
        row_totals[r] = row_totals.get(r, 0) + n
        column_totals[c] = column_totals.get(c, 0) + n
    row_keys = sorted(row_totals, key=lambda k: (-row_totals[k], k))[:MAX_CATEGORIES]
    column_keys = sorted(column_totals, key=lambda k: (-column_totals[k], k))[:MAX_CATEGORIES]
    counts = {(r, c): n for r, c, n in found}
    table = [[counts.get((r, c), 0) for c in column_keys] for r in row_keys]
    total = sum(sum(row) for row in table)
    test = chi_square(table)
    return {
        "survey_id": context.survey.pk,
        "rows": {"question": rows, "categories": row_keys},
        "columns": {"question": columns, "categories": column_keys},
        "counts": table,
        "row_percent": [[_pct(v, sum(row)) for v in row] for row in table],
        "column_percent": [
            [_pct(v, sum(table[i][j] for i in range(len(table)))) for j, v in enumerate(row)] for row in table
        ],
        "total": total,
        "chi_square": {"statistic": test[0], "dof": test[1], "p_value": test[2]} if test else None,
    }
