"""Publish checks: each refusal names its code and place (page, question, rule)."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- diagnostics: every one names its place and a JSON path; none raises ---------------------------------------


def test_a_list_value_on_a_multiple_choice_question_compiles():
    """``equals ["b", "a"]`` on a multiple-choice question raised TypeError: unhashable type: 'list'."""
    definition = survey(page("p1", MULTI), page("p2", later({"q": "q_multi", "op": "equals", "value": ["b", "a"]})))
    assert compile_definition(definition).ok
    wrong = survey(page("p1", MULTI), page("p2", later({"q": "q_multi", "op": "equals", "value": ["b", ["x"]]})))
    errors = [e.as_dict() for e in compile_definition(wrong).errors]
    assert errors == [
        {
            "code": "unknown_choice",
            "message": '["x"] is not a choice of question q_multi.',
            "location": {"page": "p2", "question": "q_later", "path": "pages[1].questions[0].visible_if.value[1]"},
        }
    ]


def test_errors_carry_the_json_path_inside_the_definition():
    condition = {
        "all": [
            {"q": "q_num", "op": "gt", "value": 1},
            {"q": "q_num", "op": "is_answered"},
            {"q": "q_num", "op": "equals", "value": "ten"},
        ]
    }
    errors = compile_definition(survey(page("p1", NUM), page("p2", later(condition)))).errors
    assert [(e.code, e.page, e.question, e.path) for e in errors] == [
        ("type_mismatch", "p2", "q_later", "pages[1].questions[0].visible_if.all[2].value")
    ]


def test_a_variable_cycle_names_the_rule_and_action_that_close_it():
    definition = survey(
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
    )
    (error,) = compile_definition(definition).errors
    assert error.as_dict() == {
        "code": "variable_cycle",
        "message": "Variables depend on each other in a cycle: a -> b -> a",
        "location": {"page": "p1", "rule": "r1", "path": "pages[0].rules[0].then[1]"},
    }


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ({"id": "q3"}, "Question q3 has no type."),
        ({"id": "q3", "type": "foo"}, 'Question q3 has an unknown question type "foo".'),
        ({"id": "q3", "type": ["number"]}, 'Question q3 has an unknown question type ["number"].'),
    ],
)
def test_a_missing_or_unknown_type_is_said_in_the_builders_words(question, message):
    (error,) = check_structure(survey(page("p1", NUM, question)))
    assert (error.code, error.message, error.path) == ("unknown_type", message, "pages[0].questions[1].type")


def test_a_condition_with_two_faults_reports_both():
    errors = compile_definition(
        survey(page("p1", NUM), page("p2", later({"q": "q_ghost", "op": "roughly", "value": 1})))
    ).errors
    assert {(e.code, e.path) for e in errors} == {
        ("unknown_operator", "pages[1].questions[0].visible_if.op"),
        ("unknown_question", "pages[1].questions[0].visible_if.q"),
    }


def test_deep_nesting_is_refused_not_a_recursion_error():
    condition: dict = {"q": "q_num", "op": "is_answered"}
    for _ in range(5000):
        condition = {"not": condition}
    errors = compile_definition(survey(page("p1", NUM), page("p2", later(condition)))).errors
    assert [e.code for e in errors] == ["invalid_condition"]
    assert errors[0].path.startswith("pages[1].questions[0].visible_if.not.not")


# --- the compiler never raises --------------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 3),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=6),
        st.sampled_from(["q_num", "q_text", "q_choice", "q_multi", "red", "a", "p1", "p2", "score", "done", "é😀"]),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=8,
)
OPS = [
    "equals", "not_equals", "gt", "between", "in", "contains", "contains_any", "contains_all", "is_empty",
    "is_answered", "matches", "date_before", "bogus",
]  # fmt: skip


@st.composite
def conditions(draw: st.DrawFn, depth: int = 0) -> object:
    kind = draw(st.sampled_from(["compare", "compare", "junk", *(["all", "any", "not"] if depth < 3 else [])]))
    if kind == "junk":
        return draw(json_values)
    if kind == "not":
        return {"not": draw(conditions(depth + 1))}
    if kind in ("all", "any"):
        return {kind: draw(st.lists(conditions(depth + 1), max_size=3))}
    comparison = {
        draw(st.sampled_from(["q", "var", "q", "x"])): draw(
            st.one_of(st.sampled_from(["q_num", "q_text", "q_choice", "q_multi", "q_grid", "score"]), json_values)
        ),
        "op": draw(st.one_of(st.sampled_from(OPS), json_values)),
    }
    if draw(st.booleans()):
        comparison["value"] = draw(
            st.one_of(json_values, st.lists(st.sampled_from(["red", "a", "b", 1, None]), max_size=3))
        )
    if draw(st.integers(0, 5)) == 0:
        comparison["row"] = draw(st.one_of(st.just("r1"), json_values))
    return comparison


@st.composite
def definitions(draw: st.DrawFn) -> object:
    """Valid-ish surveys with random faults: wrong types, unknown ops, any JSON value where one is expected."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    questions = [
        copy.deepcopy(q)
        for q in draw(
            st.lists(
                st.sampled_from([NUM, TEXT, CHOICE, MULTI, MATRIX, YES, DATE, STATEMENT]),
                min_size=0,
                max_size=4,
                unique_by=lambda q: q["id"],
            )
        )
    ]
    for question in questions:
        for key in draw(
            st.lists(st.sampled_from(["type", "id", "choices", "text", "required", "pattern", "min"]), max_size=2)
        ):
            question[key] = draw(json_values)
        if draw(st.booleans()):
            question["visible_if"] = draw(conditions())
    expr = draw(st.one_of(json_values, st.just({"add": [{"var": "score"}, {"q": "q_num"}]})))
    pages = [
        page(
            "p1",
            *questions[:2],
            rules=[
                {
                    "id": "r1",
                    "when": draw(conditions()),
                    "then": [
                        {
                            "type": draw(st.sampled_from(["set_variable", "skip_to", "end_survey", "x"])),
                            "variable": draw(st.one_of(st.just("score"), json_values)),
                            "expr": expr,
                            "page": draw(st.one_of(st.just("p2"), json_values)),
                            "end_screen": draw(json_values),
                        },
                    ],
                }
            ],
        ),
        page("p2", *questions[2:], visible_if=draw(conditions())),
    ]
    if draw(st.integers(0, 4)) == 0:
        pages.append(draw(json_values))
    definition = survey(*pages)
    if draw(st.integers(0, 4)) == 0:
        definition[draw(st.sampled_from(["variables", "end_screens", "pages"]))] = draw(json_values)
    return definition


@settings(max_examples=400, deadline=None, database=None)
@given(definition=definitions())
def test_the_compiler_never_raises_and_every_error_has_a_place(definition):
    result = compile_definition(definition)
    assert result.ok == (result.compiled is not None)
    for error in result.errors:
        location = error.as_dict()["location"]
        assert isinstance(location["path"], str), error
        assert location["path"], error
        assert error.message
        assert "None" not in error.message
        assert "unhashable" not in error.message
        if location["path"].startswith("pages[") and not error.code.startswith("invalid_id"):
            assert location.get("page"), error
