"""Re-encryption: move a tenant's sealed values to its active data key, in resumable batches.

``reencrypt_start`` makes a new data key (the old ones are retired, kept for reading until nothing uses them)
unless a previous run left values under retired keys, in which case it resumes. Each batch is one transaction:
an interrupted run loses nothing and the next run continues where it stopped (the rows still under a retired
key are the work left). Covers answers, respondent metadata (IP, user agent), stored end-screen texts and the
database copies of drafts; drafts only in Redis expire within 7 days and stay readable with the retired key.
Call inside the tenant's context."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from tenant_apps.pii.services import SealContext, datakey_active, datakey_new, is_sealed, key_id_of, seal, unseal
from tenant_apps.responses.models import DraftCopy, SubmissionKey

_ANSWERS = """
SELECT a.id, a.submitted_at, a.survey_id, a.question_id, a.value #>> '{}', s.uid
FROM responses_answer a
JOIN responses_submission s ON s.id = a.submission_id AND s.submitted_at = a.submitted_at
WHERE jsonb_typeof(a.value) = 'string' AND a.value #>> '{}' LIKE 'pii1.%%'
  AND a.value #>> '{}' NOT LIKE %(current)s
ORDER BY a.id LIMIT %(limit)s
"""
_ANSWERS_LEFT = """
SELECT count(*) FROM responses_answer a
WHERE jsonb_typeof(a.value) = 'string' AND a.value #>> '{}' LIKE 'pii1.%%' AND a.value #>> '{}' NOT LIKE %(current)s
"""
_META = """
SELECT s.id, s.submitted_at, s.survey_id, s.uid, s.meta FROM responses_submission s
WHERE (s.meta ->> 'ip' LIKE 'pii1.%%' AND s.meta ->> 'ip' NOT LIKE %(current)s)
   OR (s.meta ->> 'user_agent' LIKE 'pii1.%%' AND s.meta ->> 'user_agent' NOT LIKE %(current)s)
ORDER BY s.id LIMIT %(limit)s
"""
_META_LEFT = _META.replace("s.id, s.submitted_at, s.survey_id, s.uid, s.meta", "count(*)").replace(
    "ORDER BY s.id LIMIT %(limit)s", ""
)


@dataclass
class Progress:
    kid: str
    resumed: bool
    total: int
    done: int = 0


def _pattern(kid: str) -> str:
    return f"pii1.{kid}.%"


def _stale(value: Any, kid: str) -> bool:
    return is_sealed(value) and key_id_of(value) != kid


def _stale_keys(kid: str) -> list[str]:
    rows = SubmissionKey.objects.filter(result__text__startswith="pii1.").values_list("uid", "result")
    return [str(uid) for uid, result in rows if _stale(result.get("text"), kid)]


def _stale_drafts(kid: str) -> list[str]:
    return [
        str(d.uid)
        for d in DraftCopy.objects.filter(data__has_key="sealed").only("uid", "data")
        if any(_stale(v, kid) for v in (d.data.get("answers") or {}).values())
    ]


def _left(kid: str) -> int:
    params = {"current": _pattern(kid)}
    with connection.cursor() as cursor:
        cursor.execute(_ANSWERS_LEFT, params)
        answers = int(cursor.fetchone()[0])
        cursor.execute(_META_LEFT, params)
        meta = int(cursor.fetchone()[0])
    return answers + meta + len(_stale_keys(kid)) + len(_stale_drafts(kid))


def reencrypt_start() -> Progress:
    """Resume when values are left under retired keys, else make a new data key. Returns what is to do."""
    active = datakey_active()
    if active is not None:
        left = _left(active.kid)
        if left:
            return Progress(kid=active.kid, resumed=True, total=left)
    active = datakey_new()
    return Progress(kid=active.kid, resumed=False, total=_left(active.kid))


def _reseal(value: str, context: SealContext) -> str:
    return seal(unseal(value, context), context)


def reencrypt_batch(progress: Progress, *, size: int = 500) -> int:
    """Move up to ``size`` values to the active key, in one transaction. Returns how many (0: finished)."""
    params: dict[str, Any] = {"current": _pattern(progress.kid), "limit": size}
    moved = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_ANSWERS, params)
        for aid, submitted_at, survey_id, question_id, value, uid in cursor.fetchall():
            sealed = _reseal(value, SealContext(survey_id=survey_id, submission=str(uid), field=question_id))
            cursor.execute(
                "UPDATE responses_answer SET value = to_jsonb(%s::text) WHERE id = %s AND submitted_at = %s",
                [sealed, aid, submitted_at],
            )
            moved += 1
        if moved < size:
            moved += _meta_batch(cursor, {**params, "limit": size - moved}, progress.kid)
        if moved < size:
            moved += _rows_batch(progress.kid, size - moved)
    progress.done += moved
    return moved


def _meta_batch(cursor: Any, params: dict[str, Any], kid: str) -> int:
    cursor.execute(_META, params)
    rows = cursor.fetchall()
    for sid, submitted_at, survey_id, uid, raw in rows:
        meta = json.loads(raw) if isinstance(raw, str) else dict(raw)
        for field in ("ip", "user_agent"):
            if _stale(meta.get(field), kid):
                context = SealContext(survey_id=survey_id, submission=str(uid), field=f"meta.{field}")
                meta[field] = _reseal(meta[field], context)
        cursor.execute(
            "UPDATE responses_submission SET meta = %s::jsonb WHERE id = %s AND submitted_at = %s",
            [json.dumps(meta), sid, submitted_at],
        )
    return len(rows)


def _rows_batch(kid: str, size: int) -> int:
    moved = 0
    for uid in _stale_keys(kid)[:size]:
        key = SubmissionKey.objects.get(uid=uid)
        context = SealContext(survey_id=key.survey_id, submission=uid, field="result.text")
        key.result = {**key.result, "text": _reseal(key.result["text"], context)}
        key.save(update_fields=["result"])
        moved += 1
    for uid in _stale_drafts(kid)[: size - moved]:
        draft = DraftCopy.objects.get(uid=uid)
        answers = dict(draft.data.get("answers") or {})
        for field, value in answers.items():
            if _stale(value, kid):
                answers[field] = _reseal(value, SealContext(survey_id=draft.survey_id, submission=uid, field=field))
        draft.data = {**draft.data, "answers": answers}
        draft.save(update_fields=["data"])
        moved += 1
    return moved


def reencrypt_run(
    *, size: int = 500, max_batches: int | None = None, report: Callable[[Progress], None] | None = None
) -> Progress:
    """Start or resume, then batch until done (or ``max_batches``, to stop early)."""
    progress = reencrypt_start()
    batches = 0
    while max_batches is None or batches < max_batches:
        if not reencrypt_batch(progress, size=size):
            break
        batches += 1
        if report:
            report(progress)
    return progress
