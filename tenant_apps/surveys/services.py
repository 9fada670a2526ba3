"""Survey builder services (call inside the tenant's context). Every write is audited, checks the
document's structure (never a half-written survey), bumps ``revision`` (optimistic locking) and, for
published surveys, invalidates the respondents' cached copy in every process."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from billing.limits import PlanLimitReached, limit_enforce
from shared_apps.core.errors import DomainError
from shared_apps.core.registry import emit_event
from shared_apps.core.tenancy import current_schema
from shared_apps.tenants.services.branding import branding_validate
from tenant_apps.audit.services import audit_record, diff
from tenant_apps.surveys.load import survey_load_invalidate
from tenant_apps.surveys.logic.compiler import CompileResult, check_structure, compile_definition
from tenant_apps.surveys.models import Publication, Survey, SurveyVersion

EXPORT_FORMAT = "survey-platform/v1"
SETTINGS_FIELDS = (
    "title",
    "description",
    "access",
    "opens_at",
    "closes_at",
    "response_limit",
    "one_response_per_respondent",
    "notify_owners",
    "branding",
)


class SurveyError(DomainError):
    """A refused change, with a message for the builder."""

    code = "survey_refused"


class RevisionConflict(SurveyError):
    code = "revision_conflict"
    status = 412


def _structure_or_raise(definition: Any) -> None:
    errors = check_structure(definition)
    if errors:
        raise ValidationError({"definition": [e.message for e in errors]})


def survey_create(
    *,
    title: str,
    created_by_id: int | None,
    description: str = "",
    definition: dict[str, Any] | None = None,
    **settings: Any,
) -> Survey:
    definition = definition if definition is not None else {"pages": []}
    _structure_or_raise(definition)
    if "branding" in settings:
        branding_validate(settings["branding"], field="branding")
    with transaction.atomic():
        survey = Survey(
            title=title,
            description=description,
            definition=definition,
            created_by_id=created_by_id,
            **{k: v for k, v in settings.items() if k in SETTINGS_FIELDS},
        )
        survey.full_clean(exclude=["public_link", "created_by", "current_version"])
        survey.save()
        audit_record(
            action="survey.created", target_type="survey", target_id=survey.pk, changes={"after": {"title": title}}
        )
    return survey


def survey_create_demo(*, created_by_id: int | None) -> Survey:
    """The demo survey, published, so the demo organisation has a link to answer at once."""
    return survey_create_published(
        title="Customer satisfaction (demo)",
        description="A short demo survey created with the demo organisation.",
        definition=copy.deepcopy(DEMO_DEFINITION),
        created_by_id=created_by_id,
    )


def _locked(survey: Survey, expected_revision: int | None) -> Survey:
    locked = Survey.objects.select_for_update().get(pk=survey.pk)
    if locked.status == Survey.Status.ARCHIVED:
        raise SurveyError("This survey is archived; reopen a copy (duplicate) to edit it.")
    if expected_revision is not None and expected_revision != locked.revision:
        raise RevisionConflict(
            f"The survey changed since revision {expected_revision} (now {locked.revision}); "
            "reload it and apply your change again."
        )
    return locked


def survey_update_settings(*, survey: Survey, expected_revision: int | None = None, **changes: Any) -> Survey:
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError({key: ["Not a survey setting."] for key in unknown})
    if "branding" in changes:
        branding_validate(changes["branding"], field="branding")
    with transaction.atomic():
        survey = _locked(survey, expected_revision)
        before = {key: getattr(survey, key) for key in changes}
        for key, value in changes.items():
            setattr(survey, key, value)
        if survey.opens_at and survey.closes_at and survey.opens_at >= survey.closes_at:
            raise ValidationError({"closes_at": ["The survey must close after it opens."]})
        survey.full_clean(exclude=["public_link", "created_by", "current_version", "definition"])
        survey.revision += 1
        survey.save()
        audit_record(
            action="survey.updated",
            target_type="survey",
            target_id=survey.pk,
            changes=diff({k: str(v) for k, v in before.items()}, {k: str(v) for k, v in changes.items()}),
        )
        survey_load_invalidate(survey.public_link)
    return survey


def survey_edit(
    *, survey: Survey, expected_revision: int | None, action: str, edit: Callable[[dict[str, Any]], Any]
) -> Survey:
    """Apply ``edit`` to a copy of the draft document; keep it only if the structure is valid."""
    with transaction.atomic():
        survey = _locked(survey, expected_revision)
        document = copy.deepcopy(survey.definition) or {"pages": []}
        document.setdefault("pages", [])
        edit(document)
        _structure_or_raise(document)
        survey.definition = document
        survey.revision += 1
        survey.has_unpublished_changes = True
        survey.save(update_fields=["definition", "revision", "has_unpublished_changes", "updated_at"])
        audit_record(
            action=f"survey.{action}", target_type="survey", target_id=survey.pk, changes={"revision": survey.revision}
        )
    return survey


# --- document edits (used by the builder API) -------------------------------------------------


def _page(document: dict[str, Any], page_id: str) -> dict[str, Any]:
    for page in document["pages"]:
        if page.get("id") == page_id:
            return page
    raise SurveyError(f"No page {page_id!r} in this survey.")


def _question(document: dict[str, Any], question_id: str) -> tuple[dict[str, Any], int]:
    for page in document["pages"]:
        for index, question in enumerate(page.get("questions", [])):
            if question.get("id") == question_id:
                return page, index
    raise SurveyError(f"No question {question_id!r} in this survey.")


def _insert(items: list[Any], item: Any, position: int | None) -> None:
    items.insert(len(items) if position is None else max(0, min(position, len(items))), item)


def _reorder(items: list[dict[str, Any]], order: list[str], what: str) -> list[dict[str, Any]]:
    by_id = {str(item.get("id")): item for item in items}
    if sorted(order) != sorted(by_id):
        raise SurveyError(f"The new {what} order must list every {what} exactly once.")
    return [by_id[i] for i in order]


def page_add(
    *, survey: Survey, page: dict[str, Any], position: int | None = None, expected_revision: int | None = None
) -> Survey:
    page = {"questions": [], **page}
    return survey_edit(
        survey=survey,
        expected_revision=expected_revision,
        action="page_added",
        edit=lambda d: _insert(d["pages"], page, position),
    )


def page_update(
    *, survey: Survey, page_id: str, changes: dict[str, Any], expected_revision: int | None = None
) -> Survey:
    def edit(d: dict[str, Any]) -> None:
        _page(d, page_id).update({k: v for k, v in changes.items() if k not in ("id", "questions")})

    return survey_edit(survey=survey, expected_revision=expected_revision, action="page_updated", edit=edit)


def page_delete(*, survey: Survey, page_id: str, expected_revision: int | None = None) -> Survey:
    def edit(d: dict[str, Any]) -> None:
        d["pages"].remove(_page(d, page_id))

    return survey_edit(survey=survey, expected_revision=expected_revision, action="page_deleted", edit=edit)


def pages_reorder(*, survey: Survey, order: list[str], expected_revision: int | None = None) -> Survey:
    def edit(d: dict[str, Any]) -> None:
        d["pages"] = _reorder(d["pages"], order, "page")

    return survey_edit(survey=survey, expected_revision=expected_revision, action="pages_reordered", edit=edit)


def question_add(
    *,
    survey: Survey,
    page_id: str,
    question: dict[str, Any],
    position: int | None = None,
    expected_revision: int | None = None,
) -> Survey:
    def edit(d: dict[str, Any]) -> None:
        _insert(_page(d, page_id).setdefault("questions", []), question, position)

    return survey_edit(survey=survey, expected_revision=expected_revision, action="question_added", edit=edit)


def question_update(
    *, survey: Survey, question_id: str, changes: dict[str, Any], expected_revision: int | None = None
) -> Survey:
    """Replace the given keys (``choices`` is replaced whole: that is how choices are added, edited,
    removed and reordered). A key set to null is removed."""

    def edit(d: dict[str, Any]) -> None:
        page, index = _question(d, question_id)
        question = page["questions"][index]
        for key, value in changes.items():
            if key == "id":
                continue
            if value is None:
                question.pop(key, None)
            else:
                question[key] = value

    return survey_edit(survey=survey, expected_revision=expected_revision, action="question_updated", edit=edit)


def question_delete(*, survey: Survey, question_id: str, expected_revision: int | None = None) -> Survey:
    def edit(d: dict[str, Any]) -> None:
        page, index = _question(d, question_id)
        page["questions"].pop(index)

    return survey_edit(survey=survey, expected_revision=expected_revision, action="question_deleted", edit=edit)


def question_move(
    *, survey: Survey, question_id: str, page_id: str, position: int | None, expected_revision: int | None = None
) -> Survey:
    def edit(d: dict[str, Any]) -> None:
        page, index = _question(d, question_id)
        question = page["questions"].pop(index)
        _insert(_page(d, page_id).setdefault("questions", []), question, position)

    return survey_edit(survey=survey, expected_revision=expected_revision, action="question_moved", edit=edit)


def definition_replace(*, survey: Survey, definition: dict[str, Any], expected_revision: int | None = None) -> Survey:
    def edit(d: dict[str, Any]) -> None:
        d.clear()
        d.update(copy.deepcopy(definition))

    return survey_edit(survey=survey, expected_revision=expected_revision, action="definition_replaced", edit=edit)


# --- lifecycle ---------------------------------------------------------------------------------


def survey_duplicate(*, survey: Survey, created_by_id: int | None) -> Survey:
    return survey_create(
        title=f"{survey.title} (copy)"[:300],
        description=survey.description,
        definition=copy.deepcopy(survey.definition),
        created_by_id=created_by_id,
        **{k: getattr(survey, k) for k in SETTINGS_FIELDS if k not in ("title", "description")},
    )


def survey_validate(*, survey: Survey) -> CompileResult:
    return compile_definition(survey.definition)


def _active_surveys_enforce(survey: Survey) -> None:
    """Publishing or reopening makes a survey active: the plan's active-survey limit, exact under concurrency
    (the billing account row is locked while counting; take it after the survey's own row)."""
    if survey.status != Survey.Status.PUBLISHED:
        limit_enforce(
            schema_name=current_schema(),
            limit="active_surveys",
            count=Survey.objects.filter(status=Survey.Status.PUBLISHED).count,
        )


def publication_request(*, survey: Survey, requested_by_id: int | None) -> Publication:
    """Queue the compile step (``high_priority``); the task publishes or rejects with errors."""
    from tenant_apps.surveys.tasks import publication_compile

    with transaction.atomic():
        survey = _locked(survey, None)
        _active_surveys_enforce(survey)  # refused at once (402); checked again when the compile publishes
        publication = Publication.objects.create(
            survey=survey, revision=survey.revision, definition=survey.definition, requested_by_id=requested_by_id
        )
        audit_record(
            action="survey.publish_requested",
            target_type="survey",
            target_id=survey.pk,
            changes={"revision": survey.revision, "publication": publication.pk},
        )
        schema = current_schema()
        transaction.on_commit(lambda: publication_compile.delay(schema_name=schema, publication_id=publication.pk))
    return publication


def publication_compile_run(*, publication: Publication) -> Publication:
    """The task's body: compile; publish a new immutable version, or record why not. Idempotent."""
    if publication.status != Publication.Status.PENDING:
        return publication
    result = compile_definition(publication.definition)
    with transaction.atomic():
        # Re-read under lock: a retried or duplicated task must not publish the same request twice.
        publication = Publication.objects.select_for_update().get(pk=publication.pk)
        if publication.status != Publication.Status.PENDING:
            return publication
        survey = Survey.objects.select_for_update().get(pk=publication.survey_id)
        publication.finished_at = timezone.now()
        errors = [e.as_dict() for e in result.errors]
        if result.ok:
            try:
                _active_surveys_enforce(survey)
            except PlanLimitReached as exc:
                errors = [{"code": exc.code, "message": exc.message, "location": {"path": "$"}}]
        if errors:
            publication.status = Publication.Status.REJECTED
            publication.errors = errors
            publication.save(update_fields=["status", "errors", "finished_at"])
            audit_record(
                action="survey.publish_rejected",
                target_type="survey",
                target_id=survey.pk,
                changes={"errors": len(errors)},
                actor_id=publication.requested_by_id,
            )
            return publication
        number = (survey.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = SurveyVersion.objects.create(
            survey=survey,
            number=number,
            title=survey.title,
            definition=publication.definition,
            compiled=result.compiled,
            published_by_id=publication.requested_by_id,
        )
        survey.current_version = version
        if survey.status in (Survey.Status.DRAFT, Survey.Status.CLOSED):
            survey.status = Survey.Status.PUBLISHED
        survey.has_unpublished_changes = survey.revision != publication.revision
        survey.save(update_fields=["current_version", "status", "has_unpublished_changes", "updated_at"])
        publication.status = Publication.Status.PUBLISHED
        publication.version = version
        publication.save(update_fields=["status", "version", "finished_at"])
        audit_record(
            action="survey.published",
            target_type="survey",
            target_id=survey.pk,
            changes={"version": number},
            actor_id=publication.requested_by_id,
        )
        survey_load_invalidate(survey.public_link)
        emit_event("survey.published", {"survey_id": survey.pk, "version_id": version.pk, "version": number})
    return publication


def publication_fail(*, publication_id: int, reason: str) -> bool:
    """Mark a still pending publication ``failed`` with the reason (the compile task could not finish).
    Touches only the status columns, so it works even when the stored definition cannot be read."""
    failed = Publication.objects.filter(pk=publication_id, status=Publication.Status.PENDING).update(
        status=Publication.Status.FAILED,
        errors=[{"code": "publication_failed", "message": reason, "location": {"path": "$"}}],
        finished_at=timezone.now(),
    )
    return bool(failed)


def _set_status(survey: Survey, status: str, allowed_from: tuple[str, ...], action: str) -> Survey:
    with transaction.atomic():
        survey = Survey.objects.select_for_update().get(pk=survey.pk)
        if survey.status not in allowed_from:
            raise SurveyError(f"A {survey.status} survey cannot be {action}.")
        if status == Survey.Status.PUBLISHED:
            _active_surveys_enforce(survey)
        before = survey.status
        survey.status = status
        survey.save(update_fields=["status", "updated_at"])
        audit_record(
            action=f"survey.{action}",
            target_type="survey",
            target_id=survey.pk,
            changes={"before": {"status": before}, "after": {"status": status}},
        )
        survey_load_invalidate(survey.public_link)
        if status == Survey.Status.CLOSED:
            emit_event("survey.closed", {"survey_id": survey.pk})
    return survey


def survey_close(*, survey: Survey) -> Survey:
    return _set_status(survey, Survey.Status.CLOSED, (Survey.Status.PUBLISHED,), "closed")


def survey_reopen(*, survey: Survey) -> Survey:
    if survey.current_version_id is None:
        raise SurveyError("This survey was never published.")
    return _set_status(survey, Survey.Status.PUBLISHED, (Survey.Status.CLOSED, Survey.Status.ARCHIVED), "reopened")


def survey_archive(*, survey: Survey) -> Survey:
    return _set_status(
        survey, Survey.Status.ARCHIVED, (Survey.Status.DRAFT, Survey.Status.PUBLISHED, Survey.Status.CLOSED), "archived"
    )


def survey_delete(*, survey: Survey) -> None:
    if survey.current_version_id is not None:
        raise SurveyError("A published survey keeps its versions and responses: archive it instead.")
    with transaction.atomic():
        audit_record(
            action="survey.deleted",
            target_type="survey",
            target_id=survey.pk,
            changes={"before": {"title": survey.title}},
        )
        survey.publications.all().delete()
        survey.delete()


# --- export / import ---------------------------------------------------------------------------


def survey_export(*, survey: Survey) -> dict[str, Any]:
    settings = {k: getattr(survey, k) for k in SETTINGS_FIELDS if k not in ("title", "description")}
    for key in ("opens_at", "closes_at"):
        settings[key] = settings[key].isoformat() if settings[key] else None
    return {
        "format": EXPORT_FORMAT,
        "title": survey.title,
        "description": survey.description,
        "settings": settings,
        "definition": survey.definition,
    }


def survey_import(*, document: dict[str, Any], created_by_id: int | None) -> Survey:
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise ValidationError({"format": [f"Expected an export of format {EXPORT_FORMAT!r}."]})
    settings = dict(document.get("settings") or {})
    for key in ("opens_at", "closes_at"):
        if settings.get(key):
            from django.utils.dateparse import parse_datetime

            try:  # an export holds ISO 8601 text; anything else (or 2026-13-45) is refused, not a 500
                settings[key] = parse_datetime(settings[key]) if isinstance(settings[key], str) else None
            except ValueError:
                settings[key] = None
            if settings[key] is None:
                raise ValidationError({key: ["Expected an ISO 8601 date and time."]})
    title, description, definition = document.get("title"), document.get("description", ""), document.get("definition")
    errors: dict[str, list[str]] = {}
    if not isinstance(title, str) or not title.strip():
        errors["title"] = ["The survey's title (text) is required."]
    elif len(title) > 300:
        errors["title"] = ["At most 300 characters."]
    if not isinstance(description, str):
        errors["description"] = ["Expected text."]
    if not isinstance(definition, dict):
        errors["definition"] = ["The survey's definition (an object with its pages) is required."]
    if errors:
        raise ValidationError(errors)
    return survey_create(
        title=str(title),
        description=description,
        definition=definition,
        created_by_id=created_by_id,
        **{k: v for k, v in settings.items() if k in SETTINGS_FIELDS},
    )


DEMO_DEFINITION: dict[str, Any] = {
    "variables": [{"id": "detractor", "initial": 0}],
    "end_screens": [
        {"id": "thanks", "text": "Thank you, {{q_name|friend}}! Your answers help us improve."},
        {"id": "sorry", "text": "Sorry to hear that, {{q_name|friend}}. Someone will contact you."},
    ],
    "pages": [
        {
            "id": "p_about",
            "title": "About you",
            "questions": [
                {"id": "q_name", "type": "short_text", "text": "What is your first name?", "max_length": 60},
                {
                    "id": "q_role",
                    "type": "single_choice",
                    "text": "What best describes your role, {{q_name|friend}}?",
                    "required": True,
                    "other": True,
                    "choices": [
                        {"id": "dev", "text": "Engineering"},
                        {"id": "pm", "text": "Product"},
                        {"id": "ops", "text": "Operations"},
                    ],
                },
            ],
        },
        {
            "id": "p_score",
            "title": "Your opinion",
            "questions": [
                {
                    "id": "q_nps",
                    "type": "nps",
                    "text": "How likely are you to recommend us to a friend?",
                    "required": True,
                    "min": 0,
                    "max": 10,
                },
                {
                    "id": "q_why",
                    "type": "long_text",
                    "text": "What is the main reason for your score of {{q_nps}}?",
                    "visible_if": {"q": "q_nps", "op": "is_answered"},
                },
            ],
            "rules": [
                {
                    "id": "r_detractor",
                    "when": {"q": "q_nps", "op": "lte", "value": 6},
                    "then": [
                        {"type": "set_variable", "variable": "detractor", "expr": 1},
                        {"type": "end_survey", "end_screen": "sorry"},
                    ],
                },
            ],
        },
        {
            "id": "p_more",
            "title": "One more thing",
            "questions": [
                {
                    "id": "q_features",
                    "type": "multiple_choice",
                    "text": "Which features do you use?",
                    "choices": [
                        {"id": "builder", "text": "Survey builder"},
                        {"id": "logic", "text": "Logic"},
                        {"id": "analytics", "text": "Analytics"},
                    ],
                },
            ],
        },
    ],
}


def survey_create_published(
    *, title: str, definition: dict[str, Any], created_by_id: int | None = None, **settings: Any
) -> Survey:
    """Create and publish at once, compiling here instead of in the task (operator tools, the demo,
    benchmarks and tests). Raises ValidationError when the compile step refuses."""
    survey = survey_create(title=title, definition=definition, created_by_id=created_by_id, **settings)
    publication = publication_request(survey=survey, requested_by_id=created_by_id)
    publication = publication_compile_run(publication=Publication.objects.get(pk=publication.pk))
    if publication.status != Publication.Status.PUBLISHED:
        raise ValidationError({"definition": [e["message"] for e in publication.errors]})
    return Survey.objects.select_related("current_version").get(pk=survey.pk)
