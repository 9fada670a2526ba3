"""Where a tenant holds data about a data subject ("subject sources"), found by e-mail or respondent key.

A source is registered with ``shared_apps.core.registry.register_subject_source(name=..., source=...)``
(in an app's ``ready()``) and has two methods:

- ``find(subject) -> Found``: the submissions and drafts that belong to the subject, and the source's
  own records (a JSON-able list that goes into the access document under the source's name);
- ``erase(subject, found) -> int``: delete the source's own records (not submissions or drafts: the
  privacy service erases those once, whoever found them); returns how many rows went.

The built-in sources read the responses app; the contacts of the distribution app can plug in the same way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.contrib.auth import get_user_model
from django.db import connection
from django_redis import get_redis_connection

from shared_apps.core.cache import tenant_key
from shared_apps.core.tenancy import current_schema
from tenant_apps.responses.models import DraftCopy, SubmissionKey
from tenant_apps.surveys.definition import AnswerShape, answer_shape, questions_by_id
from tenant_apps.surveys.models import Survey, SurveyVersion


@dataclass(frozen=True)
class Subject:
    """Who a request is about: an e-mail address (case-insensitive), a respondent key as the respondent's
    client sent it (``X-Respondent-Key``), or both."""

    email: str | None = None
    respondent_key: str | None = None

    def normalised(self) -> Subject:
        return Subject(
            email=self.email.strip().lower() if self.email else None,
            respondent_key=self.respondent_key.strip() if self.respondent_key else None,
        )


@dataclass
class Found:
    submission_ids: set[int] = field(default_factory=set)
    draft_uids: set[str] = field(default_factory=set)
    records: list[dict[str, Any]] = field(default_factory=list)


class SubjectSource(Protocol):
    def find(self, subject: Subject) -> Found: ...

    def erase(self, subject: Subject, found: Found) -> int: ...


def respondent_key_digest(*, schema: str, survey_id: int, raw: str) -> str:
    """How the submit API stores an ``X-Respondent-Key`` (tenant_apps.responses.apis._respondent_key)."""
    return hashlib.sha256(f"{schema}|{survey_id}|{raw}".encode()).hexdigest()[:40]


def _user_ids(email: str | None) -> list[int]:
    if not email:
        return []
    return list(get_user_model().objects.filter(email__iexact=email).values_list("pk", flat=True))


class RespondentSource:
    """Submissions made by a signed-in respondent with that e-mail, or under that respondent key."""

    def find(self, subject: Subject) -> Found:
        found = Found()
        user_ids = _user_ids(subject.email)
        keys = [f"user:{pk}" for pk in user_ids]
        if subject.respondent_key:
            schema = current_schema()
            keys += [
                respondent_key_digest(schema=schema, survey_id=pk, raw=subject.respondent_key)
                for pk in Survey.objects.values_list("pk", flat=True)
            ]
        if keys:
            found.submission_ids |= set(
                SubmissionKey.objects.filter(respondent_key__in=keys).values_list("submission_id", flat=True)
            )
        if user_ids:
            with connection.cursor() as cursor:
                cursor.execute("SELECT id FROM responses_submission WHERE respondent_id = ANY(%s)", [user_ids])
                found.submission_ids |= {row[0] for row in cursor.fetchall()}
        return found

    def erase(self, subject: Subject, found: Found) -> int:
        return 0


def _email_questions() -> dict[int, list[str]]:
    """survey id -> ids of its e-mail questions (any version)."""
    result: dict[int, set[str]] = {}
    for survey_id, definition in SurveyVersion.objects.values_list("survey_id", "definition"):
        ids = {qid for qid, q in questions_by_id(definition or {}).items() if q.get("type") == "email"}
        if ids:
            result.setdefault(survey_id, set()).update(ids)
    return {k: sorted(v) for k, v in result.items()}


class EmailAnswerSource:
    """Submissions whose answer to an e-mail question is that address."""

    def find(self, subject: Subject) -> Found:
        found = Found()
        if not subject.email:
            return found
        questions = _email_questions()
        if not questions:
            return found
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT a.submission_id FROM responses_answer a "
                "JOIN unnest(%s::bigint[], %s::text[]) AS q(survey_id, question_id) "
                "ON a.survey_id = q.survey_id AND a.question_id = q.question_id "
                "WHERE lower(a.value #>> '{}') = %s",
                [
                    [s for s, ids in questions.items() for _ in ids],
                    [qid for ids in questions.values() for qid in ids],
                    subject.email,
                ],
            )
            found.submission_ids |= {row[0] for row in cursor.fetchall()}
        return found

    def erase(self, subject: Subject, found: Found) -> int:
        return 0


def _mentions(answers: Any, email: str) -> bool:
    if not isinstance(answers, dict):
        return False
    return any(isinstance(value, str) and value.strip().lower() == email for value in answers.values())


class DraftSource:
    """Drafts in progress (Redis, and their database copies) holding that e-mail as an answer."""

    def find(self, subject: Subject) -> Found:
        found = Found()
        if not subject.email:
            return found
        email = subject.email
        for uid, data in DraftCopy.objects.values_list("uid", "data"):
            if _mentions((data or {}).get("answers"), email):
                found.draft_uids.add(str(uid))
        redis = get_redis_connection("default")
        # Live drafts, and drafts the sync quarantined (kept aside for inspection).
        for prefix in (
            tenant_key(current_schema(), "draft", ""),
            tenant_key(current_schema(), "drafts-quarantine", ""),
        ):
            for key in redis.scan_iter(match=f"{_glob_escape(prefix)}*", count=1000):
                if redis.type(key) != b"string":
                    continue
                raw = redis.get(key)
                try:
                    data = json.loads(raw) if raw else None
                except ValueError:
                    continue
                if isinstance(data, dict) and _mentions(data.get("answers"), email):
                    found.draft_uids.add(key.decode()[len(prefix) :])
        return found

    def erase(self, subject: Subject, found: Found) -> int:
        return 0


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def answer_file_paths(*, definitions: dict[int, Any], answers: list[tuple[int, str, Any]]) -> list[str]:
    """Storage paths of the files answering file questions, from ``(version_id, question_id, value)``."""
    from django.core import signing

    from tenant_apps.responses.files import FILE_SALT

    paths = []
    for version_id, question_id, value in answers:
        question = questions_by_id(definitions.get(version_id, {})).get(question_id)
        if not question or answer_shape(question.get("type")) is not AnswerShape.FILE:
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            file_id = item.get("file_id") if isinstance(item, dict) else None
            if not isinstance(file_id, str):
                continue
            try:
                data = signing.loads(file_id, salt=FILE_SALT)
            except signing.BadSignature:
                continue
            if data.get("t") == current_schema() and isinstance(data.get("p"), str):
                paths.append(data["p"])
    return paths


RESPONDENTS = RespondentSource()
EMAIL_ANSWERS = EmailAnswerSource()
DRAFTS = DraftSource()
