"""Checking a survey definition: structure (on every builder write) and the logic graph (on publish).

``compile_definition`` refuses, with errors naming the page/question/rule: malformed structure; references
to unknown questions, choices, rows, variables, pages or end screens; conditions on questions that cannot
have been answered yet (forward references); backward skips (cycles in skip logic) and cycles between
variables; pages or questions no path can reach; type mismatches (a number compared with text, a choice
id of another question, a date test on a non-date); a required question that is always hidden.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tenant_apps.surveys.logic.evaluator import OTHER

ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
DATE_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
PIPE_RE = re.compile(r"\{\{\s*(var\.)?([A-Za-z][A-Za-z0-9_]{0,63})\s*(?:\|[^}]*)?\}\}")
# Outside the common subset of Python's and ECMAScript's regular expressions (or meaning different things:
# \s is Unicode-wide in ECMAScript, ASCII here).
UNSUPPORTED_REGEX = re.compile(r"\(\?|\\[AZzpPQEsS]|[*+?}]\+")

TEXT_TYPES = {"short_text", "long_text", "email", "hidden"}
NUMBER_TYPES = {"number", "rating", "nps"}
SINGLE_CHOICE_TYPES = {"single_choice", "dropdown"}
LIST_CHOICE_TYPES = {"multiple_choice", "ranking"}
CHOICE_TYPES = SINGLE_CHOICE_TYPES | LIST_CHOICE_TYPES
QUESTION_TYPES = TEXT_TYPES | NUMBER_TYPES | CHOICE_TYPES | {"yes_no", "date", "matrix", "file_upload", "statement"}
OPERATORS = {
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
NO_VALUE_OPS = {"is_empty", "is_answered"}
NUMERIC_OPS = {"gt", "gte", "lt", "lte", "between"}
DATE_OPS = {"date_before", "date_after"}
LIST_VALUE_OPS = {"in", "contains_any", "contains_all"}
EXPR_LIST_OPS = {"add", "sum", "mul", "min", "max"}
EXPR_PAIR_OPS = {"sub", "div", "round"}
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
MAX_QUESTIONS = 500


@dataclass(frozen=True)
class CompileError:
    code: str
    message: str
    page: str | None = None
    question: str | None = None
    rule: str | None = None

    def as_dict(self) -> dict[str, Any]:
        location = {k: v for k, v in (("page", self.page), ("question", self.question), ("rule", self.rule)) if v}
        return {"code": self.code, "message": self.message, "location": location}


@dataclass
class CompileResult:
    errors: list[CompileError] = field(default_factory=list)
    compiled: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class _Where:
    page: str | None = None
    question: str | None = None
    rule: str | None = None
    # Position of the element: questions strictly before it (or up to it, for page rules) may be read.
    position: tuple[int, int] = (0, 0)
    inclusive: bool = False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _always_false(condition: Any) -> bool:
    if isinstance(condition, dict):
        if condition.get("any") == []:
            return True
        if "not" in condition:
            return condition["not"] == {"all": []}
    return False


def _always_true(condition: Any) -> bool:
    return condition is None or condition == {"all": []}


class _Compiler:
    def __init__(self, definition: Mapping[str, Any]) -> None:
        self.d = definition
        self.errors: list[CompileError] = []
        self.questions: dict[str, dict[str, Any]] = {}
        self.positions: dict[str, tuple[int, int]] = {}
        self.page_index: dict[str, int] = {}
        self.variables: set[str] = set()
        self.end_screens: set[str] = set()

    def error(self, code: str, message: str, where: _Where | None = None) -> None:
        where = where or _Where()
        self.errors.append(CompileError(code, message, where.page, where.question, where.rule))

    # --- structure ----------------------------------------------------------------------------
    def structure(self) -> None:
        d = self.d
        if not isinstance(d, Mapping):
            self.error("invalid_definition", "The definition must be a JSON object.")
            return
        pages = d.get("pages", [])
        if not isinstance(pages, list):
            self.error("invalid_definition", "'pages' must be a list.")
            return
        for key in ("variables", "end_screens"):
            if not isinstance(d.get(key, []), list):
                self.error("invalid_definition", f"'{key}' must be a list.")
                return
        for variable in d.get("variables", []):
            vid = variable.get("id") if isinstance(variable, dict) else None
            if not isinstance(vid, str) or not ID_RE.match(vid):
                self.error("invalid_id", f"Variable id {vid!r} must be a letter then letters, digits or _.")
            elif vid in self.variables:
                self.error("duplicate_id", f"Variable {vid!r} is defined twice.")
            else:
                self.variables.add(vid)
                if not _is_number(variable.get("initial", 0)):
                    self.error("type_mismatch", f"Variable {vid!r} must start with a number.")
        for screen in d.get("end_screens", []):
            sid = screen.get("id") if isinstance(screen, dict) else None
            if not isinstance(sid, str) or not ID_RE.match(sid) or sid in self.end_screens:
                self.error("invalid_id", f"End screen id {sid!r} is missing, malformed or used twice.")
            else:
                self.end_screens.add(sid)
        for p_index, page in enumerate(pages):
            self._page_structure(p_index, page)
        if len(self.questions) > MAX_QUESTIONS:
            self.error("too_many_questions", f"A survey may have at most {MAX_QUESTIONS} questions.")

    def _page_structure(self, p_index: int, page: Any) -> None:
        pid = page.get("id") if isinstance(page, dict) else None
        if not isinstance(pid, str) or not ID_RE.match(pid):
            self.error("invalid_id", f"Page {p_index + 1} needs an id (a letter then letters, digits or _).")
            return
        if pid in self.page_index or pid in self.questions:
            self.error("duplicate_id", f"Id {pid!r} is used twice.", _Where(page=pid))
            return
        self.page_index[pid] = p_index
        questions = page.get("questions", [])
        if not isinstance(questions, list) or not isinstance(page.get("rules", []), list):
            self.error("invalid_definition", "'questions' and 'rules' must be lists.", _Where(page=pid))
            return
        for q_index, question in enumerate(questions):
            self._question_structure(pid, p_index, q_index, question)

    def _question_structure(self, pid: str, p_index: int, q_index: int, q: Any) -> None:
        qid = q.get("id") if isinstance(q, dict) else None
        where = _Where(page=pid, question=qid if isinstance(qid, str) else None)
        if not isinstance(qid, str) or not ID_RE.match(qid):
            self.error("invalid_id", f"Question {q_index + 1} of page {pid!r} needs a valid id.", where)
            return
        if qid in self.questions or qid in self.page_index:
            self.error("duplicate_id", f"Id {qid!r} is used twice.", where)
            return
        qtype = q.get("type")
        if qtype not in QUESTION_TYPES:
            self.error("unknown_type", f"Question {qid!r} has unknown type {qtype!r}.", where)
            return
        self.questions[qid] = q
        self.positions[qid] = (p_index, q_index)
        if not isinstance(q.get("text", ""), str):
            self.error("invalid_definition", f"Question {qid!r}: 'text' must be a string.", where)
        for key in SETTINGS_NUMBERS:
            if key in q and not (_is_number(q[key]) and q[key] >= 0):
                self.error("invalid_setting", f"Question {qid!r}: {key!r} must be a non-negative number.", where)
        for low, high in (("min", "max"), ("min_length", "max_length"), ("min_selections", "max_selections")):
            if _is_number(q.get(low)) and _is_number(q.get(high)) and q[low] > q[high]:
                self.error("invalid_setting", f"Question {qid!r}: {low} is above {high}.", where)
        if "pattern" in q and (not isinstance(q["pattern"], str) or not self._regex_ok(q["pattern"])):
            self.error("invalid_regex", f"Question {qid!r}: the validation pattern is not a supported regex.", where)
        if qtype in CHOICE_TYPES:
            self._ids(q.get("choices"), "choice", qid, where, required=True)
        if qtype == "matrix":
            self._ids(q.get("rows"), "row", qid, where, required=True)
            self._ids(q.get("columns"), "column", qid, where, required=True)

    def _ids(self, items: Any, kind: str, qid: str, where: _Where, *, required: bool) -> None:
        if not isinstance(items, list) or (required and not items):
            self.error("missing_choices", f"Question {qid!r} needs at least one {kind}.", where)
            return
        seen: set[str] = set()
        for item in items:
            cid = item.get("id") if isinstance(item, dict) else None
            if not isinstance(cid, str) or not ID_RE.match(cid) or cid in seen:
                self.error(
                    "invalid_id", f"Question {qid!r}: {kind} id {cid!r} is missing, malformed or repeated.", where
                )
            else:
                seen.add(cid)
                if kind == "choice" and "score" in item and not _is_number(item["score"]):
                    self.error("type_mismatch", f"Question {qid!r}: choice {cid!r} score must be a number.", where)

    @staticmethod
    def _regex_ok(pattern: str) -> bool:
        """Checked the way the evaluator compiles it (ASCII classes, ECMAScript ``$``)."""
        from tenant_apps.surveys.logic.evaluator import _regex

        return not UNSUPPORTED_REGEX.search(pattern) and _regex(pattern) is not None

    # --- references and types -------------------------------------------------------------------
    def _readable(self, qid: str, where: _Where) -> dict[str, Any] | None:
        question = self.questions.get(qid)
        if question is None:
            self.error("unknown_question", f"The condition refers to unknown question {qid!r}.", where)
            return None
        position = self.positions[qid]
        before = position <= where.position if where.inclusive else position < where.position
        if not before:
            self.error(
                "forward_reference",
                f"The condition refers to question {qid!r}, which cannot have been answered yet.",
                where,
            )
            return None
        if question["type"] == "statement":
            self.error("type_mismatch", f"Question {qid!r} is a statement and has no answer.", where)
            return None
        return question

    def condition(self, c: Any, where: _Where) -> None:
        if not isinstance(c, dict):
            self.error("invalid_condition", "A condition must be an object.", where)
            return
        if "all" in c or "any" in c:
            items = c.get("all", c.get("any"))
            if not isinstance(items, list):
                self.error("invalid_condition", "'all'/'any' take a list of conditions.", where)
                return
            for item in items:
                self.condition(item, where)
            return
        if "not" in c:
            self.condition(c["not"], where)
            return
        op = c.get("op")
        if op not in OPERATORS:
            self.error("unknown_operator", f"Unknown operator {op!r}.", where)
            return
        kind = self._left_kind(c, where)
        if op in NO_VALUE_OPS or kind is None:
            return
        if "value" not in c:
            self.error("invalid_condition", f"Operator {op!r} needs a value.", where)
            return
        value = c["value"]
        if isinstance(value, dict) and ("q" in value or "var" in value):
            self._left_kind(value, where)
            return
        self._check_types(op, kind, value, c, where)

    def _left_kind(self, c: Mapping[str, Any], where: _Where) -> dict[str, Any] | None:
        if "var" in c:
            if c["var"] not in self.variables:
                self.error("unknown_variable", f"Unknown variable {c['var']!r}.", where)
                return None
            return {"type": "variable"}
        qid = c.get("q")
        if not isinstance(qid, str):
            self.error("invalid_condition", "A comparison needs 'q' (a question) or 'var' (a variable).", where)
            return None
        question = self._readable(qid, where)
        if question is None:
            return None
        if "row" in c:
            rows = {r.get("id") for r in question.get("rows", []) if isinstance(r, dict)}
            if question["type"] != "matrix" or c["row"] not in rows:
                self.error("unknown_row", f"Question {qid!r} has no row {c['row']!r}.", where)
                return None
            return {"type": "matrix_row", "choices": question.get("columns", []), "id": qid}
        return question

    def _check_types(
        self, op: str, question: Mapping[str, Any], value: Any, c: Mapping[str, Any], where: _Where
    ) -> None:
        qtype, qid = question["type"], question.get("id", c.get("q"))
        label = f"question {qid!r}" if qtype != "variable" else f"variable {c.get('var')!r}"

        def mismatch(message: str) -> None:
            self.error("type_mismatch", f"{label}: {message}", where)

        if op in NUMERIC_OPS:
            if qtype not in NUMBER_TYPES | {"variable"}:
                return mismatch(f"'{op}' compares numbers, but this is a {qtype} question.")
            ok = (
                (isinstance(value, list) and len(value) == 2 and all(map(_is_number, value)) and value[0] <= value[1])
                if op == "between"
                else _is_number(value)
            )
            if not ok:
                return mismatch(f"'{op}' needs {'[low, high] numbers' if op == 'between' else 'a number'}.")
            return None
        if op in DATE_OPS:
            if qtype != "date":
                return mismatch(f"'{op}' needs a date question.")
            if not (isinstance(value, str) and DATE_RE.match(value)):
                return mismatch(f"'{op}' needs a YYYY-MM-DD date, not {value!r}.")
            return None
        if op == "matches":
            if qtype not in TEXT_TYPES:
                return mismatch("'matches' needs a text question.")
            if not (isinstance(value, str) and self._regex_ok(value)):
                return mismatch(f"{value!r} is not a supported regular expression.")
            return None
        values = value if op in LIST_VALUE_OPS else [value]
        if op in LIST_VALUE_OPS and not isinstance(value, list):
            return mismatch(f"'{op}' needs a list of values.")
        for item in values:
            self._check_value(qtype, question, item, mismatch, where)
        return None

    def _check_value(self, qtype: str, question: Mapping[str, Any], item: Any, mismatch: Any, where: _Where) -> None:
        if qtype in CHOICE_TYPES or qtype == "matrix_row":
            ids = {ch.get("id") for ch in question.get("choices", []) if isinstance(ch, dict)}
            if question.get("other"):
                ids.add(OTHER)
            if item not in ids:
                self.error("unknown_choice", f"{item!r} is not a choice of question {question.get('id')!r}.", where)
        elif qtype in NUMBER_TYPES and not _is_number(item):
            mismatch(f"compares a number with {item!r}.")
        elif qtype in TEXT_TYPES | {"date"} and not isinstance(item, str):
            mismatch(f"compares text with {item!r}.")
        elif qtype == "yes_no" and not isinstance(item, bool):
            mismatch(f"a yes/no answer is true or false, not {item!r}.")

    def expression(self, e: Any, where: _Where, refs: set[str]) -> None:
        if _is_number(e):
            return
        if not isinstance(e, dict) or len(e) != 1:
            self.error("invalid_expression", f"Malformed expression {e!r}.", where)
            return
        ((kind, arg),) = e.items()
        if kind == "var":
            if arg not in self.variables:
                self.error("unknown_variable", f"Unknown variable {arg!r}.", where)
            refs.add(arg)
        elif kind in ("q", "score", "count"):
            question = self._readable(arg, where) if isinstance(arg, str) else None
            if question is not None and kind == "score" and question["type"] not in CHOICE_TYPES:
                self.error("type_mismatch", f"'score' needs a choice question; {arg!r} is {question['type']}.", where)
            if question is not None and kind == "q" and question["type"] not in NUMBER_TYPES:
                self.error("type_mismatch", f"Question {arg!r} is not a number question.", where)
        elif kind in EXPR_LIST_OPS | EXPR_PAIR_OPS:
            if not isinstance(arg, list) or (kind in EXPR_PAIR_OPS and len(arg) != 2):
                self.error(
                    "invalid_expression", f"'{kind}' takes a list{' of two' if kind in EXPR_PAIR_OPS else ''}.", where
                )
                return
            for item in arg:
                self.expression(item, where, refs)
        else:
            self.error("invalid_expression", f"Unknown expression {kind!r}.", where)

    def pipes(self, text: Any, where: _Where) -> None:
        if not isinstance(text, str):
            return
        for is_var, ident in PIPE_RE.findall(text):
            if is_var:
                if ident not in self.variables:
                    self.error("unknown_variable", f"The text pipes unknown variable {ident!r}.", where)
            else:
                self._readable(ident, where)

    # --- the logic graph --------------------------------------------------------------------------
    def logic(self) -> None:
        pages = self.d.get("pages", [])
        var_deps: dict[str, set[str]] = {v: set() for v in self.variables}
        falls_through: list[bool] = []
        skips: list[set[int]] = []
        for p_index, page in enumerate(pages):
            pid = page["id"]
            page_where = _Where(page=pid, position=(p_index, -1))
            if "visible_if" in page:
                self.condition(page["visible_if"], page_where)
            self.pipes(page.get("title"), page_where)
            for q_index, q in enumerate(page.get("questions", [])):
                qw = _Where(page=pid, question=q["id"], position=(p_index, q_index))
                for key in ("visible_if", "required_if"):
                    if key in q:
                        self.condition(q[key], qw)
                for choice in q.get("choices", []) or []:
                    if isinstance(choice, dict) and "visible_if" in choice:
                        self.condition(choice["visible_if"], qw)
                self.pipes(q.get("text"), qw)
                if _always_false(q.get("visible_if")):
                    code = "required_always_hidden" if q.get("required") else "unreachable_question"
                    self.error(
                        code,
                        f"Question {q['id']!r} is always hidden"
                        + (" but required." if q.get("required") else ", so no one can answer it."),
                        qw,
                    )
            targets, through = self._rules(page, p_index, pages, var_deps)
            skips.append(targets)
            falls_through.append(through and not _always_false(page.get("visible_if")))
        for screen in self.d.get("end_screens", []):
            self.pipes(screen.get("text"), _Where(position=(len(pages), 0)))
        self._reachability(pages, falls_through, skips)
        self._variable_cycles(var_deps)

    def _rules(
        self, page: Mapping[str, Any], p_index: int, pages: list[Any], var_deps: dict[str, set[str]]
    ) -> tuple[set[int], bool]:
        targets: set[int] = set()
        through = True
        rule_ids: set[str] = set()
        for rule in page.get("rules", []):
            rid = rule.get("id") if isinstance(rule, dict) else None
            where = _Where(page=page["id"], rule=rid, position=(p_index, 10**6), inclusive=True)
            if not isinstance(rid, str) or not ID_RE.match(rid) or rid in rule_ids:
                self.error("invalid_id", f"Rule id {rid!r} is missing, malformed or repeated.", where)
                continue
            rule_ids.add(rid)
            if "when" in rule:
                self.condition(rule["when"], where)
            for action in rule.get("then", []) if isinstance(rule.get("then", []), list) else []:
                navigates = self._action(action, where, p_index, pages, var_deps, targets)
                if navigates and through and _always_true(rule.get("when")):
                    through = False  # an unconditional jump: the next page is not reached by falling through
        return targets, through

    def _action(
        self,
        action: Any,
        where: _Where,
        p_index: int,
        pages: list[Any],
        var_deps: dict[str, set[str]],
        targets: set[int],
    ) -> bool:
        kind = action.get("type") if isinstance(action, dict) else None
        if kind == "set_variable":
            variable = action.get("variable")
            if variable not in self.variables:
                self.error("unknown_variable", f"set_variable names unknown variable {variable!r}.", where)
                return False
            refs: set[str] = set()
            self.expression(action.get("expr"), where, refs)
            var_deps[variable] |= refs - {variable}
            return False
        if kind == "skip_to":
            target = action.get("page")
            index = self.page_index.get(target) if isinstance(target, str) else None
            if index is None:
                self.error("unknown_page", f"skip_to names unknown page {target!r}.", where)
            elif index <= p_index:
                self.error(
                    "skip_cycle",
                    f"skip_to {target!r} goes back: skip logic may only move forward "
                    "(a backward jump can loop forever).",
                    where,
                )
            else:
                targets.add(index)
            return True
        if kind == "end_survey":
            screen = action.get("end_screen")
            if screen not in self.end_screens:
                self.error("unknown_end_screen", f"end_survey names unknown end screen {screen!r}.", where)
            return True
        self.error("unknown_action", f"Unknown action {kind!r}.", where)
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
                self.error("unreachable_page", f"No path reaches page {page['id']!r}.", _Where(page=page["id"]))

    def _variable_cycles(self, deps: dict[str, set[str]]) -> None:
        state: dict[str, int] = {}

        def visit(node: str, trail: list[str]) -> Iterator[list[str]]:
            state[node] = 1
            for nxt in sorted(deps.get(node, ())):
                if state.get(nxt) == 1:
                    yield [*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt]
                elif nxt not in state:
                    yield from visit(nxt, [*trail, nxt])
            state[node] = 2

        for variable in sorted(deps):
            if variable not in state:
                for cycle in visit(variable, [variable]):
                    self.error("variable_cycle", "Variables depend on each other in a cycle: " + " -> ".join(cycle))


def check_structure(definition: Mapping[str, Any]) -> list[CompileError]:
    compiler = _Compiler(definition)
    compiler.structure()
    return compiler.errors


def compile_definition(definition: Mapping[str, Any]) -> CompileResult:
    compiler = _Compiler(definition)
    compiler.structure()
    if compiler.errors:
        return CompileResult(errors=compiler.errors)
    compiler.logic()
    if not compiler.questions:
        compiler.error("empty_survey", "The survey has no questions.")
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
