"""Publish checks: each refusal names its code and place (page, question, rule)."""

from __future__ import annotations

import copy

import pytest

from tenant_apps.surveys.logic.compiler import check_structure, compile_definition
from tenant_apps.surveys.services import DEMO_DEFINITION


def survey(*pages, variables=("score",), end_screens=("done",)):
    return {
        "variables": [{"id": v, "initial": 0} for v in variables],
        "end_screens": [{"id": e, "text": "Bye"} for e in end_screens],
        "pages": list(pages),
    }


def page(pid, *questions, rules=(), **extra):
    return {"id": pid, "questions": list(questions), "rules": list(rules), **extra}


NUM = {"id": "q_num", "type": "number"}
TEXT = {"id": "q_text", "type": "short_text"}
CHOICE = {"id": "q_choice", "type": "single_choice", "choices": [{"id": "red"}, {"id": "blue"}]}
MULTI = {"id": "q_multi", "type": "multiple_choice", "choices": [{"id": "a"}, {"id": "b"}]}
DATE = {"id": "q_date", "type": "date"}
YES = {"id": "q_yes", "type": "yes_no"}
MATRIX = {"id": "q_grid", "type": "matrix", "rows": [{"id": "r1"}], "columns": [{"id": "k1"}]}
STATEMENT = {"id": "q_note", "type": "statement", "text": "Hello"}


def later(condition, **extra):
    """A question on page 2 whose display depends on ``condition``."""
    return {"id": "q_later", "type": "short_text", "visible_if": condition, **extra}


def with_rule(*actions, when=None):
    rule = {"id": "r1", "then": list(actions)}
    if when is not None:
        rule["when"] = when
    return rule


CASES = [
    # unknown references
    (
        "unknown_question",
        survey(page("p1", NUM), page("p2", later({"q": "q_ghost", "op": "is_answered"}))),
        {"question": "q_later"},
    ),
    (
        "unknown_choice",
        survey(page("p1", CHOICE), page("p2", later({"q": "q_choice", "op": "equals", "value": "green"}))),
        {"question": "q_later"},
    ),
    (
        "unknown_choice",
        survey(page("p1", MULTI), page("p2", later({"q": "q_multi", "op": "contains_any", "value": ["a", "red"]}))),
        {"question": "q_later"},
    ),
    (
        "unknown_variable",
        survey(page("p1", NUM), page("p2", later({"var": "nope", "op": "gt", "value": 1}))),
        {"question": "q_later"},
    ),
    (
        "unknown_variable",
        survey(
            page("p1", NUM, rules=[with_rule({"type": "set_variable", "variable": "ghost", "expr": 1})]),
            page("p2", TEXT),
        ),
        {"rule": "r1"},
    ),
    (
        "unknown_page",
        survey(
            page(
                "p1",
                NUM,
                rules=[with_rule({"type": "skip_to", "page": "p9"}, when={"q": "q_num", "op": "gt", "value": 1})],
            ),
            page("p2", TEXT),
        ),
        {"rule": "r1"},
    ),
    (
        "unknown_end_screen",
        survey(
            page(
                "p1",
                NUM,
                rules=[
                    with_rule({"type": "end_survey", "end_screen": "nope"}, when={"q": "q_num", "op": "gt", "value": 1})
                ],
            ),
            page("p2", TEXT),
        ),
        {"rule": "r1", "page": "p1"},
    ),
    (
        "unknown_row",
        survey(page("p1", MATRIX), page("p2", later({"q": "q_grid", "row": "r9", "op": "is_answered"}))),
        {"question": "q_later"},
    ),
    ("unknown_variable", survey(page("p1", {**TEXT, "text": "Score {{var.ghost}}"})), {"question": "q_text"}),
    ("unknown_question", survey(page("p1", {**TEXT, "text": "Hi {{q_ghost|you}}"})), {"question": "q_text"}),
    # forward references
    (
        "forward_reference",
        survey(page("p1", later({"q": "q_num", "op": "gt", "value": 1}), NUM)),
        {"question": "q_later"},
    ),
    ("forward_reference", survey(page("p1", NUM, visible_if={"q": "q_num", "op": "gt", "value": 1})), {"page": "p1"}),
    (
        "forward_reference",
        survey(page("p1", {**TEXT, "text": "You are {{q_num}}"}), page("p2", NUM)),
        {"question": "q_text"},
    ),
    (
        "forward_reference",
        survey(
            page("p1", {**CHOICE, "choices": [{"id": "red", "visible_if": {"q": "q_choice", "op": "is_answered"}}]})
        ),
        {"question": "q_choice"},
    ),
    # cycles
    (
        "skip_cycle",
        survey(
            page("p1", NUM),
            page(
                "p2",
                TEXT,
                rules=[with_rule({"type": "skip_to", "page": "p1"}, when={"q": "q_num", "op": "gt", "value": 1})],
            ),
        ),
        {"rule": "r1"},
    ),
    (
        "variable_cycle",
        survey(
            page(
                "p1",
                NUM,
                rules=[
                    with_rule(
                        {"type": "set_variable", "variable": "a", "expr": {"var": "b"}},
                        {"type": "set_variable", "variable": "b", "expr": {"add": [{"var": "a"}, 1]}},
                    )
                ],
            ),
            variables=("a", "b"),
        ),
        {},
    ),
    # reachability
    (
        "unreachable_page",
        survey(page("p1", NUM, rules=[with_rule({"type": "end_survey", "end_screen": "done"})]), page("p2", TEXT)),
        {"page": "p2"},
    ),
    (
        "unreachable_page",
        survey(
            page("p1", NUM, rules=[with_rule({"type": "skip_to", "page": "p3"})]), page("p2", TEXT), page("p3", DATE)
        ),
        {"page": "p2"},
    ),
    ("unreachable_page", survey(page("p1", NUM), page("p2", TEXT, visible_if={"any": []})), {"page": "p2"}),
    ("unreachable_question", survey(page("p1", NUM, {**TEXT, "visible_if": {"any": []}})), {"question": "q_text"}),
    (
        "required_always_hidden",
        survey(page("p1", NUM, {**TEXT, "required": True, "visible_if": {"not": {"all": []}}})),
        {"question": "q_text"},
    ),
    # type mismatches
    (
        "type_mismatch",
        survey(page("p1", NUM), page("p2", later({"q": "q_num", "op": "equals", "value": "ten"}))),
        {"question": "q_later"},
    ),
    (
        "type_mismatch",
        survey(page("p1", TEXT), page("p2", later({"q": "q_text", "op": "gt", "value": 3}))),
        {"question": "q_later"},
    ),
    (
        "type_mismatch",
        survey(page("p1", NUM), page("p2", later({"q": "q_num", "op": "gt", "value": "3"}))),
        {"question": "q_later"},
    ),
    (
        "type_mismatch",
        survey(page("p1", NUM), page("p2", later({"q": "q_num", "op": "between", "value": [9, 1]}))),
        {"question": "q_later"},
    ),
    (
        "type_mismatch",
        survey(page("p1", TEXT), page("p2", later({"q": "q_text", "op": "date_before", "value": "2026-01-01"}))),
        {"question": "q_later"},
    ),
    (
        "type_mismatch",
        survey(page("p1", DATE), page("p2", later({"q": "q_date", "op": "date_after", "value": "01/02/2026"}))),
        {"question": "q_later"},
    ),
    (
        "type_mismatch",
        survey(page("p1", NUM), page("p2", later({"q": "q_num", "op": "matches", "value": "^1"}))),
        {"question": "q_later"},
    ),
    (
        "invalid_regex",
        survey(page("p1", TEXT), page("p2", later({"q": "q_text", "op": "matches", "value": "(?<=x)"}))),
        {"question": "q_later"},
    ),
    (
        "type_mismatch",
        survey(page("p1", YES), page("p2", later({"q": "q_yes", "op": "equals", "value": "yes"}))),
        {"question": "q_later"},
    ),
    (
        "type_mismatch",
        survey(page("p1", STATEMENT), page("p2", later({"q": "q_note", "op": "is_answered"}))),
        {"question": "q_later"},
    ),
    (
        "type_mismatch",
        survey(
            page(
                "p1",
                TEXT,
                rules=[with_rule({"type": "set_variable", "variable": "score", "expr": {"score": "q_text"}})],
            )
        ),
        {"rule": "r1"},
    ),
    (
        "type_mismatch",
        survey(page("p1", CHOICE), page("p2", later({"q": "q_choice", "op": "in", "value": "red"}))),
        {"question": "q_later"},
    ),
    # malformed logic
    (
        "unknown_operator",
        survey(page("p1", NUM), page("p2", later({"q": "q_num", "op": "roughly", "value": 1}))),
        {"question": "q_later"},
    ),
    (
        "invalid_condition",
        survey(page("p1", NUM), page("p2", later({"q": "q_num", "op": "gt"}))),
        {"question": "q_later"},
    ),
    (
        "invalid_expression",
        survey(
            page("p1", NUM, rules=[with_rule({"type": "set_variable", "variable": "score", "expr": {"pow": [2, 3]}})])
        ),
        {"rule": "r1"},
    ),
    ("unknown_action", survey(page("p1", NUM, rules=[with_rule({"type": "send_email"})])), {"rule": "r1"}),
    ("empty_survey", survey(page("p1")), {}),
]


@pytest.mark.parametrize(("code", "definition", "location"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_publish_is_refused_naming_the_place(code, definition, location):
    result = compile_definition(definition)
    assert not result.ok
    matching = [e for e in result.errors if e.code == code]
    assert matching, [e.as_dict() for e in result.errors]
    assert any(all(e.as_dict()["location"].get(k) == v for k, v in location.items()) for e in matching), [
        e.as_dict() for e in matching
    ]
    assert all(e.message for e in result.errors)


def test_a_valid_survey_compiles_with_an_index():
    result = compile_definition(copy.deepcopy(DEMO_DEFINITION))
    assert result.ok, [e.as_dict() for e in result.errors]
    assert result.compiled["definition"] == DEMO_DEFINITION
    assert result.compiled["questions"]["q_nps"] == {"page": "p_score", "position": [1, 0], "type": "nps"}


def test_conditional_jumps_keep_later_pages_reachable():
    definition = survey(
        page(
            "p1", NUM, rules=[with_rule({"type": "skip_to", "page": "p3"}, when={"q": "q_num", "op": "gt", "value": 5})]
        ),
        page("p2", TEXT),
        page("p3", DATE),
    )
    assert compile_definition(definition).ok


def test_self_referencing_variable_is_an_accumulator_not_a_cycle():
    definition = survey(
        page(
            "p1",
            MULTI,
            rules=[
                with_rule(
                    {
                        "type": "set_variable",
                        "variable": "score",
                        "expr": {"add": [{"var": "score"}, {"count": "q_multi"}]},
                    }
                )
            ],
        )
    )
    assert compile_definition(definition).ok


@pytest.mark.parametrize(
    "definition",
    [
        [],
        {"pages": "nope"},
        {"pages": [{"id": "p1", "questions": "x"}]},
        {"pages": [{"title": "no id"}]},
        {"pages": [{"id": "p1", "questions": [{"id": "p1", "type": "number"}]}]},
        {"pages": [], "variables": [{"id": "v", "initial": "zero"}]},
    ],
)
def test_structure_errors(definition):
    assert check_structure(definition)
