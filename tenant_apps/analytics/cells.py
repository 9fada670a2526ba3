"""The one SQL that turns raw submissions and answers into cells (see ``models.Cell`` for the keys).

The aggregator runs it over whole (version, day) buckets and stores the result; filtered reads run it over
the submissions a filter selects and sum the cells in memory. One query for both means the stored
aggregates and a from-scratch recomputation can only differ if the stored ones are stale (the property test
checks they never are). What each question type contributes is decided here from the definition module's
answer shapes (``cell_kind``); the SQL only switches on the resulting kind.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper

from tenant_apps.surveys.definition import AnswerShape, answer_shape, iter_questions

# A cell's figures: n, sum, sum of squares, min, max.
Figures = tuple[int, float | None, float | None, float | None, float | None]
CellKey = tuple[str, str]  # (question id, key)


def cell_kind(question_type: str | None) -> str | None:  # noqa: PLR0911 - one answer per shape
    """What a question of this type contributes beyond its answer count (``None``: nothing to count)."""
    shape = answer_shape(question_type)
    if shape is None or shape is AnswerShape.NONE:
        return None
    if question_type == "ranking":
        return "ranking"
    if shape in (AnswerShape.CHOICE, AnswerShape.CHOICES):
        return "choice"
    if shape is AnswerShape.BOOLEAN:
        return "boolean"
    if shape is AnswerShape.NUMBER:
        return "number" if question_type == "number" else "scale"  # rating / NPS: a distribution
    if shape is AnswerShape.MATRIX:
        return "matrix"
    if shape is AnswerShape.DATE:
        return "date"
    if shape is AnswerShape.FILE:
        return "file"
    return "hidden" if question_type == "hidden" else "text"


@dataclass(frozen=True)
class VersionQuestion:
    version_id: int
    version: int
    question_id: str
    type: str
    kind: str
    page_id: str | None
    question: Mapping[str, Any]


def version_questions(versions: Iterable[tuple[int, int, Any]]) -> list[VersionQuestion]:
    """Every answerable question of every ``(version_id, number, definition)``, in walk order."""
    found = []
    for version_id, number, definition in versions:
        for ref in iter_questions(definition):
            kind = cell_kind(ref.type)
            if kind is not None and ref.question.get("pii") is True:
                kind = "pii"  # personal data is sealed: counted (answered), never decrypted nor broken down
            if ref.id is not None and ref.type is not None and kind is not None:
                found.append(VersionQuestion(version_id, number, ref.id, ref.type, kind, ref.page.id, ref.question))
    return found


def types_param(questions: Iterable[VersionQuestion]) -> str:
    return json.dumps([{"v": q.version_id, "q": q.question_id, "k": q.kind} for q in questions])


CELLS_SQL = """
WITH qt AS (
    SELECT * FROM jsonb_to_recordset(%(types)s::jsonb) AS t(v bigint, q text, k text)
), sub AS (
    SELECT s.id, s.submitted_at, s.version_id, (s.submitted_at AT TIME ZONE 'UTC')::date AS day,
           extract(epoch FROM s.submitted_at - s.started_at)::double precision AS seconds
    FROM responses_submission s
    WHERE s.survey_id = %(survey)s AND s.deleted_at IS NULL AND (/*where*/)
), raw AS MATERIALIZED (
    -- The submissions' answers first (one probe per submission), then each answer's kind by one lookup in a
    -- map: joining the kinds first made one index probe per submission x question.
    SELECT sub.version_id, sub.day, a.question_id, a.value, a.number, a.choices
    FROM sub
    JOIN responses_answer a ON a.submission_id = sub.id AND a.submitted_at = sub.submitted_at
    WHERE a.survey_id = %(survey)s AND (/*answer_where*/)
), kinds AS (
    SELECT jsonb_object_agg(v::text || ':' || q, k) AS kinds FROM qt
), ans AS (
    SELECT * FROM (
        SELECT raw.version_id, raw.day, raw.question_id AS q,
               (SELECT kinds FROM kinds) ->> (raw.version_id::text || ':' || raw.question_id) AS k,
               raw.value, raw.number,
               CASE WHEN jsonb_typeof(raw.choices) = 'array' THEN raw.choices ELSE '[]'::jsonb END AS choices
        FROM raw
    ) typed WHERE k IS NOT NULL
)
SELECT version_id, day, '' AS q, 'submissions' AS key, count(*) AS n, sum(seconds), sum(seconds * seconds),
       min(seconds), max(seconds)
FROM sub GROUP BY 1, 2
UNION ALL
SELECT version_id, day, q, '', count(*), sum(number), sum(number * number), min(number), max(number)
FROM ans GROUP BY 1, 2, 3
UNION ALL
SELECT version_id, day, q, 'c:' || (c.value #>> '{}'), count(*), NULL, NULL, NULL, NULL
FROM ans, jsonb_array_elements(ans.choices) AS c(value)
WHERE k = 'choice' GROUP BY 1, 2, 3, 4
UNION ALL
SELECT version_id, day, q, 'c:' || (value #>> '{}'), count(*), NULL, NULL, NULL, NULL
FROM ans WHERE k = 'boolean' GROUP BY 1, 2, 3, 4
UNION ALL
SELECT version_id, day, q, 'r:' || (c.value #>> '{}'), count(*), sum(c.rank::float8),
       sum((c.rank * c.rank)::float8), min(c.rank::float8), max(c.rank::float8)
FROM ans, jsonb_array_elements(ans.choices) WITH ORDINALITY AS c(value, rank)
WHERE k = 'ranking' GROUP BY 1, 2, 3, 4
UNION ALL
SELECT version_id, day, q, 'f:' || (choices ->> 0), count(*), NULL, NULL, NULL, NULL
FROM ans WHERE k = 'ranking' AND choices ->> 0 IS NOT NULL GROUP BY 1, 2, 3, 4
UNION ALL
SELECT version_id, day, q, 'v:' || number::text, count(*), NULL, NULL, NULL, NULL
FROM ans WHERE k = 'scale' AND number IS NOT NULL GROUP BY 1, 2, 3, 4
UNION ALL
SELECT version_id, day, q, 'v:' || left(value #>> '{}', 200), count(*), NULL, NULL, NULL, NULL
FROM ans WHERE k = 'hidden' GROUP BY 1, 2, 3, 4
UNION ALL
SELECT version_id, day, q, 'm:' || r.row || ':' || (cc.value #>> '{}'), count(*), NULL, NULL, NULL, NULL
FROM ans,
     jsonb_each(CASE WHEN jsonb_typeof(ans.value) = 'object' THEN ans.value ELSE '{}'::jsonb END) AS r(row, col),
     jsonb_array_elements(CASE WHEN jsonb_typeof(r.col) = 'array' THEN r.col ELSE jsonb_build_array(r.col) END)
         AS cc(value)
WHERE k = 'matrix' GROUP BY 1, 2, 3, 4
UNION ALL
SELECT version_id, day, q, 'd:' || left(value #>> '{}', 7), count(*), NULL, NULL, NULL, NULL
FROM ans WHERE k = 'date' GROUP BY 1, 2, 3, 4
UNION ALL
SELECT version_id, day, q, 'size', count(*),
       sum(CASE WHEN jsonb_typeof(value -> 'size') = 'number' THEN (value ->> 'size')::double precision END),
       NULL, NULL, NULL
FROM ans WHERE k = 'file' GROUP BY 1, 2, 3, 4
"""


@dataclass(frozen=True)
class Where:
    """A condition on submissions ``s`` (and the matching bound on answers ``a``), with its parameters.
    The bounds on ``submitted_at`` let PostgreSQL prune partitions."""

    submissions: str = "TRUE"
    answers: str = "TRUE"
    params: Mapping[str, Any] | None = None


def bounds(start: dt.datetime | None, end: dt.datetime | None, alias: str) -> str:
    parts = []
    if start is not None:
        parts.append(f"{alias}.submitted_at >= %(lo)s")
    if end is not None:
        parts.append(f"{alias}.submitted_at < %(hi)s")
    return " AND ".join(parts) or "TRUE"


def cells_sql(where: Where) -> str:
    return CELLS_SQL.replace("/*where*/", where.submissions).replace("/*answer_where*/", where.answers)


def cells_query(
    *, survey_id: int, types: str, where: Where, using: BaseDatabaseWrapper | None = None
) -> list[tuple[Any, ...]]:
    """Rows ``(version_id, day, question_id, key, n, sum, sum_sq, min, max)`` from the raw rows."""
    with (using or connection).cursor() as cursor:
        cursor.execute(cells_sql(where), {"types": types, "survey": survey_id, **(where.params or {})})
        return list(cursor.fetchall())


def cells_total(rows: Iterable[tuple[Any, ...]]) -> dict[CellKey, Figures]:
    """Sum cells over versions and days: ``(question_id, key) -> figures``."""
    totals: dict[CellKey, list[Any]] = {}
    for row in rows:
        q, key, n, s, ss, mn, mx = row[-7:]
        found = totals.get((q, key))
        if found is None:
            totals[(q, key)] = [int(n), s, ss, mn, mx]
            continue
        found[0] += int(n)
        found[1] = _add(found[1], s)
        found[2] = _add(found[2], ss)
        found[3] = mn if found[3] is None else (found[3] if mn is None else min(found[3], mn))
        found[4] = mx if found[4] is None else (found[4] if mx is None else max(found[4], mx))
    return {k: (v[0], v[1], v[2], v[3], v[4]) for k, v in totals.items()}


def _add(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else a + b
