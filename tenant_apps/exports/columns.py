"""The columns of an export, across every published version of a survey.

Questions are the union over versions in a stable order: the order of the first version that has each
question, later versions' new questions appended where they first appear (columns never move when a
version is published). Read through ``tenant_apps.surveys.definition`` (the one owner of the
definition's shape):

- text, number, date, hidden: one column with the answer;
- single choice / dropdown: one column (choice id, or its text with ``labels``), plus ``<q>.other`` when
  any version offers "Other";
- multiple choice: one column per choice (``1``/``0``, or the choice's text / empty with ``labels``);
  ranking: one column per choice holding its rank;
- matrix: one column per row (the column id(s), or their text);
- yes/no: ``1``/``0`` (or ``Yes``/``No``); file: the file's name; statements: none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tenant_apps.surveys.definition import OTHER, AnswerShape, QuestionRef, iter_choices, iter_questions, other_key

Cell = str | int | float | None
META_COLUMNS = ("submission_uid", "status", "submitted_at", "version", "duration_seconds")


@dataclass(frozen=True)
class Column:
    """``label``, ``codes``, ``value_labels`` and ``numeric`` describe the column for SPSS (variable label;
    choice id -> stable code; code -> text; a numeric variable); the other formats only use ``key``."""

    key: str
    extract: Callable[[Mapping[str, Any]], Cell]
    label: str = ""
    codes: Mapping[str, int] | None = None
    value_labels: Mapping[int, str] | None = None
    numeric: bool = False


# "Other" keeps one code whatever choices later versions add (choices are coded 1..n in first-seen order).
OTHER_CODE = 0


@dataclass
class _Question:
    id: str
    type: str
    shape: AnswerShape
    other: bool
    choices: dict[str, str]  # id -> text, union over versions in first-seen order (latest text wins)
    rows: dict[str, str]
    columns: dict[str, str]
    text: str = ""


def _merge(into: dict[str, str], ref: QuestionRef, key: str) -> None:
    for choice in iter_choices(ref, key):
        if choice.id is not None:
            into[choice.id] = str(choice.choice.get("text", choice.id))


def questions_union(definitions: Iterable[Any]) -> list[_Question]:
    """``definitions`` oldest version first."""
    found: dict[str, _Question] = {}
    for definition in definitions:
        for ref in iter_questions(definition):
            shape = ref.shape
            if ref.id is None or ref.type is None or shape is None or shape is AnswerShape.NONE:
                continue
            question = found.setdefault(ref.id, _Question(ref.id, ref.type, shape, False, {}, {}, {}))
            question.other = question.other or bool(ref.question.get("other"))
            question.text = str(ref.question.get("text") or question.text or ref.id)
            _merge(question.choices, ref, "choices")
            _merge(question.rows, ref, "rows")
            _merge(question.columns, ref, "columns")
    return list(found.values())


def _text(value: Any) -> Cell:
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)


def _choice_label(question: _Question, choice_id: Any, labels: bool) -> Cell:
    if not labels:
        return _text(choice_id)
    if choice_id == OTHER:
        return "Other"
    return question.choices.get(choice_id, _text(choice_id)) if isinstance(choice_id, str) else _text(choice_id)


def _columns_for(q: _Question, labels: bool) -> list[Column]:
    qid = q.id

    def answer(row: Mapping[str, Any]) -> Any:
        return row["answers"].get(qid)

    text = q.text
    codes = {choice_id: number for number, choice_id in enumerate(q.choices, start=1)}
    code_labels = {number: q.choices[choice_id] for choice_id, number in codes.items()}
    if q.other:
        codes[OTHER] = OTHER_CODE
        code_labels[OTHER_CODE] = "Other"
    if q.shape is AnswerShape.CHOICE:
        cols = [
            Column(
                qid,
                lambda r: _choice_label(q, answer(r), labels) if answer(r) is not None else None,
                text,
                codes,
                code_labels,
            )
        ]
        if q.other:
            cols.append(
                Column(f"{qid}.other", lambda r: _text(r["answers"].get(other_key(qid))), f"{text}: Other (text)")
            )
        return cols
    if q.shape is AnswerShape.CHOICES:
        ids = list(q.choices) + ([OTHER] if q.other else [])
        ranking = q.type == "ranking"

        def member(choice_id: str) -> Callable[[Mapping[str, Any]], Cell]:
            def cell(r: Mapping[str, Any]) -> Cell:
                value = answer(r)
                if not isinstance(value, list):
                    return None
                if ranking:
                    return value.index(choice_id) + 1 if choice_id in value else None
                if labels:
                    return _choice_label(q, choice_id, True) if choice_id in value else ""
                return 1 if choice_id in value else 0

            return cell

        picked = None if ranking else {1: "Selected", 0: "Not selected"}
        cols = [
            Column(
                f"{qid}.{choice_id.strip('_')}",
                member(choice_id),
                f"{text}: {code_labels[codes[choice_id]]}",
                value_labels=picked,
                numeric=True,
            )
            for choice_id in ids
        ]
        if q.other:
            cols.append(
                Column(f"{qid}.other_text", lambda r: _text(r["answers"].get(other_key(qid))), f"{text}: Other (text)")
            )
        return cols
    if q.shape is AnswerShape.MATRIX:

        def matrix_cell(row_id: str) -> Callable[[Mapping[str, Any]], Cell]:
            def cell(r: Mapping[str, Any]) -> Cell:
                value = answer(r)
                picked = value.get(row_id) if isinstance(value, dict) else None
                items = picked if isinstance(picked, list) else [] if picked is None else [picked]
                if not items:
                    return None
                return ";".join(str(q.columns.get(i, i) if labels else i) for i in items)

            return cell

        column_codes = {column_id: number for number, column_id in enumerate(q.columns, start=1)}
        column_labels = {number: q.columns[column_id] for column_id, number in column_codes.items()}
        return [
            Column(f"{qid}.{row_id}", matrix_cell(row_id), f"{text}: {row_text}", column_codes, column_labels)
            for row_id, row_text in q.rows.items()
        ]
    if q.shape is AnswerShape.BOOLEAN:

        def yes_no(r: Mapping[str, Any]) -> Cell:
            value = answer(r)
            if not isinstance(value, bool):
                return None
            return ("Yes" if value else "No") if labels else int(value)

        return [Column(qid, yes_no, text, value_labels={1: "Yes", 0: "No"}, numeric=True)]
    if q.shape is AnswerShape.FILE:

        def file_name(r: Mapping[str, Any]) -> Cell:
            value = answer(r)
            return _text(value.get("name") or value.get("file_id")) if isinstance(value, dict) else _text(value)

        return [Column(qid, file_name, text)]
    return [Column(qid, lambda r: _text(answer(r)), text, numeric=q.shape is AnswerShape.NUMBER)]


_META_LABELS = {
    "submission_uid": "Response id",
    "status": "Status (complete or draft)",
    "submitted_at": "Submitted at (ISO 8601)",
    "version": "Survey version",
    "duration_seconds": "Time to complete (seconds)",
}


def _meta(key: str) -> Column:
    return Column(key, lambda r: r[key], _META_LABELS[key], numeric=key in ("version", "duration_seconds"))


def export_columns(*, definitions: Iterable[Any], labels: bool, exclude: frozenset[str] = frozenset()) -> list[Column]:
    """Metadata columns, then the questions' columns (``definitions`` oldest version first), leaving out the
    questions in ``exclude`` (personal data, for requesters without ``submission.view_pii``)."""
    columns = [_meta(key) for key in META_COLUMNS]
    for question in questions_union(definitions):
        if question.id in exclude:
            continue
        columns.extend(_columns_for(question, labels))
    return columns
