"""The analytics API: every question type summarised, filters compiled to SQL, ETag/304, cross-tab with
chi-square, funnel, timeseries, hostile filters (400 in the common shape), cross-tenant 404, and the pipeline
through the real worker."""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.analytics.services import survey_aggregate
from tenant_apps.analytics.stats import chi2_sf, chi_square, nps
from tests.conftest import host_of
from tests.tenant_apps.analytics.helpers import insert_submission, survey_with_two_versions

ANSWERS_V1 = [
    {"q_single": "a", "q_drop": "x", "q_yes": True, "q_multi": ["m1", "m2"], "q_rating": 5, "q_nps": 10,
     "q_num": 10, "q_date": "2026-01-05", "q_matrix": {"r1": "k1", "r2": "k2"}, "q_rank": ["a1", "a2", "a3"],
     "q_text": "simple pricing", "q_src": "ads"},
    {"q_single": "b", "q_drop": "y", "q_yes": False, "q_multi": ["m2"], "q_rating": 3, "q_nps": 8,
     "q_num": 20, "q_date": "2026-01-20", "q_matrix": {"r1": "k1"}, "q_rank": ["a2", "a1", "a3"],
     "q_text": "simple and fast", "q_src": "newsletter"},
    {"q_single": "__other__", "q_single__other": "legal", "q_yes": True, "q_nps": 3, "q_num": 30,
     "q_src": "ads"},
]  # fmt: skip
ANSWERS_V2 = [
    {"q_single": "a", "q_yes": True, "q_multi": ["m3"], "q_nps": 9, "q_num": 40, "q_new": "hello", "q_src": "ads"},
]


@pytest.fixture
def populated(tenant_a) -> Any:
    """A survey with 3 responses to version 1 (one deleted later is not among them) and 1 to version 2."""
    with tenant_context(tenant_a):
        survey, versions = survey_with_two_versions()
        at = timezone.now() - dt.timedelta(days=1)
        for answers in ANSWERS_V1:
            insert_submission(
                survey_id=survey.pk, version_id=versions[1][0], definition=versions[1][1], answers=answers, at=at
            )
        for answers in ANSWERS_V2:
            insert_submission(
                survey_id=survey.pk, version_id=versions[2][0], definition=versions[2][1], answers=answers,
                at=timezone.now(),
            )  # fmt: skip
        survey_aggregate(survey_id=survey.pk)
    return survey


@pytest.fixture
def analyst(tenant_a, make_member, api_client_for) -> Client:
    return api_client_for(make_member(tenant_a, "analyst"), tenant_a)


def _by_id(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {q["id"]: q for q in body["questions"]}


def test_summary_reports_every_question_type_across_versions(populated, analyst):
    response = analyst.get(f"/api/v1/surveys/{populated.pk}/analytics/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["totals"]["responses"] == 4
    assert body["totals"]["versions"] == [{"version": 1, "responses": 3}, {"version": 2, "responses": 1}]
    assert body["totals"]["unique_respondents"] == 4  # HyperLogLog: exact at this size
    q = _by_id(body)
    single = {c["id"]: (c["count"], c["percent"]) for c in q["q_single"]["choices"]}
    assert single == {"a": (2, 50.0), "b": (1, 25.0), "c": (0, 0.0), "__other__": (1, 25.0)}
    assert q["q_single"]["other_texts"] == ["legal"]
    assert q["q_drop"]["versions"] == [1]
    assert q["q_drop"]["answered"] == 2
    assert q["q_new"]["versions"] == [2]
    assert q["q_new"]["answered"] == 1
    assert {c["id"]: c["count"] for c in q["q_yes"]["choices"]} == {"true": 3, "false": 1}
    assert {c["id"]: c["count"] for c in q["q_multi"]["choices"]} == {"m1": 1, "m2": 2, "m3": 1}
    assert q["q_multi"]["mean_selections"] == pytest.approx(4 / 3, abs=1e-4)
    assert q["q_rating"]["distribution"] == [{"value": 3.0, "count": 1}, {"value": 5.0, "count": 1}]
    assert q["q_rating"]["mean"] == 4.0
    promoters, passives, detractors = 2, 1, 1
    assert q["q_nps"]["nps"]["promoters"] == promoters
    assert q["q_nps"]["nps"]["detractors"] == detractors
    score, low, high = nps(promoters, passives, detractors)
    assert q["q_nps"]["nps"]["score"] == pytest.approx(25.0) == pytest.approx(score)
    assert q["q_nps"]["nps"]["ci95"] == [pytest.approx(low), pytest.approx(high)]
    num = q["q_num"]
    assert (num["answered"], num["mean"], num["min"], num["max"]) == (4, 25.0, 10.0, 40.0)
    assert num["stddev"] == pytest.approx(math.sqrt(500 / 3))
    assert num["percentiles"]["p50"] == 25.0
    assert num["percentiles_exact"] is True
    assert num["percentiles_error"] is None
    assert body["totals"]["median_completion_exact"] is True
    assert q["q_date"]["months"] == [{"month": "2026-01", "count": 2}]
    assert {(c["row"], c["column"]): c["count"] for c in q["q_matrix"]["cells"]} == {("r1", "k1"): 2, ("r2", "k2"): 1}
    ranks = {i["id"]: (i["mean_rank"], i["first_place"]) for i in q["q_rank"]["items"]}
    assert ranks == {"a1": (1.5, 1), "a2": (1.5, 1), "a3": (3.0, 0)}
    assert q["q_text"]["answered"] == 2
    assert set(q["q_text"]["latest"]) == {"simple pricing", "simple and fast"}
    assert q["q_text"]["top_terms"][0] == {"term": "simple", "count": 2}
    assert q["q_src"]["values"] == [{"value": "ads", "count": 3}, {"value": "newsletter", "count": 1}]


def test_filters_compile_to_sql_and_match_a_count_by_hand(populated, analyst):
    url = f"/api/v1/surveys/{populated.pk}/analytics/"
    where = json.dumps(
        {"any": [{"q": "q_single", "op": "equals", "value": "a"}, {"q": "q_num", "op": "gt", "value": 25}]}
    )
    body = analyst.get(url, {"where": where}).json()
    assert body["totals"]["responses"] == 3  # a (10), __other__ (30), a (40)
    assert _by_id(body)["q_num"]["mean"] == pytest.approx(80 / 3)
    negated = json.dumps({"not": {"q": "q_multi", "op": "contains", "value": "m2"}})
    assert analyst.get(url, {"where": negated}).json()["totals"]["responses"] == 2
    both = json.dumps(
        {"all": [{"q": "q_yes", "op": "equals", "value": True}, {"q": "q_nps", "op": "in", "value": [9, 10]}]}
    )
    assert analyst.get(url, {"where": both}).json()["totals"]["responses"] == 2
    assert analyst.get(url, {"hidden.q_src": "newsletter"}).json()["totals"]["responses"] == 1
    assert analyst.get(url, {"version": "2"}).json()["totals"]["responses"] == 1
    today = timezone.now().astimezone(dt.UTC).date().isoformat()
    assert analyst.get(url, {"from": today, "to": today}).json()["totals"]["responses"] == 1


def test_etag_turns_a_repeated_poll_into_304_until_new_aggregates_land(tenant_a, populated, analyst):
    url = f"/api/v1/surveys/{populated.pk}/analytics/"
    first = analyst.get(url)
    etag = first["ETag"]
    again = analyst.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    with tenant_context(tenant_a):
        from tenant_apps.surveys.models import SurveyVersion

        version = SurveyVersion.objects.get(survey=populated, number=2)
        insert_submission(
            survey_id=populated.pk, version_id=version.pk, definition=version.definition, answers={"q_nps": 1},
            at=timezone.now(),
        )  # fmt: skip
        survey_aggregate(survey_id=populated.pk)
    fresh = analyst.get(url, HTTP_IF_NONE_MATCH=etag)
    assert fresh.status_code == 200
    assert fresh["ETag"] != etag
    assert fresh.json()["totals"]["responses"] == 5


def test_question_timeseries_funnel_and_crosstab(populated, analyst):
    base = f"/api/v1/surveys/{populated.pk}/analytics"
    question = analyst.get(f"{base}/questions/q_nps/").json()
    assert question["question"]["answered"] == 4
    assert analyst.get(f"{base}/questions/q_nope/").status_code == 404
    series = analyst.get(f"{base}/timeseries/", {"interval": "day"}).json()
    assert sum(p["responses"] for p in series["points"]) == 4
    assert len(series["points"]) == 2
    hourly = analyst.get(f"{base}/timeseries/", {"interval": "hour", "tz": "Europe/Paris"}).json()
    assert sum(p["responses"] for p in hourly["points"]) == 4
    funnel = analyst.get(f"{base}/funnel/").json()
    assert funnel["completed"] == 4
    assert [p["page"] for p in funnel["pages"]] == ["p1", "p2", "p3"]
    table = analyst.get(f"{base}/crosstab/", {"rows": "q_single", "columns": "q_yes"}).json()
    cells = {
        (r, c): table["counts"][i][j]
        for i, r in enumerate(table["rows"]["categories"])
        for j, c in enumerate(table["columns"]["categories"])
    }
    assert cells == {("a", "true"): 2, ("a", "false"): 0, ("b", "true"): 0, ("b", "false"): 1,
                     ("__other__", "true"): 1, ("__other__", "false"): 0}  # fmt: skip
    expected = chi_square(table["counts"])
    assert table["chi_square"]["p_value"] == pytest.approx(expected[2])


def test_chi_square_p_values_match_known_values():
    assert chi2_sf(3.841458820694124, 1) == pytest.approx(0.05, abs=1e-9)
    assert chi2_sf(18.307038053275146, 10) == pytest.approx(0.05, abs=1e-9)
    assert chi2_sf(7.0, 2) == pytest.approx(math.exp(-3.5), abs=1e-12)  # closed form for 2 degrees of freedom
    assert chi2_sf(0.5, 30) == pytest.approx(1.0, abs=1e-9)
    statistic, dof, p = chi_square([[10, 20], [30, 40]])
    assert dof == 1
    assert statistic == pytest.approx(0.7936507936507936)
    assert p == pytest.approx(math.erfc(math.sqrt(statistic / 2)), abs=1e-12)  # closed form for 1 degree


DEEP: dict[str, Any] = {"q": "q_single", "op": "equals", "value": "a"}
for _ in range(12):
    DEEP = {"not": DEEP}
HOSTILE = [
    ("", {"where": "{not json"}),
    ("", {"where": json.dumps({"q": "q_unknown", "op": "equals", "value": 1})}),
    ("", {"where": json.dumps({"q": "q_single", "op": "regex_bomb", "value": 1})}),
    ("", {"where": json.dumps({"q": "q_single", "op": "gt", "value": "a"})}),
    ("", {"where": json.dumps({"q": "q_multi", "op": "equals", "value": "m1"})}),
    ("", {"where": json.dumps({"q": "q_single", "op": "in", "value": "a"})}),
    ("", {"where": json.dumps({"var": "x", "op": "equals", "value": 1})}),
    ("", {"where": json.dumps({"all": "nope"})}),
    ("", {"where": json.dumps([1, 2])}),
    ("", {"where": json.dumps({"q": "q_single", "op": "equals", "value": None})}),
    ("", {"where": "{" * 5000 + "}" * 5000}),
    ("", {"where": json.dumps(DEEP)}),
    ("", {"where": "x" * 20_000}),
    ("", {"from": "2026-13-01"}),
    ("", {"from": "2026-02-31"}),
    ("", {"from": "2026-03-01", "to": "2026-02-01"}),
    ("", {"version": "abc"}),
    ("", {"version": "99"}),
    ("", {"version": "99999999999999999999"}),
    ("", {"completion": "half"}),
    ("", {"hidden.q_single": "a"}),
    ("", {"hidden.1bad": "a"}),
    ("", {"hidden.q_src": "x" * 300}),
    ("timeseries/", {"interval": "year"}),
    ("timeseries/", {"tz": "Mars/Olympus"}),
    ("timeseries/", {"tz": "../../etc/passwd"}),
    ("crosstab/", {}),
    ("crosstab/", {"rows": "q_single"}),
    ("crosstab/", {"rows": "q_text", "columns": "q_single"}),
    ("crosstab/", {"rows": "q_single", "columns": "q_single"}),
    ("crosstab/", {"rows": "q_nope", "columns": "q_single"}),
    ("funnel/", {"version": "0"}),
]  # fmt: skip


@pytest.mark.parametrize(("suffix", "params"), HOSTILE)
def test_hostile_filters_get_400_in_the_common_shape(populated, analyst, suffix, params):
    response = analyst.get(f"/api/v1/surveys/{populated.pk}/analytics/{suffix}", params)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["message"]
    assert error["details"]


@pytest.mark.parametrize(
    "suffix", ["", "questions/q_nps/", "timeseries/", "funnel/", "crosstab/?rows=q_single&columns=q_yes"]
)
def test_another_tenants_survey_is_not_found(tenant_b, populated, make_member, api_client_for, suffix):
    """The survey exists in tenant A; an analyst of tenant B asking for its id gets 404, never A's data."""
    with tenant_context(tenant_b):
        from tenant_apps.surveys.models import Survey

        exists_in_b = Survey.objects.filter(pk=populated.pk).exists()
    client_b = api_client_for(make_member(tenant_b, "analyst"), tenant_b)
    response = client_b.get(f"/api/v1/surveys/{populated.pk}/analytics/{suffix}")
    if not exists_in_b:
        assert response.status_code == 404, response.content
        assert response.json()["error"]["code"] == "not_found"
    else:  # B has a survey with that id: its own, with none of A's responses
        assert "legal" not in response.content.decode()


def test_respondent_without_analytics_view_is_refused(tenant_a, populated, make_member, api_client_for):
    client = api_client_for(make_member(tenant_a, "respondent"), tenant_a)
    response = client.get(f"/api/v1/surveys/{populated.pk}/analytics/")
    assert response.status_code == 403
    assert "analytics.view" in response.json()["error"]["message"]


@pytest.mark.worker
def test_submit_reaches_the_api_through_the_beat_task_and_the_worker(tenant_a, analyst, celery_worker_process):
    """Submit over HTTP (marks the survey dirty), the 5-second beat task fans out to this tenant only, the
    worker aggregates, the API shows the response: lag measured."""
    from tenant_apps.analytics.tasks import refresh_dirty

    with tenant_context(tenant_a):
        survey, _ = survey_with_two_versions()
    respondent = Client(HTTP_HOST=host_of(tenant_a))
    url = f"/api/v1/surveys/{survey.pk}/analytics/"
    assert analyst.get(url).json()["totals"]["responses"] == 0
    submitted = respondent.post(
        f"/api/v1/s/{survey.public_link}/submit/",
        {"answers": {"q_single": "c", "q_nps": 7, "q_src": "partner"}},
        content_type="application/json",
    )
    assert submitted.status_code == 201, submitted.content
    start = time.monotonic()
    refresh_dirty.apply_async()  # what beat sends every 5 s
    body: dict[str, Any] = {}
    while time.monotonic() - start < 20:
        body = analyst.get(url).json()
        if body["totals"]["responses"] == 1:
            break
        time.sleep(0.2)
    lag = time.monotonic() - start
    assert body["totals"]["responses"] == 1, body
    assert {c["id"]: c["count"] for c in _by_id(body)["q_single"]["choices"]}["c"] == 1
    assert lag < 5, lag
    assert refresh_dirty.apply_async().get(timeout=10) == 0  # nothing dirty now: no task for anyone


def test_time_series_default_to_the_organisations_time_zone(populated, analyst, tenant_a):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from shared_apps.tenants.models import Organisation

    base = f"/api/v1/surveys/{populated.pk}/analytics/timeseries/"
    assert analyst.get(base, {"interval": "day"}).json()["tz"] == "UTC"
    with pytest.raises(CommandError, match="IANA time zone"):
        call_command("update_tenant", tenant_a.slug, "--timezone", "Mars/Olympus")
    call_command("update_tenant", tenant_a.slug, "--timezone", "Asia/Tokyo")
    try:
        series = analyst.get(base, {"interval": "day"}).json()
        assert series["tz"] == "Asia/Tokyo"
        # The same buckets as asking for Tokyo explicitly (local midnights of the organisation's days).
        assert series == analyst.get(base, {"interval": "day", "tz": "Asia/Tokyo"}).json()
        assert sum(p["responses"] for p in series["points"]) == 4
        assert analyst.get(base, {"interval": "day", "tz": "UTC"}).json()["tz"] == "UTC"  # asked for: wins
    finally:
        Organisation.objects.filter(pk=tenant_a.pk).update(timezone="UTC")


def test_large_populations_sample_percentiles_and_say_so(populated, analyst, monkeypatch):
    """Over SAMPLE_ABOVE rows an unfiltered summary samples blocks (here 100 % of them, so the values are the
    exact ones) and states the error; a finer filter than days still reads every matching row."""
    from tenant_apps.analytics import selectors

    monkeypatch.setattr(selectors, "SAMPLE_ABOVE", 1)
    monkeypatch.setattr(selectors, "SAMPLE_ROWS", 10**9)
    body = analyst.get(f"/api/v1/surveys/{populated.pk}/analytics/").json()
    num = _by_id(body)["q_num"]
    assert num["percentiles"]["p50"] == 25.0  # a 100 % block sample: every answer
    assert (num["percentiles_exact"], num["percentiles_error"]) == (False, selectors.PERCENTILES_ERROR)
    assert body["totals"]["median_completion_exact"] is False
    assert body["totals"]["median_completion_error"] == selectors.PERCENTILES_ERROR
    one = analyst.get(f"/api/v1/surveys/{populated.pk}/analytics/questions/q_num/").json()["question"]
    assert (one["percentiles"]["p50"], one["percentiles_exact"]) == (25.0, False)
    filtered = analyst.get(f"/api/v1/surveys/{populated.pk}/analytics/", {"version": "1"}).json()
    assert _by_id(filtered)["q_num"]["percentiles_exact"] is True


def test_crosstab_leaves_out_deleted_submissions_with_and_without_a_version_filter(populated, tenant_a, analyst):
    from tenant_apps.analytics.models import Watermark
    from tenant_apps.responses.models import Submission
    from tenant_apps.responses.services import submission_soft_delete

    base = f"/api/v1/surveys/{populated.pk}/analytics/crosstab/"
    with tenant_context(tenant_a):
        first = Submission.objects.filter(survey_id=populated.pk).order_by("id").first()
        submission_soft_delete(submission_id=first.pk, survey_id=populated.pk)  # q_single "a", q_yes true
        survey_aggregate(survey_id=populated.pk)
        assert Watermark.objects.get(survey_id=populated.pk).generation >= 2
    for params in ({}, {"version": "1"}):
        table = analyst.get(base, {"rows": "q_single", "columns": "q_yes", **params}).json()
        cells = {
            (r, c): table["counts"][i][j]
            for i, r in enumerate(table["rows"]["categories"])
            for j, c in enumerate(table["columns"]["categories"])
        }
        assert cells.get(("a", "true"), 0) == (1 if not params else 0), (params, cells)
        assert cells.get(("b", "false")) == 1, (params, cells)
