"""The shared test vectors, run against the Python evaluator (Node runs them against logic.js)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tenant_apps.surveys.logic.evaluator import evaluate, shuffle

VECTORS = Path(__file__).resolve().parents[4] / "tenant_apps" / "surveys" / "logic" / "vectors.json"
CASES = json.loads(VECTORS.read_text())["cases"] if VECTORS.exists() else []


def test_there_are_enough_vectors():
    assert len(CASES) >= 150


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector(case):
    if "shuffle" in case:
        assert shuffle(case["shuffle"]["ids"], case["shuffle"]["seed"]) == case["expected"]
        return
    result = evaluate(case["definition"], case.get("answers", {}))
    expected = case["expected"]
    assert {key: result[key] for key in expected} == expected
