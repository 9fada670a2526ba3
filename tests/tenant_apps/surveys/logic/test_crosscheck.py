"""The two evaluators of the rule language agree: random surveys and answers go through the Python evaluator and
through ``static/surveys/logic.js`` (one long-lived ``node logic_cli.mjs`` for the session), and the results must
be equal. Both sides see the same JSON (a round trip first), and both results are compared after a JSON round trip
(so 1 and 1.0 are equal)."""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tenant_apps.surveys.definition import is_date, regex_check
from tenant_apps.surveys.logic.compiler import compile_definition
from tenant_apps.surveys.logic.evaluator import compare, evaluate, shuffle

CLI = Path(__file__).resolve().parents[4] / "tenant_apps" / "surveys" / "static" / "surveys" / "logic_cli.mjs"
# no example database: the runs leave nothing behind in the repository
SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

Json = Any


class NodeLogic:
    """One ``node logic_cli.mjs``: a JSON line in, a JSON line out."""

    def __init__(self) -> None:
        node = shutil.which("node") or "/usr/bin/node"
        self.process = subprocess.Popen([node, str(CLI)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def call(self, request: Json) -> Json:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"node exited with {self.process.wait()}")
        return json.loads(line, parse_int=parse_int)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
def node() -> Iterator[NodeLogic]:
    if not (shutil.which("node") or Path("/usr/bin/node").exists()):
        pytest.skip("node is not installed")
    logic = NodeLogic()
    yield logic
    logic.close()


def parse_int(digits: str) -> int | float:
    """Past 2**53 a JSON integer stands for a double: JavaScript prints 2.0**60 as 1152921504606847000."""
    value = int(digits)
    return value if abs(value) < 2**53 else float(value)


def roundtrip(value: Json) -> Json:
    return json.loads(json.dumps(value), parse_int=parse_int)


def both(node: NodeLogic, definition: Json, answers: Json) -> tuple[Json, Json]:
    """The Python and the JavaScript result for the same (JSON round-tripped) input."""
    definition, answers = roundtrip(definition), roundtrip(answers)
    python = roundtrip(evaluate(definition, answers))
    javascript = node.call({"definition": definition, "answers": answers})
    assert set(javascript) != {"error"}, javascript  # logic.js threw where Python did not
    return python, javascript


# --- values -------------------------------------------------------------------------------------------------------

OPS = [
    "equals", "not_equals", "gt", "gte", "lt", "lte", "between", "in", "contains", "contains_any", "contains_all",
    "is_empty", "is_answered", "matches", "date_before", "date_after",
]  # fmt: skip
TYPES = ["number", "short_text", "single_choice", "multiple_choice", "yes_no", "date"]
CHOICE_IDS = ["c0", "c1", "c2", "c3"]
TEXTS = ["", "a", "ab", "abc", "Ann", "a b", "42", "x\ny", "a\r", "ab\n", "é", "😀", "{x}", "c0", "__other__", "yes"]
DATES = [
    "2024-01-05", "2024-12-31", "2023-02-29", "1999-07-15", "2024-13-01", "2024-1-5", "12024-01-01", "2024-01-05\n",
    "\uff12\uff10\uff12\uff14-01-05", "2024-00-10", "2024-02-32",
]  # fmt: skip
# valid and invalid, ECMAScript-only and Python-only syntax, the `$` rewrite, back-references
PATTERNS = [
    "^a", "a$", "b$", "^\\d+$", "\\d", "\\w+", "^[a-c]+$", "(a|b)c", "(a)?b\\1", "(a)\\1", ".", "^.$", "^..$",
    "\\bab", "\\Bb", "a{2}", "a{,2}", "a{", "{}", "[", "(", ")", "a**", "\\", "\\d{4}-\\d{2}", "^$", "x\\ny",
    "\\s", "\\S", "[^\\d]", "é", "😀", "^.{2}$", "(?i)a", "(?:a)+", "\\Z", "\\A", "a\\Z", "[$]", "\\$", "\\-",
    "[\\w-]", "\\x41", "\\u0041", "\\012", "\\0", "\\a", "\\c", "\\k", "]", "}", "a|", "|", "\\r", "\\n$",
    "[]a]", "[^]", "(?P<n>a)(?P=n)", "(?=a)", "(?<=a)b", "(a|)+\\1", "[a-", "[z-a]", "\\p{L}", "a{2,1}",
    "(?s)^.$", "(?m)^b", "(?x) a b # c", "(?i:A)b", "(?i)[^A]", "a(?i)",
    "\\s+", "[\\s\\d]", "^\\S+$", "[^\\s]", "a.c", "\\B", "^\\B$", "x{2,}", "a+?b", "[a-c-]", "\\t", "\\/",
    "^(?:a|b)*$", "a{0,2}b", "[\\w.]+@", "\\.", "(a|)+", "\\v\\f",
]  # fmt: skip
SUBSET_PATTERNS = [p for p in PATTERNS if regex_check(p) is None]
FLOATS = [
    0.5, 2.5, -1.5, 0.1, 1e-05, 1.5e-07, 123.456, 1e15 + 0.5, 3.14159, -0.25, 1e300, -1e300, 1.7976931348623157e308,
]  # fmt: skip

scalars = st.one_of(
    st.integers(-5, 50),
    st.sampled_from(FLOATS),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.sampled_from(TEXTS),
    st.sampled_from(CHOICE_IDS),
    st.sampled_from(DATES),
    st.text(alphabet="ab1 -\n", max_size=5),
)
literals = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from(["r1", "r2", "a"]), scalars, max_size=2),
)
texts = st.one_of(st.sampled_from(TEXTS), st.text(alphabet="ab1 -\n", max_size=6))
floats = st.one_of(st.sampled_from(FLOATS), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
numbers = st.one_of(st.integers(-10, 100), floats)


def operand_for(draw: st.DrawFn, op: str) -> Json:
    """A value likely to mean something to the operator (or, sometimes, any literal)."""
    if draw(st.integers(0, 3)) == 0:
        return draw(literals)
    choice_lists = st.lists(st.one_of(st.sampled_from([*CHOICE_IDS, "__other__"]), scalars), max_size=3)
    typed = {
        "matches": st.sampled_from(SUBSET_PATTERNS),
        "date_before": st.sampled_from(DATES),
        "date_after": st.sampled_from(DATES),
        "between": st.lists(numbers, min_size=2, max_size=2),
        "in": choice_lists,
        "contains_any": choice_lists,
        "contains_all": choice_lists,
        "contains": st.one_of(st.sampled_from([*CHOICE_IDS, "a", "b", ""]), texts),
        **dict.fromkeys(("gt", "gte", "lt", "lte"), numbers),
    }
    return draw(typed.get(op, st.one_of(scalars, st.lists(st.sampled_from(CHOICE_IDS), max_size=3))))


# What the compiler accepts, by the left side's type: the operators and a strategy for their value.
VALID_DATES = [x for x in DATES if is_date(x)]


def typed_operand(draw: st.DrawFn, question: Json | None) -> tuple[str, Json]:
    """An operator and a value the compiler accepts for this question (``None``: a variable)."""
    qtype = "variable" if question is None else question["type"]
    ids = [] if question is None else [c["id"] for c in question.get("choices", [])]
    if question is not None and question.get("other") and ids:
        ids.append("__other__")
    id_lists = st.lists(st.sampled_from(ids), max_size=3) if ids else st.just([])
    by_type: dict[str, dict[str, st.SearchStrategy[Json]]] = {
        "variable": {
            **dict.fromkeys(("equals", "not_equals", "gt", "gte", "lt", "lte"), numbers),
            "between": st.lists(numbers, min_size=2, max_size=2).map(sorted),
        },
        "number": {
            **dict.fromkeys(("equals", "not_equals", "gt", "gte", "lt", "lte"), numbers),
            "between": st.lists(numbers, min_size=2, max_size=2).map(sorted),
            "in": st.lists(numbers, max_size=3),
        },
        "short_text": {
            **dict.fromkeys(("equals", "not_equals", "contains"), texts),
            **dict.fromkeys(("in", "contains_any", "contains_all"), st.lists(texts, max_size=3)),
            "matches": st.sampled_from(SUBSET_PATTERNS),
        },
        "single_choice": {
            **dict.fromkeys(("equals", "not_equals", "contains"), st.sampled_from(ids or ["c0"])),
            **dict.fromkeys(("in", "contains_any", "contains_all"), id_lists),
        },
        "multiple_choice": {
            **dict.fromkeys(("equals", "not_equals", "contains_any", "contains_all"), id_lists),
            "contains": st.sampled_from(ids or ["c0"]),
        },
        "yes_no": {**dict.fromkeys(("equals", "not_equals"), st.booleans()), "in": st.lists(st.booleans())},
        "date": {
            **dict.fromkeys(("date_before", "date_after"), st.sampled_from(VALID_DATES)),
            **dict.fromkeys(("equals", "not_equals"), st.sampled_from(DATES)),
        },
    }
    ops = by_type[qtype]
    op = draw(st.sampled_from([*ops, "is_empty", "is_answered"]))
    if op in ("is_empty", "is_answered"):
        return op, None
    return op, draw(ops[op])


def condition(draw: st.DrawFn, earlier: list[Json], variables: list[str], depth: int = 0) -> Json:
    """A condition the compiler accepts: it reads earlier questions or declared variables, with fitting values."""
    kind = draw(st.sampled_from(["compare"] * 4 + (["all", "any", "not"] if depth < 2 else [])))
    if kind in ("all", "any"):
        return {kind: [condition(draw, earlier, variables, depth + 1) for _ in range(draw(st.integers(1, 3)))]}
    if kind == "not":
        return {"not": condition(draw, earlier, variables, depth + 1)}
    sources = [*earlier] * 4 + [None] * (1 if variables else 0)
    question = draw(st.sampled_from(sources))
    left: dict[str, Json] = {"q": question["id"]} if question is not None else {"var": draw(st.sampled_from(variables))}
    op, value = typed_operand(draw, question)
    comparison = {**left, "op": op}
    if op not in ("is_empty", "is_answered"):
        if draw(st.integers(0, 9)) == 0:  # a reference on the right
            refs = [{"q": q["id"]} for q in earlier] + [{"var": v} for v in variables]
            value = draw(st.sampled_from(refs))
        comparison["value"] = value
    return comparison


def expression(draw: st.DrawFn, earlier: list[Json], variables: list[str], depth: int = 0) -> Json:
    numeric = [q["id"] for q in earlier if q["type"] == "number"]
    choice = [q["id"] for q in earlier if "choices" in q]
    leaves = [
        numbers,
        st.sampled_from([1e300, -1e300, 1.7976931348623157e308, -0.0, 1e-320]),  # overflow, NaN, -0
        *([st.sampled_from(numeric).map(lambda q: {"q": q})] if numeric else []),
        *([st.sampled_from(variables).map(lambda v: {"var": v})] if variables else []),
        *([st.sampled_from(choice).map(lambda q: {"score": q})] if choice else []),
        *([st.sampled_from([q["id"] for q in earlier]).map(lambda q: {"count": q})] if earlier else []),
    ]
    if depth >= 2 or draw(st.integers(0, 2)) == 0:
        return draw(st.one_of(*leaves))
    kind = draw(st.sampled_from(["add", "sum", "mul", "min", "max", "sub", "div", "round"]))
    size = 2 if kind in ("sub", "div", "round") else draw(st.integers(0, 3))
    args = [expression(draw, earlier, variables, depth + 1) for _ in range(size)]
    if kind == "round" and draw(st.booleans()):
        args[1] = draw(st.sampled_from([0, 1, 2, 3.7, -1, 15, 16, 20, 1e300, 0.5]))
    if kind == "div" and draw(st.integers(0, 4)) == 0:
        args[1] = 0
    return {kind: args}


def piped(draw: st.DrawFn, earlier: list[Json], variables: list[str]) -> str:
    ids = [q["id"] for q in earlier]
    pieces = [
        st.sampled_from(["Hi ", "? ", "{x}", "{{", "}}", "{ {a}}", " and ", "😀", "{{\tq0}}"]),
        *(
            [
                st.sampled_from(ids).map(lambda q: f"{{{{{q}}}}}"),
                st.sampled_from(ids).map(lambda q: f"{{{{ {q}  |fallback }}}}"),
                st.sampled_from(ids).map(lambda q: f"{{{{{q}|}}}}"),
            ]
            if ids
            else []
        ),
        *(
            [
                st.sampled_from(variables).map(lambda v: f"{{{{var.{v}|none}}}}"),
                st.sampled_from(variables).map(lambda v: f"{{{{ var.{v} }}}}"),
            ]
            if variables
            else []
        ),
    ]
    return "".join(draw(st.lists(st.one_of(*pieces), min_size=0, max_size=4)))


def make_question(draw: st.DrawFn, qid: str, earlier: list[Json], variables: list[str]) -> Json:
    qtype = draw(st.sampled_from(TYPES))
    question: dict[str, Json] = {"id": qid, "type": qtype}
    can_read = bool(earlier or variables)
    if can_read and draw(st.integers(0, 3)) == 0:
        question["visible_if"] = condition(draw, earlier, variables)
    if draw(st.integers(0, 3)) == 0:
        question["required"] = draw(st.booleans())
    if can_read and draw(st.integers(0, 3)) == 0:
        question["required_if"] = condition(draw, earlier, variables)
    if draw(st.integers(0, 4)) > 0:
        question["text"] = draw(st.sampled_from(["", "Q "])) + piped(draw, earlier, variables)
    if qtype in ("single_choice", "multiple_choice"):
        choices = []
        for cid in CHOICE_IDS[: draw(st.integers(1, 4))]:
            choice: dict[str, Json] = {"id": cid}
            if draw(st.integers(0, 3)) > 0:
                choice["text"] = draw(st.sampled_from(["Red", "Green", "Blue", "", "a, b"]))
            if draw(st.booleans()):
                choice["score"] = draw(st.one_of(st.integers(-3, 10), st.sampled_from([0.5, 2.25])))
            if can_read and draw(st.integers(0, 2)) == 0:
                choice["visible_if"] = condition(draw, earlier, variables)
            choices.append(choice)
        question["choices"] = choices
        if draw(st.integers(0, 2)) > 0:
            question["other"] = draw(st.sampled_from([True, True, True, False]))
    return question


def make_action(
    draw: st.DrawFn, earlier: list[Json], variables: list[str], later_pages: list[str], screens: list[str]
) -> Json:
    kinds = (
        ["set_variable"] * 4 * bool(variables) + ["skip_to"] * 2 * bool(later_pages) + ["end_survey"] * bool(screens)
    )
    kind = draw(st.sampled_from(kinds))
    if kind == "set_variable":
        variable = draw(st.sampled_from(variables))
        return {"type": kind, "variable": variable, "expr": expression(draw, earlier, variables)}
    if kind == "skip_to":
        return {"type": kind, "page": draw(st.sampled_from(later_pages))}
    return {"type": kind, "end_screen": draw(st.sampled_from(screens))}


@st.composite
def surveys(draw: st.DrawFn) -> tuple[Json, dict[str, str]]:
    """A definition the compiler accepts: 2-4 pages of 1-5 questions whose conditions look at earlier questions,
    and the types."""
    variables = [f"v{i}" for i in range(draw(st.integers(0, 3)))]
    declared = [{"id": vid, **({"initial": draw(numbers)} if draw(st.booleans()) else {})} for vid in variables]
    end_screens = [
        {"id": f"e{i}", **({"text": piped(draw, [], variables)} if draw(st.booleans()) else {})}
        for i in range(draw(st.integers(0, 2)))
    ]
    page_ids = [f"p{p}" for p in range(draw(st.integers(2, 4)))]
    pages = []
    earlier: list[Json] = []
    types: dict[str, str] = {}
    for p_index, page_id in enumerate(page_ids):
        page: dict[str, Json] = {"id": page_id}
        if (earlier or variables) and draw(st.integers(0, 2)) == 0:
            page["visible_if"] = condition(draw, earlier, variables)
        if draw(st.booleans()):
            page["title"] = draw(st.sampled_from(["", "Page"])) + piped(draw, earlier, variables)
        page["questions"] = []
        for _ in range(draw(st.integers(1, 5))):
            question = make_question(draw, f"q{len(types)}", earlier, variables)
            page["questions"].append(question)
            earlier.append(question)
            types[question["id"]] = question["type"]
        later_pages = page_ids[p_index + 1 :]
        screens = [s["id"] for s in end_screens]
        rules = [
            {
                "id": f"r{len(pages)}_{r}",
                "when": condition(draw, earlier, variables),
                "then": [
                    make_action(draw, earlier, variables, later_pages, screens) for _ in range(draw(st.integers(1, 3)))
                ],
            }
            for r in range(draw(st.integers(0, 2)) if (variables or later_pages or screens) else 0)
        ]
        if rules:
            page["rules"] = rules
        pages.append(page)
    definition: dict[str, Json] = {"pages": pages}
    if declared or draw(st.booleans()):
        definition["variables"] = declared
    if end_screens:
        definition["end_screens"] = end_screens
    result = compile_definition(roundtrip(definition))
    assume(result.ok)  # e.g. a page that every path skips
    return definition, types


def answer_for(draw: st.DrawFn, qtype: str) -> Json:
    """Mostly the type's kind of answer; sometimes a wrong type or an empty value."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.one_of(st.sampled_from([None, "", [], {}, 0, False, "x"]), scalars))
    choices = st.sampled_from([*CHOICE_IDS, "__other__", "__other__", "c9"])
    by_type = {
        "number": numbers,
        "short_text": texts,
        "single_choice": choices,
        "multiple_choice": st.lists(choices, max_size=4, unique=True),
        "yes_no": st.booleans(),
        "date": st.sampled_from(DATES),
    }
    return draw(by_type[qtype])


@st.composite
def cases(draw: st.DrawFn) -> tuple[Json, Json]:
    definition, types = draw(surveys())
    answers: dict[str, Json] = {}
    for qid, qtype in types.items():
        if draw(st.integers(0, 4)) > 0:
            answers[qid] = answer_for(draw, qtype)
        if qtype in ("single_choice", "multiple_choice") and draw(st.integers(0, 3)) > 0:
            # the "Other" text; never a float (JSON cannot tell 2.0 from 2, and str() of a list shows it)
            answers[f"{qid}__other"] = draw(
                st.one_of(texts, st.sampled_from([None, 7, True, ["a", "b"], {"k": "v"}, "it's"]))
            )
    if draw(st.integers(0, 4)) == 0:
        answers["not_a_question"] = draw(scalars)
    return definition, answers


# --- the cross-checks ---------------------------------------------------------------------------------------------


@SETTINGS
@given(case=cases())
def test_the_visible_questions_agree(node: NodeLogic, case: tuple[Json, Json]) -> None:
    python, javascript = both(node, *case)
    assert javascript["questions"] == python["questions"]
    assert javascript["pages"] == python["pages"]


@SETTINGS
@given(case=cases())
def test_the_full_results_agree(node: NodeLogic, case: tuple[Json, Json]) -> None:
    python, javascript = both(node, *case)
    assert javascript == python
    assert list(javascript) == list(python)  # the same keys in the same order


@SETTINGS
@given(
    ids=st.lists(st.text(alphabet="abcxyz_019", min_size=1, max_size=4), max_size=30),
    seed=st.integers(0, 2**32 - 1),
)
def test_shuffle_agrees(node: NodeLogic, ids: list[str], seed: int) -> None:
    assert node.call({"shuffle": {"ids": ids, "seed": seed}}) == shuffle(ids, seed)


@SETTINGS
@given(
    op=st.sampled_from([*OPS, "bogus"]),
    left=st.one_of(literals, texts, st.sampled_from(DATES), st.lists(st.sampled_from(CHOICE_IDS), max_size=3)),
    data=st.data(),
)
def test_compare_agrees(node: NodeLogic, op: str, left: Json, data: st.DataObject) -> None:
    right = roundtrip(operand_for(data.draw, op))
    left = roundtrip(left)
    assume(op != "matches" or regex_check(right) is None)  # the compiler refuses other patterns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # re: "Possible nested set"
        expected = compare(op, left, right)
    assert node.call({"compare": {"op": op, "left": left, "right": right}}) == expected


# Patterns built from pieces of the syntax Python and ECMAScript share or spell differently.
PATTERN_PIECES = [
    "a", "b", "1", ".", "^", "$", "|", "(", ")", "[", "]", "[^", "-", "*", "+", "?", "{", "}", "{2}", "{1,3}",
    "{,2}", "\\d", "\\w", "\\s", "\\b", "\\B", "\\D", "\\W", "\\1", "\\0", "\\x41", "\\n", "\\Z", "\\-", "\\a",
    "(a)", "(a|)", "é", "😀", "\n",
]  # fmt: skip


@SETTINGS
@given(
    pattern=st.lists(st.sampled_from(PATTERN_PIECES), min_size=1, max_size=5).map("".join),
    text=st.text(alphabet="ab1_-\n\r\u2028é😀A{}$", max_size=4),
)
def test_regular_expressions_agree(node: NodeLogic, pattern: str, text: str) -> None:
    assume(regex_check(pattern) is None)  # only what the compiler accepts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        expected = compare("matches", text, pattern)
    assert node.call({"compare": {"op": "matches", "left": text, "right": pattern}}) == expected


# --- tables: what random generation reaches rarely ----------------------------------------------------------------

SUBJECTS = [
    "", "a", "b", "ab", "aa", "aab", "ba", "abc", "c", "1", "42", "2024-01", "A", "é", "😀", "a😀", "\r", "a\r",
    "\n", "a\n", "ab\n", "x\ny", "\u2028", "\u00a0", " ", "a b", "a-b", "-", "$", "a$", "{}", "a{", "]", "\\",
    "\x07", "\x00", "\u0660", "a_1", "\uff21\uff22",
]  # fmt: skip


def test_regular_expressions_agree_on_every_pattern_and_subject(node: NodeLogic) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for pattern in [p for p in [*PATTERNS, *PATTERN_PIECES] if regex_check(p) is None]:
            for text in SUBJECTS:
                expected = compare("matches", text, pattern)
                got = node.call({"compare": {"op": "matches", "left": text, "right": pattern}})
                assert got == expected, (pattern, text)


EXPRESSIONS = [
    {"mul": [1e300, 1e300]},  # inf: stored as 0
    {"mul": [-1e300, 1e300]},
    {"sub": [{"mul": [1e300, 1e300]}, {"mul": [1e300, 1e300]}]},  # NaN: stored as 0
    {"mul": [-1, 0]},  # -0: stored as 0
    {"min": [{"sub": [{"mul": [1e300, 1e300]}, {"mul": [1e300, 1e300]}]}, 1]},  # min(NaN, 1) is NaN in Python
    {"max": [1, {"sub": [{"mul": [1e300, 1e300]}, {"mul": [1e300, 1e300]}]}]},  # max(1, NaN) is 1
    {"min": [3, 1, 2]},
    {"max": []},
    {"add": [0.1, 0.2]},
    {"sum": [1e16, 1, 1]},
    {"div": [1, 3]},
    {"div": [1, 0]},
    {"div": [1, {"sub": [2, 2]}]},
    {"div": [1, 100000]},  # 1e-05
    {"div": [1, 3e7]},
    {"div": [2, 1e-300]},
    {"round": [2.5, 0]},
    {"round": [-2.5, 0]},
    {"round": [0.5, 0]},
    {"round": [-0.4, 0]},
    {"round": [1.005, 2]},
    {"round": [123.456, -3]},  # digits clamped to 0
    {"round": [123.456, 1.9]},  # truncated to 1
    {"round": [123.456, 20]},  # clamped to 15
    {"round": [1e300, 15]},  # scaled overflows: 0
    {"round": [1.7976931348623157e308, 0]},
    {"round": [{"mul": [1e300, 1e300]}, 2]},
    {"round": [2.675, {"div": [1, 0]}]},
    {"count": "q0"},
    {"score": "q0"},
    7,
    -0.0,
    1e21,
    2**60,
    1.5e-07,
]


def test_edge_case_expressions_agree(node: NodeLogic) -> None:
    variables = [f"v{i}" for i in range(len(EXPRESSIONS))]
    definition = {
        "variables": [{"id": v} for v in variables],
        "end_screens": [{"id": "end", "text": " ".join(f"{{{{var.{v}|-}}}}" for v in variables)}],
        "pages": [
            {
                "id": "p0",
                "questions": [
                    {
                        "id": "q0",
                        "type": "multiple_choice",
                        "other": True,
                        "choices": [{"id": "c0", "score": 1.5}, {"id": "c1", "score": 3}, {"id": "c2"}],
                    }
                ],
                "rules": [
                    {
                        "id": "r0",
                        "then": [
                            {"type": "set_variable", "variable": v, "expr": e}
                            for v, e in zip(variables, EXPRESSIONS, strict=True)
                        ],
                    }
                ],
            }
        ],
    }
    assert compile_definition(definition).ok
    answers = {"q0": ["c0", "c1", "__other__"], "q0__other": "12"}
    python, javascript = both(node, definition, answers)
    assert javascript == python
