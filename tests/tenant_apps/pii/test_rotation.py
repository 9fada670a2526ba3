"""Rotation keeps every row readable: ``rotate_tenant_key`` (new KEK version, data keys rewrapped, no data
rewritten) and ``reencrypt_tenant`` (a new data key, resumable batches, progress)."""

from __future__ import annotations

import io

from django.core.management import call_command
from django_tenants.utils import tenant_context

from tenant_apps.pii.models import DataKey
from tenant_apps.pii.services import cache_clear, key_id_of
from tenant_apps.responses.models import Answer, Submission, SubmissionKey
from tests.tenant_apps.pii.test_sealed import published, submit


def _names(tenant, admin, survey) -> dict[str, str]:
    results = admin.get(f"/api/v1/surveys/{survey.pk}/submissions/?page_size=100").json()["results"]
    return {r["id"]: r["answers"]["q_name"] for r in results}


def test_rotate_and_reencrypt_keep_every_row_readable(make_tenant, make_member, api_client_for):
    tenant = make_tenant()
    survey = published(tenant)
    names = {}
    for i in range(7):
        uid = submit(tenant, survey, {"q_name": f"Person {i}", "q_role": "dev", "q_nps": 9}).json()["submission_id"]
        names[uid] = f"Person {i}"
    admin = api_client_for(make_member(tenant, role="admin"), tenant)
    with tenant_context(tenant):
        first = DataKey.objects.get(active=True)
        before = dict(Answer.objects.filter(question_id="q_name").values_list("id", "value"))

    out = io.StringIO()
    call_command("rotate_tenant_key", tenant.slug, stdout=out)
    assert "rotated to version 2" in out.getvalue()
    cache_clear()  # read through Vault again: the rewrapped key must unwrap
    with tenant_context(tenant):
        rotated = DataKey.objects.get(pk=first.pk)
        assert rotated.kek_version == 2
        assert rotated.wrapped.startswith("vault:v2:")
        assert dict(Answer.objects.filter(question_id="q_name").values_list("id", "value")) == before  # no rewrite
    assert _names(tenant, admin, survey) == names

    # Re-encryption, interrupted after one batch of 3, then resumed.
    out = io.StringIO()
    call_command("reencrypt_tenant", tenant.slug, "--batch", "3", "--max-batches", "1", stdout=out)
    assert "Started on data key" in out.getvalue()
    assert "stopped early" in out.getvalue()
    with tenant_context(tenant):
        second = DataKey.objects.get(active=True)
        assert second.kid != first.kid
        kids = [key_id_of(v) for v in Answer.objects.filter(question_id="q_name").values_list("value", flat=True)]
        assert 0 < kids.count(second.kid) < len(kids)
    assert _names(tenant, admin, survey) == names  # mid-way: both keys read

    out = io.StringIO()
    call_command("reencrypt_tenant", tenant.slug, "--batch", "5", stdout=out)
    assert "Resumed on data key" in out.getvalue()
    assert "finished" in out.getvalue()
    assert "values re-encrypted" in out.getvalue()
    with tenant_context(tenant):
        assert DataKey.objects.get(active=True).kid == second.kid
        sealed = [
            *Answer.objects.filter(question_id__in=["q_name", "q_role"]).values_list("value", flat=True),
            *(
                m[f]
                for m in Submission.objects.values_list("meta", flat=True)
                for f in ("ip", "user_agent")
                if m.get(f)
            ),
            *(r["text"] for r in SubmissionKey.objects.values_list("result", flat=True) if r.get("text")),
        ]
        assert sealed
        assert {key_id_of(v) for v in sealed} == {second.kid}
    cache_clear()
    assert _names(tenant, admin, survey) == names
