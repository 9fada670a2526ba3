"""File questions: limits from the question, survey-bound file ids, signed expiring staff URLs; local
filesystem by default and S3 against a local S3-protocol server (moto's server mode)."""

from __future__ import annotations

import copy
import socket
import subprocess
import sys
import time

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import tenant_context

from tenant_apps.responses.models import Answer, Submission
from tenant_apps.surveys import services
from tests.conftest import host_of

DEFINITION = copy.deepcopy(services.DEMO_DEFINITION)
DEFINITION["pages"][0]["questions"].append(
    {"id": "q_cv", "type": "file_upload", "text": "Your CV", "allowed_types": ["pdf", "txt"], "max_size_mb": 1}
)
ANSWERS = {"q_role": "dev", "q_nps": 9}


def _published(tenant):
    with tenant_context(tenant):
        return services.survey_create_published(title="Files", definition=copy.deepcopy(DEFINITION))


def _upload(client, survey, name, content, question="q_cv"):
    return client.post(
        f"/api/v1/s/{survey.public_link}/files/", {"question": question, "file": SimpleUploadedFile(name, content)}
    )


def _round_trip(tenant, make_member, api_client_for):
    survey = _published(tenant)
    respondent = Client(HTTP_HOST=host_of(tenant))
    uploaded = _upload(respondent, survey, "cv.pdf", b"%PDF-1.4 my cv")
    assert uploaded.status_code == 201, uploaded.content
    file_id = uploaded.json()["file_id"]
    submitted = respondent.post(
        f"/api/v1/s/{survey.public_link}/submit/",
        {"answers": {**ANSWERS, "q_cv": {"file_id": file_id}}},
        content_type="application/json",
    )
    assert submitted.status_code == 201, submitted.content
    with tenant_context(tenant):
        stored = Answer.objects.get(
            question_id="q_cv", submission_id=Submission.objects.get(survey_id=survey.pk).id
        ).value
    assert stored == {"file_id": file_id}
    staff = api_client_for(make_member(tenant, "analyst"), tenant)
    link = staff.get(f"/api/v1/surveys/{survey.pk}/files/", {"file_id": file_id})
    assert link.status_code == 200
    respondent_member = api_client_for(make_member(tenant, "respondent"), tenant)
    assert respondent_member.get(f"/api/v1/surveys/{survey.pk}/files/", {"file_id": file_id}).status_code == 403
    return survey, file_id, link.json()["url"]


def test_local_storage_round_trip_with_signed_expiring_link(tenant_a, make_member, api_client_for, settings):
    _survey, _file_id, url = _round_trip(tenant_a, make_member, api_client_for)
    assert url.startswith("/api/v1/files/")
    client = Client(HTTP_HOST=host_of(tenant_a))
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 my cv"
    assert client.get(url[:-3] + "abc").status_code == 403  # tampered
    settings.UPLOAD_URL_SECONDS = -1  # every link is now expired
    assert client.get(url).status_code == 403


@pytest.mark.parametrize(
    ("name", "content", "question", "code"),
    [
        ("virus.exe", b"MZ", "q_cv", "file_type_not_allowed"),
        ("big.pdf", b"x" * (1024 * 1024 + 1), "q_cv", "file_too_large"),
        ("cv.pdf", b"%PDF", "q_name", "invalid_question"),
    ],
)
def test_upload_limits_come_from_the_question(tenant_a, name, content, question, code):
    survey = _published(tenant_a)
    response = _upload(Client(HTTP_HOST=host_of(tenant_a)), survey, name, content, question)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_file_ids_are_bound_to_their_survey_and_tenant(tenant_a, tenant_b):
    survey_a, survey_a2, survey_b = _published(tenant_a), _published(tenant_a), _published(tenant_b)
    file_id = _upload(Client(HTTP_HOST=host_of(tenant_a)), survey_a, "cv.txt", b"hello").json()["file_id"]
    for tenant, survey in ((tenant_a, survey_a2), (tenant_b, survey_b)):
        response = Client(HTTP_HOST=host_of(tenant)).post(
            f"/api/v1/s/{survey.public_link}/submit/",
            {"answers": {**ANSWERS, "q_cv": {"file_id": file_id}}},
            content_type="application/json",
        )
        assert response.status_code == 400
        assert "q_cv" in response.json()["error"]["details"]


@pytest.fixture(scope="module")
def s3_server():
    """moto's S3-protocol server on a free local port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
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


def test_s3_storage_round_trip_with_presigned_url(tenant_a, make_member, api_client_for, settings, s3_server):
    import boto3

    bucket = "survey-uploads-test"
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    boto3.client("s3", endpoint_url=s3_server, **credentials).create_bucket(Bucket=bucket)
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
    survey, _file_id, url = _round_trip(tenant_a, make_member, api_client_for)
    assert url.startswith(s3_server)
    assert "Signature" in url or "X-Amz-Signature" in url
    assert "Expires" in url or "X-Amz-Expires" in url
    assert requests.get(url, timeout=5).content == b"%PDF-1.4 my cv"
    objects = boto3.client("s3", endpoint_url=s3_server, **credentials).list_objects_v2(Bucket=bucket)["Contents"]
    assert objects[0]["Key"].startswith(f"uploads/{tenant_a.schema_name}/{survey.pk}/q_cv/")
    unsigned = url.split("?", 1)[0]
    assert requests.get(unsigned, timeout=5).status_code == 403
