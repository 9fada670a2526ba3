"""Drafts (Redis, resumable with a signed token) and submissions (one transaction, exact limits,
idempotent). Call inside the tenant's context."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_redis import get_redis_connection

from shared_apps.core.tenancy import current_schema
from tenant_apps.responses.models import DraftCopy, SubmissionKey
from tenant_apps.responses.validation import answers_validate
from tenant_apps.surveys.definition import AnswerShape, iter_questions, question_types
from tenant_apps.surveys.models import Survey

DRAFT_TTL = dt.timedelta(days=7)
MAX_DRAFT_BYTES = 256 * 1024


class ResponseError(Exception):
    """Refused with a code the respondent page can show."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


# --- resume tokens ------------------------------------------------------------------------------


def _sign(schema: str, survey_id: int, uid: str, expires: int) -> str:
    key = hashlib.sha256(f"resume-token:{settings.SECRET_KEY}".encode()).digest()
    message = f"{schema}|{survey_id}|{uid}|{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:40]


def resume_token(*, survey_id: int, uid: str, expires: dt.datetime) -> str:
    """HMAC over tenant, survey, submission id and expiry: ``<expiry>.<signature>``."""
    stamp = int(expires.timestamp())
    return f"{stamp}.{_sign(current_schema(), survey_id, uid, stamp)}"


def resume_token_check(*, survey_id: int, uid: str, token: str) -> None:
    try:
        stamp_text, signature = token.split(".", 1)
        stamp = int(stamp_text)
    except (ValueError, AttributeError) as exc:
        raise ResponseError("invalid_token", "This resume link is not valid.", 403) from exc
    expected = _sign(current_schema(), survey_id, uid, stamp)
    if not hmac.compare_digest(expected, signature):
        raise ResponseError("invalid_token", "This resume link is not valid.", 403)
    if stamp < timezone.now().timestamp():
        raise ResponseError("expired_token", "This resume link has expired.", 403)


# --- drafts ---------------------------------------------------------------------------------------


def _draft_key(schema: str, uid: str) -> str:
    return f"draft:{schema}:{uid}"


def _dirty_key(schema: str) -> str:
    return f"drafts-dirty:{schema}"


@dataclass(frozen=True)
class DraftSaved:
    uid: str
    token: str
    expires_at: dt.datetime


def draft_save(
    *, survey_id: int, version: int, answers: Any, page: str | None, uid: str | None = None, token: str | None = None
) -> DraftSaved:
    """Answers so far + current page to Redis for 7 days; no database write on this path. The first
    save mints the submission id and the resume token; later saves must present them."""
    if not isinstance(answers, dict):
        raise ValidationError({"answers": ["Expected an object of question id -> answer."]})
    if uid is None:
        uid = str(uuid.uuid4())
        expires = timezone.now() + DRAFT_TTL
        token = resume_token(survey_id=survey_id, uid=uid, expires=expires)
    else:
        resume_token_check(survey_id=survey_id, uid=uid, token=token or "")
        expires = dt.datetime.fromtimestamp(int((token or "0").split(".", 1)[0]), tz=dt.UTC)
    payload = json.dumps(
        {
            "survey_id": survey_id,
            "version": version,
            "answers": answers,
            "page": page,
            "expires": int(expires.timestamp()),
            "saved_at": timezone.now().isoformat(),
        }
    )
    if len(payload) > MAX_DRAFT_BYTES:
        raise ValidationError({"answers": [f"A draft may hold at most {MAX_DRAFT_BYTES // 1024} KiB."]})
    schema = current_schema()
    ttl = max(1, int(expires.timestamp() - timezone.now().timestamp()))
    pipe = get_redis_connection("default").pipeline(transaction=False)
    pipe.set(_draft_key(schema, uid), payload, ex=ttl)
    pipe.sadd(_dirty_key(schema), uid)
    pipe.execute()
    return DraftSaved(uid=uid, token=token or "", expires_at=expires)


def draft_load(*, survey_id: int, uid: str, token: str) -> dict[str, Any]:
    """From Redis, or from the last database sync when Redis lost it."""
    resume_token_check(survey_id=survey_id, uid=uid, token=token)
    raw = get_redis_connection("default").get(_draft_key(current_schema(), uid))
    if raw is not None:
        data: dict[str, Any] = json.loads(raw)
    else:
        copy = DraftCopy.objects.filter(uid=uid, survey_id=survey_id, expires_at__gt=timezone.now()).first()
        if copy is None:
            raise ResponseError("draft_not_found", "This draft no longer exists.", 404)
        data = copy.data
    if data.get("survey_id") != survey_id:
        raise ResponseError("draft_not_found", "This draft no longer exists.", 404)
    return data


def drafts_sync(*, batch: int = 500) -> int:
    """Copy the drafts changed since the last run to PostgreSQL (run by beat every minute, per tenant)."""
    schema = current_schema()
    redis = get_redis_connection("default")
    synced = 0
    while True:
        uids = [u.decode() for u in redis.spop(_dirty_key(schema), batch) or []]
        if not uids:
            return synced
        raws = redis.mget([_draft_key(schema, uid) for uid in uids])
        rows = []
        for uid, raw in zip(uids, raws, strict=True):
            if raw is None:
                continue
            data = json.loads(raw)
            rows.append(
                DraftCopy(
                    uid=uid,
                    survey_id=data["survey_id"],
                    data=data,
                    updated_at=timezone.now(),
                    expires_at=dt.datetime.fromtimestamp(data["expires"], tz=dt.UTC),
                )
            )
        DraftCopy.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["uid"], update_fields=["data", "updated_at", "expires_at"]
        )
        synced += len(rows)


# --- submit ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    uid: str
    result: dict[str, Any]
    created: bool


def _existing(survey_id: int, uid: str | None, idempotency_key: str | None) -> SubmissionKey | None:
    if not uid and not idempotency_key:
        return None
    condition = Q(pk=uid) if uid else Q()
    if idempotency_key:
        condition = (
            condition | Q(survey_id=survey_id, idempotency_key=idempotency_key)
            if uid
            else Q(survey_id=survey_id, idempotency_key=idempotency_key)
        )
    return SubmissionKey.objects.filter(condition).first()


CHOICE_TYPES = {"single_choice", "dropdown", "multiple_choice", "ranking"}
SUBMIT_SQL = """
WITH s AS (
    INSERT INTO responses_submission (submitted_at, uid, survey_id, version_id, respondent_id, end_screen,
                                      variables, meta)
    VALUES (%(now)s, %(uid)s, %(survey)s, %(version)s, %(respondent)s, %(end)s, %(variables)s, %(meta)s)
    RETURNING id
), a AS (
    INSERT INTO responses_answer (submitted_at, submission_id, survey_id, question_id, value, number, choices)
    SELECT %(now)s, s.id, %(survey)s, r.question_id, r.value, r.number, r.choices
    FROM s, jsonb_to_recordset(%(answers)s::jsonb)
         AS r(question_id text, value jsonb, number double precision, choices jsonb)
)
INSERT INTO responses_submissionkey (uid, survey_id, submission_id, submitted_at, idempotency_key, respondent_key,
                                     result)
SELECT %(uid)s, %(survey)s, s.id, %(now)s, %(idem)s, %(respondent_key)s, %(result)s::jsonb FROM s
RETURNING submission_id
"""


def _answer_rows(answers: dict[str, Any], types: dict[str, str]) -> list[dict[str, Any]]:
    """One typed row per answer: ``number`` for numeric answers, ``choices`` (a list) for choice answers."""
    rows = []
    for qid, value in answers.items():
        number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        choices = None
        if types.get(qid) in CHOICE_TYPES:
            choices = value if isinstance(value, list) else [value]
        rows.append({"question_id": qid, "value": value, "number": number, "choices": choices})
    return rows


def submission_create(
    *,
    survey_id: int,
    version_id: int,
    definition: dict[str, Any],
    answers: Any,
    uid: str | None = None,
    token: str | None = None,
    idempotency_key: str | None = None,
    respondent_id: int | None = None,
    respondent_key: str | None = None,
    one_per_respondent: bool = False,
    notify_owners: bool = False,
    meta: dict[str, Any] | None = None,
) -> Submitted:
    """Validate against the version answered, evaluate the logic (authoritative), then write the
    submission, its answers and the counters in one transaction. A retry with the same Idempotency-Key
    or draft id returns the original result; the response limit holds exactly under concurrency."""
    if uid:
        resume_token_check(survey_id=survey_id, uid=uid, token=token or "")
    existing = _existing(survey_id, uid, idempotency_key)
    if existing is not None:
        return Submitted(uid=str(existing.uid), result=existing.result, created=False)
    evaluation = answers_validate(definition, answers)
    _files_check(definition, evaluation["answers"], survey_id)
    uid = uid or str(uuid.uuid4())
    result = {
        "end_screen": evaluation["end_screen"],
        "text": evaluation["texts"].get(evaluation["end_screen"] or "", ""),
    }
    now = timezone.now()
    schema = current_schema()
    try:
        with transaction.atomic():
            types = question_types(definition)
            with connection.cursor() as cursor:
                # One statement writes the submission, its answer rows and its key (one round trip).
                cursor.execute(
                    SUBMIT_SQL,
                    {
                        "now": now,
                        "uid": uid,
                        "survey": survey_id,
                        "version": version_id,
                        "respondent": respondent_id,
                        "end": evaluation["end_screen"],
                        "variables": json.dumps(evaluation["variables"]),
                        "meta": json.dumps(meta or {}),
                        "answers": json.dumps(_answer_rows(evaluation["answers"], types)),
                        "idem": idempotency_key,
                        "respondent_key": respondent_key if one_per_respondent else None,
                        "result": json.dumps(result),
                    },
                )
                submission_id = cursor.fetchone()[0]
            if token:  # a submitted draft is no longer in progress
                DraftCopy.objects.filter(uid=uid).delete()
            # Last, so the survey row is locked only from here to the commit: concurrent submits insert in
            # parallel and queue only on this check-and-increment, which keeps the limit exact.
            counted = (
                Survey.objects.filter(pk=survey_id)
                .filter(Q(response_limit__isnull=True) | Q(response_count__lt=F("response_limit")))
                .update(response_count=F("response_count") + 1)
            )
            if not counted:
                raise ResponseError("survey_full", "This survey has received all the responses it needs.", 410)
            transaction.on_commit(
                lambda: _after_submit(schema, survey_id, uid, respondent_key, submission_id, notify_owners)
            )
    except IntegrityError as exc:
        again = _existing(survey_id, uid, idempotency_key)
        if again is not None:  # a concurrent retry won the race: answer as it did
            return Submitted(uid=str(again.uid), result=again.result, created=False)
        raise ResponseError("already_answered", "You have already answered this survey.", 409) from exc
    return Submitted(uid=uid, result=result, created=True)


def _files_check(definition: dict[str, Any], answers: dict[str, Any], survey_id: int) -> None:
    """File answers must name files uploaded to this survey's question, in this tenant."""
    from tenant_apps.responses.files import file_reference

    errors = {}
    for question in iter_questions(definition):
        value = answers.get(question.id) if question.id else None
        if question.id and question.shape is AnswerShape.FILE and isinstance(value, dict):
            try:
                file_reference(file_id=str(value.get("file_id")), survey_id=survey_id, question_id=question.id)
            except ResponseError as exc:
                errors[question.id] = [exc.message]
    if errors:
        raise ValidationError(errors)


def _after_submit(  # noqa: PLR0917 - called from one on_commit lambda
    schema: str, survey_id: int, uid: str, respondent_key: str | None, submission_id: int, notify_owners: bool
) -> None:
    from tenant_apps.analytics.services import mark_dirty
    from tenant_apps.notifications.services import email_enqueue

    redis = get_redis_connection("default")
    pipe = redis.pipeline(transaction=False)
    pipe.pfadd(f"hll:{schema}:survey:{survey_id}:respondents", respondent_key or uid)
    pipe.delete(_draft_key(schema, uid))
    mark_dirty(pipe, schema=schema, survey_id=survey_id)  # the 5-second aggregation picks it up
    pipe.execute()
    if notify_owners:
        email_enqueue(kind="submission", object_id=submission_id)


def unique_respondents(*, survey_id: int) -> int:
    return int(get_redis_connection("default").pfcount(f"hll:{current_schema()}:survey:{survey_id}:respondents"))


def submission_soft_delete(*, submission_id: int, survey_id: int) -> None:
    """Hide a response from lists and analytics; the row stays for the retention/purge job."""
    from tenant_apps.analytics.services import survey_mark_dirty
    from tenant_apps.audit.services import audit_record
    from tenant_apps.responses.models import Submission

    with transaction.atomic():
        updated = Submission.objects.filter(pk=submission_id, survey_id=survey_id, deleted_at__isnull=True).update(
            deleted_at=timezone.now()
        )
        if not updated:
            raise ResponseError("not_found", "No such response.", 404)
        Survey.objects.filter(pk=survey_id, response_count__gt=0).update(response_count=F("response_count") - 1)
        survey_mark_dirty(survey_id=survey_id)  # the deleted response leaves the aggregates at the next run
        audit_record(action="submission.deleted", target_type="submission", target_id=submission_id)
