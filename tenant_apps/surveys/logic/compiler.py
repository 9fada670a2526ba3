"""Checking a survey definition: structure (on every builder write) and the logic graph (on publish).

``compile_definition`` refuses, with errors naming the page/question/rule and the JSON path of the fault
inside the definition (``pages[1].questions[0].visible_if.all[2].value``): malformed structure; references
to unknown questions, choices, rows, variables, pages or end screens; conditions on questions that cannot
have been answered yet (forward references); backward skips (cycles in skip logic) and cycles between
variables; pages or questions no path can reach; type mismatches (a number compared with text, a choice
id of another question, a date test on a non-date); regular expressions outside the subset of SPEC.md; a
required question that is always hidden. It never raises: any JSON value gets a result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tenant_apps.surveys import definition as d
from tenant_apps.surveys.definition import (
    CHOICE_TYPES,
    LIST_CHOICE_TYPES,
    NUMBER_TYPES,
    OTHER,
    TEXT_TYPES,
    AnswerShape,
    is_date,
    is_id,
    is_number,
    regex_check,
)

PIPE_RE = re.compile(r"\{\{ *(var\.)?([A-Za-z][A-Za-z0-9_]{0,63}) *(?:\|[^}]*)?\}\}")
OPERATORS = frozenset(
    {
        "equals",
        "not_equals",
        "gt",
        "gte",
        "lt",
        "lte",
        "between",
        "in",
        "contains",
        "contains_any",
        "contains_all",
        "is_empty",
        "is_answered",
        "matches",
        "date_before",
        "date_after",
    }
)
NO_VALUE_OPS = frozenset({"is_empty", "is_answered"})
NUMERIC_OPS = frozenset({"gt", "gte", "lt", "lte", "between"})
DATE_OPS = frozenset({"date_before", "date_after"})
LIST_VALUE_OPS = frozenset({"in", "contains_any", "contains_all"})
EXPR_LIST_OPS = frozenset({"add", "sum", "mul", "min", "max"})
EXPR_PAIR_OPS = frozenset({"sub", "div", "round"})
SETTINGS_NUMBERS = (
    "min",
    "max",
    "min_length",
    "max_length",
    "min_selections",
    "max_selections",
    "scale",
    "max_size_mb",
)
BOOLEAN_SETTINGS = ("required", "other", "multiple", "integer", "randomize_choices", "pii")
MAX_QUESTIONS = 500
MAX_DEPTH = 32  # nesting of conditions and expressions


def show(value: Any, limit: int = 60) -> str:
    """A JSON value as the builder shows it (not Python's repr)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = "(a value)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class CompileError:
    code: str
    message: str
    page: str | None = None
    question: str | None = None
    rule: str | None = None
    path: str = "$"

    def as_dict(self) -> dict[str, Any]:
        location: dict[str, Any] = {
            k: v for k, v in (("page", self.page), ("question", self.question), ("rule", self.rule)) if v
        }
        location["path"] = self.path
        return {"code": self.code, "message": self.message, "location": location}


@dataclass
class CompileResult:
    errors: list[CompileError] = field(default_factory=list)
    compiled: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        """The diagnostics as the API shows them: ``{"valid": bool, "errors": [...]}``."""
        return {"valid": self.ok, "errors": [e.as_dict() for e in self.errors]}


@dataclass(frozen=True)
class _Where:
    page: str | None = None
    question: str | None = None
    rule: str | None = None
    path: str = "$"
    # Position of the element: questions strictly before it (or up to it, for page rules) may be read.
    position: tuple[int, int] = (0, 0)
    inclusive: bool = False

    def at(self, suffix: str) -> _Where:
        """The same place, deeper in the JSON (``.value``, ``.all[2]``, ``[0]``)."""
        return replace(self, path=self.path + suffix)


def _always_false(condition: Any) -> bool:
    if isinstance(condition, dict):
        if condition.get("any") == []:
            return True
        if "not" in condition:
            return bool(condition["not"] == {"all": []})
    return False


def _always_true(condition: Any) -> bool:
    return condition is None or condition == {"all": []}


def _key(value: Any) -> str | None:
    """An id to look up (only strings are ids: a list or an object is never one, and never raises)."""
    return value if isinstance(value, str) else None


class _Compiler:
    def __init__(self, definition: Any) -> None:
        self.d = definition
        self.errors: list[CompileError] = []
        self.questions: dict[str, Mapping[str, Any]] = {}
        self.positions: dict[str, tuple[int, int]] = {}
        self.page_index: dict[str, int] = {}
        self.variables: dict[str, int] = {}
        self.end_screens: set[str] = set()

    def error(self, code: str, message: str, where: _Where) -> None:
        self.errors.append(CompileError(code, message, where.page, where.question, where.rule, where.path))

    # --- structure ----------------------------------------------------------------------------
    def structure(self) -> None:
        root = _Where()
        if not isinstance(self.d, Mapping):
            self.error("invalid_definition", "The definition must be a JSON object.", root)
            return
        if "pages" in self.d and not isinstance(self.d["pages"], list):
            self.error("invalid_definition", "'pages' must be a list.", root.at("pages"))
            return
        for key in ("variables", "end_screens"):
            if key in self.d and not isinstance(self.d[key], list):
                self.error("invalid_definition", f"'{key}' must be a list.", replace(root, path=key))
                return
        self._variables()
        self._end_screens()
        for p_index, page in enumerate(self.d.get("pages", [])):
            self._page_structure(p_index, page)
        if len(self.questions) > MAX_QUESTIONS:
            self.error(
                "too_many_questions",
                f"A survey may have at most {MAX_QUESTIONS} questions.",
                replace(root, path="pages"),
            )

    def _variables(self) -> None:
        for index, variable in enumerate(self.d.get("variables", [])):
            where = _Where(path=f"variables[{index}]")
            vid = variable.get("id") if isinstance(variable, Mapping) else None
            if not is_id(vid):
                self.error(
                    "invalid_id", f"Variable {index + 1} needs an id (a letter then letters, digits or _).", where
                )
            elif vid in self.variables:
                self.error("duplicate_id", f"Variable {vid} is defined twice.", where.at(".id"))
            else:
                self.variables[vid] = index
                if not is_number(variable.get("initial", 0)):
                    self.error("type_mismatch", f"Variable {vid} must start with a number.", where.at(".initial"))

    def _end_screens(self) -> None:
        for index, screen in enumerate(self.d.get("end_screens", [])):
            where = _Where(path=f"end_screens[{index}]")
            sid = screen.get("id") if isinstance(screen, Mapping) else None
            if not is_id(sid) or sid in self.end_screens:
                self.error("invalid_id", f"End screen {index + 1}: its id is missing, malformed or used twice.", where)
                continue
            self.end_screens.add(sid)
            if not isinstance(screen.get("text", ""), str):
                self.error("invalid_definition", f"End screen {sid}: 'text' must be text.", where.at(".text"))

    def _page_structure(self, p_index: int, page: Any) -> None:
        where = _Where(path=f"pages[{p_index}]")
        pid = page.get("id") if isinstance(page, Mapping) else None
        if not is_id(pid):
            self.error("invalid_id", f"Page {p_index + 1} needs an id (a letter then letters, digits or _).", where)
            return
        where = replace(where, page=pid)
        if pid in self.page_index or pid in self.questions:
            self.error("duplicate_id", f"Id {pid} is used twice.", where.at(".id"))
            return
        self.page_index[pid] = p_index
        if not isinstance(page.get("title", ""), str):
            self.error("invalid_definition", f"Page {pid}: 'title' must be text.", where.at(".title"))
        questions = page.get("questions", [])
        for key in ("questions", "rules"):
            if not isinstance(page.get(key, []), list):
                self.error("invalid_definition", f"Page {pid}: '{key}' must be a list.", where.at(f".{key}"))
        if not isinstance(questions, list):
            return
        for q_index, question in enumerate(questions):
            self._question_structure(where.at(f".questions[{q_index}]"), p_index, q_index, question)

    def _question_structure(self, where: _Where, p_index: int, q_index: int, q: Any) -> None:
        qid = q.get("id") if isinstance(q, Mapping) else None
        if not is_id(qid):
            self.error("invalid_id", f"Question {q_index + 1} of page {where.page} needs a valid id.", where)
            return
        where = replace(where, question=qid)
        if qid in self.questions or qid in self.page_index:
            self.error("duplicate_id", f"Id {qid} is used twice.", where.at(".id"))
            return
        qtype = q.get("type")
        shape = d.answer_shape(qtype)
        if shape is None:
            message = (
                f"Question {qid} has no type."
                if qtype is None
                else f"Question {qid} has an unknown question type {show(qtype)}."
            )
            self.error("unknown_type", message, where.at(".type"))
            return
        self.questions[qid] = q
        self.positions[qid] = (p_index, q_index)
        if not isinstance(q.get("text", ""), str):
            self.error("invalid_definition", f"Question {qid}: 'text' must be text.", where.at(".text"))
        for key in BOOLEAN_SETTINGS:
            if key in q and not isinstance(q[key], bool):
                self.error("invalid_setting", f"Question {qid}: '{key}' must be true or false.", where.at(f".{key}"))
        for key in SETTINGS_NUMBERS:
            if key in q and not (is_number(q[key]) and q[key] >= 0):
                self.error(
                    "invalid_setting", f"Question {qid}: '{key}' must be a non-negative number.", where.at(f".{key}")
                )
        for low, high in (("min", "max"), ("min_length", "max_length"), ("min_selections", "max_selections")):
            if is_number(q.get(low)) and is_number(q.get(high)) and q[low] > q[high]:
                self.error("invalid_setting", f"Question {qid}: '{low}' is above '{high}'.", where.at(f".{low}"))
        if "pattern" in q:
            problem = regex_check(q["pattern"])
            if problem:
                self.error(
                    "invalid_regex",
                    f"Question {qid}: the validation pattern is not supported: {problem}",
                    where.at(".pattern"),
                )
        if qtype in CHOICE_TYPES:
            self._ids(q.get("choices"), "choices", qid, where)
        if shape is AnswerShape.MATRIX:
            self._ids(q.get("rows"), "rows", qid, where)
            self._ids(q.get("columns"), "columns", qid, where)

    def _ids(self, items: Any, key: str, qid: str, where: _Where) -> None:
        kind = key.removesuffix("s")
        if not isinstance(items, list) or not items:
            self.error("missing_choices", f"Question {qid} needs at least one {kind}.", where.at(f".{key}"))
            return
        seen: set[str] = set()
        for index, item in enumerate(items):
            at = where.at(f".{key}[{index}]")
            cid = item.get("id") if isinstance(item, Mapping) else None
            if not is_id(cid) or cid in seen:
                self.error("invalid_id", f"Question {qid}: {kind} {index + 1} has a missing or repeated id.", at)
                continue
            seen.add(cid)
            if not isinstance(item.get("text", ""), str):
                self.error("invalid_definition", f"Question {qid}: {kind} {cid}: 'text' must be text.", at.at(".text"))
            if kind == "choice" and "score" in item and not is_number(item["score"]):
                self.error("type_mismatch", f"Question {qid}: choice {cid}: 'score' must be a number.", at.at(".score"))

    # --- references and types -------------------------------------------------------------------
    def _readable(self, qid: str, where: _Where) -> Mapping[str, Any] | None:
        question = self.questions.get(qid)
        if question is None:
            self.error("unknown_question", f"There is no question {qid}.", where)
            return None
        position = self.positions[qid]
        before = position <= where.position if where.inclusive else position < where.position
        if not before:
            self.error("forward_reference", f"Question {qid} comes later, so it cannot have been answered yet.", where)
            return None
        if question["type"] == "statement":
            self.error("type_mismatch", f"Question {qid} is a statement and has no answer.", where)
            return None
        return question

    def condition(self, c: Any, where: _Where, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            self.error("invalid_condition", f"Conditions nest at most {MAX_DEPTH} deep.", where)
            return
        if not isinstance(c, Mapping):
            self.error("invalid_condition", f"A condition must be an object, not {show(c)}.", where)
            return
        combinators = [k for k in ("all", "any", "not") if k in c]
        if combinators:
            if len(combinators) > 1 or len(c) > 1:
                self.error("invalid_condition", "A condition is one of 'all', 'any', 'not' or a comparison.", where)
            for key in combinators:
                if key == "not":
                    self.condition(c["not"], where.at(".not"), depth + 1)
                elif not isinstance(c[key], list):
                    self.error("invalid_condition", f"'{key}' takes a list of conditions.", where.at(f".{key}"))
                else:
                    for index, item in enumerate(c[key]):
                        self.condition(item, where.at(f".{key}[{index}]"), depth + 1)
            return
        self._comparison(c, where)

    def _comparison(self, c: Mapping[str, Any], where: _Where) -> None:
        """Every fault of a comparison is reported (operator, left side, value), not only the first."""
        op = c.get("op")
        if not (isinstance(op, str) and op in OPERATORS):
            self.error(
                "unknown_operator",
                "The comparison has no operator." if op is None else f"Unknown operator {show(op)}.",
                where.at(".op"),
            )
        kind = self._left_kind(c, where)
        if not (isinstance(op, str) and op in OPERATORS) or op in NO_VALUE_OPS:
            return
        if "value" not in c:
            self.error("invalid_condition", f"Operator '{op}' needs a value.", where.at(".value"))
            return
        value = c["value"]
        at = where.at(".value")
        if isinstance(value, Mapping) and ("q" in value or "var" in value):
            self._left_kind(value, at)
            return
        if kind is not None:
            self._check_types(op, kind, value, c, at)

    def _left_kind(self, c: Mapping[str, Any], where: _Where) -> Mapping[str, Any] | None:
        if "var" in c:
            vid = _key(c["var"])
            if vid not in self.variables:
                self.error("unknown_variable", f"There is no variable {show(c['var'])}.", where.at(".var"))
                return None
            return {"type": "variable", "id": vid}
        if "q" not in c:
            self.error("invalid_condition", "A comparison needs 'q' (a question) or 'var' (a variable).", where)
            return None
        qid = _key(c["q"])
        if qid is None:
            self.error("invalid_condition", f"'q' names a question by its id, not {show(c['q'])}.", where.at(".q"))
            return None
        question = self._readable(qid, where.at(".q"))
        if question is None:
            return None
        if "row" in c:
            rows = d.choice_ids(question, "rows")
            if question["type"] != "matrix" or _key(c["row"]) not in rows:
                self.error("unknown_row", f"Question {qid} has no row {show(c['row'])}.", where.at(".row"))
                return None
            return {
                "type": "matrix_row",
                "id": qid,
                "choices": question.get("columns", []),
                "multiple": question.get("multiple") is True,
            }
        return question

    def _check_types(
        self, op: str, question: Mapping[str, Any], value: Any, c: Mapping[str, Any], where: _Where
    ) -> None:
        qtype, qid = question["type"], question.get("id")
        label = f"Variable {qid}" if qtype == "variable" else f"Question {qid}"

        def mismatch(message: str, at: _Where = where) -> None:
            self.error("type_mismatch", f"{label}: {message}", at)

        if op in NUMERIC_OPS:
            if qtype not in NUMBER_TYPES | {"variable"}:
                return mismatch(f"'{op}' compares numbers, but this is a {qtype} question.")
            ok = (
                (isinstance(value, list) and len(value) == 2 and all(map(is_number, value)) and value[0] <= value[1])
                if op == "between"
                else is_number(value)
            )
            if not ok:
                return mismatch(f"'{op}' needs {'[low, high] numbers' if op == 'between' else 'a number'}.")
            return None
        if qtype == "variable":
            return None if is_number(value) or op in LIST_VALUE_OPS else mismatch("a variable holds a number.")
        if op in DATE_OPS:
            if qtype != "date":
                return mismatch(f"'{op}' needs a date question.")
            if not is_date(value):
                return mismatch(f"'{op}' needs a YYYY-MM-DD date, not {show(value)}.")
            return None
        if op == "matches":
            if qtype not in TEXT_TYPES:
                return mismatch("'matches' needs a text question.")
            problem = regex_check(value)
            if problem:
                self.error("invalid_regex", f"{label}: the regular expression is not supported: {problem}", where)
            return None
        listed = qtype in LIST_CHOICE_TYPES or (qtype == "matrix_row" and question.get("multiple"))
        if op in LIST_VALUE_OPS or (listed and op in ("equals", "not_equals")):
            if not isinstance(value, list):
                return mismatch(f"'{op}' needs a list of values here.")
            if listed and op == "in":
                return mismatch("the answer is a list, which is never 'in' a list; use 'contains_any'.")
            for index, item in enumerate(value):
                self._check_value(qtype, question, item, mismatch, where.at(f"[{index}]"))
            return None
        self._check_value(qtype, question, value, mismatch, where)
        return None

    def _check_value(self, qtype: str, question: Mapping[str, Any], item: Any, mismatch: Any, where: _Where) -> None:
        if qtype in CHOICE_TYPES or qtype == "matrix_row":
            ids = set(d.choice_ids(question, "columns" if qtype == "matrix_row" else "choices"))
            if question.get("other") is True:
                ids.add(OTHER)
            if _key(item) not in ids:
                self.error("unknown_choice", f"{show(item)} is not a choice of question {question.get('id')}.", where)
        elif qtype in NUMBER_TYPES and not is_number(item):
            mismatch(f"compares a number with {show(item)}.", where)
        elif qtype in TEXT_TYPES | {"date"} and not isinstance(item, str):
            mismatch(f"compares text with {show(item)}.", where)
        elif qtype == "yes_no" and not isinstance(item, bool):
            mismatch(f"a yes/no answer is true or false, not {show(item)}.", where)

    def expression(self, e: Any, where: _Where, refs: set[str], depth: int = 0) -> None:
        if is_number(e):
            return
        if depth > MAX_DEPTH:
            self.error("invalid_expression", f"Expressions nest at most {MAX_DEPTH} deep.", where)
            return
        if not isinstance(e, Mapping) or len(e) != 1:
            self.error("invalid_expression", f"Malformed expression {show(e)}.", where)
            return
        ((kind, arg),) = e.items()
        at = where.at(f".{kind}") if isinstance(kind, str) and is_id(kind) else where
        if kind == "var":
            if _key(arg) not in self.variables:
                self.error("unknown_variable", f"There is no variable {show(arg)}.", at)
            else:
                refs.add(arg)
        elif kind in ("q", "score", "count"):
            question = self._readable(arg, at) if isinstance(arg, str) else None
            if not isinstance(arg, str):
                self.error("invalid_expression", f"'{kind}' names a question by its id, not {show(arg)}.", at)
            elif question is not None and kind == "score" and question["type"] not in CHOICE_TYPES:
                self.error("type_mismatch", f"'score' needs a choice question; {arg} is {question['type']}.", at)
            elif question is not None and kind == "q" and question["type"] not in NUMBER_TYPES:
                self.error("type_mismatch", f"Question {arg} is not a number question.", at)
        elif kind in EXPR_LIST_OPS | EXPR_PAIR_OPS:
            if not isinstance(arg, list) or (kind in EXPR_PAIR_OPS and len(arg) != 2):
                self.error(
                    "invalid_expression", f"'{kind}' takes a list{' of two' if kind in EXPR_PAIR_OPS else ''}.", at
                )
                return
            for index, item in enumerate(arg):
                self.expression(item, at.at(f"[{index}]"), refs, depth + 1)
        else:
            self.error("invalid_expression", f"Unknown expression {show(kind)}.", where)

    def pipes(self, text: Any, where: _Where) -> None:
        if not isinstance(text, str):
            return
        for is_var, ident in PIPE_RE.findall(text):
            if is_var:
                if ident not in self.variables:
                    self.error("unknown_variable", f"The text shows variable {ident}, which does not exist.", where)
            else:
                self._readable(ident, where)

    # --- the logic graph --------------------------------------------------------------------------
    def logic(self) -> None:
        pages = self.d.get("pages", [])
        var_deps: dict[str, dict[str, _Where]] = {v: {} for v in self.variables}
        falls_through: list[bool] = []
        skips: list[set[int]] = []
        for page_ref in d.iter_pages(self.d):
            p_index, pid = page_ref.index, page_ref.id
            page = page_ref.page
            page_where = _Where(page=pid, path=page_ref.path, position=(p_index, -1))
            if "visible_if" in page:
                self.condition(page["visible_if"], page_where.at(".visible_if"))
            self.pipes(page.get("title"), page_where.at(".title"))
            for q in d.iter_page_questions(page_ref):
                qw = _Where(page=pid, question=q.id, path=q.path, position=(p_index, q.index))
                for key in ("visible_if", "required_if"):
                    if key in q.question:
                        self.condition(q.question[key], qw.at(f".{key}"))
                for choice in d.iter_choices(q):
                    if "visible_if" in choice.choice:
                        self.condition(choice.choice["visible_if"], replace(qw, path=choice.path).at(".visible_if"))
                self.pipes(q.question.get("text"), qw.at(".text"))
                if _always_false(q.question.get("visible_if")):
                    required = q.question.get("required") is True
                    self.error(
                        "required_always_hidden" if required else "unreachable_question",
                        f"Question {q.id} is always hidden"
                        + (" but required." if required else ", so no one can answer it."),
                        qw.at(".visible_if"),
                    )
            targets, through = self._rules(page_ref, pages, var_deps)
            skips.append(targets)
            falls_through.append(through and not _always_false(page.get("visible_if")))
        for index, screen in enumerate(self.d.get("end_screens", [])):
            if isinstance(screen, Mapping):
                where = _Where(path=f"end_screens[{index}].text", position=(len(pages), 0))
                self.pipes(screen.get("text"), where)
        self._reachability(pages, falls_through, skips)
        self._variable_cycles(var_deps)

    def _rules(
        self, page: d.PageRef, pages: list[Any], var_deps: dict[str, dict[str, _Where]]
    ) -> tuple[set[int], bool]:
        targets: set[int] = set()
        through = True
        rule_ids: set[str] = set()
        for r_index, rule in enumerate(page.page.get("rules", [])):
            rid = rule.get("id") if isinstance(rule, Mapping) else None
            where = _Where(
                page=page.id,
                rule=rid if is_id(rid) else None,
                path=f"{page.path}.rules[{r_index}]",
                position=(page.index, 10**6),
                inclusive=True,
            )
            if not is_id(rid) or rid in rule_ids:
                self.error(
                    "invalid_id",
                    f"Rule {r_index + 1} of page {page.id}: its id is missing, malformed or repeated.",
                    where,
                )
                continue
            rule_ids.add(rid)
            if "when" in rule:
                self.condition(rule["when"], where.at(".when"))
            actions = rule.get("then", [])
            if not isinstance(actions, list):
                self.error("invalid_definition", f"Rule {rid}: 'then' must be a list of actions.", where.at(".then"))
                continue
            for a_index, action in enumerate(actions):
                at = where.at(f".then[{a_index}]")
                navigates = self._action(action, at, page.index, var_deps, targets)
                if navigates and through and _always_true(rule.get("when")):
                    through = False  # an unconditional jump: the next page is not reached by falling through
        return targets, through

    def _action(
        self,
        action: Any,
        where: _Where,
        p_index: int,
        var_deps: dict[str, dict[str, _Where]],
        targets: set[int],
    ) -> bool:
        kind = action.get("type") if isinstance(action, Mapping) else None
        if kind == "set_variable":
            variable = _key(action.get("variable"))
            refs: set[str] = set()
            self.expression(action.get("expr"), where.at(".expr"), refs)
            if variable not in self.variables:
                self.error(
                    "unknown_variable",
                    f"set_variable names variable {show(action.get('variable'))}, which does not exist.",
                    where.at(".variable"),
                )
                return False
            for ref in refs - {variable}:
                var_deps[variable].setdefault(ref, where)
            return False
        if kind == "skip_to":
            target = _key(action.get("page"))
            index = self.page_index.get(target) if target is not None else None
            if index is None:
                self.error(
                    "unknown_page",
                    f"skip_to names page {show(action.get('page'))}, which does not exist.",
                    where.at(".page"),
                )
            elif index <= p_index:
                self.error(
                    "skip_cycle",
                    f"skip_to {target} goes back: skip logic may only move forward (a backward jump can loop forever).",
                    where.at(".page"),
                )
            else:
                targets.add(index)
            return True
        if kind == "end_survey":
            screen = _key(action.get("end_screen"))
            if screen not in self.end_screens:
                self.error(
                    "unknown_end_screen",
                    f"end_survey names end screen {show(action.get('end_screen'))}, which does not exist.",
                    where.at(".end_screen"),
                )
            return True
        self.error(
            "unknown_action",
            "The action has no type." if kind is None else f"Unknown action {show(kind)}.",
            where.at(".type") if isinstance(action, Mapping) else where,
        )
        return False

    def _reachability(self, pages: list[Any], falls_through: list[bool], skips: list[set[int]]) -> None:
        if not pages:
            return
        reached = {0}
        stack = [0]
        while stack:
            i = stack.pop()
            nexts = set(skips[i]) | ({i + 1} if falls_through[i] else set())
            for j in nexts:
                if j < len(pages) and j not in reached:
                    reached.add(j)
                    stack.append(j)
        for i, page in enumerate(pages):
            if i not in reached or _always_false(page.get("visible_if")):
                self.error(
                    "unreachable_page",
                    f"No path reaches page {page['id']}.",
                    _Where(page=page["id"], path=f"pages[{i}]"),
                )

    def _variable_cycles(self, deps: dict[str, dict[str, _Where]]) -> None:
        state: dict[str, int] = {}

        def visit(node: str, trail: list[str]) -> Iterator[list[str]]:
            state[node] = 1
            for nxt in sorted(deps.get(node, {})):
                if state.get(nxt) == 1:
                    yield [*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt]
                elif nxt not in state:
                    yield from visit(nxt, [*trail, nxt])
            state[node] = 2

        for variable in sorted(deps):
            if variable not in state:
                for cycle in visit(variable, [variable]):
                    # the set_variable action that closes the cycle
                    where = deps[cycle[-2]][cycle[-1]]
                    self.error(
                        "variable_cycle", "Variables depend on each other in a cycle: " + " -> ".join(cycle), where
                    )


def check_structure(definition: Any) -> list[CompileError]:
    """The structural errors only (what every builder write must not introduce)."""
    compiler = _Compiler(definition)
    compiler.structure()
    return compiler.errors


def compile_definition(definition: Any) -> CompileResult:
    """Every error of the definition (structure first; the logic graph when the structure is sound)."""
    compiler = _Compiler(definition)
    compiler.structure()
    if compiler.errors:
        return CompileResult(errors=compiler.errors)
    compiler.logic()
    if not compiler.questions:
        compiler.error("empty_survey", "The survey has no questions.", _Where(path="pages"))
    if compiler.errors:
        return CompileResult(errors=compiler.errors)
    compiled = {
        "definition": definition,
        "questions": {
            qid: {"page": definition["pages"][p]["id"], "position": [p, q], "type": compiler.questions[qid]["type"]}
            for qid, (p, q) in compiler.positions.items()
        },
    }
    return CompileResult(compiled=compiled)
