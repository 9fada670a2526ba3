"""The server's evaluator of the survey rule language (authoritative on submit). See SPEC.md beside
this file; ``static/surveys/logic.js`` is its twin in the browser and both pass ``vectors.json``."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tenant_apps.surveys.definition import OTHER, is_date, regex_search

__all__ = ["OTHER", "compare", "evaluate", "format_number", "is_empty", "json_equals", "shuffle"]

_PIPE_RE = re.compile(r"\{\{ *(var\.)?([A-Za-z][A-Za-z0-9_]{0,63}) *(?:\|([^}]*))?\}\}")

Json = Any


def is_empty(value: Json) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _is_number(value: Json) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def json_equals(a: Json, b: Json) -> bool:
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return all(any(json_equals(x, y) for y in b) for x in a) and all(any(json_equals(y, x) for x in a) for y in b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equals(a[k], b[k]) for k in a)
    return a is None and b is None


def _as_list(value: Json) -> list[Json]:
    if isinstance(value, list):
        return value
    return [] if is_empty(value) else [value]


def compare(op: str, left: Json, right: Json) -> bool:
    if op == "is_empty":
        return is_empty(left)
    if op == "is_answered":
        return not is_empty(left)
    if op == "equals":
        return not is_empty(left) and json_equals(left, right)
    if op == "not_equals":
        return not (not is_empty(left) and json_equals(left, right))
    if op in ("gt", "gte", "lt", "lte"):
        if not (_is_number(left) and _is_number(right)):
            return False
        return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]
    if op == "between":
        return (
            _is_number(left)
            and isinstance(right, list)
            and len(right) == 2
            and all(_is_number(x) for x in right)
            and right[0] <= left <= right[1]
        )
    if op == "in":
        return (
            isinstance(right, list)
            and not isinstance(left, list)
            and not is_empty(left)
            and any(json_equals(left, item) for item in right)
        )
    if op == "contains":
        if isinstance(left, str) and isinstance(right, str):
            return right in left
        return isinstance(left, list) and any(json_equals(item, right) for item in left)
    if op == "contains_any":
        items = _as_list(left)
        return isinstance(right, list) and any(json_equals(a, b) for a in items for b in right)
    if op == "contains_all":
        items = _as_list(left)
        return isinstance(right, list) and bool(items) and all(any(json_equals(a, b) for a in items) for b in right)
    if op == "matches":
        return regex_search(right, left)
    if op in ("date_before", "date_after"):
        if not (is_date(left) and is_date(right)):
            return False
        return left < right if op == "date_before" else left > right
    return False


class _State:
    def __init__(self, definition: Mapping[str, Json], answers: Mapping[str, Json]) -> None:
        self.definition = definition
        self.raw = answers
        self.effective: dict[str, Json] = {}
        self.variables: dict[str, Json] = {v["id"]: v.get("initial", 0) for v in definition.get("variables", [])}
        self.questions: dict[str, Mapping[str, Json]] = {
            q["id"]: q for page in definition.get("pages", []) for q in page.get("questions", [])
        }

    # --- reading ---------------------------------------------------------------------------
    def read(self, ref: Mapping[str, Json]) -> Json:
        if "var" in ref:
            return self.variables.get(ref["var"])
        qid = ref.get("q", "")
        value = self.effective.get(qid) if qid in self.questions else None
        if "row" in ref:
            return value.get(ref["row"]) if isinstance(value, dict) else None
        return value

    def operand(self, value: Json) -> Json:
        if isinstance(value, dict) and len(value) in (1, 2) and ("q" in value or "var" in value):
            return self.read(value)
        return value

    def test(self, condition: Json) -> bool:
        if condition is None:
            return True
        if not isinstance(condition, dict):
            return False
        if "all" in condition:
            return all(self.test(c) for c in condition["all"])
        if "any" in condition:
            return any(self.test(c) for c in condition["any"])
        if "not" in condition:
            return not self.test(condition["not"])
        return compare(str(condition.get("op", "")), self.read(condition), self.operand(condition.get("value")))

    # --- expressions -----------------------------------------------------------------------
    def expr(self, e: Json) -> float:
        if _is_number(e):
            return float(e)
        if not isinstance(e, dict) or len(e) != 1:
            return 0
        ((kind, arg),) = e.items()
        if kind in ("q", "var"):
            source = self.variables if kind == "var" else self.effective if arg in self.questions else {}
            value: Any = source.get(arg)
            return float(value) if _is_number(value) else 0.0
        if kind == "score":
            question = self.questions.get(arg, {})
            scores = {c["id"]: c.get("score", 0) for c in question.get("choices", [])}
            return sum((scores.get(cid, 0) for cid in _as_list(self.effective.get(arg)) if isinstance(cid, str)), 0)
        if kind == "count":
            return len(_as_list(self.effective.get(arg)))
        values = [self.expr(x) for x in arg] if isinstance(arg, list) else []
        if kind in ("add", "sum"):
            return sum(values, 0)
        if kind == "mul":
            product: float = 1
            for v in values:
                product *= v
            return product
        if kind in ("sub", "div"):
            if len(values) != 2:
                return 0
            if kind == "sub":
                return values[0] - values[1]
            return 0 if values[1] == 0 else values[0] / values[1]
        if kind in ("min", "max"):
            return (min if kind == "min" else max)(values) if values else 0
        if kind == "round":
            if len(values) != 2 or not math.isfinite(values[0]):
                return 0
            digits = max(0, min(15, int(values[1]))) if math.isfinite(values[1]) else 0
            factor = 10.0**digits
            scaled = abs(values[0]) * factor
            if not math.isfinite(scaled):
                return 0
            rounded = math.floor(scaled + 0.5) / factor
            return math.copysign(rounded, values[0]) if rounded else 0
        return 0

    # --- piping ----------------------------------------------------------------------------
    def render(self, qid: str) -> str | None:
        value = self.effective.get(qid) if qid in self.questions else None
        if is_empty(value):
            return None
        if isinstance(value, bool):
            return "Yes" if value else "No"
        if _is_number(value):
            return format_number(value)  # type: ignore[arg-type]
        question = self.questions.get(qid, {})
        labels = {c["id"]: c.get("text", c["id"]) for c in question.get("choices", [])}
        other = self.effective.get(f"{qid}__other")
        other_text = other if isinstance(other, str) else ""
        if isinstance(value, str):
            if value == OTHER:
                return other_text or None
            return labels.get(value, value) if question.get("choices") else value
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return ", ".join(other_text if v == OTHER else str(labels.get(v, v)) for v in value)
        return None

    def pipe(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            is_var, ident, fallback = match.group(1), match.group(2), match.group(3) or ""
            if is_var:
                value: Any = self.variables.get(ident)
                return format_number(value) if _is_number(value) else fallback
            rendered = self.render(ident)
            return fallback if rendered is None else rendered

        return _PIPE_RE.sub(replace, text)


def _double(value: float) -> float | int:
    """Expression results are IEEE doubles as in JavaScript: non-finite becomes 0, -0 becomes 0, and
    integral values are stored as ints so JSON prints them the same in both languages."""
    value = float(value)
    if not math.isfinite(value) or value == 0:
        return 0
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def format_number(value: float | int) -> str:
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return str(int(value))
    return repr(value)


def _effective_choices(question: Mapping[str, Json], value: Json, hidden: set[str]) -> Json:
    if not hidden:
        return value
    if isinstance(value, list):
        return [v for v in value if v not in hidden]
    if isinstance(value, str) and value in hidden:
        return None
    return value


def evaluate(definition: Mapping[str, Json], answers: Mapping[str, Json]) -> dict[str, Json]:
    state = _State(definition, answers)
    pages: Sequence[Mapping[str, Json]] = definition.get("pages", [])
    index = {page["id"]: i for i, page in enumerate(pages)}
    end_screens = definition.get("end_screens", [])
    result: dict[str, Json] = {"pages": [], "questions": [], "required": [], "hidden_choices": {}}
    texts: dict[str, str] = {}
    end_screen = end_screens[0]["id"] if end_screens else None
    i = 0
    while i < len(pages):
        page = pages[i]
        i += 1
        if not state.test(page.get("visible_if")):
            continue
        result["pages"].append(page["id"])
        if page.get("title"):
            texts[page["id"]] = state.pipe(page["title"])
        for question in page.get("questions", []):
            qid = question["id"]
            if not state.test(question.get("visible_if")):
                continue
            result["questions"].append(qid)
            if question.get("required") or (question.get("required_if") and state.test(question["required_if"])):
                result["required"].append(qid)
            hidden = [c["id"] for c in question.get("choices", []) if not state.test(c.get("visible_if"))]
            if hidden:
                result["hidden_choices"][qid] = hidden
            if question.get("text"):  # piped before its own answer counts
                texts[qid] = state.pipe(question["text"])
            value = _effective_choices(question, answers.get(qid), set(hidden))
            if value == OTHER or (isinstance(value, list) and OTHER in value):
                if not question.get("other"):
                    value = None if value == OTHER else [v for v in value if v != OTHER]
                elif not is_empty(answers.get(f"{qid}__other")):
                    state.effective[f"{qid}__other"] = answers[f"{qid}__other"]
            if not is_empty(value):
                state.effective[qid] = value
        navigation: tuple[str, str | None] | None = None
        for rule in page.get("rules", []):
            if not state.test(rule.get("when")):
                continue
            for action in rule.get("then", []):
                kind = action.get("type")
                if kind == "set_variable":
                    state.variables[action["variable"]] = _double(state.expr(action.get("expr", 0)))
                elif kind in ("skip_to", "end_survey") and navigation is None:
                    navigation = (kind, action.get("page") if kind == "skip_to" else action.get("end_screen"))
        if navigation is not None:
            kind, target = navigation
            if kind == "end_survey":
                end_screen = target
                break
            if target in index and index[target] > i - 1:
                i = index[target]
    screen = next((s for s in end_screens if s["id"] == end_screen), None)
    if screen is not None and screen.get("text"):
        texts[screen["id"]] = state.pipe(screen["text"])
    result["answers"] = state.effective
    result["variables"] = state.variables
    result["end_screen"] = end_screen
    result["texts"] = texts
    return result


# --- randomisation ------------------------------------------------------------------------------


def mulberry32(seed: int) -> Callable[[], float]:
    state = seed & 0xFFFFFFFF

    def imul(a: int, b: int) -> int:
        return (a * b) & 0xFFFFFFFF

    def nxt() -> float:
        nonlocal state
        state = (state + 0x6D2B79F5) & 0xFFFFFFFF
        t = imul(state ^ (state >> 15), 1 | state)
        t = ((t + imul(t ^ (t >> 7), 61 | t)) & 0xFFFFFFFF) ^ t
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    return nxt


def shuffle(ids: Sequence[str], seed: int) -> list[str]:
    items = list(ids)
    rand = mulberry32(seed)
    for i in range(len(items) - 1, 0, -1):
        j = math.floor(rand() * (i + 1))
        items[i], items[j] = items[j], items[i]
    return items
