"""Core collects, apps declare: shared_apps never imports tenant_apps, and the registry holds what each
tenant app declared in its AppConfig.ready() (seeders, partitioned and append-only tables, e-mail
builders, periodic jobs, the audit recorder), which the platform then uses."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from celery.schedules import crontab
from django.apps import apps
from django.db import connection
from django_tenants.utils import tenant_context

from shared_apps.core import registry, rls
from shared_apps.tenants.tasks import periodic_fan_out_task

ROOT = Path(__file__).resolve().parents[3]


def _tenant_app_imports(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"{path.relative_to(root)}:{node.lineno}: {n}" for n in names if n.split(".")[0] == "tenant_apps"]
    return found


def test_shared_apps_never_import_tenant_apps():
    files = sorted((ROOT / "shared_apps").rglob("*.py"))
    assert len(files) > 40
    offenders = [hit for path in files for hit in _tenant_app_imports(path)]
    assert offenders == []


def test_the_scan_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "probe.py"
    sample.write_text("import os\n\ndef f():\n    from tenant_apps.audit.services import audit_record\n")
    assert _tenant_app_imports(sample, root=tmp_path) == ["probe.py:4: tenant_apps.audit.services"]


def test_registry_holds_what_each_tenant_app_declared():
    assert [(s.name, s.order) for s in registry.seeders()] == [
        ("pii.tenant_keys", 1),
        ("members.builtin_roles", 5),
        ("members.admin_membership", 10),
        ("surveys.demo_survey", 50),
        ("responses.demo_responses", 60),
    ]
    assert [(t.table, t.retained) for t in registry.partitioned_tables()] == [
        ("audit_event", False),
        ("responses_answer", True),
        ("responses_submission", True),
    ]
    assert registry.append_only_tables() == {"audit_event", "operators_operatorevent", "surveys_surveyversion"}
    assert [name for name, _ in registry.teardowns()] == ["pii.tenant_keys"]
    assert registry.email_builders() == {
        "billing_past_due": "tenant_apps.billing_api.emails.past_due_email",
        "invitation": "tenant_apps.members.emails.invitation_email",
        "password_reset": "tenant_apps.members.emails.password_reset_email",
        "submission": "tenant_apps.responses.emails.submission_email",
        "webhook_disabled": "tenant_apps.webhooks.emails.webhook_disabled_email",
    }
    jobs = {job.name: job for job in registry.periodic_jobs()}
    assert jobs["sync-drafts"].task == "tenant_apps.responses.tasks.drafts_sync"
    assert jobs["sync-drafts"].per_tenant
    assert {"maintain-partitions", "purge-deleted-tenants", "purge-unverified-signups"} <= set(jobs)
    from tenant_apps.audit.services import audit_record

    assert registry._audit_recorder == [audit_record]
    assert [name for name, _ in registry.demo_lines()] == ["surveys.demo_survey_link"]


def test_every_registered_builder_and_task_exists():
    from django.utils.module_loading import import_string

    from config.celery import app

    app.loader.import_default_modules()  # what a worker does at start: autodiscover every tasks module

    for path in registry.email_builders().values():
        assert callable(import_string(path))
    for job in registry.periodic_jobs():
        assert job.task in app.tasks, job.task
    for seeder in registry.seeders():
        assert apps.get_containing_app_config(seeder.seed.__module__) is not None


def test_registering_a_name_twice_differently_is_refused():
    with pytest.raises(registry.RegistryError, match="registered twice"):
        registry.register_email_builder(kind="invitation", builder="somewhere.else")
    registry.register_email_builder(kind="invitation", builder="tenant_apps.members.emails.invitation_email")
    with pytest.raises(registry.RegistryError, match="Unknown email kind"):
        registry.email_builder("nope")


def test_beat_schedule_comes_from_the_registry():
    from config.celery import beat_schedule

    schedule = beat_schedule()
    assert schedule["sync-drafts"] == {
        "task": "shared_apps.tenants.tasks.periodic_fan_out",
        "kwargs": {"job": "sync-drafts"},
        "schedule": 60.0,
    }
    assert schedule["purge-unverified-signups"]["task"] == "shared_apps.tenants.tasks.signups_purge_expired"
    assert schedule["maintain-partitions"]["schedule"] == crontab(minute=5, hour=2)


@pytest.mark.worker
def test_per_tenant_job_fans_out_one_task_per_active_tenant(tenant_a, tenant_b, celery_worker_process):
    from shared_apps.tenants.models import Organisation

    active = Organisation.objects.filter(kind="customer", status="active").count()
    assert periodic_fan_out_task.delay(job="sync-drafts").get(timeout=30) == active >= 2


def test_append_only_tables_from_the_registry_are_enforced(tenant_a):
    """secure_schema revokes UPDATE/DELETE on the registered append-only tables (and check_isolation
    knows them): the application role cannot change an audit entry."""
    assert rls.is_append_only("audit_event_p2026_01")
    assert rls.is_append_only("surveys_surveyversion")
    assert not rls.is_append_only("surveys_survey")
    with tenant_context(tenant_a), connection.cursor() as cursor:
        cursor.execute("SELECT has_table_privilege(current_user, 'audit_event', 'UPDATE')")
        assert cursor.fetchone()[0] is False


def test_provisioning_runs_the_registered_seeders(make_tenant):
    from shared_apps.accounts.models import User
    from tenant_apps.audit.models import AuditEvent
    from tenant_apps.members.models import Membership, Role
    from tenant_apps.members.permissions import BUILTIN_ROLES
    from tenant_apps.responses.models import Submission
    from tenant_apps.surveys.models import Survey

    tenant = make_tenant(demo=True)
    admin = User.objects.get(pk=tenant.created_by_id)
    with tenant_context(tenant):
        assert Membership.objects.get(user=admin).role.slug == "admin"
        assert set(Role.objects.filter(is_builtin=True).values_list("slug", flat=True)) == set(BUILTIN_ROLES)
        assert Survey.objects.filter(status=Survey.Status.PUBLISHED).count() == 1
        demo = Survey.objects.get(status=Survey.Status.PUBLISHED)
        assert demo.response_count == Submission.objects.filter(survey_id=demo.pk).count() == 30  # demo responses
        assert AuditEvent.objects.filter(action="tenant.provisioned").count() == 1


def test_events_reach_their_handlers_in_name_order_and_unknown_events_are_refused(monkeypatch):
    monkeypatch.setattr(registry, "_event_handlers", {})
    seen: list[tuple[str, str, dict]] = []
    registry.register_event_handler(event="survey.closed", name="b", handler=lambda e, p: seen.append(("b", e, p)))
    registry.register_event_handler(event="survey.closed", name="a", handler=lambda e, p: seen.append(("a", e, p)))
    registry.emit_event("survey.closed", {"survey_id": 7})
    registry.emit_event("survey.published", {"survey_id": 7})  # no handler: nothing happens
    assert seen == [("a", "survey.closed", {"survey_id": 7}), ("b", "survey.closed", {"survey_id": 7})]
    with pytest.raises(registry.RegistryError, match="Unknown event"):
        registry.emit_event("survey.closd", {})
    with pytest.raises(registry.RegistryError, match="Unknown event"):
        registry.register_event_handler(event="nope", name="x", handler=lambda e, p: None)
