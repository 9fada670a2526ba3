"""Vault down: a test stops its own OpenBao mid-run. Surveys with personal-data questions refuse submits with
503 + Retry-After and store nothing; other surveys are unaffected; reading personal data is a clear 503."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import tenant_context

from shared_apps.core.devvault import bao_start, bao_stop
from tenant_apps.pii.services import cache_clear
from tenant_apps.responses.models import Submission
from tests.conftest import ROOT, host_of
from tests.tenant_apps.pii.test_sealed import published, submit

ANSWERS = {"q_name": "Dora", "q_role": "dev", "q_nps": 9}


@pytest.fixture
def vault_server_private(vault_server: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """An OpenBao of this test's own (the session's keeps serving everyone else once this one is restored)."""
    process, addr, token = bao_start(log_path=ROOT / "var" / "test-bao-private.log")
    saved = settings.VAULT_ADDR, settings.VAULT_TOKEN
    settings.VAULT_ADDR, settings.VAULT_TOKEN = addr, token
    cache_clear()
    try:
        yield {"addr": addr, "token": token, "process": process}
    finally:
        bao_stop(process)
        settings.VAULT_ADDR, settings.VAULT_TOKEN = saved
        cache_clear()


def test_vault_stopped_mid_run(vault_server_private, make_tenant, make_member, api_client_for):
    tenant = make_tenant()
    flagged, plain = published(tenant), published(tenant, flagged=False)
    assert submit(tenant, flagged, ANSWERS).status_code == 201
    assert submit(tenant, plain, ANSWERS).status_code == 201
    admin = api_client_for(make_member(tenant, role="admin"), tenant)
    url = f"/api/v1/surveys/{flagged.pk}/submissions/"
    assert admin.get(url).json()["results"][0]["answers"]["q_name"] == "Dora"

    bao_stop(vault_server_private["process"])
    cache_clear()  # a process whose cached key expired (keys stay in memory PII_KEY_CACHE_SECONDS at most)

    refused = submit(tenant, flagged, {**ANSWERS, "q_name": "Eve"})
    assert refused.status_code == 503, refused.content
    assert refused["Retry-After"] == "5"
    assert refused.json()["error"]["code"] == "kms_unavailable"
    with tenant_context(tenant):
        assert Submission.objects.filter(survey_id=flagged.pk).count() == 1  # nothing stored
    respondent = Client(HTTP_HOST=host_of(tenant))
    draft = respondent.put(
        f"/api/v1/s/{flagged.public_link}/draft/", {"answers": {"q_name": "Eve"}}, content_type="application/json"
    )
    assert draft.status_code == 503  # a draft holding personal data is not kept in plain text either
    assert draft["Retry-After"] == "5"
    plain_draft = respondent.put(
        f"/api/v1/s/{flagged.public_link}/draft/", {"answers": {"q_nps": 4}}, content_type="application/json"
    )
    assert plain_draft.status_code == 200  # nothing personal in it: saved

    accepted = submit(tenant, plain, {**ANSWERS, "q_name": "Fay"}, HTTP_USER_AGENT="UA-while-down")
    assert accepted.status_code == 201, accepted.content
    with tenant_context(tenant):
        row = Submission.objects.get(uid=accepted.json()["submission_id"])
        assert "user_agent" not in row.meta  # dropped rather than stored in plain text
        assert "ip" not in row.meta

    reading = admin.get(url)
    assert reading.status_code == 503
    assert reading["Retry-After"] == "5"
    assert "key service is unavailable" in reading.json()["error"]["message"]
    # Members who may not see personal data still get their (redacted) list: no key needed.
    analyst = api_client_for(make_member(tenant, role="analyst"), tenant)
    listed = analyst.get(url)
    assert listed.status_code == 200
    assert listed.json()["results"][0]["answers"]["q_name"] == "[redacted]"
