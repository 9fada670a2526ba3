"""The organisation's portability export: one zip of JSON and CSV (surveys, versions, submissions, answers,
members without credentials, and a manifest with counts and sha256 of every file), built by a task into
storage (the same storage and signed download links as survey exports). Call inside the tenant's context."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import tempfile
import zipfile
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from shared_apps.core.errors import DomainError
from shared_apps.core.tenancy import current_schema
from tenant_apps.audit.services import audit_record
from tenant_apps.privacy.models import TenantExport

logger = logging.getLogger(__name__)
EXPORT_TTL = dt.timedelta(days=7)
# A queued or running export older than this no longer blocks a new one (its worker died, or none ran).
EXPORT_STALE = dt.timedelta(hours=1)
BATCH = 5000


class TenantExportError(DomainError):
    code = "tenant_export_refused"
    status = 409


# Each table: (file name, SELECT with a keyset on ``id``, columns that hold JSON).
TABLES: list[tuple[str, str, frozenset[str]]] = [
    (
        "surveys",
        "SELECT id, title, description, status, public_link, access, definition, current_version_id, created_at, "
        "updated_at FROM surveys_survey WHERE id > %s ORDER BY id LIMIT %s",
        frozenset({"definition"}),
    ),
    (
        "survey_versions",
        "SELECT id, survey_id, number, title, definition, published_at FROM surveys_surveyversion "
        "WHERE id > %s ORDER BY id LIMIT %s",
        frozenset({"definition"}),
    ),
    (
        "submissions",
        "SELECT id, uid, survey_id, version_id, submitted_at, started_at, end_screen, variables, meta "
        "FROM responses_submission WHERE deleted_at IS NULL AND id > %s ORDER BY id LIMIT %s",
        frozenset({"variables", "meta"}),
    ),
    (
        "answers",
        "SELECT id, submission_id, survey_id, question_id, value, submitted_at FROM responses_answer a "
        "WHERE id > %s AND NOT EXISTS (SELECT 1 FROM responses_submission s WHERE s.id = a.submission_id "
        "AND s.submitted_at = a.submitted_at AND s.deleted_at IS NOT NULL) ORDER BY id LIMIT %s",
        frozenset({"value"}),
    ),
    (
        "members",
        "SELECT m.id, m.user_id, r.slug AS role, m.is_active, m.created_at FROM members_membership m "
        "JOIN members_role r ON r.id = m.role_id WHERE m.id > %s ORDER BY m.id LIMIT %s",
        frozenset(),
    ),
]


def tenant_export_request(*, requested_by_id: int | None, enqueue: bool = True) -> TenantExport:
    """Queue an archive of the whole organisation (one at a time); ``enqueue=False``: the caller runs
    ``tenant_export_run`` itself (the CLI)."""
    from tenant_apps.privacy.tasks import tenant_export_run_task

    with transaction.atomic():
        now = timezone.now()
        with connection.cursor() as cursor:  # two requests at once: the second waits, then sees the first
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"tenant-export:{current_schema()}"]
            )
        if (
            TenantExport.objects.filter(status__in=[TenantExport.Status.QUEUED, TenantExport.Status.RUNNING])
            .filter(created_at__gt=now - EXPORT_STALE)
            .exists()
        ):
            raise TenantExportError("An export of this organisation is already being built.")
        export = TenantExport.objects.create(
            requested_by_id=requested_by_id, created_at=now, expires_at=now + EXPORT_TTL
        )
        audit_record(action="tenant_export.requested", target_type="tenant_export", target_id=export.pk)
        schema = current_schema()
        if enqueue:
            transaction.on_commit(lambda: tenant_export_run_task.delay(schema_name=schema, export_id=export.pk))
    return export


def _rows(query: str) -> Iterator[dict[str, Any]]:
    last = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(query, [last, BATCH])
            names = [c.name for c in cursor.description]
            rows = cursor.fetchall()
        for row in rows:
            yield dict(zip(names, row, strict=True))
        if len(rows) < BATCH:
            return
        last = rows[-1][0]


def _json_value(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _member_names() -> dict[int, tuple[str, str]]:
    """user id -> (e-mail, full name) of every member, in one query (never the password hash)."""
    from shared_apps.accounts.models import User
    from tenant_apps.members.models import Membership

    user_ids = set(Membership.objects.values_list("user_id", flat=True))
    return {
        pk: (email, name)
        for pk, email, name in User.objects.filter(pk__in=user_ids).values_list("pk", "email", "full_name")
    }


def _write_table(
    archive: zipfile.ZipFile, name: str, query: str, json_columns: frozenset[str]
) -> tuple[int, dict[str, str]]:
    """``name.json`` (an array) and ``name.csv`` (JSON columns as JSON text); returns rows and sha256 per file."""
    count = 0
    digests: dict[str, str] = {}
    names = _member_names() if name == "members" else {}
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8") as json_tmp,
        tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as csv_tmp,
    ):
        writer: csv.DictWriter[str] | None = None
        json_tmp.write("[")
        for row in _rows(query):
            if name == "members":
                email, full_name = names.get(row["user_id"], ("", ""))
                row["email"], row["full_name"] = email, full_name
            for column in json_columns:
                row[column] = _json_value(row[column])
            json_tmp.write(("," if count else "") + "\n" + json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False))
            if writer is None:
                writer = csv.DictWriter(csv_tmp, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(
                {
                    key: json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
                    if key in json_columns
                    else ("" if value is None else str(value))
                    for key, value in row.items()
                }
            )
            count += 1
        json_tmp.write("\n]\n")
        for tmp, suffix in ((json_tmp, "json"), (csv_tmp, "csv")):
            tmp.seek(0)
            digest = hashlib.sha256()
            with archive.open(f"{name}.{suffix}", "w") as member:
                while chunk := tmp.read(1 << 16):
                    data = chunk.encode("utf-8")
                    digest.update(data)
                    member.write(data)
            digests[f"{name}.{suffix}"] = digest.hexdigest()
    return count, digests


def tenant_export_run(*, export_id: int) -> TenantExport:
    """Build the archive (idempotent: a redelivered task rebuilds it from scratch)."""
    export = TenantExport.objects.get(pk=export_id)
    if export.status == TenantExport.Status.READY:
        return export
    TenantExport.objects.filter(pk=export.pk).update(status=TenantExport.Status.RUNNING)
    schema = current_schema()
    started = timezone.now()
    counts: dict[str, int] = {}
    files: dict[str, str] = {}
    with tempfile.TemporaryFile() as out:
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, query, json_columns in TABLES:
                counts[name], digests = _write_table(archive, name, query, json_columns)
                files.update(digests)
            manifest = {
                "format": "survey-platform/tenant-export/v1",
                "organisation": schema,
                "generated_at": started.isoformat(),
                "counts": counts,
                "files": files,
            }
            archive.writestr("manifest.json", json.dumps(manifest, indent=2))
        size = out.tell()
        out.seek(0)
        key = f"tenant-exports/{schema}/{export.pk}/{schema}-{started:%Y%m%dT%H%M%SZ}.zip"
        if default_storage.exists(key):
            default_storage.delete(key)
        stored = default_storage.save(key, File(out, name=key.rsplit("/", 1)[1]))
    with transaction.atomic():
        TenantExport.objects.filter(pk=export.pk).update(
            status=TenantExport.Status.READY, storage_key=stored, size=size, counts=counts, finished_at=timezone.now()
        )
        audit_record(
            action="tenant_export.completed",
            target_type="tenant_export",
            target_id=export.pk,
            changes={"counts": counts, "size": size},
        )
    logger.info("tenant export ready", extra={"tenant": schema, "export": export.pk, "bytes": size})
    return TenantExport.objects.get(pk=export.pk)


def tenant_export_fail(*, export_id: int, reason: str) -> None:
    TenantExport.objects.filter(pk=export_id).update(
        status=TenantExport.Status.FAILED, error=reason[:300], finished_at=timezone.now()
    )


def tenant_export_download_url(*, export: TenantExport) -> str | None:
    """As for survey exports: the storage's presigned URL (S3), or the platform's signed ``/api/v1/files/`` link."""
    from tenant_apps.responses.files import DOWNLOAD_SALT

    if export.status != TenantExport.Status.READY or not export.storage_key:
        return None
    if settings.AWS_STORAGE_BUCKET_NAME:
        return str(default_storage.url(export.storage_key))
    token = signing.dumps({"t": current_schema(), "p": export.storage_key}, salt=DOWNLOAD_SALT)
    return f"/api/v1/files/{token}"


def tenant_export_read(archive: bytes) -> dict[str, Any]:
    """The manifest of an archive (tests and operators)."""
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return dict(json.loads(opened.read("manifest.json")))
