"""Drafts (Redis, resumable with a signed token) and submissions (one transaction, exact limits,
idempotent). Call inside the tenant's context."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_redis import get_redis_connection
from redis.exceptions import ResponseError as RedisResponseError

from billing.limits import response_count
from shared_apps.core.cache import tenant_key
from shared_apps.core.errors import DomainError
from shared_apps.core.kms import KmsUnavailable
from shared_apps.core.metrics import draft_counted, submission_counted
from shared_apps.core.parsers import UnsafeJson, json_loads_checked, json_value_check
from shared_apps.core.registry import emit_event
from shared_apps.core.tenancy import current_schema
from tenant_apps.pii.services import PiiUnreadable, SealContext, is_sealed, seal, unseal
from tenant_apps.responses.models import DraftCopy, SubmissionKey
from tenant_apps.responses.validation import answers_validate
from tenant_apps.surveys.definition import AnswerShape, iter_questions, pii_fields, question_types
from tenant_apps.surveys.models import Survey

logger = logging.getLogger(__name__)

DRAFT_TTL = dt.timedelta(days=7)
MAX_DRAFT_BYTES = 256 * 1024


class ResponseError(DomainError):
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
    # ASCII only: hmac.compare_digest raises TypeError on non-ASCII text, and int() reads other scripts' digits.
    stamp_text, _, signature = token.partition(".") if isinstance(token, str) and token.isascii() else ("", "", "")
    if not (stamp_text.isdigit() and len(stamp_text) <= 12 and signature):
        raise ResponseError("invalid_token", "This resume link is not valid.", 403)
    stamp = int(stamp_text)
    expected = _sign(current_schema(), survey_id, uid, stamp)
    if not hmac.compare_digest(expected, signature):
        raise ResponseError("invalid_token", "This resume link is not valid.", 403)
    if stamp < timezone.now().timestamp():
        raise ResponseError("expired_token", "This resume link has expired.", 403)


def draft_started_at(*, token: str | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the respondent started: the draft's first save, which minted the (signed) resume token expiring
    DRAFT_TTL later; later saves and the resume e-mail keep that expiry, so the start needs no extra read.
    None without a token, or when the result is not sane (in the future, or more than DRAFT_TTL ago). Check
    the token first (``resume_token_check``); a start reported by the client is never used."""
    stamp = token.split(".", 1)[0] if isinstance(token, str) else ""
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        return None
    started = dt.datetime.fromtimestamp(int(stamp), tz=dt.UTC) - DRAFT_TTL
    now = now or timezone.now()
    return started if now - DRAFT_TTL <= started <= now else None


def resume_code(*, survey_id: int, uid: str, token: str) -> str:
    """The short form of (submission id, token) for links (``/s/<link>?r=<code>``, 40 characters):
    base64url of the id, the expiry and the first 10 bytes of the token's signature."""
    stamp = int(token.split(".", 1)[0])
    tag = bytes.fromhex(_sign(current_schema(), survey_id, uid, stamp))[:10]
    return base64.urlsafe_b64encode(uuid.UUID(uid).bytes + stamp.to_bytes(4, "big") + tag).decode().rstrip("=")


def resume_code_open(*, survey_id: int, code: str) -> tuple[str, str]:
    """(submission id, token) from a short resume code; refused like a bad token."""
    invalid = ResponseError("invalid_token", "This resume link is not valid.", 403)
    try:
        raw = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
    except (ValueError, TypeError) as exc:
        raise invalid from exc
    if len(raw) != 30:
        raise invalid
    uid, stamp = str(uuid.UUID(bytes=raw[:16])), int.from_bytes(raw[16:20], "big")
    signature = _sign(current_schema(), survey_id, uid, stamp)
    if not hmac.compare_digest(bytes.fromhex(signature)[:10], raw[20:]):
        raise invalid
    token = f"{stamp}.{signature}"
    resume_token_check(survey_id=survey_id, uid=uid, token=token)
    return uid, token


# --- drafts ---------------------------------------------------------------------------------------


def draft_key(schema: str, uid: str) -> str:
    return tenant_key(schema, "draft", uid)


def drafts_dirty_key(schema: str) -> str:
    return tenant_key(schema, "drafts-dirty")


@dataclass(frozen=True)
class DraftSaved:
    uid: str
    token: str
    expires_at: dt.datetime


def draft_save(
    *,
    survey_id: int,
    version: int,
    answers: Any,
    page: str | None,
    uid: str | None = None,
    token: str | None = None,
    pii: frozenset[str] = frozenset(),
) -> DraftSaved:
    """Answers so far + current page to Redis for 7 days; no database write on this path. The first
    save mints the submission id and the resume token; later saves must present them. Answers to
    personal-data questions (``pii``) are sealed before they reach Redis (and so the database copy)."""
    if not isinstance(answers, dict):
        raise ValidationError({"answers": ["Expected an object of question id -> answer."]})
    _storable_or_raise(answers=answers, page=page)
    if uid is None:
        uid = str(uuid.uuid4())
        expires = timezone.now() + DRAFT_TTL
        token = resume_token(survey_id=survey_id, uid=uid, expires=expires)
    else:
        resume_token_check(survey_id=survey_id, uid=uid, token=token or "")
        expires = dt.datetime.fromtimestamp(int((token or "0").split(".", 1)[0]), tz=dt.UTC)
    started_at = draft_started_at(token=token)
    sealed = sorted(k for k in answers if k in pii)
    if sealed:
        answers = {
            k: seal(v, SealContext(survey_id=survey_id, submission=uid, field=k)) if k in pii else v
            for k, v in answers.items()
        }
    payload = json.dumps(
        allow_nan=False,
        obj={
            "survey_id": survey_id,
            "version": version,
            "answers": answers,
            **({"sealed": sealed} if sealed else {}),
            "page": page,
            "expires": int(expires.timestamp()),
            "saved_at": timezone.now().isoformat(),
            # Set by the first save (to the second) and the same on every later one: see draft_started_at.
            "started_at": started_at.isoformat() if started_at else None,
        },
    )
    if len(payload) > MAX_DRAFT_BYTES:
        raise ValidationError({"answers": [f"A draft may hold at most {MAX_DRAFT_BYTES // 1024} KiB."]})
    schema = current_schema()
    ttl = max(1, int(expires.timestamp() - timezone.now().timestamp()))
    pipe = get_redis_connection("default").pipeline(transaction=False)
    pipe.set(draft_key(schema, uid), payload, ex=ttl)
    pipe.sadd(drafts_dirty_key(schema), uid)
    pipe.execute()
    draft_counted(schema)
    return DraftSaved(uid=uid, token=token or "", expires_at=expires)


def _storable_or_raise(**values: Any) -> None:
    """What PostgreSQL's json/text would refuse (NUL, lone surrogates, non-finite numbers, too deep) never
    reaches Redis: the beat sync copies drafts to PostgreSQL later, where one bad record failed the batch."""
    for field, value in values.items():
        try:
            json_value_check(value, field)
        except UnsafeJson as exc:
            raise ValidationError({exc.field: [exc.message]}) from exc


def _draft_record(raw: bytes) -> dict[str, Any]:
    """A stored draft, checked as strictly as a request body (records written by older versions may not be)."""
    data = json_loads_checked(raw)
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("survey_id"), int)
        or not isinstance(data.get("expires"), int)
    ):
        raise UnsafeJson("", "Not a draft record.")
    return data


def draft_load(*, survey_id: int, uid: str, token: str) -> dict[str, Any]:
    """From Redis, or from the last database sync when Redis lost it."""
    resume_token_check(survey_id=survey_id, uid=uid, token=token)
    raw = get_redis_connection("default").get(draft_key(current_schema(), uid))
    if raw is not None:
        try:
            data = _draft_record(raw)
        except UnsafeJson as exc:
            logger.warning("unreadable draft", extra={"tenant": current_schema(), "uid": uid, "reason": str(exc)})
            raise ResponseError("draft_unreadable", "This draft cannot be restored; please start again.", 422) from exc
    else:
        copy = DraftCopy.objects.filter(uid=uid, survey_id=survey_id, expires_at__gt=timezone.now()).first()
        if copy is None:
            raise ResponseError("draft_not_found", "This draft no longer exists.", 404)
        data = copy.data
    if data.get("survey_id") != survey_id:
        raise ResponseError("draft_not_found", "This draft no longer exists.", 404)
    return draft_unsealed(data, survey_id=survey_id, uid=uid)


def draft_unsealed(data: dict[str, Any], *, survey_id: int, uid: str) -> dict[str, Any]:
    """The draft record with its sealed answers opened (the respondent, or staff allowed to see them)."""
    sealed = data.get("sealed") or []
    answers = data.get("answers")
    if not sealed or not isinstance(answers, dict):
        return data
    opened = {
        k: unseal(v, SealContext(survey_id=survey_id, submission=uid, field=k)) if k in sealed else v
        for k, v in answers.items()
    }
    return {**data, "answers": opened}


RESUME_EMAILS_PER_DRAFT = 3


def draft_email_request(*, survey_id: int, link: str, uid: str, token: str, email: str) -> None:
    """E-mail the draft's resume link (a task on the ``notifications`` queue builds and sends it). At most
    RESUME_EMAILS_PER_DRAFT a day per draft, on top of the per-IP throttle."""
    from tenant_apps.responses.tasks import resume_link_email

    draft_load(survey_id=survey_id, uid=uid, token=token)
    redis = get_redis_connection("default")
    counter = tenant_key(current_schema(), "draft-emails", uid)
    sent = redis.incr(counter)
    if sent == 1:
        redis.expire(counter, 24 * 3600)
    if sent > RESUME_EMAILS_PER_DRAFT:
        raise ResponseError("too_many_emails", "This link was already e-mailed several times today.", 429)
    schema, stamp = current_schema(), int(token.split(".", 1)[0])
    transaction.on_commit(
        lambda: resume_link_email.delay(
            schema_name=schema, survey_id=survey_id, link=link, uid=uid, expires=stamp, email=email
        )
    )


QUARANTINE_TTL = dt.timedelta(days=30)


def drafts_syncing_key(schema: str) -> str:
    """Ids a sync run has taken and not yet finished: a run killed mid-batch leaves them here."""
    return tenant_key(schema, "drafts-syncing")


# Atomically take up to ARGV[1] ids from the to-sync set into the in-flight set.
_TAKE = """
local ids = redis.call('SPOP', KEYS[1], ARGV[1])
if #ids > 0 then redis.call('SADD', KEYS[2], unpack(ids)) end
return ids
"""


def drafts_quarantine_key(schema: str, uid: str | None = None) -> str:
    """The tenant's list of quarantined drafts (a hash), or with ``uid`` the quarantined record itself."""
    return tenant_key(schema, "drafts-quarantine", *([uid] if uid else []))


def _draft_quarantine(redis: Any, schema: str, uid: str, reason: str) -> None:
    """Move a draft the sync cannot store out of the way (kept, with its TTL, for inspection). The reason is
    the error's first line only: PostgreSQL's CONTEXT line would quote the respondent's answers into the log."""
    reason = (reason.splitlines() or [""])[0][:200]
    logger.error("draft quarantined", extra={"tenant": schema, "uid": uid, "reason": reason})
    # RENAME on its own: a Redis Cluster client refuses it inside a pipeline (both keys share the {schema} slot).
    with contextlib.suppress(RedisResponseError):  # the draft may have been submitted (deleted) meanwhile
        redis.rename(draft_key(schema, uid), drafts_quarantine_key(schema, uid))
    pipe = redis.pipeline(transaction=False)
    pipe.hset(drafts_quarantine_key(schema), uid, json.dumps({"reason": reason, "at": timezone.now().isoformat()}))
    pipe.expire(drafts_quarantine_key(schema), int(QUARANTINE_TTL.total_seconds()))
    pipe.execute()


def drafts_quarantined(*, schema: str) -> dict[str, dict[str, Any]]:
    """Drafts the sync set aside in this tenant: uid -> {reason, at}."""
    raw = get_redis_connection("default").hgetall(drafts_quarantine_key(schema))
    return {uid.decode(): json.loads(value) for uid, value in raw.items()}


def _drafts_store(rows: list[DraftCopy]) -> list[tuple[DraftCopy, str]]:
    """Upsert the rows; if the batch fails, row by row so one bad row cannot hold back the others.
    Returns the rows PostgreSQL refused, with its reason."""
    fields = {"update_conflicts": True, "unique_fields": ["uid"], "update_fields": ["data", "updated_at", "expires_at"]}
    try:
        with transaction.atomic():
            DraftCopy.objects.bulk_create(rows, **fields)  # type: ignore[arg-type]
        return []
    except DatabaseError:
        pass
    refused = []
    for row in rows:
        try:
            with transaction.atomic():
                DraftCopy.objects.bulk_create([row], **fields)  # type: ignore[arg-type]
        except DatabaseError as exc:
            refused.append((row, str(exc)))
    return refused


def drafts_sync(*, batch: int = 500) -> int:
    """Copy the drafts changed since the last run to PostgreSQL (run by beat every minute, per tenant).

    A record that cannot be stored (written by an older version that let NUL, lone surrogates or ``1e400``
    in) is quarantined (``drafts_quarantined``) and logged with the tenant; it never holds back the drafts
    saved beside it. If the run fails mid-batch, the batch's ids go back to the to-sync set; if it is killed
    outright, the next run takes up the batch it left in flight (the upsert is idempotent). Returns the number
    of drafts copied."""
    schema = current_schema()
    redis = get_redis_connection("default")
    dirty, syncing = drafts_dirty_key(schema), drafts_syncing_key(schema)
    # A run killed outright (SIGKILL, lost worker) left its batch in flight: take it up again. Should another
    # run be going on at once, its ids are copied twice; the upsert makes that harmless.
    if redis.exists(syncing):
        redis.sunionstore(dirty, [dirty, syncing])
        redis.delete(syncing)
    take = redis.register_script(_TAKE)
    synced = quarantined = 0
    while True:
        uids = [u.decode() for u in take(keys=[dirty, syncing], args=[batch]) or []]
        if not uids:
            if quarantined:
                logger.warning("drafts sync quarantined records", extra={"tenant": schema, "count": quarantined})
            return synced
        try:
            raws = redis.mget([draft_key(schema, uid) for uid in uids])
            rows = []
            for uid, raw in zip(uids, raws, strict=True):
                if raw is None:
                    continue
                try:
                    data = _draft_record(raw)
                    rows.append(
                        DraftCopy(
                            uid=uuid.UUID(uid),
                            survey_id=data["survey_id"],
                            data=data,
                            updated_at=timezone.now(),
                            expires_at=dt.datetime.fromtimestamp(data["expires"], tz=dt.UTC),
                        )
                    )
                except (UnsafeJson, ValueError, OverflowError, OSError) as exc:
                    _draft_quarantine(redis, schema, uid, str(exc))
                    quarantined += 1
            refused = _drafts_store(rows)
            for row, reason in refused:
                _draft_quarantine(redis, schema, str(row.uid), reason)
        except BaseException:
            redis.sadd(dirty, *uids)
            redis.srem(syncing, *uids)
            raise
        redis.srem(syncing, *uids)
        quarantined += len(refused)
        synced += len(rows) - len(refused)


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
                                      variables, meta, started_at)
    VALUES (%(now)s, %(uid)s, %(survey)s, %(version)s, %(respondent)s, %(end)s, %(variables)s, %(meta)s,
            %(started)s)
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


def _answer_rows(
    answers: dict[str, Any], types: dict[str, str], pii: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """One typed row per answer: ``number`` for numeric answers, ``choices`` (a list) for choice answers.
    A sealed (personal-data) answer keeps neither: nothing about it is readable in the database."""
    rows = []
    for qid, value in answers.items():
        if qid in pii:
            rows.append({"question_id": qid, "value": value, "number": None, "choices": None})
            continue
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
        if not _same_answers(existing, definition, answers):
            raise ResponseError(
                "already_submitted", "This response was already submitted; these changes were not saved.", 409
            )
        return Submitted(uid=str(existing.uid), result=_result_opened(existing), created=False)
    evaluation = answers_validate(definition, answers)
    _files_check(definition, evaluation["answers"], survey_id)
    uid = uid or str(uuid.uuid4())
    result = {
        "end_screen": evaluation["end_screen"],
        "text": evaluation["texts"].get(evaluation["end_screen"] or "", ""),
    }
    now = timezone.now()
    # Only a draft's signed token says when the respondent started; without one the start stays unknown.
    started_at = draft_started_at(token=token, now=now) if uid and token else None
    schema = current_schema()
    # Personal data is sealed before anything is written; without the key service a survey with personal-data
    # questions refuses (503, Retry-After) and stores nothing.
    pii = pii_fields(definition)
    stored_answers = {
        k: seal(v, SealContext(survey_id=survey_id, submission=uid, field=k)) if k in pii else v
        for k, v in evaluation["answers"].items()
    }
    meta = _meta_sealed(meta or {}, survey_id=survey_id, uid=uid, required=bool(pii))
    # The end screen's text may pipe personal answers ("Thank you, {{q_name}}"): the stored copy is sealed too.
    stored_result = (
        {**result, "text": seal(result["text"], SealContext(survey_id=survey_id, submission=uid, field="result.text"))}
        if pii and result["text"]
        else result
    )
    try:
        with transaction.atomic():
            types = question_types(definition)
            with connection.cursor() as cursor:
                # One statement writes the submission, its answer rows and its key (one round trip).
                cursor.execute(
                    SUBMIT_SQL,
                    {
                        "now": now,
                        "started": started_at,
                        "uid": uid,
                        "survey": survey_id,
                        "version": version_id,
                        "respondent": respondent_id,
                        "end": evaluation["end_screen"],
                        "variables": json.dumps(evaluation["variables"]),
                        "meta": json.dumps(meta),
                        "answers": json.dumps(_answer_rows(stored_answers, types, pii)),
                        "idem": idempotency_key,
                        "respondent_key": respondent_key if one_per_respondent else None,
                        "result": json.dumps(stored_result),
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
            # The plan's responses per month, exact the same way (the organisation's usage row, same transaction).
            response_count(schema_name=schema)
            emit_event(
                "response.completed",
                {
                    "survey_id": survey_id,
                    "version_id": version_id,
                    "submission_id": submission_id,
                    "submission_uid": uid,
                    "submitted_at": now.isoformat(),
                    "respondent_id": respondent_id,
                    "respondent_key": respondent_key,
                    "meta": meta or {},
                },
            )
            # Robust: the submission is committed; Redis or the broker failing afterwards must not answer an error.
            transaction.on_commit(
                lambda: _after_submit(schema, survey_id, uid, respondent_key, submission_id, notify_owners),
                robust=True,
            )
    except IntegrityError as exc:
        again = _existing(survey_id, uid, idempotency_key)
        if again is not None:  # a concurrent retry won the race: answer as it did
            return Submitted(uid=str(again.uid), result=_result_opened(again), created=False)
        raise ResponseError("already_answered", "You have already answered this survey.", 409) from exc
    submission_counted(schema)
    return Submitted(uid=uid, result=result, created=True)


def _result_opened(key: SubmissionKey) -> dict[str, Any]:
    text = key.result.get("text")
    if not is_sealed(text):
        return key.result
    context = SealContext(survey_id=key.survey_id, submission=str(key.uid), field="result.text")
    return {**key.result, "text": unseal(text, context)}


RESPONDENT_META = ("ip", "user_agent")


def _meta_sealed(meta: dict[str, Any], *, survey_id: int, uid: str, required: bool) -> dict[str, Any]:
    """The respondent's IP and user agent, sealed. When the key service is down: a survey with personal-data
    questions refuses (``required``); another survey is answered, without those two (never in plain text)."""
    try:
        return {
            k: seal(v, SealContext(survey_id=survey_id, submission=uid, field=f"meta.{k}"))
            if k in RESPONDENT_META and v
            else v
            for k, v in meta.items()
        }
    except (KmsUnavailable, PiiUnreadable) as exc:
        if required:
            raise
        logger.warning(
            "respondent metadata dropped: no key to seal it", extra={"tenant": current_schema(), "error": exc.code}
        )
        return {k: v for k, v in meta.items() if k not in RESPONDENT_META}


def _same_answers(existing: SubmissionKey, definition: dict[str, Any], answers: Any) -> bool:
    """A retry (same draft or Idempotency-Key) carries the answers that were stored; other answers conflict."""
    from tenant_apps.responses.models import Answer

    try:
        normalized = answers_validate(definition, answers)["answers"]
    except ValidationError:
        return False
    stored = Answer.objects.filter(submission_id=existing.submission_id, submitted_at=existing.submitted_at)
    pii = pii_fields(definition)
    values = {
        qid: unseal(value, SealContext(survey_id=existing.survey_id, submission=str(existing.uid), field=qid))
        if qid in pii
        else value
        for qid, value in stored.values_list("question_id", "value")
    }
    return values == normalized


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
    pipe.pfadd(tenant_key(schema, "hll", "respondents", survey_id), respondent_key or uid)
    pipe.delete(draft_key(schema, uid))
    mark_dirty(pipe, schema=schema, survey_id=survey_id)  # the 5-second aggregation picks it up
    pipe.execute()
    if notify_owners:
        email_enqueue(kind="submission", object_id=submission_id)


def unique_respondents(*, survey_id: int) -> int:
    return int(get_redis_connection("default").pfcount(tenant_key(current_schema(), "hll", "respondents", survey_id)))


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
