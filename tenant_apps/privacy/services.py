"""Data-subject requests: access (everything held about a subject, as one JSON document) and erasure
(rows deleted, drafts and files removed, aggregates recomputed), each audited and answered with a
receipt (id, counts, time, hash) that is also stored. Call inside the tenant's context."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone
from django_redis import get_redis_connection

from shared_apps.core import registry
from shared_apps.core.cache import tenant_key
from shared_apps.core.context import actor_var
from shared_apps.core.tenancy import current_schema
from tenant_apps.audit.services import audit_record
from tenant_apps.privacy.models import SubjectRequest
from tenant_apps.privacy.sources import Found, Subject, answer_file_paths
from tenant_apps.responses.models import DraftCopy, SubmissionKey
from tenant_apps.surveys.models import Survey, SurveyVersion

logger = logging.getLogger(__name__)
KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")  # as the submit API accepts X-Respondent-Key


def subject_clean(*, email: str | None, respondent_key: str | None) -> Subject:
    subject = Subject(email=email or None, respondent_key=respondent_key or None).normalised()
    errors: dict[str, list[str]] = {}
    if not subject.email and not subject.respondent_key:
        errors["email"] = ["Give the subject's e-mail address or respondent key (or both)."]
    if subject.email:
        try:
            validate_email(subject.email)
        except ValidationError:
            errors["email"] = ["Enter a valid e-mail address."]
    if subject.respondent_key and not KEY_RE.match(subject.respondent_key):
        errors["respondent_key"] = ["A respondent key is 8 to 128 letters, digits, '_', '.', ':' or '-'."]
    if errors:
        raise ValidationError(errors)
    return subject


def subject_digest(subject: Subject) -> str:
    """Keyed, so a receipt identifies its subject to someone who already knows them, and to nobody else."""
    message = f"{current_schema()}|email:{subject.email or ''}|key:{subject.respondent_key or ''}"
    return hmac.new(settings.SECRET_KEY.encode(), message.encode(), hashlib.sha256).hexdigest()


def subject_find(subject: Subject) -> tuple[Found, dict[str, list[dict[str, Any]]]]:
    """Ask every registered subject source; merge what they found."""
    merged = Found()
    records: dict[str, list[dict[str, Any]]] = {}
    for name, source in registry.subject_sources():
        found = source.find(subject)
        merged.submission_ids |= found.submission_ids
        merged.draft_uids |= found.draft_uids
        if found.records:
            records[name] = found.records
    return merged, records


def _submissions(ids: set[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.id, s.uid::text, s.survey_id, sv.title, sv.number, s.version_id, s.submitted_at, s.started_at, "
            "s.end_screen, s.variables, s.meta, s.deleted_at, s.respondent_id "
            "FROM responses_submission s LEFT JOIN surveys_surveyversion sv ON sv.id = s.version_id "
            "WHERE s.id = ANY(%s) ORDER BY s.submitted_at, s.id",
            [sorted(ids)],
        )
        names = [c.name for c in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        cursor.execute(
            "SELECT submission_id, question_id, value FROM responses_answer WHERE submission_id = ANY(%s) "
            "ORDER BY submission_id, id",
            [sorted(ids)],
        )
        answers: dict[int, dict[str, Any]] = defaultdict(dict)
        for submission_id, question_id, value in cursor.fetchall():
            answers[submission_id][question_id] = json.loads(value) if isinstance(value, str) else value
    for row in rows:
        row["answers"] = answers.get(row["id"], {})
    return rows


def _drafts(uids: set[str]) -> list[dict[str, Any]]:
    if not uids:
        return []
    redis = get_redis_connection("default")
    schema = current_schema()
    copies = {str(uid): data for uid, data in DraftCopy.objects.filter(uid__in=uids).values_list("uid", "data")}
    drafts = []
    for uid in sorted(uids):
        raw = redis.get(tenant_key(schema, "draft", uid))
        data = json.loads(raw) if raw else copies.get(uid)
        if data is not None:
            drafts.append({"id": uid, **data})
    return drafts


def _receipt(request: SubjectRequest) -> str:
    body = {
        "id": str(request.id),
        "tenant": current_schema(),
        "kind": request.kind,
        "subject": request.subject_digest,
        "counts": request.counts,
        "created_at": request.created_at.astimezone(dt.UTC).isoformat(),
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _record(*, kind: str, subject: Subject, counts: dict[str, int], actor_id: int | None) -> SubjectRequest:
    request = SubjectRequest(
        kind=kind,
        subject_digest=subject_digest(subject),
        counts=counts,
        created_at=timezone.now(),
        actor_id=actor_id if actor_id is not None else actor_var.get().user_id,
        channel=actor_var.get().channel,
    )
    request.receipt_hash = _receipt(request)
    event = audit_record(
        action=f"privacy.{kind}",
        target_type="subject_request",
        target_id=str(request.id),
        changes={"counts": counts, "receipt_hash": request.receipt_hash, "subject_digest": request.subject_digest},
        actor_id=actor_id,
    )
    request.audit_event_id = event.pk
    request.save(force_insert=True)
    return request


def receipt_data(request: SubjectRequest) -> dict[str, Any]:
    return {
        "id": str(request.id),
        "kind": request.kind,
        "subject_digest": request.subject_digest,
        "counts": request.counts,
        "created_at": request.created_at.isoformat(),
        "receipt_hash": request.receipt_hash,
        "audit_event_id": request.audit_event_id,
    }


def dsr_access(*, subject: Subject, actor_id: int | None = None) -> tuple[SubjectRequest, dict[str, Any]]:
    """Everything the tenant holds about ``subject``, as one JSON-able document, and the stored receipt
    (which holds counts only: the document is not kept)."""
    found, records = subject_find(subject)
    submissions = _submissions(found.submission_ids)
    keys = list(
        SubmissionKey.objects.filter(submission_id__in=found.submission_ids).values(
            "uid", "survey_id", "submission_id", "submitted_at", "idempotency_key", "respondent_key", "result"
        )
    )
    drafts = _drafts(found.draft_uids)
    counts = {
        "submissions": len(submissions),
        "answers": sum(len(s["answers"]) for s in submissions),
        "drafts": len(drafts),
        **{f"records.{name}": len(items) for name, items in records.items()},
    }
    with transaction.atomic():
        request = _record(kind=SubjectRequest.Kind.ACCESS, subject=subject, counts=counts, actor_id=actor_id)
    document = {
        "subject": {"email": subject.email, "respondent_key": subject.respondent_key},
        "organisation": current_schema(),
        "generated_at": request.created_at.isoformat(),
        "receipt": receipt_data(request),
        "submissions": submissions,
        "submission_keys": keys,
        "drafts": drafts,
        "sources": records,
    }
    # Plain JSON types only (datetimes, UUIDs as strings), whatever the caller does with it.
    return request, json.loads(json.dumps(document, cls=DjangoJSONEncoder))


def dsr_erase(*, subject: Subject, actor_id: int | None = None) -> SubjectRequest:
    """Delete what the tenant holds about ``subject``: submissions, answers, submission keys, drafts (Redis
    and database copies), uploaded files, the sources' own records; recompute the affected surveys'
    aggregates. One transaction; Redis and storage are cleaned after it commits."""
    from tenant_apps.analytics.services import survey_aggregate, survey_respondents_rebuild

    found, _records = subject_find(subject)
    schema = current_schema()
    with transaction.atomic():
        ids = sorted(found.submission_ids)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, survey_id, version_id, submitted_at, deleted_at FROM responses_submission "
                "WHERE id = ANY(%s) FOR UPDATE",
                [ids],
            )
            rows = cursor.fetchall()
            cursor.execute(
                "SELECT s.version_id, a.question_id, a.value FROM responses_answer a "
                "JOIN responses_submission s ON s.id = a.submission_id AND s.submitted_at = a.submitted_at "
                "WHERE a.submission_id = ANY(%s)",
                [ids],
            )
            answer_rows = [(v, q, json.loads(x) if isinstance(x, str) else x) for v, q, x in cursor.fetchall()]
            cursor.execute("DELETE FROM responses_answer WHERE submission_id = ANY(%s)", [ids])
            answers_deleted = cursor.rowcount
            cursor.execute("DELETE FROM responses_submission WHERE id = ANY(%s)", [ids])
            submissions_deleted = cursor.rowcount
        keys_deleted, _ = SubmissionKey.objects.filter(submission_id__in=ids).delete()
        copies_deleted, _ = DraftCopy.objects.filter(uid__in=found.draft_uids).delete()
        own = {name: source.erase(subject, found) for name, source in registry.subject_sources()}
        live: dict[int, int] = defaultdict(int)
        days: dict[int, set[dt.date]] = defaultdict(set)
        for _id, survey_id, _version, submitted_at, deleted_at in rows:
            days[survey_id].add(submitted_at.astimezone(dt.UTC).date())
            if deleted_at is None:
                live[survey_id] += 1
        for survey_id, count in live.items():
            Survey.objects.filter(pk=survey_id).update(response_count=Greatest(F("response_count") - count, 0))
        for survey_id in sorted(days):
            survey_aggregate(survey_id=survey_id, full=True)
            survey_respondents_rebuild(survey_id=survey_id, days=sorted(days[survey_id]))
        definitions = dict(
            SurveyVersion.objects.filter(pk__in={row[2] for row in rows}).values_list("pk", "definition")
        )
        paths = answer_file_paths(definitions=definitions, answers=answer_rows)
        counts = {
            "submissions": submissions_deleted,
            "answers": answers_deleted,
            "submission_keys": keys_deleted,
            "draft_copies": copies_deleted,
            "drafts": len(found.draft_uids),
            "files": len(paths),
            "surveys_recomputed": len(days),
            **{f"records.{name}": n for name, n in own.items() if n},
        }
        request = _record(kind=SubjectRequest.Kind.ERASE, subject=subject, counts=counts, actor_id=actor_id)
        transaction.on_commit(lambda: _after_erase(schema, sorted(found.draft_uids), sorted(days), paths))
    return request


def _after_erase(schema: str, draft_uids: list[str], survey_ids: list[int], paths: list[str]) -> None:
    redis = get_redis_connection("default")
    pipe = redis.pipeline(transaction=False)
    for uid in draft_uids:
        pipe.delete(tenant_key(schema, "draft", uid))
        pipe.srem(tenant_key(schema, "drafts-dirty"), uid)
        pipe.delete(tenant_key(schema, "drafts-quarantine", uid))
        pipe.hdel(tenant_key(schema, "drafts-quarantine"), uid)
    pipe.execute()
    for survey_id in survey_ids:
        _responses_hll_rebuild(schema, survey_id)
    for path in paths:
        try:
            default_storage.delete(path)
        except OSError:
            logger.exception("erased file could not be deleted", extra={"tenant": schema, "path": path})


def _responses_hll_rebuild(schema: str, survey_id: int) -> None:
    """The submit path's unique-respondent HyperLogLog, from the remaining submissions."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(k.respondent_key, 'user:' || s.respondent_id::text, s.uid::text) "
            "FROM responses_submission s LEFT JOIN responses_submissionkey k ON k.uid = s.uid "
            "WHERE s.survey_id = %s",
            [survey_id],
        )
        members = [row[0] for row in cursor.fetchall()]
    key = tenant_key(schema, "hll", "respondents", survey_id)
    pipe = get_redis_connection("default").pipeline(transaction=True)
    pipe.delete(key)
    for start in range(0, len(members), 5000):
        pipe.pfadd(key, *members[start : start + 5000])
    pipe.execute()


# --- retention: soft-deleted submissions ------------------------------------------------------------


def deleted_submissions_purge(*, now: dt.datetime | None = None, batch: int = 500, max_batches: int = 200) -> int:
    """Delete for good the submissions soft-deleted longer ago than the organisation's
    ``deleted_retention_days``, ``batch`` at a time (one short transaction each, ``SKIP LOCKED`` so two runs
    never fight), with their answers, keys and files. Audited once per run that purged something.
    Aggregates need no change: a soft-deleted submission already left them. Returns how many went."""
    from shared_apps.tenants.models import Organisation

    schema = current_schema()
    days = Organisation.objects.filter(schema_name=schema).values_list("deleted_retention_days", flat=True).first()
    if days is None:
        return 0
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    total = answers_total = 0
    paths: list[str] = []
    for _ in range(max_batches):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, submitted_at, version_id FROM responses_submission "
                "WHERE deleted_at IS NOT NULL AND deleted_at < %s ORDER BY deleted_at LIMIT %s FOR UPDATE SKIP LOCKED",
                [cutoff, batch],
            )
            rows = cursor.fetchall()
            if not rows:
                break
            ids = [row[0] for row in rows]
            cursor.execute(
                "SELECT s.version_id, a.question_id, a.value FROM responses_answer a "
                "JOIN responses_submission s ON s.id = a.submission_id AND s.submitted_at = a.submitted_at "
                "WHERE a.submission_id = ANY(%s)",
                [ids],
            )
            answer_rows = [(v, q, json.loads(x) if isinstance(x, str) else x) for v, q, x in cursor.fetchall()]
            definitions = dict(
                SurveyVersion.objects.filter(pk__in={row[2] for row in rows}).values_list("pk", "definition")
            )
            paths += answer_file_paths(definitions=definitions, answers=answer_rows)
            cursor.execute("DELETE FROM responses_answer WHERE submission_id = ANY(%s)", [ids])
            answers_total += cursor.rowcount
            cursor.execute("DELETE FROM responses_submission WHERE id = ANY(%s)", [ids])
            total += cursor.rowcount
            SubmissionKey.objects.filter(submission_id__in=ids).delete()
        if len(rows) < batch:
            break
    if total:
        with transaction.atomic():
            audit_record(
                action="submission.purged",
                target_type="organisation",
                target_id=schema,
                changes={"submissions": total, "answers": answers_total, "files": len(paths), "days": days},
            )
        _after_erase(schema, [], [], paths)
        logger.info("purged soft-deleted submissions", extra={"tenant": schema, "submissions": total})
    return total
