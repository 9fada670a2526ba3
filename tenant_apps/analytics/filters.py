"""Analytics filters from query parameters, compiled to SQL (never evaluated row by row in Python).

    from=2026-01-01&to=2026-01-31      days (UTC), both included
    version=2                          a version number of the survey
    completion=completed|all           ``all`` also counts respondents still in a draft (totals, funnel)
    where={"q":"q1","op":"equals","value":"c2"}    the rule language's condition form: all / any / not and
                                       equals, not_equals, in, gt, gte, lt, lte, contains, contains_any,
                                       is_answered, is_empty on the survey's questions
    hidden.utm_source=newsletter       a hidden field's value (repeatable per field name)

Every refusal is a DRF ``ValidationError`` (400 in the common error shape) naming the parameter.
Comparisons become ``EXISTS`` sub-queries on the answers of the same submission and partition.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rest_framework.exceptions import ValidationError

from tenant_apps.analytics.cells import VersionQuestion, Where
from tenant_apps.surveys.definition import is_date, is_id, is_number

MAX_WHERE_CHARS = 10_000
MAX_COMPARISONS = 50
MAX_DEPTH = 10
COMPLETION = ("completed", "all")
LIST_KINDS = frozenset({"choice_list", "ranking"})
OPS = ("equals", "not_equals", "in", "gt", "gte", "lt", "lte", "contains", "contains_any", "is_answered", "is_empty")


def _refuse(param: str, message: str) -> ValidationError:
    return ValidationError({param: [message]})


@dataclass
class Filters:
    start: dt.date | None = None
    end: dt.date | None = None
    version: int | None = None
    version_id: int | None = None
    completion: str = "completed"
    where: Any = None
    hidden: dict[str, list[str]] = field(default_factory=dict)

    @property
    def simple(self) -> bool:
        """Answerable from the stored aggregates (day and version granularity)."""
        return self.where is None and not self.hidden

    def canonical(self) -> str:
        """A stable text of the filter (cache keys and ETags)."""
        return json.dumps(
            {
                "from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None,
                "version": self.version,
                "completion": self.completion,
                "where": self.where,
                "hidden": self.hidden,
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    def digest(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()[:24]

    @property
    def lo(self) -> dt.datetime | None:
        return dt.datetime.combine(self.start, dt.time(), tzinfo=dt.UTC) if self.start else None

    @property
    def hi(self) -> dt.datetime | None:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC) if self.end else None


def _date(params: Mapping[str, Any], name: str) -> dt.date | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    if not is_date(raw):
        raise _refuse(name, "Expected a date YYYY-MM-DD.")
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise _refuse(name, "Expected a calendar date YYYY-MM-DD.") from exc


def filters_parse(params: Mapping[str, Any], *, versions: Mapping[int, int]) -> Filters:
    """``params``: the query parameters (``QueryDict`` or dict); ``versions``: version number -> id."""
    filters = Filters(start=_date(params, "from"), end=_date(params, "to"))
    if filters.start and filters.end and filters.start > filters.end:
        raise _refuse("from", "The start date is after the end date.")
    raw_version = params.get("version")
    if raw_version not in (None, ""):
        if not (isinstance(raw_version, str) and raw_version.isdigit() and len(raw_version) < 10):
            raise _refuse("version", "Expected a version number.")
        if int(raw_version) not in versions:
            raise _refuse("version", f"This survey has no version {int(raw_version)}.")
        filters.version = int(raw_version)
        filters.version_id = versions[filters.version]
    completion = params.get("completion") or "completed"
    if completion not in COMPLETION:
        raise _refuse("completion", f"One of {', '.join(COMPLETION)}.")
    filters.completion = completion
    raw_where = params.get("where")
    if raw_where not in (None, ""):
        if not isinstance(raw_where, str) or len(raw_where) > MAX_WHERE_CHARS:
            raise _refuse("where", f"A JSON condition of at most {MAX_WHERE_CHARS} characters.")
        try:
            filters.where = json.loads(raw_where)
        except (ValueError, RecursionError) as exc:
            raise _refuse("where", "Not valid JSON (or nested too deep).") from exc
    for name in params:
        if isinstance(name, str) and name.startswith("hidden."):
            field_id = name.removeprefix("hidden.")
            if not is_id(field_id):
                raise _refuse(name, "A hidden field's id is a letter then letters, digits or _.")
            values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
            if any(not isinstance(v, str) or len(v) > 200 for v in values):
                raise _refuse(name, "At most 200 characters.")
            filters.hidden[field_id] = sorted(values)
    return filters


class _Compiler:
    def __init__(self, survey_id: int, kinds: Mapping[str, set[str]]) -> None:
        self.survey_id = survey_id
        self.kinds = kinds
        self.params: dict[str, Any] = {}
        self.comparisons = 0

    def param(self, value: Any) -> str:
        name = f"w{len(self.params)}"
        self.params[name] = value
        return f"%({name})s"

    def condition(self, cond: Any, depth: int = 0) -> str:
        if depth > MAX_DEPTH:
            raise _refuse("where", f"Conditions nest at most {MAX_DEPTH} deep.")
        if not isinstance(cond, dict):
            raise _refuse("where", "A condition is a JSON object.")
        if set(cond) == {"all"} or set(cond) == {"any"}:
            (combinator, items) = next(iter(cond.items()))
            if not isinstance(items, list):
                raise _refuse("where", f'"{combinator}" takes a list of conditions.')
            if not items:
                return "TRUE" if combinator == "all" else "FALSE"
            joiner = " AND " if combinator == "all" else " OR "
            return "(" + joiner.join(self.condition(item, depth + 1) for item in items) + ")"
        if set(cond) == {"not"}:
            return f"NOT ({self.condition(cond['not'], depth + 1)})"
        return self.comparison(cond)

    def comparison(self, cond: dict[str, Any]) -> str:  # noqa: PLR0912
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise _refuse("where", f"At most {MAX_COMPARISONS} comparisons.")
        unknown = set(cond) - {"q", "op", "value"}
        if unknown:
            raise _refuse("where", f"Unsupported keys in a comparison: {', '.join(sorted(map(str, unknown)))}.")
        qid, op = cond.get("q"), cond.get("op")
        value: Any = cond.get("value")
        if not is_id(qid) or qid not in self.kinds:
            raise _refuse("where", f"{qid!r} is not a question of this survey.")
        if op not in OPS:
            raise _refuse("where", f"Unsupported operator {op!r}; one of {', '.join(OPS)}.")
        kinds = self.kinds[qid]
        listed = bool(kinds & LIST_KINDS)
        exists = (
            "EXISTS (SELECT 1 FROM responses_answer a WHERE a.submission_id = s.id AND a.submitted_at = s.submitted_at"
            f" AND a.survey_id = %(survey)s AND a.question_id = {self.param(qid)} AND {{}})"
        )
        if op == "is_answered":
            return exists.format("TRUE")
        if op == "is_empty":
            return "NOT " + exists.format("TRUE")
        if op in ("gt", "gte", "lt", "lte"):
            if not is_number(value) or not kinds & {"number", "scale"}:
                raise _refuse("where", f"{op} compares a number question with a number.")
            sign = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
            return exists.format(f"a.number {sign} {self.param(float(value))}")
        if op in ("equals", "not_equals"):
            if listed:
                if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                    raise _refuse("where", f"{qid} takes a list of choice ids.")
                p = self.param(json.dumps(value))
                predicate = f"a.value @> {p}::jsonb AND a.value <@ {p}::jsonb"
            else:
                if not isinstance(value, str | bool | int | float) or value is None:
                    raise _refuse("where", f"{op} takes a string, number or boolean.")
                predicate = f"a.value = {self.param(json.dumps(value))}::jsonb"
            found = exists.format(predicate)
            return found if op == "equals" else f"NOT {found}"
        if op == "in":
            if listed or not isinstance(value, list) or not value or len(value) > 100:
                raise _refuse("where", "in takes a non-empty list (at most 100 values) for a single-answer question.")
            if not all(isinstance(v, str | bool | int | float) for v in value):
                raise _refuse("where", "in takes a list of strings, numbers or booleans.")
            return exists.format(f"a.value IN (SELECT jsonb_array_elements({self.param(json.dumps(value))}::jsonb))")
        # contains / contains_any on a list question
        items = [value] if op == "contains" else value
        if not listed or not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
            raise _refuse("where", f"{op} takes choice ids of a multiple-choice or ranking question.")
        return exists.format(
            f"EXISTS (SELECT 1 FROM jsonb_array_elements({self.param(json.dumps(items))}::jsonb) v "
            "WHERE a.value @> jsonb_build_array(v))"
        )


def question_kinds(questions: list[VersionQuestion]) -> dict[str, set[str]]:
    kinds: dict[str, set[str]] = {}
    for q in questions:
        kind = "choice_list" if q.kind == "choice" and q.type == "multiple_choice" else q.kind
        kinds.setdefault(q.question_id, set()).add(kind)
    return kinds


def filters_where(filters: Filters, *, survey_id: int, questions: list[VersionQuestion]) -> Where:
    """The SQL form of every filter (submissions ``s``, answers ``a``)."""
    compiler = _Compiler(survey_id, question_kinds(questions))
    parts, answer_parts = [], []
    params: dict[str, Any] = {}
    if filters.lo is not None:
        parts.append("s.submitted_at >= %(lo)s")
        answer_parts.append("a.submitted_at >= %(lo)s")
        params["lo"] = filters.lo
    if filters.hi is not None:
        parts.append("s.submitted_at < %(hi)s")
        answer_parts.append("a.submitted_at < %(hi)s")
        params["hi"] = filters.hi
    if filters.version_id is not None:
        parts.append("s.version_id = %(version_id)s")
        params["version_id"] = filters.version_id
    if filters.where is not None:
        parts.append(compiler.condition(filters.where))
    for field_id, values in sorted(filters.hidden.items()):
        if "hidden" not in compiler.kinds.get(field_id, set()):
            raise _refuse(f"hidden.{field_id}", "This survey has no hidden field of that name.")
        parts.append(compiler.condition({"any": [{"q": field_id, "op": "equals", "value": v} for v in values]}))
    params.update(compiler.params)
    return Where(submissions=" AND ".join(parts) or "TRUE", answers=" AND ".join(answer_parts) or "TRUE", params=params)
