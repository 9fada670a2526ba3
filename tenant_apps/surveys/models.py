"""Surveys (tenant schema).

The survey being edited is one JSON document (``Survey.definition``: pages, questions, choices, rules,
variables, end screens; see ``logic/SPEC.md``), edited through the builder API with an optimistic
``revision``. Publishing freezes it into an immutable ``SurveyVersion`` (insert-only for the application
role) with its compiled form; submissions reference the version they answered. Editing a published
survey edits the draft document; the next publish makes version N+1; older versions stay readable.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models


def _public_link() -> str:
    return secrets.token_urlsafe(9)


class Survey(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"  # never published
        PUBLISHED = "published"
        CLOSED = "closed"
        ARCHIVED = "archived"

    class Access(models.TextChoices):
        ANONYMOUS = "anonymous"
        AUTHENTICATED = "authenticated"  # members with a Respondent (or any) role
        INVITED = "invited"

    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    public_link = models.CharField(max_length=32, unique=True, default=_public_link)
    # The draft being edited (pages, questions, choices, rules, variables, end screens).
    definition = models.JSONField(default=dict, blank=True)
    revision = models.PositiveIntegerField(default=1)  # bumped on every draft edit (optimistic locking)
    # Settings: respondents, schedule, limits, branding.
    access = models.CharField(max_length=16, choices=Access.choices, default=Access.ANONYMOUS)
    opens_at = models.DateTimeField(null=True, blank=True)
    closes_at = models.DateTimeField(null=True, blank=True)
    response_limit = models.PositiveIntegerField(null=True, blank=True)
    one_response_per_respondent = models.BooleanField(default=False)
    notify_owners = models.BooleanField(default=False)
    branding = models.JSONField(default=dict, blank=True)
    response_count = models.PositiveIntegerField(default=0)  # kept by the submission service
    current_version = models.ForeignKey(
        "SurveyVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    has_unpublished_changes = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-updated_at", "-id")
        indexes = [
            models.Index(fields=["public_link"], condition=models.Q(status="published"), name="survey_live_link_idx")
        ]

    def __str__(self) -> str:
        return self.title


class SurveyVersion(models.Model):
    """An immutable published snapshot. The application role may INSERT and SELECT it, nothing else."""

    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=300)
    definition = models.JSONField()
    # The definition as the evaluators run it (normalised, with the logic graph's order); no re-parsing at runtime.
    compiled = models.JSONField()
    published_by_id = models.BigIntegerField(null=True)
    published_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-number",)
        constraints = [models.UniqueConstraint(fields=["survey", "number"], name="survey_version_unique")]

    def __str__(self) -> str:
        return f"{self.survey_id}v{self.number}"


class Publication(models.Model):
    """A publish request, compiled by a task on the ``high_priority`` queue."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PUBLISHED = "published"
        REJECTED = "rejected"
        FAILED = "failed"  # the compile task itself failed (``errors`` says why); request publication again

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="publications")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    revision = models.PositiveIntegerField()  # the draft revision being published
    definition = models.JSONField()
    errors = models.JSONField(default=list, blank=True)
    version = models.ForeignKey(SurveyVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_by_id = models.BigIntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"publication:{self.pk}:{self.status}"
