"""Exports: version-aware columns, every format, checkpoint/resume, cancel, expiry, API errors, tenancy."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import math
import tempfile
import time
from typing import Any

import openpyxl
import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.audit.models import AuditEvent
from tenant_apps.exports import services as exports
from tenant_apps.exports.models import ExportJob
from tenant_apps.responses.services import submission_create
from tenant_apps.surveys import services
from tenant_apps.surveys.models import Publication, Survey

V1: dict[str, Any] = {
    "pages": [
        {
            "id": "p_one",
            "questions": [
                {"id": "q_name", "type": "short_text", "text": "Name"},
                {"id": "q_age", "type": "number", "text": "Age"},
                {
                    "id": "q_role",
                    "type": "single_choice",
                    "text": "Role",
                    "other": True,
                    "choices": [{"id": "dev", "text": "Engineering"}, {"id": "pm", "text": "Product"}],
                },
                {
                    "id": "q_feat",
                    "type": "multiple_choice",
                    "text": "Features",
                    "choices": [{"id": "a", "text": "Alpha"}, {"id": "b", "text": "Beta"}],
                },
                {
                    "id": "q_rank",
                    "type": "ranking",
                    "text": "Rank",
                    "choices": [{"id": "x", "text": "X"}, {"id": "y", "text": "Y"}, {"id": "z", "text": "Z"}],
                },
                {"id": "q_ok", "type": "yes_no", "text": "OK?"},
                {"id": "q_day", "type": "date", "text": "Day"},
                {
                    "id": "q_grid",
                    "type": "matrix",
                    "text": "Grid",
                    "rows": [{"id": "r1", "text": "Row 1"}, {"id": "r2", "text": "Row 2"}],
                    "columns": [{"id": "c1", "text": "Bad"}, {"id": "c2", "text": "Good"}],
                },
                {"id": "q_gone", "type": "long_text", "text": "Removed in v2"},
            ],
        }
    ]
}
V2 = copy.deepcopy(V1)
_questions = V2["pages"][0]["questions"]
_questions[3]["choices"].append({"id": "c", "text": "Gamma"})
V2["pages"][0]["questions"] = [q for q in _questions if q["id"] != "q_gone"]
V2["pages"][0]["questions"].append({"id": "q_new", "type": "nps", "text": "NPS", "min": 0, "max": 10})

A1 = {
    "q_name": "Ann",
    "q_age": 41,
    "q_role": "__other__",
    "q_role__other": "=SUM(A1)",
    "q_feat": ["b"],
    "q_rank": ["z", "x", "y"],
    "q_ok": True,
    "q_day": "2026-01-31",
    "q_grid": {"r1": "c2", "r2": "c1"},
    "q_gone": "old text",
}
A2 = {"q_name": "Bob", "q_role": "pm", "q_feat": ["a", "c"], "q_ok": False, "q_grid": {"r2": "c2"}, "q_new": 9}
HEADER = [
    "submission_uid",
    "status",
    "submitted_at",
    "version",
    "duration_seconds",
    "q_name",
    "q_age",
    "q_role",
    "q_role.other",
    "q_feat.a",
    "q_feat.b",
    "q_feat.c",
    "q_rank.x",
    "q_rank.y",
    "q_rank.z",
    "q_ok",
    "q_day",
    "q_grid.r1",
    "q_grid.r2",
    "q_gone",
    "q_new",
]
# Cells after the metadata, codes (answers as stored / 1-0 for multiple choice and yes/no).
CODES = [
    ["Ann", 41, "__other__", "=SUM(A1)", 0, 1, 0, 2, 3, 1, 1, "2026-01-31", "c2", "c1", "old text", None],
    ["Bob", None, "pm", None, 1, 0, 1, None, None, None, 0, None, None, "c2", None, 9],
]
LABELS = [
    ["Ann", 41, "Other", "=SUM(A1)", "", "Beta", "", 2, 3, 1, "Yes", "2026-01-31", "Good", "Bad", "old text", None],
    ["Bob", None, "Product", None, "Alpha", "", "Gamma", None, None, None, "No", None, None, "Good", None, 9],
]


def _publish(survey: Survey) -> Survey:
    publication = services.publication_request(survey=survey, requested_by_id=None)
    publication = services.publication_compile_run(publication=Publication.objects.get(pk=publication.pk))
    assert publication.status == Publication.Status.PUBLISHED, publication.errors
    return Survey.objects.select_related("current_version").get(pk=survey.pk)


def _submit(survey: Survey, answers: dict[str, Any]) -> str:
    version = survey.current_version
    assert version is not None
    return submission_create(
        survey_id=survey.pk, version_id=version.pk, definition=version.definition, answers=answers
    ).uid


def two_version_survey(tenant: Any, extra_v1: int = 0) -> tuple[Survey, list[str]]:
    """v1 answered by A1 (+ ``extra_v1`` more), then v2 (one question gone, one choice and one question
    added) answered by A2."""
    with tenant_context(tenant):
        survey = services.survey_create_published(title="Export me", definition=copy.deepcopy(V1))
        uids = [_submit(survey, A1)]
        uids += [_submit(survey, {**A1, "q_name": f"N{i}"}) for i in range(extra_v1)]
        survey = services.definition_replace(survey=survey, definition=copy.deepcopy(V2))
        survey = _publish(survey)
        uids.append(_submit(survey, A2))
    return survey, uids


def _wait(client: Client, job_id: int, *, until: str = "ready", timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/exports/{job_id}/").json()
        if body["status"] == until:
            return body
        assert body["status"] in ("queued", "running"), body
        time.sleep(0.2)
    raise AssertionError(f"export {job_id} not {until} after {timeout}s: {body}")


def _download(tenant_client: Client, url: str) -> bytes:
    response = tenant_client.get(url)
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def _check_meta(row: list[Any], uid: str, version: int) -> None:
    assert row[0] == uid
    assert row[1] == "complete"
    assert dt.datetime.fromisoformat(str(row[2])).tzinfo is not None
    assert int(row[3]) == version
    assert row[4] in ("", None)  # no started_at recorded for these submissions


def _csv_cells(expected: list[Any]) -> list[str]:
    return ["" if c is None else ("'" + c if isinstance(c, str) and c.startswith("=") else str(c)) for c in expected]


# --- through the API and the worker ----------------------------------------------------------------


@pytest.mark.worker
def test_csv_export_of_two_versions_cell_by_cell(tenant_a, make_member, api_client_for, celery_worker_process):
    survey, uids = two_version_survey(tenant_a)
    analyst = api_client_for(make_member(tenant_a, "analyst"), tenant_a)
    created = analyst.post(
        f"/api/v1/surveys/{survey.pk}/exports/", {"format": "csv", "bom": True}, content_type="application/json"
    )
    assert created.status_code == 202, created.content
    assert created.json()["status"] == "queued"
    body = _wait(analyst, created.json()["id"])
    assert (body["rows_done"], body["rows_total"]) == (2, 2)
    assert body["download_url"]
    assert body["download_expires_in"] > 0
    raw = _download(Client(HTTP_HOST=analyst.defaults["HTTP_HOST"]), body["download_url"])
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == HEADER
    assert len(rows) == 3
    for row, uid, version, expected in zip(rows[1:], uids, (1, 2), CODES, strict=True):
        _check_meta(row, uid, version)
        assert row[5:] == _csv_cells(expected)
    with tenant_context(tenant_a):
        assert AuditEvent.objects.filter(action="export.request", target_id=str(survey.pk)).exists()


@pytest.mark.worker
def test_xlsx_export_with_labels(tenant_a, make_member, api_client_for, celery_worker_process):
    survey, uids = two_version_survey(tenant_a)
    analyst = api_client_for(make_member(tenant_a, "analyst"), tenant_a)
    created = analyst.post(
        f"/api/v1/surveys/{survey.pk}/exports/",
        {"format": "xlsx", "values": "labels"},
        content_type="application/json",
    )
    assert created.status_code == 202, created.content
    body = _wait(analyst, created.json()["id"])
    raw = _download(Client(HTTP_HOST=analyst.defaults["HTTP_HOST"]), body["download_url"])
    sheet = openpyxl.load_workbook(io.BytesIO(raw), read_only=True)["Responses"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == HEADER
    for row, uid, version, expected in zip(rows[1:], uids, (1, 2), LABELS, strict=True):
        _check_meta(row, uid, version)
        # Empty strings are not written to a cell: they read back as None; the formula stays text.
        assert row[5:] == [None if c == "" else c for c in expected]


@pytest.mark.worker
def test_an_interrupted_export_resumes_from_its_checkpoint(tenant_a, celery_worker_process):
    """A run that stopped after storing its first part (as a killed worker leaves it) is redelivered:
    the next run continues after the checkpoint, and the file has every row exactly once, in order."""
    from tenant_apps.exports.tasks import export_run_task

    survey, uids = two_version_survey(tenant_a, extra_v1=4)  # 6 rows
    with tenant_context(tenant_a):
        job = ExportJob.objects.create(
            survey=survey, format="ndjson", options={}, expires_at=timezone.now() + dt.timedelta(days=1)
        )
        job = exports.export_run(job_id=job.pk, chunk_rows=4, max_parts=1)
        assert job.status == ExportJob.Status.RUNNING
        assert (job.rows_done, job.checkpoint["parts"]) == (4, 1)
        assert job.checkpoint["phase"] == "submissions"
    export_run_task.delay(schema_name=tenant_a.schema_name, job_id=job.pk).get(timeout=60)
    with tenant_context(tenant_a):
        job.refresh_from_db()
        assert job.status == ExportJob.Status.READY
        assert job.rows_done == 6
        with default_storage.open(job.storage_key, "rb") as handle:
            lines = [json.loads(line) for line in handle]
        assert not default_storage.exists(f"exports/{tenant_a.schema_name}/{job.pk}/parts/000001.ndjson")
    assert [line["submission_uid"] for line in lines] == uids
    assert [line["q_name"] for line in lines] == ["Ann", "N0", "N1", "N2", "N3", "Bob"]
    assert list(lines[-1].values())[5:] == CODES[1]


@pytest.mark.worker
def test_expired_exports_are_deleted_by_the_periodic_task(tenant_a, celery_worker_process):
    from shared_apps.core.registry import periodic_job
    from tenant_apps.exports.tasks import exports_expire

    assert periodic_job("delete-expired-exports").task == "tenant_apps.exports.tasks.exports_expire"
    survey, _ = two_version_survey(tenant_a)
    with tenant_context(tenant_a):
        job = ExportJob.objects.create(
            survey=survey, format="json", options={}, expires_at=timezone.now() + dt.timedelta(days=1)
        )
        job = exports.export_run(job_id=job.pk)
        assert job.status == ExportJob.Status.READY
        assert default_storage.exists(job.storage_key)
        fresh = ExportJob.objects.create(
            survey=survey, format="json", options={}, expires_at=timezone.now() + dt.timedelta(days=1)
        )
        fresh = exports.export_run(job_id=fresh.pk)
        ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    exports_expire.delay(schema_name=tenant_a.schema_name).get(timeout=60)
    with tenant_context(tenant_a):
        assert not default_storage.exists(job.storage_key)
        job.refresh_from_db()
        assert (job.status, job.storage_key) == (ExportJob.Status.EXPIRED, "")
        fresh.refresh_from_db()
        assert fresh.status == ExportJob.Status.READY
        assert default_storage.exists(fresh.storage_key)


# --- in process ------------------------------------------------------------------------------------


def test_json_and_ndjson_hold_the_same_objects(tenant_a):
    survey, _uids = two_version_survey(tenant_a)
    with tenant_context(tenant_a):
        out = {}
        for fmt in ("json", "ndjson"):
            job = ExportJob.objects.create(
                survey=survey, format=fmt, options={}, expires_at=timezone.now() + dt.timedelta(days=1)
            )
            job = exports.export_run(job_id=job.pk, chunk_rows=1)
            with default_storage.open(job.storage_key, "rb") as handle:
                raw = handle.read()
            out[fmt] = json.loads(raw) if fmt == "json" else [json.loads(line) for line in raw.splitlines()]
    assert out["json"] == out["ndjson"]
    assert [list(o) for o in out["json"]] == [HEADER, HEADER]
    assert [list(o.values())[5:] for o in out["json"]] == CODES


def test_filters_and_drafts(tenant_a):
    from tenant_apps.responses.models import DraftCopy

    survey, uids = two_version_survey(tenant_a)
    with tenant_context(tenant_a):
        DraftCopy.objects.create(
            uid="00000000-0000-4000-8000-000000000001",
            survey_id=survey.pk,
            data={"version": 2, "answers": {"q_name": "Draft"}},
            updated_at=timezone.now(),
            expires_at=timezone.now() + dt.timedelta(days=1),
        )
        job = ExportJob.objects.create(
            survey=survey,
            format="ndjson",
            options={"version": 2, "include_drafts": True},
            expires_at=timezone.now() + dt.timedelta(days=1),
        )
        job = exports.export_run(job_id=job.pk)
        with default_storage.open(job.storage_key, "rb") as handle:
            lines = [json.loads(line) for line in handle]
    assert [(r["submission_uid"], r["status"], r["q_name"]) for r in lines] == [
        (uids[1], "complete", "Bob"),
        ("00000000-0000-4000-8000-000000000001", "draft", "Draft"),
    ]
    assert job.rows_total == 2


def test_cancel_stops_the_run_and_deletes_its_parts(tenant_a, make_member, api_client_for):
    survey, _ = two_version_survey(tenant_a, extra_v1=3)
    analyst = api_client_for(make_member(tenant_a, "analyst"), tenant_a)
    with tenant_context(tenant_a):
        job = ExportJob.objects.create(
            survey=survey, format="csv", options={}, expires_at=timezone.now() + dt.timedelta(days=1)
        )
        job = exports.export_run(job_id=job.pk, chunk_rows=2, max_parts=1)
        part = f"exports/{tenant_a.schema_name}/{job.pk}/parts/000001.ndjson"
        assert default_storage.exists(part)
    cancelled = analyst.delete(f"/api/v1/exports/{job.pk}/")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "cancelled"
    with tenant_context(tenant_a):
        assert not default_storage.exists(part)
        job = exports.export_run(job_id=job.pk, chunk_rows=2)  # a redelivered message after the cancel
        assert (job.status, job.storage_key) == (ExportJob.Status.CANCELLED, "")
        assert AuditEvent.objects.filter(action="export.cancel", target_id=str(job.pk)).exists()
    again = analyst.delete(f"/api/v1/exports/{job.pk}/")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "export_refused"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"format": "pdf"}, "format"),
        ({"format": "sav"}, "format"),
        ({"format": ["spss"]}, "format"),
        ({}, "format"),
        ({"format": "csv", "values": "both"}, "values"),
        ({"format": "csv", "filters": "all"}, "filters"),
        ({"format": "csv", "filters": {"since": "yesterday"}}, "filters"),
        ({"format": "csv", "filters": {"version": 0}}, "filters"),
        ({"format": "csv", "include_drafts": "maybe"}, "include_drafts"),
    ],
)
def test_bad_requests_are_400_in_the_error_shape(tenant_a, make_member, api_client_for, body, field):
    survey, _ = two_version_survey(tenant_a)
    analyst = api_client_for(make_member(tenant_a, "analyst"), tenant_a)
    response = analyst.post(f"/api/v1/surveys/{survey.pk}/exports/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["request_id"]
    assert field in error["details"]


@pytest.mark.parametrize(
    ("filters", "code"),
    [
        ({"version": 99}, "invalid_filter"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "invalid_filter"),
    ],
)
def test_refused_filters_are_400(tenant_a, make_member, api_client_for, filters, code):
    survey, _ = two_version_survey(tenant_a)
    analyst = api_client_for(make_member(tenant_a, "analyst"), tenant_a)
    response = analyst.post(
        f"/api/v1/surveys/{survey.pk}/exports/", {"format": "csv", "filters": filters}, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    with tenant_context(tenant_a):
        assert not ExportJob.objects.filter(survey=survey).exists()


def test_an_unpublished_survey_is_refused(tenant_a, make_member, api_client_for):
    with tenant_context(tenant_a):
        survey = services.survey_create(title="Draft only", definition=copy.deepcopy(V1), created_by_id=None)
    analyst = api_client_for(make_member(tenant_a, "analyst"), tenant_a)
    response = analyst.post(f"/api/v1/surveys/{survey.pk}/exports/", {"format": "csv"}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_published"


def test_another_tenants_exports_are_404(tenant_a, tenant_b, make_member, api_client_for):
    survey_b, _ = two_version_survey(tenant_b)
    with tenant_context(tenant_a):
        highest_in_a = ExportJob.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with tenant_context(tenant_b):
        job_b = None
        while job_b is None or job_b.pk <= highest_in_a:  # an id that exists only in tenant B
            job_b = ExportJob.objects.create(
                survey=survey_b, format="csv", options={}, expires_at=timezone.now() + dt.timedelta(days=1)
            )
    admin_a = api_client_for(make_member(tenant_a, "admin"), tenant_a)
    assert admin_a.get(f"/api/v1/exports/{job_b.pk}/").status_code == 404
    assert admin_a.delete(f"/api/v1/exports/{job_b.pk}/").status_code == 404
    with tenant_context(tenant_a):
        highest_survey_in_a = Survey.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with tenant_context(tenant_b):
        while survey_b.pk <= highest_survey_in_a:  # a survey id that exists only in tenant B
            survey_b = services.survey_create_published(title="B only", definition=copy.deepcopy(V1))
    refused = admin_a.post(
        f"/api/v1/surveys/{survey_b.pk}/exports/", {"format": "csv"}, content_type="application/json"
    )
    assert refused.status_code == 404
    listed = admin_a.get("/api/v1/exports/").json()["results"]
    assert job_b.pk not in [j["id"] for j in listed if j["survey_id"] == survey_b.pk]
    with tenant_context(tenant_b):
        job_b.refresh_from_db()
        assert job_b.status == ExportJob.Status.QUEUED


def test_export_list_pages_without_n_plus_one(tenant_a, make_member, api_client_for, django_assert_max_num_queries):
    survey, _ = two_version_survey(tenant_a)
    with tenant_context(tenant_a):
        for _ in range(5):
            ExportJob.objects.create(
                survey=survey, format="csv", options={}, expires_at=timezone.now() + dt.timedelta(days=1)
            )
    analyst = api_client_for(make_member(tenant_a, "analyst"), tenant_a)
    with django_assert_max_num_queries(8):
        listed = analyst.get("/api/v1/exports/")
    assert listed.status_code == 200
    assert len(listed.json()["results"]) >= 5
    respondent = api_client_for(make_member(tenant_a, "respondent"), tenant_a)
    assert respondent.get("/api/v1/exports/").status_code == 403


# --- S3 (moto's server) ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_server():
    """moto's S3-protocol server on a free port of 5560-5569."""
    import subprocess
    import sys

    import requests

    from tests.conftest import free_port

    port = free_port(range(5560, 5570))
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url, timeout=1)
            break
        except requests.RequestException:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=10)


def test_s3_export_with_presigned_expiring_url(tenant_a, make_member, api_client_for, settings, s3_server):
    import boto3
    import requests

    bucket = "survey-exports-test"
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    s3 = boto3.client("s3", endpoint_url=s3_server, **credentials)
    s3.create_bucket(Bucket=bucket)
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_server,
                "access_key": "testing",
                "secret_key": "testing",
                "region_name": "us-east-1",
                "default_acl": None,
                "querystring_auth": True,
                "querystring_expire": 300,
            },
        },
    }
    survey, uids = two_version_survey(tenant_a)
    with tenant_context(tenant_a):
        job = ExportJob.objects.create(
            survey=survey, format="csv", options={}, expires_at=timezone.now() + dt.timedelta(days=1)
        )
        job = exports.export_run(job_id=job.pk, chunk_rows=1)
    assert job.status == ExportJob.Status.READY
    analyst = api_client_for(make_member(tenant_a, "analyst"), tenant_a)
    url = analyst.get(f"/api/v1/exports/{job.pk}/").json()["download_url"]
    assert url.startswith(s3_server)
    assert "X-Amz-Signature" in url or "Signature" in url
    assert "X-Amz-Expires" in url or "Expires" in url
    rows = list(csv.reader(io.StringIO(requests.get(url, timeout=5).content.decode())))
    assert rows[0] == HEADER
    assert [r[0] for r in rows[1:]] == uids
    assert [r[5:] for r in rows[1:]] == [_csv_cells(c) for c in CODES]
    assert requests.get(url.split("?", 1)[0], timeout=5).status_code == 403
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [job.storage_key]  # the parts were deleted once assembled


def test_xlsx_continues_on_a_new_worksheet_past_the_row_limit(tenant_a, monkeypatch):
    """A worksheet holds 1 048 576 rows; xlsxwriter ignores writes past it, which would truncate silently."""
    monkeypatch.setattr(exports, "XLSX_MAX_ROW", 2)
    survey, uids = two_version_survey(tenant_a, extra_v1=2)  # 4 rows: 2 on the first sheet, 2 on the next
    with tenant_context(tenant_a):
        job = ExportJob.objects.create(
            survey=survey, format="xlsx", options={}, expires_at=timezone.now() + dt.timedelta(days=1)
        )
        job = exports.export_run(job_id=job.pk)
        with default_storage.open(job.storage_key, "rb") as handle:
            book = openpyxl.load_workbook(io.BytesIO(handle.read()), read_only=True)
    assert book.sheetnames == ["Responses", "Responses 2"]
    sheets = [[list(r) for r in book[name].iter_rows(values_only=True)] for name in book.sheetnames]
    assert [rows[0] for rows in sheets] == [HEADER, HEADER]
    assert [r[0] for rows in sheets for r in rows[1:]] == uids


def test_spss_export_has_variable_labels_value_labels_and_codes(tenant_a):
    pyreadstat = pytest.importorskip("pyreadstat")
    survey, uids = two_version_survey(tenant_a)
    with tenant_context(tenant_a):
        job = ExportJob.objects.create(
            survey=survey, format="spss", options={"labels": True}, expires_at=timezone.now() + dt.timedelta(days=1)
        )
        job = exports.export_run(job_id=job.pk, chunk_rows=1)
        assert job.status == ExportJob.Status.READY, job.error
        assert job.storage_key.endswith(".sav")
        with default_storage.open(job.storage_key, "rb") as handle, tempfile.NamedTemporaryFile(suffix=".sav") as tmp:
            tmp.write(handle.read())
            tmp.flush()
            frame, meta = pyreadstat.read_sav(tmp.name)
    names = list(frame.columns)
    assert names == exports.spss_names(HEADER)
    assert names[:7] == ["submission_uid", "status", "submitted_at", "version", "duration_seconds", "q_name", "q_age"]
    assert {"q_role_other", "q_feat_a", "q_grid_r1"} <= set(names)
    assert all(len(n.encode()) <= 64 and n[0].isalpha() for n in names)
    labels = meta.column_names_to_labels
    assert (labels["q_role"], labels["q_age"], labels["q_feat_c"]) == ("Role", "Age", "Features: Gamma")
    assert (labels["q_grid_r2"], labels["duration_seconds"]) == ("Grid: Row 2", "Time to complete (seconds)")
    values = meta.variable_value_labels
    assert values["q_role"] == {0: "Other", 1: "Engineering", 2: "Product"}
    assert values["q_grid_r1"] == {1: "Bad", 2: "Good"}
    assert values["q_ok"] == {0: "No", 1: "Yes"}
    assert values["q_feat_a"] == {0: "Not selected", 1: "Selected"}
    rows = frame.to_dict("records")
    assert [r["submission_uid"] for r in rows] == uids
    ann, bob = rows
    assert (ann["q_name"], ann["q_age"], ann["q_role"], ann["q_role_other"]) == ("Ann", 41, 0, "=SUM(A1)")
    assert (ann["q_feat_b"], ann["q_rank_z"], ann["q_ok"], ann["q_grid_r1"], ann["q_day"]) == (1, 1, 1, 2, "2026-01-31")
    assert (ann["version"], ann["q_gone"], math.isnan(ann["q_new"])) == (1, "old text", True)
    assert (bob["q_role"], bob["q_feat_c"], bob["q_ok"], bob["q_grid_r2"], bob["q_new"], bob["version"]) == (
        2,
        1,
        0,
        2,
        9,
        2,
    )
    assert math.isnan(bob["q_age"])  # missing
    assert math.isnan(bob["q_grid_r1"])
    types = meta.readstat_variable_types
    assert (types["q_age"], types["q_name"], types["q_role"]) == ("double", "string", "double")


def test_spss_names_are_valid_and_unique():
    names = exports.spss_names(["1st", "a.b", "a_b", "A_B", "with", "x" * 80, "x" * 80, "é.q", "__"])
    assert names[:5] == ["v_1st", "a_b", "a_b_2", "A_B_3", "v_with"]
    assert (len(names[5]), len(names[6]), names[6][-2:]) == (64, 64, "_2")
    assert len({n.upper() for n in names}) == len(names)
    assert all(n[0].isalpha() and len(n.encode()) <= 64 for n in names)


def test_a_draft_then_submit_has_a_duration_in_exports_and_analytics(tenant_a, make_member, api_client_for):
    """started_at comes from the draft's first save (its signed token); a submit without a draft has none,
    whatever the client claims."""
    from django_redis import get_redis_connection

    from tenant_apps.analytics.services import survey_aggregate
    from tenant_apps.responses.services import draft_key
    from tests.conftest import host_of

    with tenant_context(tenant_a):
        survey = services.survey_create_published(title="Timed", definition=copy.deepcopy(V1))
    client = Client(HTTP_HOST=host_of(tenant_a))
    link = survey.public_link
    first = client.put(f"/api/v1/s/{link}/draft/", {"answers": {"q_name": "Cy"}, "page": "p_one"}, "application/json")
    assert first.status_code == 200, first.content
    uid, token = first.json()["submission_id"], first.json()["token"]
    redis = get_redis_connection("default")
    started = json.loads(redis.get(draft_key(tenant_a.schema_name, uid)))["started_at"]
    assert started is not None
    time.sleep(1.2)
    later = {"answers": {"q_name": "Cy", "q_age": 30}, "page": "p_one", "submission_id": uid, "token": token}
    assert client.put(f"/api/v1/s/{link}/draft/", later, "application/json").status_code == 200
    assert json.loads(redis.get(draft_key(tenant_a.schema_name, uid)))["started_at"] == started  # kept
    submit = {"answers": {"q_name": "Cy", "q_age": 30}, "submission_id": uid, "token": token}
    assert client.post(f"/api/v1/s/{link}/submit/", submit, "application/json").status_code in (200, 201)
    claimed = {"answers": {"q_name": "Di"}, "started_at": "2020-01-01T00:00:00Z"}  # not trusted: ignored
    assert client.post(f"/api/v1/s/{link}/submit/", claimed, "application/json").status_code in (200, 201)

    with tenant_context(tenant_a):
        job = ExportJob.objects.create(
            survey=survey, format="ndjson", options={}, expires_at=timezone.now() + dt.timedelta(days=1)
        )
        job = exports.export_run(job_id=job.pk)
        with default_storage.open(job.storage_key, "rb") as handle:
            rows = {r["q_name"]: r for r in map(json.loads, handle.read().splitlines())}
        survey_aggregate(survey_id=survey.pk)
    assert rows["Cy"]["submission_uid"] == uid
    assert 1 <= rows["Cy"]["duration_seconds"] < 60
    assert rows["Di"]["duration_seconds"] is None
    analyst = api_client_for(make_member(tenant_a, "analyst"), tenant_a)
    totals = analyst.get(f"/api/v1/surveys/{survey.pk}/analytics/").json()["totals"]
    assert totals["median_completion_seconds"] is not None
    assert 1 <= totals["median_completion_seconds"] < 60
