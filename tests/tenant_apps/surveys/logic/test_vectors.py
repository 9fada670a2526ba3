"""The shared test vectors, run against the Python evaluator (Node runs them against logic.js), and every
definition of them through the compiler."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tenant_apps.surveys.logic.compiler import compile_definition
from tenant_apps.surveys.logic.evaluator import evaluate, shuffle

VECTORS = Path(__file__).resolve().parents[4] / "tenant_apps" / "surveys" / "logic" / "vectors.json"
CASES = json.loads(VECTORS.read_text())["cases"] if VECTORS.exists() else []
DEFINED = [c for c in CASES if "definition" in c]


def test_there_are_enough_vectors():
    assert len(CASES) >= 150
    assert sum("rejected" in c for c in CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector(case):
    if "shuffle" in case:
        assert shuffle(case["shuffle"]["ids"], case["shuffle"]["seed"]) == case["expected"]
        return
    if "rejected" in case:  # outside the language: the compiler refuses it, the evaluators never see it
        errors = [e.as_dict() for e in compile_definition(case["definition"]).errors]
        for expected in case["rejected"]:
            assert any(e["code"] == expected["code"] and e["location"]["path"] == expected["path"] for e in errors), (
                errors
            )
        return
    result = evaluate(case["definition"], case.get("answers", {}))
    expected = case["expected"]
    assert {key: result[key] for key in expected} == expected


@pytest.mark.parametrize("case", DEFINED, ids=[c["name"] for c in DEFINED])
def test_every_vector_definition_compiles_or_is_refused_with_places(case):
    """The compiler never raises (it did, with ``unhashable type: 'list'``, on six of these), and every
    refusal names its place: page/question/rule where there is one, and always a JSON path."""
    result = compile_definition(case["definition"])
    assert result.ok == (result.compiled is not None)
    for error in result.errors:
        location = error.as_dict()["location"]
        assert location["path"], error
        assert error.message
        assert "None" not in error.message
        if location["path"].startswith("pages["):
            assert location.get("page"), error
