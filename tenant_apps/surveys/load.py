"""Survey load for respondents: the published version by its public link, from an in-process cache
backed by Redis, dropped in every process when the survey is published, closed, reopened, archived or
its settings change (Redis pub/sub). The JSON body and its ETag are built once per version."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from shared_apps.core.cache import TenantCache
from shared_apps.core.tenancy import current_schema


@dataclass(frozen=True)
class LoadedSurvey:
    status: str  # published | closed | archived
    access: str
    body: bytes  # the JSON document served to respondents
    etag: str
    opens_at: datetime | None
    closes_at: datetime | None
    response_limit: int | None
    response_count: int
    survey_id: int = 0
    version_id: int = 0
    one_response_per_respondent: bool = False
    notify_owners: bool = False

    def availability(self, now: datetime) -> tuple[str, str]:
        """(code, message): ``open`` or why respondents cannot answer now."""
        if self.status != "published":
            return "survey_closed", "This survey is closed and no longer accepts responses."
        if self.opens_at and now < self.opens_at:
            return "survey_not_open", f"This survey opens on {self.opens_at:%Y-%m-%d %H:%M} UTC."
        if self.closes_at and now >= self.closes_at:
            return "survey_closed", "This survey closed and no longer accepts responses."
        if self.response_limit is not None and self.response_count >= self.response_limit:
            return "survey_full", "This survey has received all the responses it needs. Thank you!"
        return "open", ""


def _build(link: str) -> LoadedSurvey | None:
    from tenant_apps.surveys.models import Survey

    survey = (
        Survey.objects.select_related("current_version").filter(public_link=link, current_version__isnull=False).first()
    )
    if survey is None or survey.current_version is None:
        return None
    version = survey.current_version
    document = {
        "survey": {
            "link": survey.public_link,
            "title": version.title,
            "description": survey.description,
            "version": version.number,
            "branding": survey.branding,
            "access": survey.access,
        },
        "definition": version.compiled["definition"],
    }
    body = json.dumps(document, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False).encode()
    return LoadedSurvey(
        status=survey.status,
        access=survey.access,
        body=body,
        etag=f'"{survey.current_version_id}-{hashlib.sha256(body).hexdigest()[:20]}"',
        opens_at=survey.opens_at,
        closes_at=survey.closes_at,
        response_limit=survey.response_limit,
        response_count=survey.response_count,
        survey_id=survey.pk,
        version_id=version.pk,
        one_response_per_respondent=survey.one_response_per_respondent,
        notify_owners=survey.notify_owners,
    )


def _encode(loaded: LoadedSurvey) -> bytes:
    head = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(loaded).items() if k != "body"}
    return json.dumps(head).encode() + b"\n" + loaded.body


def _decode(raw: bytes) -> LoadedSurvey:
    head_raw, body = raw.split(b"\n", 1)
    head: dict[str, Any] = json.loads(head_raw)
    for key in ("opens_at", "closes_at"):
        head[key] = parse_datetime(head[key]) if head[key] else None
    return LoadedSurvey(body=body, **head)


LOADS: TenantCache[LoadedSurvey] = TenantCache(
    "survey-load",
    l1_seconds=settings.SURVEY_LOAD_L1_SECONDS,
    l2_seconds=settings.SURVEY_LOAD_L2_SECONDS,
    encode=_encode,
    decode=_decode,
)


def survey_load(*, link: str) -> LoadedSurvey | None:
    """L1 (this process) -> L2 (Redis) -> PostgreSQL. ``None``: no published survey at this link."""
    return LOADS.get(current_schema(), link, load=lambda: _build(link))


_DEFINITIONS: dict[tuple[str, int], dict[str, Any]] = {}


def version_definition(version_id: int) -> dict[str, Any]:
    """A published version's compiled definition, parsed once per process (versions never change)."""
    from tenant_apps.surveys.models import SurveyVersion

    key = (current_schema(), version_id)
    definition = _DEFINITIONS.get(key)
    if definition is None:
        if len(_DEFINITIONS) > 2000:
            _DEFINITIONS.clear()
        compiled = SurveyVersion.objects.values_list("compiled", flat=True).get(pk=version_id)
        definition = _DEFINITIONS[key] = compiled["definition"]
    return definition


def survey_load_invalidate(link: str) -> None:
    """Drop the cached copy everywhere once the current transaction commits."""
    LOADS.invalidate(current_schema(), link)


def now() -> datetime:
    return timezone.now()
