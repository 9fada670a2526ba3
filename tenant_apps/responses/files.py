"""Files answering ``file_upload`` questions: stored through Django's storage API (S3/MinIO via
django-storages in production, the local filesystem by default), referenced by a signed, survey-bound
id, and readable only through short-lived signed URLs given to staff with ``submission.view``."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.utils.text import get_valid_filename

from shared_apps.core.tenancy import current_schema
from tenant_apps.pii.services import SealContext, seal_bytes, unseal_bytes
from tenant_apps.responses.services import ResponseError
from tenant_apps.surveys.definition import AnswerShape, answer_shape, questions_by_id

FILE_SALT = "responses.file"
SEALED_SUFFIX = ".sealed"
DOWNLOAD_SALT = "responses.download"


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    name: str
    size: int


def _question(definition: dict[str, Any], question_id: str) -> dict[str, Any]:
    question = questions_by_id(definition).get(question_id)
    if question is not None and answer_shape(question.get("type")) is AnswerShape.FILE:
        return dict(question)
    raise ResponseError("invalid_question", "This survey has no file question with that id.", 400)


def file_store(*, survey_id: int, definition: dict[str, Any], question_id: str, upload: UploadedFile) -> StoredFile:
    question = _question(definition, question_id)
    limit = min(int(question.get("max_size_mb", 10) * 1024 * 1024), settings.FILE_UPLOAD_MAX_BYTES)
    if upload.size is None or upload.size > limit:
        raise ResponseError("file_too_large", f"Files for this question may be at most {limit // (1024 * 1024)} MB.")
    name = get_valid_filename(PurePath(upload.name or "file").name)[:120] or "file"
    extension = PurePath(name).suffix.lower().lstrip(".")
    allowed = [str(t).lower().lstrip(".") for t in question.get("allowed_types", [])]
    if allowed and extension not in allowed:
        raise ResponseError("file_type_not_allowed", f"Allowed file types: {', '.join(allowed)}.")
    path = f"uploads/{current_schema()}/{survey_id}/{question_id}/{uuid.uuid4().hex}/{name}"
    if question.get("pii") is True:  # personal data: the stored bytes are sealed (AES-256-GCM, tenant's key)
        path += SEALED_SUFFIX
        content = seal_bytes(upload.read(), _file_context(survey_id, path))
        saved = default_storage.save(path, ContentFile(content))
    else:
        saved = default_storage.save(path, upload)
    file_id = signing.dumps({"t": current_schema(), "s": survey_id, "q": question_id, "p": saved}, salt=FILE_SALT)
    return StoredFile(file_id=file_id, name=name, size=upload.size)


def file_reference(*, file_id: str, survey_id: int, question_id: str | None = None) -> dict[str, Any]:
    """The stored file a ``file_id`` names, if it was uploaded to this survey (and question) in this tenant."""
    try:
        data = signing.loads(file_id, salt=FILE_SALT)
    except signing.BadSignature as exc:
        raise ResponseError("invalid_file", "This file reference is not valid.", 400) from exc
    if (
        data.get("t") != current_schema()
        or data.get("s") != survey_id
        or (question_id is not None and data.get("q") != question_id)
    ):
        raise ResponseError("invalid_file", "This file reference is not valid.", 400)
    return data


def _file_context(survey_id: int, path: str) -> SealContext:
    return SealContext(survey_id=survey_id, submission="file", field=path)


def file_download_url(*, file_id: str, survey_id: int, sees_pii: bool = False) -> str:
    """A URL valid for UPLOAD_URL_SECONDS: the storage's presigned URL (S3), or our own signed one. A sealed
    file (personal-data question) only with ``sees_pii``, always through our own URL (it is opened there)."""
    path = file_reference(file_id=file_id, survey_id=survey_id)["p"]
    if path.endswith(SEALED_SUFFIX):
        if not sees_pii:
            raise ResponseError("permission_denied", "This file is personal data.", 403)
        token = signing.dumps({"t": current_schema(), "p": path, "s": survey_id}, salt=DOWNLOAD_SALT)
        return f"/api/v1/files/{token}"
    if settings.AWS_STORAGE_BUCKET_NAME:
        return str(default_storage.url(path))
    token = signing.dumps({"t": current_schema(), "p": path}, salt=DOWNLOAD_SALT)
    return f"/api/v1/files/{token}"


def file_open_signed(*, token: str) -> tuple[Any, str]:
    try:
        data = signing.loads(token, salt=DOWNLOAD_SALT, max_age=settings.UPLOAD_URL_SECONDS)
    except signing.BadSignature as exc:
        raise ResponseError("invalid_link", "This download link is invalid or expired.", 403) from exc
    if data.get("t") != current_schema():
        raise ResponseError("invalid_link", "This download link is invalid or expired.", 403)
    path = str(data["p"])
    if path.endswith(SEALED_SUFFIX):
        from tenant_apps.audit.services import audit_record

        with default_storage.open(path, "rb") as handle:
            content = unseal_bytes(handle.read(), _file_context(int(data.get("s", 0)), path))
        audit_record(action="pii.decrypted", target_type="file", target_id=PurePath(path).parent.name)
        return io.BytesIO(content), PurePath(path.removesuffix(SEALED_SUFFIX)).name
    return default_storage.open(path, "rb"), PurePath(path).name
