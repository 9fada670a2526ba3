"""Property: whatever the order of submissions (two versions, many days), deletions, repeated, duplicated and
crashed aggregation runs, the stored cells equal a from-scratch recomputation from the raw rows, and both
equal an independent count made here in Python."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import random
from collections import Counter
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenant_apps.analytics.services import survey_aggregate
from tenant_apps.responses.services import submission_soft_delete
from tests.tenant_apps.analytics.helpers import insert_submission, random_answers, survey_with_two_versions
from tests.tenant_apps.analytics.test_pipeline import scratch_cells, stored_cells, stored_totals, summed_over_days

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), st.sampled_from([1, 2]), st.integers(0, 20), st.integers(0, 2**32)),
        st.tuples(st.just("delete"), st.integers(0, 1000)),
        st.tuples(st.just("run")),
        st.tuples(st.just("run")),
        st.tuples(st.just("crash")),
    ),
    min_size=1,
    max_size=25,
)


class Crash(Exception):
    pass


def python_counts(live: list[tuple[int, dt.date, dict[str, Any]]]) -> Counter[tuple[Any, ...]]:  # noqa: PLR0912
    """n of every cell, computed without SQL."""
    counts: Counter[tuple[Any, ...]] = Counter()
    for version_id, day, answers in live:
        counts[(version_id, day, "", "submissions")] += 1
        for qid, value in answers.items():
            if qid.endswith("__other"):
                continue
            counts[(version_id, day, qid, "")] += 1
            if qid in ("q_single", "q_drop"):
                counts[(version_id, day, qid, f"c:{value}")] += 1
            elif qid == "q_multi":
                for c in value:
                    counts[(version_id, day, qid, f"c:{c}")] += 1
            elif qid == "q_yes":
                counts[(version_id, day, qid, f"c:{str(value).lower()}")] += 1
            elif qid in ("q_rating", "q_nps") or qid == "q_src":
                counts[(version_id, day, qid, f"v:{value}")] += 1
            elif qid == "q_date":
                counts[(version_id, day, qid, f"d:{value[:7]}")] += 1
            elif qid == "q_matrix":
                for row, column in value.items():
                    counts[(version_id, day, qid, f"m:{row}:{column}")] += 1
            elif qid == "q_rank":
                for c in value:
                    counts[(version_id, day, qid, f"r:{c}")] += 1
                counts[(version_id, day, qid, f"f:{value[0]}")] += 1
    return counts


def assert_same(stored: dict[tuple, tuple], scratch: dict[tuple, tuple]) -> None:
    assert stored.keys() == scratch.keys()
    for key, figures in stored.items():
        other = scratch[key]
        assert figures[0] == other[0], key
        for a, b in zip(figures[1:], other[1:], strict=True):
            assert (a is None and b is None) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6), (key, a, b)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
@pytest.mark.django_db
def test_aggregates_equal_a_recomputation(tenant_a, operations):
    with tenant_context(tenant_a):
        survey, versions = survey_with_two_versions()
        now = timezone.now()
        live: dict[int, tuple[int, dt.date, dict[str, Any]]] = {}
        for op in operations:
            if op[0] == "insert":
                _, number, days_back, seed = op
                version_id, definition = versions[number]
                rng = random.Random(seed)  # noqa: S311 - test data
                answers = random_answers(rng, definition)
                at = now - dt.timedelta(days=days_back, seconds=seed % 3600)
                submission_id = insert_submission(
                    survey_id=survey.pk, version_id=version_id, definition=definition, answers=answers, at=at
                )
                live[submission_id] = (version_id, at.astimezone(dt.UTC).date(), answers)
            elif op[0] == "delete" and live:
                submission_id = sorted(live)[op[1] % len(live)]
                submission_soft_delete(submission_id=submission_id, survey_id=survey.pk)
                del live[submission_id]
            elif op[0] == "run":
                survey_aggregate(survey_id=survey.pk)
                scratch = scratch_cells(survey.pk)
                assert_same(stored_cells(survey.pk), scratch)  # after every run, not just the last
                assert_same(stored_totals(survey.pk), summed_over_days(scratch))  # and the per-version totals
            elif op[0] == "crash":
                with contextlib.suppress(Crash), transaction.atomic():
                    survey_aggregate(survey_id=survey.pk)
                    raise Crash  # a crash after the run's writes: they roll back with the transaction
        survey_aggregate(survey_id=survey.pk)
        stored = stored_cells(survey.pk)
        assert_same(stored, scratch_cells(survey.pk))
        assert_same(stored_totals(survey.pk), summed_over_days(stored))
        expected = python_counts(list(live.values()))
        assert {k: v[0] for k, v in stored.items() if k[3] not in ("size",)} == dict(expected)
        numbers = [a["q_num"] for _, _, a in live.values() if "q_num" in a]
        total = sum(v[1] for k, v in stored.items() if k[2] == "q_num" and k[3] == "")
        assert math.isclose(total, sum(numbers), abs_tol=1e-6)
