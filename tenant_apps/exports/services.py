"""Export a survey's responses. Call inside the tenant's context.

``export_request`` records a job and enqueues ``export_run`` (exports queue, ``acks_late``). The run
streams submissions in key order ``(submitted_at, id)`` from a server-side cursor, a bounded chunk of
rows at a time, storing each chunk as a numbered part (rows as JSON arrays of cells) and then the
checkpoint (rows done, last key, parts stored). A redelivered run resumes after the checkpoint; a
part written after the last checkpoint is overwritten under the same name, so a resumed file has every
row once. Once all rows are stored the parts are assembled, streaming, into the requested format in a
temporary file and saved through Django's storage (S3 via django-storages in production, uploaded with
boto3's multipart transfer; the filesystem by default), then the parts are deleted.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import re
import tempfile
from collections.abc import Iterator
from typing import IO, Any

import xlsxwriter
from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from shared_apps.core.errors import DomainError
from shared_apps.core.registry import emit_event
from shared_apps.core.tenancy import current_schema
from tenant_apps.audit.services import audit_record
from tenant_apps.exports.columns import Cell, Column, export_columns
from tenant_apps.exports.models import ExportJob
from tenant_apps.pii.services import answers_reveal
from tenant_apps.responses.models import DraftCopy
from tenant_apps.surveys.definition import pii_fields
from tenant_apps.surveys.models import Survey, SurveyVersion

logger = logging.getLogger(__name__)

EXPORT_TTL = dt.timedelta(days=7)
ACTIVE = (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING)
EXTENSIONS = {"csv": "csv", "xlsx": "xlsx", "json": "json", "ndjson": "ndjson", "spss": "sav"}


class ExportError(DomainError):
    code = "export_refused"


# --- request, cancel, read ------------------------------------------------------------------------


def export_request(
    *,
    survey: Survey,
    format: str,
    labels: bool = False,
    bom: bool = False,
    include_drafts: bool = False,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    version: int | None = None,
    requested_by_id: int | None = None,
    include_pii: bool = False,
) -> ExportJob:
    """``include_pii``: the requester holds ``submission.view_pii``: personal-data columns are exported (opened,
    each batch audited); otherwise they are left out."""
    from tenant_apps.exports.tasks import export_run_task

    if format not in EXTENSIONS:
        raise ExportError(f"Unknown format {format!r}; one of {', '.join(EXTENSIONS)}.", code="invalid_format")
    if since and until and since >= until:
        raise ExportError("'since' must be before 'until'.", code="invalid_filter")
    if version is not None and not SurveyVersion.objects.filter(survey=survey, number=version).exists():
        raise ExportError(f"This survey has no version {version}.", code="invalid_filter")
    if survey.current_version_id is None:
        raise ExportError("This survey was never published: it has no responses to export.", code="not_published")
    options = {
        "labels": labels,
        "bom": bom,
        "include_drafts": include_drafts,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "version": version,
        "include_pii": include_pii,
    }
    with transaction.atomic():
        job = ExportJob.objects.create(
            survey=survey,
            format=format,
            options=options,
            requested_by_id=requested_by_id,
            expires_at=timezone.now() + EXPORT_TTL,
        )
        audit_record(
            action="export.request",
            target_type="survey",
            target_id=survey.pk,
            changes={"export_id": job.pk, "format": format, **options},
        )
        schema = current_schema()
        transaction.on_commit(lambda: export_run_task.delay(schema_name=schema, job_id=job.pk))
    return job


def export_cancel(*, job: ExportJob) -> ExportJob:
    """Stop a queued or running export (the run notices at its next chunk) and delete what it stored."""
    if job.status not in ACTIVE:
        raise ExportError(f"This export is {job.status}; only a queued or running export can be cancelled.", status=409)
    ExportJob.objects.filter(pk=job.pk, status__in=ACTIVE).update(
        status=ExportJob.Status.CANCELLED, finished_at=timezone.now()
    )
    audit_record(action="export.cancel", target_type="export", target_id=job.pk)
    job.refresh_from_db()
    _files_delete(job)
    return job


def export_download_url(*, job: ExportJob) -> str | None:
    """A URL valid for UPLOAD_URL_SECONDS: the storage's presigned URL (S3), or the platform's signed one
    (the same signed link as uploaded files: ``/api/v1/files/<token>``)."""
    from tenant_apps.responses.files import DOWNLOAD_SALT

    if job.status != ExportJob.Status.READY or not job.storage_key:
        return None
    if settings.AWS_STORAGE_BUCKET_NAME:
        return str(default_storage.url(job.storage_key))
    token = signing.dumps({"t": current_schema(), "p": job.storage_key}, salt=DOWNLOAD_SALT)
    return f"/api/v1/files/{token}"


def export_seconds_left(*, job: ExportJob) -> int | None:
    if job.status != ExportJob.Status.RUNNING or not job.started_at or not job.rows_done or job.rows_total is None:
        return None
    elapsed = (timezone.now() - job.started_at).total_seconds()
    return max(0, round(elapsed / job.rows_done * (job.rows_total - job.rows_done)))


def exports_expire(*, now: dt.datetime | None = None) -> int:
    """Delete the files of exports past ``expires_at`` and mark them expired."""
    expired = 0
    for job in ExportJob.objects.filter(expires_at__lte=now or timezone.now()).exclude(status=ExportJob.Status.EXPIRED):
        ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.EXPIRED)
        _files_delete(job)
        ExportJob.objects.filter(pk=job.pk).update(storage_key="", size=None)
        expired += 1
    return expired


# --- storage keys ---------------------------------------------------------------------------------


def _prefix(job: ExportJob) -> str:
    return f"exports/{current_schema()}/{job.pk}"


def _part_key(job: ExportJob, number: int) -> str:
    return f"{_prefix(job)}/parts/{number:06d}.ndjson"


def _store(key: str, content: Any) -> str:
    """Save under exactly ``key`` (the filesystem storage would otherwise pick another name)."""
    if default_storage.exists(key):
        default_storage.delete(key)
    return str(default_storage.save(key, content))


def _files_delete(job: ExportJob) -> None:
    parts = int((job.checkpoint or {}).get("parts", 0))
    for number in range(1, parts + 2):  # +1: a part stored after the last checkpoint
        key = _part_key(job, number)
        if default_storage.exists(key):
            default_storage.delete(key)
    if job.storage_key and default_storage.exists(job.storage_key):
        default_storage.delete(job.storage_key)


# --- the run --------------------------------------------------------------------------------------

_SUBMISSIONS_SQL = """
SELECT s.id, s.submitted_at, s.uid, s.version_id, s.started_at,
       COALESCE((SELECT jsonb_object_agg(a.question_id, a.value) FROM responses_answer a
                 WHERE a.submission_id = s.id AND a.submitted_at = s.submitted_at), '{}'::jsonb)
FROM responses_submission s
WHERE s.survey_id = %(survey)s AND s.deleted_at IS NULL
  AND (s.submitted_at, s.id) > (%(after_at)s::timestamptz, %(after_id)s)
  AND (%(since)s::timestamptz IS NULL OR s.submitted_at >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR s.submitted_at < %(until)s::timestamptz)
  AND (%(version_id)s::bigint IS NULL OR s.version_id = %(version_id)s::bigint)
ORDER BY s.submitted_at, s.id
"""

_COUNT_SQL = """
SELECT count(*) FROM responses_submission s
WHERE s.survey_id = %(survey)s AND s.deleted_at IS NULL
  AND (%(since)s::timestamptz IS NULL OR s.submitted_at >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR s.submitted_at < %(until)s::timestamptz)
  AND (%(version_id)s::bigint IS NULL OR s.version_id = %(version_id)s::bigint)
"""


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


class _Run:
    def __init__(self, job: ExportJob, chunk_rows: int) -> None:
        self.job = job
        self.chunk_rows = chunk_rows
        versions = list(SurveyVersion.objects.filter(survey_id=job.survey_id).order_by("number"))
        self.numbers = {v.pk: v.number for v in versions}
        self.include_pii = bool(job.options.get("include_pii"))
        pii = frozenset().union(*(pii_fields(v.definition) for v in versions))
        self.columns: list[Column] = export_columns(
            definitions=[v.definition for v in versions],
            # SPSS stores codes; the texts go in its value labels.
            labels=bool(job.options.get("labels")) and job.format != ExportJob.Format.SPSS,
            exclude=frozenset() if self.include_pii else pii,
        )
        options = job.options
        version = options.get("version")
        self.params: dict[str, Any] = {
            "survey": job.survey_id,
            "since": options.get("since"),
            "until": options.get("until"),
            "version_id": next((pk for pk, n in self.numbers.items() if n == version), None) if version else None,
        }

    def drafts(self) -> QuerySet[DraftCopy]:
        qs = DraftCopy.objects.filter(survey_id=self.job.survey_id)
        options = self.job.options
        if options.get("since"):
            qs = qs.filter(updated_at__gte=options["since"])
        if options.get("until"):
            qs = qs.filter(updated_at__lt=options["until"])
        if options.get("version"):
            qs = qs.filter(data__version=options["version"])
        return qs.order_by("uid")

    def count(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute(_COUNT_SQL, self.params)
            total = int(cursor.fetchone()[0])
        if self.job.options.get("include_drafts"):
            total += self.drafts().count()
        return total

    def cells(self, row: dict[str, Any]) -> list[Cell]:
        return [column.extract(row) for column in self.columns]

    def submission_rows(self, checkpoint: dict[str, Any]) -> Iterator[tuple[dict[str, Any], list[Cell]]]:
        params = {
            **self.params,
            "after_at": checkpoint.get("submitted_at") or "-infinity",
            "after_id": int(checkpoint.get("id") or 0),
        }
        with connection.chunked_cursor() as cursor:  # a named (server-side) cursor
            cursor.execute(_SUBMISSIONS_SQL, params)
            while batch := cursor.fetchmany(self.chunk_rows):
                rows = [(*r[:5], _json(r[5]) or {}) for r in batch]
                # Personal data: opened for a requester allowed to see it (one audit entry per batch), else
                # its columns are absent and anything sealed shows as [redacted].
                answers_reveal([(self.job.survey_id, str(r[2]), r[5]) for r in rows], allowed=self.include_pii)
                for sid, submitted_at, uid, version_id, started_at, answers in rows:
                    duration = (submitted_at - started_at).total_seconds() if started_at else None
                    row = {
                        "submission_uid": str(uid),
                        "status": "complete",
                        "submitted_at": submitted_at.isoformat(),
                        "version": self.numbers.get(version_id),
                        "duration_seconds": round(duration) if duration is not None else None,
                        "answers": answers,
                    }
                    key = {"phase": "submissions", "submitted_at": submitted_at.isoformat(), "id": sid}
                    yield key, self.cells(row)

    def draft_rows(self, checkpoint: dict[str, Any]) -> Iterator[tuple[dict[str, Any], list[Cell]]]:
        qs = self.drafts()
        if checkpoint.get("phase") == "drafts" and checkpoint.get("uid"):
            qs = qs.filter(uid__gt=checkpoint["uid"])
        for draft in qs.iterator(chunk_size=self.chunk_rows):
            data = draft.data if isinstance(draft.data, dict) else {}
            answers = dict(data["answers"]) if isinstance(data.get("answers"), dict) else {}
            answers_reveal([(self.job.survey_id, str(draft.uid), answers)], allowed=self.include_pii)
            row: dict[str, Any] = {
                "submission_uid": str(draft.uid),
                "status": "draft",
                "submitted_at": None,
                "version": data.get("version"),
                "duration_seconds": None,
                "answers": answers,
            }
            yield {"phase": "drafts", "uid": str(draft.uid)}, self.cells(row)

    def rows(self, checkpoint: dict[str, Any]) -> Iterator[tuple[dict[str, Any], list[Cell]]]:
        if checkpoint.get("phase", "submissions") == "submissions":
            yield from self.submission_rows(checkpoint)
        if self.job.options.get("include_drafts"):
            yield from self.draft_rows(checkpoint)


def export_run(  # noqa: PLR0911 - each early return is a stop (cancelled, paused, done)
    *, job_id: int, chunk_rows: int | None = None, max_parts: int | None = None
) -> ExportJob:
    """Run (or resume) an export. ``max_parts`` stops after storing that many parts in this call, leaving
    the job running with its checkpoint (what a worker killed mid-export leaves behind)."""
    job = ExportJob.objects.select_related("survey").get(pk=job_id)
    if job.status not in ACTIVE:
        return job
    run = _Run(job, chunk_rows or settings.EXPORT_CHUNK_ROWS)
    if job.status == ExportJob.Status.RUNNING:
        logger.info(
            "export resumed",
            extra={"export_id": job.pk, "rows_done": job.rows_done, "parts": job.checkpoint.get("parts", 0)},
        )
    if job.status == ExportJob.Status.QUEUED:
        job.rows_total = run.count()
        job.started_at = timezone.now()
        job.status = ExportJob.Status.RUNNING
        if not ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.QUEUED).update(
            status=job.status, rows_total=job.rows_total, started_at=job.started_at
        ):
            return ExportJob.objects.get(pk=job.pk)
    checkpoint = dict(job.checkpoint or {})
    if not checkpoint.get("assembling"):
        parts = int(checkpoint.get("parts", 0))
        rows_done = int(job.rows_done)
        stored_now = 0
        buffer = io.BytesIO()
        buffered = 0
        last: dict[str, Any] = {}

        def flush() -> bool:
            nonlocal parts, rows_done, buffered, buffer, stored_now
            _store(_part_key(job, parts + 1), ContentFile(buffer.getvalue()))
            parts, rows_done, stored_now = parts + 1, rows_done + buffered, stored_now + 1
            checkpoint.update(last, parts=parts)
            buffer, buffered = io.BytesIO(), 0
            # The checkpoint only moves while the job is still running: a cancel wins.
            return bool(
                ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING).update(
                    rows_done=rows_done, checkpoint=checkpoint
                )
            )

        for key, cells in run.rows(checkpoint):
            buffer.write(json.dumps(cells, ensure_ascii=False).encode() + b"\n")
            buffered += 1
            last = key
            if buffered >= run.chunk_rows:
                if not flush():
                    return _stopped(job)
                if max_parts is not None and stored_now >= max_parts:
                    return ExportJob.objects.get(pk=job.pk)
        if buffered and not flush():
            return _stopped(job)
        checkpoint["assembling"] = True
        if not ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING).update(
            checkpoint=checkpoint, rows_total=rows_done
        ):
            return _stopped(job)
    job.refresh_from_db()
    return _assemble(job, run.columns)


def _stopped(job: ExportJob) -> ExportJob:
    job.refresh_from_db()
    _files_delete(job)
    return job


def _part_rows(job: ExportJob) -> Iterator[list[Cell]]:
    for number in range(1, int(job.checkpoint.get("parts", 0)) + 1):
        with default_storage.open(_part_key(job, number), "rb") as handle:
            for line in handle:
                yield json.loads(line)


XLSX_MAX_ROW = 1_048_575  # the last row index of a worksheet
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(cell: Cell) -> Cell:
    """Text a spreadsheet would run as a formula is prefixed with ``'`` (OWASP's CSV injection advice)."""
    return f"'{cell}" if isinstance(cell, str) and cell.startswith(_FORMULA_START) else cell


def _write(job: ExportJob, columns: list[Column], out: IO[bytes], path: str) -> None:
    header = [c.key for c in columns]
    rows = _part_rows(job)
    if job.format == ExportJob.Format.CSV:
        text = io.TextIOWrapper(out, encoding="utf-8-sig" if job.options.get("bom") else "utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow(header)
        for cells in rows:
            writer.writerow([_csv_safe(c) for c in cells])
        text.flush()
        text.detach()
    elif job.format == ExportJob.Format.NDJSON:
        for cells in rows:
            out.write(json.dumps(dict(zip(header, cells, strict=True)), ensure_ascii=False).encode() + b"\n")
    elif job.format == ExportJob.Format.JSON:
        out.write(b"[")
        for index, cells in enumerate(rows):
            out.write((b",\n" if index else b"\n") + json.dumps(dict(zip(header, cells, strict=True))).encode())
        out.write(b"\n]\n")
    elif job.format == ExportJob.Format.SPSS:
        _write_sav(columns, rows, path)
    else:
        workbook = xlsxwriter.Workbook(
            path, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
        )
        sheet, number, sheets = workbook.add_worksheet("Responses"), 0, 1
        sheet.write_row(0, 0, header)
        for cells in rows:
            if number == XLSX_MAX_ROW:  # a worksheet holds 1 048 576 rows: continue on the next one
                sheets += 1
                sheet, number = workbook.add_worksheet(f"Responses {sheets}"), 0
                sheet.write_row(0, 0, header)
            number += 1
            for col, cell in enumerate(cells):
                if cell is not None:
                    sheet.write(number, col, cell)
        workbook.close()


_SPSS_RESERVED = frozenset({"ALL", "AND", "BY", "EQ", "GE", "GT", "LE", "LT", "NE", "NOT", "OR", "TO", "WITH"})
_SPSS_NAME_BYTES = 64


def spss_names(keys: list[str]) -> list[str]:
    """Valid, unique SPSS variable names for the column keys: ASCII letters, digits and ``_``, starting with a
    letter, at most 64 bytes, not a reserved word, unique ignoring case (SPSS ignores it)."""
    names: list[str] = []
    seen: set[str] = set()
    for key in keys:
        base = re.sub(r"[^A-Za-z0-9_]", "_", key).strip("_") or "v"
        if not base[0].isalpha() or base.upper() in _SPSS_RESERVED:
            base = f"v_{base}"
        base = base[:_SPSS_NAME_BYTES].rstrip("_")
        name, number = base, 1
        while name.upper() in seen:
            number += 1
            suffix = f"_{number}"
            name = base[: _SPSS_NAME_BYTES - len(suffix)] + suffix
        seen.add(name.upper())
        names.append(name)
    return names


def _write_sav(columns: list[Column], rows: Iterator[list[Cell]], path: str) -> None:
    """SPSS ``.sav`` through pyreadstat: variable labels (question wording), value labels (choice texts, codes
    1..n stable across versions), numeric variables for numbers, codes, 0/1 and ranks, strings otherwise.

    Memory: pyreadstat writes a whole data frame, so the rows are read back from the stored parts (streamed,
    part by part) into one list per column and the frame is built once: the file's data is held in memory
    (unlike the other formats, which stream)."""
    import pandas as pd
    import pyreadstat

    values: list[list[Cell]] = [[] for _ in columns]
    for cells in rows:
        for index, cell in enumerate(cells):
            values[index].append(cell)
    names = spss_names([c.key for c in columns])
    data: dict[str, Any] = {}
    value_labels: dict[str, dict[int | float, str]] = {}
    for name, column, cells in zip(names, columns, values, strict=True):
        present = [c for c in cells if c is not None and c != ""]
        if column.codes is not None and all(isinstance(c, str) and c in column.codes for c in present):
            codes = column.codes
            data[name] = pd.Series([float(codes[c]) if isinstance(c, str) and c in codes else None for c in cells])
            value_labels[name] = dict((column.value_labels or {}).items())
        elif column.numeric and all(isinstance(c, int | float) and not isinstance(c, bool) for c in present):
            data[name] = pd.Series([float(c) if isinstance(c, int | float) else None for c in cells], dtype=float)
            if column.value_labels:
                value_labels[name] = dict(column.value_labels.items())
        else:
            data[name] = pd.Series(["" if c is None else str(c) for c in cells], dtype=object)
    frame = pd.DataFrame(data, columns=names)
    pyreadstat.write_sav(
        frame,
        path,
        column_labels={name: (column.label or column.key)[:255] for name, column in zip(names, columns, strict=True)},
        variable_value_labels=value_labels,
    )


def _assemble(job: ExportJob, columns: list[Column]) -> ExportJob:
    """Parts -> the file (idempotent: a redelivered run assembles again from the same parts)."""
    name = f"{_prefix(job)}/survey-{job.survey_id}-export-{job.pk}.{EXTENSIONS[job.format]}"
    with tempfile.NamedTemporaryFile(suffix=f".{EXTENSIONS[job.format]}") as tmp:
        _write(job, columns, tmp, tmp.name)
        tmp.flush()
        with open(tmp.name, "rb") as handle:  # xlsxwriter wrote by path
            key = _store(name, File(handle, name=name))
            size = default_storage.size(key)
    updated = ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING).update(
        status=ExportJob.Status.READY, storage_key=key, size=size, finished_at=timezone.now()
    )
    job.refresh_from_db()
    if not updated:
        if job.status == ExportJob.Status.CANCELLED:
            job.storage_key = key
            _files_delete(job)
        return job
    for number in range(1, int(job.checkpoint.get("parts", 0)) + 1):
        default_storage.delete(_part_key(job, number))
    emit_event(
        "export.completed",
        {"export_id": job.pk, "survey_id": job.survey_id, "format": job.format, "size": size, "rows": job.rows_done},
    )
    return job


def export_fail(*, job_id: int, reason: str) -> None:
    ExportJob.objects.filter(pk=job_id, status__in=ACTIVE).update(
        status=ExportJob.Status.FAILED, error=reason[:500], finished_at=timezone.now()
    )
