"""The definition module: one regex check and matcher for publish and submit, the walk with JSON paths."""

from __future__ import annotations

import pytest

from tenant_apps.responses.validation import answer_error
from tenant_apps.surveys import definition as d


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a\rc", "Wrong format."),  # `.` is ECMAScript's: not a line terminator (Python's re took it)
        ("abc\n", "Wrong format."),  # `$` only at the very end (Python's re matched before a final newline)
        ("abc", None),
    ],
)
def test_submit_checks_a_pattern_with_the_languages_meaning(value, message):
    question = {"id": "q1", "type": "short_text", "pattern": "^a.c$", "pattern_message": "Wrong format."}
    assert answer_error(question, value, {}) == message


def test_publish_and_submit_share_one_check():
    assert d.regex_check("^[A-Z]\\d{2,3}$") is None
    assert "not supported" in d.regex_check("(?i)abc")
    assert d.regex_search("(?i)abc", "abc") is False  # outside the subset: never matches on the server


def test_the_walk_yields_paths():
    definition = {
        "pages": [
            {"id": "p1", "questions": [{"id": "q1", "type": "single_choice", "choices": [{"id": "a"}, "junk"]}]},
            "junk",
            {"id": "p2", "questions": [{"id": "q2"}]},
        ]
    }
    assert [(q.id, q.type, q.path) for q in d.iter_questions(definition)] == [
        ("q1", "single_choice", "pages[0].questions[0]"),
        ("q2", None, "pages[2].questions[0]"),
    ]
    (first,) = [q for q in d.iter_questions(definition) if q.id == "q1"]
    assert [(c.id, c.path) for c in d.iter_choices(first)] == [("a", "pages[0].questions[0].choices[0]")]
    assert first.shape is d.AnswerShape.CHOICE
    assert d.question_types(definition) == {"q1": "single_choice"}
    assert not d.is_id("ab\n")  # `^...$` let a trailing newline through
