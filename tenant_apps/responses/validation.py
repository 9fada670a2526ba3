"""Validating a respondent's answers against the exact version they answered, then the logic.

``answers_validate`` checks each answer's type and the question's settings, evaluates the rules on the
server (authoritative), drops what the discarding rule drops, and checks requirements after logic. It
returns the effective answers and the evaluation, or raises with one message per question.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError

from tenant_apps.surveys import definition as d
from tenant_apps.surveys.definition import OTHER, AnswerShape, is_number
from tenant_apps.surveys.logic.evaluator import evaluate, is_empty

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_TEXT = 10_000


def _number(value: Any) -> bool:
    return is_number(value) and math.isfinite(value)


def _length(text: str) -> int:
    return len(text)  # code points, as the respondent page counts with [...text].length


def _check_text(q: Mapping[str, Any], value: Any) -> str | None:
    if not isinstance(value, str):
        return "Expected text."
    if _length(value) > min(q.get("max_length", MAX_TEXT), MAX_TEXT):
        return f"At most {min(q.get('max_length', MAX_TEXT), MAX_TEXT)} characters."
    if value and _length(value) < q.get("min_length", 0):
        return f"At least {q['min_length']} characters."
    if q["type"] == "email" and value and not EMAIL_RE.match(value):
        return "Enter a valid email address."
    if q.get("pattern") and value and not d.regex_search(q["pattern"], value):  # the subset, as published
        return q.get("pattern_message") or "The answer does not have the expected format."
    return None


def _check_number(q: Mapping[str, Any], value: Any) -> str | None:
    qtype = q["type"]
    if not _number(value):
        return "Expected a number."
    if qtype == "nps":
        low, high = 0, 10
    elif qtype == "rating":
        low, high = 1, q.get("scale", 5)
    else:
        low, high = q.get("min", -math.inf), q.get("max", math.inf)
    if (qtype in ("nps", "rating") or q.get("integer")) and not float(value).is_integer():
        return "Expected a whole number."
    if not low <= value <= high:
        return f"Expected a number from {low} to {high}."
    return None


def _check_choices(q: Mapping[str, Any], value: Any, answers: Mapping[str, Any]) -> str | None:  # noqa: PLR0911
    ids = set(d.choice_ids(q))
    if q.get("other"):
        ids.add(OTHER)
    single = d.answer_shape(q["type"]) is AnswerShape.CHOICE
    items = [value] if single else value
    if single and not isinstance(value, str):
        return "Expected one choice."
    if not single and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return "Expected a list of choices."
    unknown = [v for v in items if v not in ids]
    if unknown:
        return f"Unknown choice(s): {', '.join(map(str, unknown[:5]))}."
    if len(set(items)) != len(items):
        return "A choice is selected twice."
    if OTHER in items and not isinstance(answers.get(f"{q['id']}__other"), str):
        return "Please specify your other answer."
    if q["type"] == "ranking" and set(items) != ids - {OTHER}:
        return "Rank every choice."
    if q["type"] == "multiple_choice":
        if len(items) < q.get("min_selections", 0):
            return f"Select at least {q['min_selections']}."
        if "max_selections" in q and len(items) > q["max_selections"]:
            return f"Select at most {q['max_selections']}."
    return None


def _check_other(q: Mapping[str, Any], value: Any) -> str | None:  # noqa: PLR0911 - one branch per type
    qtype = q["type"]
    if qtype == "yes_no":
        return None if isinstance(value, bool) else "Expected yes or no."
    if qtype == "date":
        if not d.is_date(value):
            return "Expected a date (YYYY-MM-DD)."
        try:
            date.fromisoformat(value)
        except ValueError:
            return "This date does not exist."
        if q.get("min_date") and value < q["min_date"]:
            return f"Expected {q['min_date']} or later."
        if q.get("max_date") and value > q["max_date"]:
            return f"Expected {q['max_date']} or earlier."
        return None
    if qtype == "matrix":
        rows = set(d.choice_ids(q, "rows"))
        columns = set(d.choice_ids(q, "columns"))
        if not isinstance(value, dict) or set(value) - rows:
            return "Expected an answer per row."
        for cell in value.values():
            cells = cell if q.get("multiple") else [cell]
            if not isinstance(cells, list) or any(c not in columns for c in cells):
                return "Unknown column."
        return None
    if qtype == "file_upload":
        return None if isinstance(value, dict) and isinstance(value.get("file_id"), str) else "Upload a file."
    return "This question takes no answer."


def answer_error(q: Mapping[str, Any], value: Any, answers: Mapping[str, Any]) -> str | None:
    shape = d.answer_shape(q["type"])
    if shape is AnswerShape.TEXT:
        return _check_text(q, value)
    if shape is AnswerShape.NUMBER:
        return _check_number(q, value)
    if shape in (AnswerShape.CHOICE, AnswerShape.CHOICES):
        return _check_choices(q, value, answers)
    return _check_other(q, value)


def answers_validate(definition: Mapping[str, Any], answers: Any) -> dict[str, Any]:
    """Returns the server's evaluation (``answers`` = what is stored). Raises ValidationError keyed by
    question id (or ``answers`` for the payload itself)."""
    if not isinstance(answers, dict):
        raise ValidationError({"answers": ["Expected an object of question id -> answer."]})
    questions = d.questions_by_id(definition)
    errors: dict[str, list[str]] = {}
    for key, value in answers.items():
        base = key.removesuffix("__other")
        if base not in questions:
            errors[key] = ["Unknown question."]
        elif key != base:
            if not isinstance(value, str) or len(value) > 1000:
                errors[key] = ["Expected text (at most 1000 characters)."]
        elif not is_empty(value):
            message = answer_error(questions[key], value, answers)
            if message:
                errors[key] = [message]
    if errors:
        raise ValidationError(errors)
    result = evaluate(definition, answers)
    effective = result["answers"]
    missing = {qid: ["This question is required."] for qid in result["required"] if is_empty(effective.get(qid))}
    if missing:
        raise ValidationError(missing)
    return result
