"""Responses (tenant schema). Submissions and their answers are partitioned by month on
``submitted_at`` (SQL in the migration; Django does not manage those two tables). One answer row per
question, with typed columns, so analytics aggregate per question without parsing submissions.
``SubmissionKey`` (not partitioned) makes submits idempotent and one-per-respondent exact."""

from __future__ import annotations

import uuid

from django.db import models


class Submission(models.Model):
    id = models.BigAutoField(primary_key=True)
    submitted_at = models.DateTimeField()
    uid = models.UUIDField()
    survey_id = models.BigIntegerField()
    version_id = models.BigIntegerField()
    respondent_id = models.BigIntegerField(null=True)
    started_at = models.DateTimeField(null=True)
    end_screen = models.CharField(max_length=64, null=True)
    variables = models.JSONField(default=dict)
    meta = models.JSONField(default=dict)
    deleted_at = models.DateTimeField(null=True)

    class Meta:
        managed = False
        db_table = "responses_submission"

    def __str__(self) -> str:
        return str(self.uid)


class Answer(models.Model):
    id = models.BigAutoField(primary_key=True)
    submitted_at = models.DateTimeField()
    submission_id = models.BigIntegerField()
    survey_id = models.BigIntegerField()
    question_id = models.CharField(max_length=64)
    value = models.JSONField()
    number = models.FloatField(null=True)
    choices = models.JSONField(null=True)

    class Meta:
        managed = False
        db_table = "responses_answer"

    def __str__(self) -> str:
        return f"{self.submission_id}:{self.question_id}"


class SubmissionKey(models.Model):
    """One row per submission: its public id, the client's Idempotency-Key, and who answered."""

    uid = models.UUIDField(primary_key=True, default=uuid.uuid4)
    survey_id = models.BigIntegerField()
    submission_id = models.BigIntegerField()
    submitted_at = models.DateTimeField()
    idempotency_key = models.CharField(max_length=100, null=True)
    respondent_key = models.CharField(max_length=64, null=True)
    result = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["survey_id", "idempotency_key"], name="submission_idempotency_unique"),
            models.UniqueConstraint(fields=["survey_id", "respondent_key"], name="submission_respondent_unique"),
        ]

    def __str__(self) -> str:
        return str(self.uid)


class DraftCopy(models.Model):
    """The durable copy of a Redis draft, written by the periodic sync (never on the hot path)."""

    uid = models.UUIDField(primary_key=True)
    survey_id = models.BigIntegerField()
    data = models.JSONField()
    updated_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return str(self.uid)
