"""The survey definition's structure, owned here and read by everything else.

A survey definition is the JSON document described in ``logic/SPEC.md``: pages of questions (with choices,
matrix rows and columns), rules, variables and end screens. This module is the single place that knows:

- the question types and the shape of their answers (``QUESTION_TYPES``, ``AnswerShape``, ``answer_shape``);
- how to walk a definition (``iter_pages``, ``iter_questions``, ``iter_choices``, ``questions_by_id``), each
  element with its position and its JSON path inside the definition (``pages[1].questions[0]``), which the
  compiler's diagnostics point at;
- the patterns of ids and dates (``is_id``, ``is_date``) and the regular-expression subset of the rule language
  (``regex_check``, ``regex_search``), shared by the compiler (at publish) and answer validation (on submit).

The walk is tolerant: it never raises on a malformed document (elements that are not JSON objects are skipped
and ids that are not strings read as ``None``), so it serves both the compiler, which reports what is wrong,
and readers of published versions (validation, analytics, exports), which can rely on the compiler's checks.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeGuard

Json = Any

OTHER = "__other__"
"""The choice id of "Other"; its text is answered under ``other_key(question_id)``."""


class AnswerShape(StrEnum):
    """What an answer to a question of a given type is (SPEC.md, "Answers")."""

    TEXT = "text"  # a string
    NUMBER = "number"  # a number (not a boolean)
    CHOICE = "choice"  # one choice id
    CHOICES = "choices"  # a list of choice ids (ranking: in rank order)
    BOOLEAN = "boolean"  # true / false
    DATE = "date"  # "YYYY-MM-DD"
    MATRIX = "matrix"  # row id -> column id (or list of column ids when ``multiple``)
    FILE = "file"  # a stored file reference {"file_id": ...}
    NONE = "none"  # takes no answer


QUESTION_TYPES: Mapping[str, AnswerShape] = {
    "short_text": AnswerShape.TEXT,
    "long_text": AnswerShape.TEXT,
    "email": AnswerShape.TEXT,
    "hidden": AnswerShape.TEXT,
    "number": AnswerShape.NUMBER,
    "rating": AnswerShape.NUMBER,
    "nps": AnswerShape.NUMBER,
    "single_choice": AnswerShape.CHOICE,
    "dropdown": AnswerShape.CHOICE,
    "multiple_choice": AnswerShape.CHOICES,
    "ranking": AnswerShape.CHOICES,
    "yes_no": AnswerShape.BOOLEAN,
    "date": AnswerShape.DATE,
    "matrix": AnswerShape.MATRIX,
    "file_upload": AnswerShape.FILE,
    "statement": AnswerShape.NONE,
}


def _types(*shapes: AnswerShape) -> frozenset[str]:
    return frozenset(t for t, shape in QUESTION_TYPES.items() if shape in shapes)


TEXT_TYPES = _types(AnswerShape.TEXT)
NUMBER_TYPES = _types(AnswerShape.NUMBER)
SINGLE_CHOICE_TYPES = _types(AnswerShape.CHOICE)
LIST_CHOICE_TYPES = _types(AnswerShape.CHOICES)
CHOICE_TYPES = SINGLE_CHOICE_TYPES | LIST_CHOICE_TYPES


def answer_shape(question_type: Any) -> AnswerShape | None:
    """The shape of an answer to a question of this type; ``None`` for an unknown type."""
    return QUESTION_TYPES.get(question_type) if isinstance(question_type, str) else None


def other_key(question_id: str) -> str:
    """The answers key holding the "Other" text of a choice question."""
    return f"{question_id}__other"


# --- ids and dates ------------------------------------------------------------------------------------------------

ID_PATTERN = r"[A-Za-z][A-Za-z0-9_]{0,63}"
_ID_RE = re.compile(ID_PATTERN)
_DATE_RE = re.compile(r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])")


def is_id(value: Any) -> TypeGuard[str]:
    """An element id: a string, an ASCII letter then up to 63 ASCII letters, digits or ``_`` (nothing else)."""
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None


def is_date(value: Any) -> TypeGuard[str]:
    """``YYYY-MM-DD`` exactly (ASCII digits, month 01-12, day 01-31); the calendar is not checked."""
    return isinstance(value, str) and _DATE_RE.fullmatch(value) is not None


def is_number(value: Any) -> bool:
    """A JSON number (booleans are not numbers)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- the walk -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageRef:
    """A page of the definition: its position, its id (``None`` when missing or not a string) and JSON path."""

    index: int
    id: str | None
    page: Mapping[str, Json]
    path: str


@dataclass(frozen=True)
class QuestionRef:
    """A question with its page, its position on the page, id, type (``None`` unless a string) and JSON path."""

    page: PageRef
    index: int
    id: str | None
    type: str | None
    question: Mapping[str, Json]
    path: str

    @property
    def shape(self) -> AnswerShape | None:
        return answer_shape(self.type)


@dataclass(frozen=True)
class ChoiceRef:
    """An item of a question's ``choices`` (or ``rows`` / ``columns``) with its id and JSON path."""

    question: QuestionRef
    index: int
    id: str | None
    choice: Mapping[str, Json]
    path: str


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _list(value: Any) -> list[Json]:
    return value if isinstance(value, list) else []


def iter_pages(definition: Any) -> Iterator[PageRef]:
    """The pages in order (items of ``pages`` that are not objects are skipped)."""
    pages = definition.get("pages") if isinstance(definition, Mapping) else None
    for index, page in enumerate(_list(pages)):
        if isinstance(page, Mapping):
            yield PageRef(index, _str_or_none(page.get("id")), page, f"pages[{index}]")


def iter_page_questions(page: PageRef) -> Iterator[QuestionRef]:
    """The questions of one page in order (items that are not objects are skipped)."""
    for index, question in enumerate(_list(page.page.get("questions"))):
        if isinstance(question, Mapping):
            yield QuestionRef(
                page,
                index,
                _str_or_none(question.get("id")),
                _str_or_none(question.get("type")),
                question,
                f"{page.path}.questions[{index}]",
            )


def iter_questions(definition: Any) -> Iterator[QuestionRef]:
    """Every question, page by page, in the order a respondent meets them."""
    for page in iter_pages(definition):
        yield from iter_page_questions(page)


def iter_choices(question: QuestionRef, key: str = "choices") -> Iterator[ChoiceRef]:
    """The items of ``choices`` (or ``rows`` / ``columns`` with ``key``) that are objects."""
    for index, choice in enumerate(_list(question.question.get(key))):
        if isinstance(choice, Mapping):
            yield ChoiceRef(question, index, _str_or_none(choice.get("id")), choice, f"{question.path}.{key}[{index}]")


def questions_by_id(definition: Any) -> dict[str, Mapping[str, Json]]:
    """Question id -> question (the first one when an id repeats; the compiler refuses repeats)."""
    found: dict[str, Mapping[str, Json]] = {}
    for ref in iter_questions(definition):
        if ref.id is not None:
            found.setdefault(ref.id, ref.question)
    return found


def question_types(definition: Any) -> dict[str, str]:
    """Question id -> type, for the questions whose type is a string."""
    return {qid: q["type"] for qid, q in questions_by_id(definition).items() if isinstance(q.get("type"), str)}


def pii_fields(definition: Any) -> frozenset[str]:
    """Answer keys holding personal data: questions flagged ``"pii": true`` and their "Other" text. Their answers
    are sealed at rest (``tenant_apps.pii``) and shown only to holders of ``submission.view_pii``."""
    ids = [q.id for q in iter_questions(definition) if q.id and q.question.get("pii") is True]
    return frozenset(ids) | frozenset(other_key(qid) for qid in ids)


def choice_ids(question: Mapping[str, Json], key: str = "choices") -> list[str]:
    """The ids of a question's choices (or rows / columns), in order; ``"__other__"`` is not included."""
    return [c["id"] for c in _list(question.get(key)) if isinstance(c, Mapping) and isinstance(c.get("id"), str)]


# --- regular expressions ------------------------------------------------------------------------------------------
#
# The rule language's regular expressions (``matches`` and a text question's ``pattern``) are a subset on which
# Python's ``re`` (after ``_translate`` below) and ECMAScript's ``RegExp`` with the ``u`` flag (after logic.js
# spells out ``\s``/``\S``) mean the same by construction. SPEC.md lists it. ``regex_check`` is the one check
# (compiler at publish, validation on submit); ``regex_search`` the one matcher on the server.

MAX_REGEX_LENGTH = 500
MAX_REPEAT = 1000
MAX_GROUP_DEPTH = 20
_SYNTAX = frozenset("^$\\.*+?()[]{}|/")
_CLASS_ESCAPES = frozenset("dDwWsS")
_CONTROL = {"n": "\n", "r": "\r", "t": "\t", "f": "\f", "v": "\v"}
_BOUNDS = re.compile(r"\{([0-9]{1,4})(,([0-9]{1,4})?)?\}")
_DOT = "[^\\n\\r\\u2028\\u2029]"  # ECMAScript's `.` without the s flag


class RegexOutsideSubset(ValueError):
    """The pattern is not in the rule language's subset (the message says where and why)."""


def _fail(message: str, position: int) -> RegexOutsideSubset:
    return RegexOutsideSubset(f"{message} (at character {position + 1})")


def _literal(char: str, position: int) -> str:
    if 0xD800 <= ord(char) <= 0xDFFF:
        raise _fail("a lone surrogate is not a character", position)
    return re.escape(char)


def _class_atom(p: str, i: int, *, first: bool) -> tuple[str | None, str, int]:
    """One item of a character class: (the character or None for a class escape, its Python form, next index)."""
    c = p[i]
    if c == "\\":
        if i + 1 >= len(p):
            raise _fail("the pattern ends with a lone backslash", i)
        e = p[i + 1]
        if e == "S":
            raise _fail("\\S is not supported inside [...]", i)
        if e in _CLASS_ESCAPES:
            return None, "\\" + e, i + 2
        if e in _CONTROL:
            return _CONTROL[e], re.escape(_CONTROL[e]), i + 2
        if e in _SYNTAX or e == "-":
            return e, re.escape(e), i + 2
        raise _fail(f"\\{e} is not supported", i)
    if c == "[":
        raise _fail("write a literal [ inside [...] as \\[", i)
    if c == "-" and not first and p[i + 1 : i + 2] != "]":
        raise _fail("write a literal - inside [...] first, last or as \\-", i)
    return c, _literal(c, i), i + 1


def _class(p: str, i: int) -> tuple[str, int]:
    """``[...]`` starting after the ``[``: its Python form and the index after the ``]``."""
    start = i - 1
    out = "["
    if p.startswith("^", i):
        out += "^"
        i += 1
    first = True
    while True:
        if i >= len(p):
            raise _fail("[ is never closed", start)
        if p[i] == "]":
            if first:
                raise _fail("an empty class [] or [^] is not supported", start)
            return out + "]", i + 1
        low, form, i = _class_atom(p, i, first=first)
        if p.startswith("-", i) and p[i + 1 : i + 2] not in ("", "]"):
            high, high_form, after = _class_atom(p, i + 1, first=False)
            if low is None or high is None:
                raise _fail("a range needs a single character at both ends", i)
            if ord(low) > ord(high):
                raise _fail(f"the range {low}-{high} is out of order", i)
            form, i = f"{form}-{high_form}", after
        out += form
        first = False


def _translate(p: str) -> str:  # noqa: PLR0912, PLR0915 - one branch per construct of the subset
    """The Python ``re`` form (used with ``re.ASCII``) of a pattern of the subset, or RegexOutsideSubset."""
    if len(p) > MAX_REGEX_LENGTH:
        raise RegexOutsideSubset(f"A pattern has at most {MAX_REGEX_LENGTH} characters.")
    out: list[str] = []
    i, depth, repeatable = 0, 0, False
    while i < len(p):
        c = p[i]
        if c == "\\":
            if i + 1 >= len(p):
                raise _fail("the pattern ends with a lone backslash", i)
            e = p[i + 1]
            if e in _CLASS_ESCAPES:
                out.append("\\" + e)
                repeatable = True
            elif e in "bB":
                # Python's \B never matches in an empty string, ECMAScript's does
                out.append("\\b" if e == "b" else "(?:\\B|\\A\\Z)")
                repeatable = False
            elif e in _CONTROL:
                out.append(re.escape(_CONTROL[e]))
                repeatable = True
            elif e in _SYNTAX:
                out.append(re.escape(e))
                repeatable = True
            else:
                raise _fail(f"\\{e} is not supported", i)
            i += 2
        elif c == "[":
            form, i = _class(p, i + 1)
            out.append(form)
            repeatable = True
        elif c == "(":
            if p.startswith("(?:", i):
                i += 3
            elif p.startswith("(?", i):
                raise _fail("(? groups (lookaround, named groups, flags) are not supported", i)
            else:
                i += 1
            depth += 1
            if depth > MAX_GROUP_DEPTH:
                raise _fail(f"groups nest at most {MAX_GROUP_DEPTH} deep", i)
            out.append("(?:")
            repeatable = False
        elif c == ")":
            if depth == 0:
                raise _fail(") has no matching (", i)
            depth -= 1
            out.append(")")
            repeatable = True
            i += 1
        elif c == "|":
            out.append("|")
            repeatable = False
            i += 1
        elif c in "*+?{":
            bounds = _BOUNDS.match(p, i) if c == "{" else None
            if c == "{" and bounds is None:
                raise _fail("write a literal { as \\{ (or a repeat as {m}, {m,} or {m,n})", i)
            if not repeatable:
                raise _fail(f"{c} has nothing to repeat", i)
            if bounds is not None:
                low, high = int(bounds.group(1)), bounds.group(3)
                if max(low, int(high or 0)) > MAX_REPEAT:
                    raise _fail(f"a repeat count is at most {MAX_REPEAT}", i)
                if high is not None and low > int(high):
                    raise _fail("the repeat {m,n} needs m <= n", i)
                out.append(bounds.group(0))
                i = bounds.end()
            else:
                out.append(c)
                i += 1
            if p.startswith("?", i):  # lazy: the same matches exist
                out.append("?")
                i += 1
            repeatable = False
        elif c in "}]":
            raise _fail(f"write a literal {c} as \\{c}", i)
        elif c == ".":
            out.append(_DOT)
            repeatable = True
            i += 1
        elif c == "^":
            out.append("^")
            repeatable = False
            i += 1
        elif c == "$":
            out.append("\\Z")
            repeatable = False
            i += 1
        else:
            out.append(_literal(c, i))
            repeatable = True
            i += 1
    if depth:
        raise RegexOutsideSubset("A ( is never closed.")
    return "".join(out)


def regex_check(pattern: Any) -> str | None:
    """``None`` when ``pattern`` is a regular expression of the rule language's subset, else why not."""
    if not isinstance(pattern, str):
        return "A regular expression is a string."
    try:
        _translate(pattern)
    except RegexOutsideSubset as exc:
        return str(exc)
    return None


@functools.lru_cache(maxsize=2048)
def regex_compile(pattern: str) -> re.Pattern[str] | None:
    """The compiled server form of a pattern of the subset (``None`` outside it)."""
    try:
        return re.compile(_translate(pattern), re.ASCII)
    except (RegexOutsideSubset, re.error):
        return None


def regex_search(pattern: Any, text: Any) -> bool:
    """Whether ``pattern`` (of the subset) matches somewhere in ``text``; false outside the subset or types."""
    if not (isinstance(pattern, str) and isinstance(text, str)):
        return False
    compiled = regex_compile(pattern)
    return compiled is not None and compiled.search(text) is not None
