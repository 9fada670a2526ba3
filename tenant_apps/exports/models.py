"""Exports of a survey's responses (tenant schema): one ``ExportJob`` per request, run by a task on
the ``exports`` queue. The task streams rows in key order and stores them in numbered parts; the
``checkpoint`` (last key written, parts stored) lets a redelivered task resume where the last one
stopped. When every row is stored, the parts are assembled into the file at ``storage_key``."""

from __future__ import annotations

from django.db import models


class ExportJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        READY = "ready"
        FAILED = "failed"
        CANCELLED = "cancelled"
        EXPIRED = "expired"

    class Format(models.TextChoices):
        CSV = "csv"
        XLSX = "xlsx"
        JSON = "json"
        NDJSON = "ndjson"
        SPSS = "spss"

    survey = models.ForeignKey("surveys.Survey", on_delete=models.CASCADE, related_name="exports")
    requested_by_id = models.BigIntegerField(null=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    format = models.CharField(max_length=8, choices=Format.choices)
    # labels (bool), bom (bool), include_drafts (bool), since/until (ISO), version (int).
    options = models.JSONField(default=dict, blank=True)
    rows_done = models.PositiveBigIntegerField(default=0)
    rows_total = models.PositiveBigIntegerField(null=True)
    # {"phase": "submissions"|"drafts", "submitted_at", "id", "uid", "parts"}: where a resumed run continues.
    checkpoint = models.JSONField(default=dict, blank=True)
    storage_key = models.CharField(max_length=500, blank=True)
    size = models.PositiveBigIntegerField(null=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"export:{self.pk}:{self.status}"
