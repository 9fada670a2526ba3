"""Retention: soft-deleted submissions are purged after the organisation's ``deleted_retention_days`` (batched
per-tenant job); detached response partitions are dropped after ``PARTITION_DROP_GRACE_DAYS``."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared_apps.core import registry
from shared_apps.tenants.models import Organisation
from shared_apps.tenants.services import partitions_maintain
from tenant_apps.audit.models import AuditEvent
from tenant_apps.privacy.services import deleted_submissions_purge
from tenant_apps.responses.models import Submission, SubmissionKey
from tenant_apps.responses.services import submission_soft_delete
from tests.conftest import host_of
from tests.factories import SurveyFactory


def _submit(tenant, survey) -> str:
    from django.test import Client

    response = Client(HTTP_HOST=host_of(tenant)).post(
        f"/api/v1/s/{survey.public_link}/submit/",
        {"answers": {"q_role": "dev", "q_nps": 9}},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()["submission_id"]


def test_soft_deleted_submissions_are_purged_after_the_retention_in_batches(make_tenant):
    tenant = make_tenant()
    Organisation.objects.filter(pk=tenant.pk).update(deleted_retention_days=10)
    survey = SurveyFactory(tenant=tenant, published=True)
    uids = [_submit(tenant, survey) for _ in range(5)]
    with tenant_context(tenant):
        ids = {uid: Submission.objects.get(uid=uid).pk for uid in uids}
        for uid in uids[:4]:
            submission_soft_delete(submission_id=ids[uid], survey_id=survey.pk)
        # Three were deleted 11 days ago, one yesterday, one is live.
        Submission.objects.filter(pk__in=[ids[u] for u in uids[:3]]).update(
            deleted_at=timezone.now() - dt.timedelta(days=11)
        )
        Submission.objects.filter(pk=ids[uids[3]]).update(deleted_at=timezone.now() - dt.timedelta(days=1))
        assert deleted_submissions_purge(batch=2) == 3
        assert {str(u) for u in Submission.objects.values_list("uid", flat=True)} == {uids[3], uids[4]}
        assert not SubmissionKey.objects.filter(uid__in=uids[:3]).exists()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM responses_answer WHERE submission_id = ANY(%s)", [[ids[u] for u in uids[:3]]]
            )
            assert cursor.fetchone()[0] == 0
        event = AuditEvent.objects.filter(action="submission.purged").latest("occurred_at")
        assert event.changes["submissions"] == 3
        assert deleted_submissions_purge() == 0  # idempotent


def test_operator_sets_the_deleted_retention(make_tenant):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    tenant = make_tenant()
    call_command("update_tenant", tenant.slug, "--deleted-retention-days", "7")
    assert Organisation.objects.get(pk=tenant.pk).deleted_retention_days == 7
    with pytest.raises(CommandError):
        call_command("update_tenant", tenant.slug, "--deleted-retention-days", "soon")


def test_purge_job_is_a_per_tenant_periodic_job():
    job = registry.periodic_job("purge-deleted-submissions")
    assert job.per_tenant
    assert job.task == "tenant_apps.privacy.tasks.deleted_submissions_purge"


@pytest.mark.worker
def test_purge_task_runs_on_the_worker(make_tenant, celery_worker_process):
    from tenant_apps.privacy.tasks import deleted_submissions_purge as task

    tenant = make_tenant()
    assert task.delay(schema_name=tenant.schema_name).get(timeout=60) == 0


def test_detached_partitions_are_dropped_after_the_grace_period(make_tenant, settings):
    settings.PARTITION_DROP_GRACE_DAYS = 30
    tenant = make_tenant()
    schema = tenant.schema_name
    with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        for month in ("2020_01", "2020_02"):
            start = dt.date(2020, int(month[-2:]), 1)
            cursor.execute(
                f'CREATE TABLE "{schema}".responses_submission_p{month} PARTITION OF "{schema}".responses_submission '
                f"FOR VALUES FROM ('{start}') TO ('{(start + dt.timedelta(days=32)).replace(day=1)}')"
            )
        # One detached earlier by hand (no stamp): it is stamped at the next run and gets the full grace.
        cursor.execute(
            f'ALTER TABLE "{schema}".responses_submission DETACH PARTITION "{schema}".responses_submission_p2020_02'
        )
    Organisation.objects.filter(pk=tenant.pk).update(retention_months=24)
    now = timezone.now()
    changed = partitions_maintain(now=now)
    assert "detached:responses_submission_p2020_01" in changed[schema]

    def tables() -> set[str]:
        with connections["owner"].cursor() as cursor:
            cursor.execute(
                "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind = 'r' AND relname LIKE 'responses_submission_p2020%%'",
                [schema],
            )
            return {row[0] for row in cursor.fetchall()}

    assert tables() == {"responses_submission_p2020_01", "responses_submission_p2020_02"}
    partitions_maintain(now=now + dt.timedelta(days=29))
    assert tables() == {"responses_submission_p2020_01", "responses_submission_p2020_02"}
    changed = partitions_maintain(now=now + dt.timedelta(days=30, minutes=1))
    assert "dropped:responses_submission_p2020_01" in changed[schema]
    assert "dropped:responses_submission_p2020_02" in changed[schema]
    assert tables() == set()
