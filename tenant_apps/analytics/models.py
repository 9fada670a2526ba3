"""Analytics (tenant schema): pre-aggregated cells and one watermark per survey.

``Cell`` is the aggregate table: one row per survey x version x day (UTC) x question x key. ``question_id``
is ``""`` for survey-level figures (``key="submissions"``: completed responses, ``sum`` their completion
seconds). For a question, ``key=""`` counts its answers (and for numbers their sum, sum of squares, min and
max); the other keys are categories: ``c:<choice>`` (choice, multiple choice, yes/no), ``v:<value>`` (rating,
NPS, hidden-field value), ``r:<choice>`` (ranking: ``sum`` of ranks), ``f:<choice>`` (first places),
``m:<row>:<column>`` (matrix), ``d:<YYYY-MM>`` (date), ``size`` (file bytes). ``services.bucket_recompute``
rewrites whole (version, day) buckets from the raw rows, so the table is always a function of them.
"""

from __future__ import annotations

from django.db import models


class Cell(models.Model):
    id = models.BigAutoField(primary_key=True)
    survey_id = models.BigIntegerField()
    version_id = models.BigIntegerField()
    day = models.DateField()
    question_id = models.CharField(max_length=64)
    key = models.CharField(max_length=300)
    n = models.BigIntegerField()
    sum = models.FloatField(null=True)
    sum_sq = models.FloatField(null=True)
    min = models.FloatField(null=True)
    max = models.FloatField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["survey_id", "version_id", "day", "question_id", "key"], name="analytics_cell_unique"
            )
        ]
        indexes = [models.Index(fields=["survey_id", "question_id", "day"], name="analytics_cell_question_idx")]

    def __str__(self) -> str:
        return f"{self.survey_id}/{self.version_id}/{self.day}/{self.question_id}/{self.key}={self.n}"


class Total(models.Model):
    """The cells summed over days: one row per survey x version x question x key, rewritten for the versions a
    run touched in the same transaction as their cells (``services._totals_rewrite``). A summary without a
    date range reads these tens of rows instead of summing every day's cells."""

    id = models.BigAutoField(primary_key=True)
    survey_id = models.BigIntegerField()
    version_id = models.BigIntegerField()
    question_id = models.CharField(max_length=64)
    key = models.CharField(max_length=300)
    n = models.BigIntegerField()
    sum = models.FloatField(null=True)
    sum_sq = models.FloatField(null=True)
    min = models.FloatField(null=True)
    max = models.FloatField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["survey_id", "version_id", "question_id", "key"], name="analytics_total_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.survey_id}/{self.version_id}/{self.question_id}/{self.key}={self.n}"


class Watermark(models.Model):
    """How far a survey's aggregates go: submissions with an id up to ``last_id`` and submissions (and
    deletions) stamped before ``until`` are in the cells."""

    survey_id = models.BigIntegerField(primary_key=True)
    until = models.DateTimeField(null=True)
    last_id = models.BigIntegerField(default=0)
    runs = models.BigIntegerField(default=0)
    # Bumped with every run that changed cells: part of the API's ETag and the cache's key.
    generation = models.BigIntegerField(default=0)
    # When a run last changed cells (the survey's activity: it picks the results cache's TTL).
    changed_at = models.DateTimeField(null=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.survey_id}@{self.until.isoformat() if self.until else '-'}"
