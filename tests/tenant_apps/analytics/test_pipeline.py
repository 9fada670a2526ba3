"""Aggregation: cells from raw rows, watermark runs, dirty marks from submit, the real worker."""

from __future__ import annotations

import datetime as dt
import random

from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.analytics.cells import Where, cells_query
from tenant_apps.analytics.services import survey_aggregate, survey_types
from tests.tenant_apps.analytics.helpers import insert_submission, random_answers, survey_with_two_versions


def stored_cells(survey_id: int) -> dict[tuple, tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT version_id, day, question_id, key, n, sum, sum_sq, min, max FROM analytics_cell "
            "WHERE survey_id = %s",
            [survey_id],
        )
        return {tuple(r[:4]): tuple(r[4:]) for r in cursor.fetchall()}


def stored_totals(survey_id: int) -> dict[tuple, tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT version_id, question_id, key, n, sum, sum_sq, min, max FROM analytics_total WHERE survey_id = %s",
            [survey_id],
        )
        return {tuple(r[:3]): tuple(r[3:]) for r in cursor.fetchall()}


def summed_over_days(cells: dict[tuple, tuple]) -> dict[tuple, tuple]:
    """Cells ``(version, day, question, key) -> figures`` summed over days, as ``analytics_total`` holds them."""
    out: dict[tuple, list] = {}
    for (version, _day, question, key), (n, s, ss, mn, mx) in cells.items():
        found = out.setdefault((version, question, key), [0, None, None, None, None])
        found[0] += n
        found[1] = s if found[1] is None else (found[1] if s is None else found[1] + s)
        found[2] = ss if found[2] is None else (found[2] if ss is None else found[2] + ss)
        found[3] = mn if found[3] is None else (found[3] if mn is None else min(found[3], mn))
        found[4] = mx if found[4] is None else (found[4] if mx is None else max(found[4], mx))
    return {k: tuple(v) for k, v in out.items()}


def scratch_cells(survey_id: int) -> dict[tuple, tuple]:
    rows = cells_query(survey_id=survey_id, types=survey_types(survey_id=survey_id), where=Where())
    return {tuple(r[:4]): tuple(r[4:]) for r in rows}


def test_two_versions_publish_and_cells_count_each_type(tenant_a):
    with tenant_context(tenant_a):
        survey, versions = survey_with_two_versions()
        assert sorted(versions) == [1, 2]
        v1, d1 = versions[1]
        now = timezone.now()
        insert_submission(
            survey_id=survey.pk, version_id=v1, definition=d1, at=now,
            answers={"q_single": "__other__", "q_single__other": "sales", "q_multi": ["m1", "m3"], "q_nps": 9,
                     "q_matrix": {"r1": "k2"}, "q_rank": ["a2", "a1", "a3"], "q_date": "2026-03-04",
                     "q_src": "ads", "q_yes": True, "q_num": 12.5},
        )  # fmt: skip
        run = survey_aggregate(survey_id=survey.pk)
        assert len(run.buckets) == 1
        cells = stored_cells(survey.pk)
        day = now.astimezone(dt.UTC).date()
        assert cells[(v1, day, "", "submissions")][0] == 1
        assert cells[(v1, day, "q_single", "c:__other__")][0] == 1
        assert cells[(v1, day, "q_multi", "c:m3")][0] == 1
        assert cells[(v1, day, "q_nps", "v:9")][0] == 1
        assert cells[(v1, day, "q_matrix", "m:r1:k2")][0] == 1
        assert cells[(v1, day, "q_rank", "r:a1")][:2] == (1, 2.0)
        assert cells[(v1, day, "q_rank", "f:a2")][0] == 1
        assert cells[(v1, day, "q_date", "d:2026-03")][0] == 1
        assert cells[(v1, day, "q_src", "v:ads")][0] == 1
        assert cells[(v1, day, "q_yes", "c:true")][0] == 1
        assert cells[(v1, day, "q_num", "")][1] == 12.5
        assert cells == scratch_cells(survey.pk)


def test_rerun_and_duplicate_runs_never_double_count(tenant_a):
    rng = random.Random(7)  # noqa: S311 - test data
    with tenant_context(tenant_a):
        survey, versions = survey_with_two_versions()
        for number in (1, 2, 2):
            version_id, definition = versions[number]
            insert_submission(
                survey_id=survey.pk, version_id=version_id, definition=definition,
                answers=random_answers(rng, definition), at=timezone.now(),
            )  # fmt: skip
        survey_aggregate(survey_id=survey.pk)
        first = stored_cells(survey.pk)
        survey_aggregate(survey_id=survey.pk)
        survey_aggregate(survey_id=survey.pk)
        assert stored_cells(survey.pk) == first == scratch_cells(survey.pk)
        assert sum(v[0] for k, v in first.items() if k[3] == "submissions") == 3


def test_a_soft_deleted_submission_leaves_the_aggregates(tenant_a):
    """Deleted after its bucket was aggregated, with nothing else new in that bucket."""
    from tenant_apps.responses.services import submission_soft_delete

    rng = random.Random(3)  # noqa: S311 - test data
    with tenant_context(tenant_a):
        survey, versions = survey_with_two_versions()
        version_id, definition = versions[1]
        at = timezone.now() - dt.timedelta(days=3)
        ids = [
            insert_submission(
                survey_id=survey.pk, version_id=version_id, definition=definition,
                answers=random_answers(rng, definition), at=at,
            )
            for _ in range(3)
        ]  # fmt: skip
        survey_aggregate(survey_id=survey.pk)
        assert stored_cells(survey.pk)[(version_id, at.astimezone(dt.UTC).date(), "", "submissions")][0] == 3
        submission_soft_delete(submission_id=ids[0], survey_id=survey.pk)
        run = survey_aggregate(survey_id=survey.pk)
        assert run.buckets == [(version_id, at.astimezone(dt.UTC).date())]
        assert stored_cells(survey.pk)[(version_id, at.astimezone(dt.UTC).date(), "", "submissions")][0] == 2
        assert stored_cells(survey.pk) == scratch_cells(survey.pk)
