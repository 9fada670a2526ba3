"""Sealing personal data: envelope encryption with a per-tenant data key (AES-256-GCM, ``cryptography``) wrapped
by the tenant's key-encryption key in Vault transit (``shared_apps.core.kms``). Call inside the tenant's context.

Public API (other apps call these): :func:`seal`, :func:`unseal`, :func:`unseal_many`, :func:`is_sealed`,
:class:`SealContext`.

Ciphertext: ``pii1.<data key kid>.<base64url(nonce 12 bytes + ciphertext + tag)>``. The associated data binds it
to the tenant (schema), the survey, the submission (its public uid) and the field (question id, ``q__other``,
``meta.ip``...): a ciphertext copied to another row, survey or tenant fails to decrypt.

The unwrapped data key is cached in this process for ``PII_KEY_CACHE_SECONDS`` at most, never written to disk,
Redis or logs. Seal and unseal need Vault only on a cache miss; when it cannot be reached they raise
``KmsUnavailable`` (503, Retry-After).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from shared_apps.core import kms
from shared_apps.core.errors import DomainError
from shared_apps.core.registry import SeedContext
from shared_apps.core.tenancy import current_schema
from tenant_apps.pii.models import DataKey

logger = logging.getLogger(__name__)

PREFIX = "pii1"
REDACTED = "[redacted]"


class PiiUnreadable(DomainError):
    """A ciphertext that does not open here: altered, copied from another row or tenant, or its key destroyed."""

    code = "pii_unreadable"
    status = 409


@dataclass(frozen=True)
class SealContext:
    """Where a sealed value belongs. ``submission``: the submission's (or draft's) public uid; ``field``: the
    question id or another field name (``meta.ip``)."""

    survey_id: int | str
    submission: str
    field: str

    def aad(self, schema: str) -> bytes:
        return f"{PREFIX}|{schema}|{self.survey_id}|{self.submission}|{self.field}".encode()


# --- the in-process key cache -------------------------------------------------------------------------------------


class _KeyCache:
    """(schema, data key id) -> AESGCM, and schema -> active data key id; entries expire after the TTL."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.keys: dict[tuple[str, str], tuple[AESGCM, float]] = {}
        self.active: dict[str, tuple[str, float]] = {}
        self.hits = 0
        self.misses = 0

    def ttl(self) -> float:
        return float(settings.PII_KEY_CACHE_SECONDS)

    def key(self, schema: str, key_id: str) -> AESGCM | None:
        entry = self.keys.get((schema, key_id))
        if entry is not None and entry[1] > time.monotonic():
            self.hits += 1
            return entry[0]
        self.misses += 1
        return None

    def put(self, schema: str, key_id: str, aead: AESGCM) -> None:
        with self.lock:
            self.keys[(schema, key_id)] = (aead, time.monotonic() + self.ttl())

    def active_id(self, schema: str) -> str | None:
        entry = self.active.get(schema)
        return entry[0] if entry is not None and entry[1] > time.monotonic() else None

    def set_active(self, schema: str, key_id: str) -> None:
        with self.lock:
            # The active pointer is re-read more often than keys expire, so re-encryption's new key is picked up.
            self.active[schema] = (key_id, time.monotonic() + min(self.ttl(), 30.0))

    def forget(self, schema: str) -> None:
        with self.lock:
            self.active.pop(schema, None)
            for cached in [k for k in self.keys if k[0] == schema]:
                del self.keys[cached]


_cache = _KeyCache()


def cache_stats() -> dict[str, float]:
    total = _cache.hits + _cache.misses
    return {"hits": _cache.hits, "misses": _cache.misses, "hit_rate": _cache.hits / total if total else 0.0}


def cache_clear(schema: str | None = None) -> None:
    """Drop cached keys (of one tenant, or all) and, with no schema, the statistics."""
    if schema is not None:
        _cache.forget(schema)
        return
    with _cache.lock:
        _cache.keys.clear()
        _cache.active.clear()
        _cache.hits = _cache.misses = 0


# --- data keys ---------------------------------------------------------------------------------------------------


def _datakey_new(schema: str) -> DataKey:
    """A fresh data key from Vault, stored wrapped, made the active one (the previous one retired)."""
    name = kms.key_name(schema)
    plaintext, wrapped = kms.datakey_generate(name=name)
    with transaction.atomic():
        DataKey.objects.filter(active=True).update(active=False, retired_at=timezone.now())
        row = DataKey.objects.create(
            kid=secrets.token_hex(8), wrapped=wrapped, kek_version=kms.wrapped_version(wrapped), active=True
        )
    aead = AESGCM(plaintext)
    _cache.put(schema, row.kid, aead)  # the kid is random: a rolled-back row's entry is never looked up
    transaction.on_commit(lambda: _cache.set_active(schema, row.kid))
    return row


def _active_key(schema: str) -> tuple[str, AESGCM]:
    key_id = _cache.active_id(schema)
    if key_id is None:
        row = DataKey.objects.filter(active=True).only("kid").first()
        if row is None:  # an organisation provisioned before personal data was sealed
            try:
                with transaction.atomic():
                    kms.key_create(name=kms.key_name(schema))
                    row = _datakey_new(schema)
            except IntegrityError:  # another process made it first
                row = DataKey.objects.get(active=True)
        key_id = row.kid
        _cache.set_active(schema, key_id)
    return key_id, _key(schema, key_id)


def _key(schema: str, key_id: str) -> AESGCM:
    aead = _cache.key(schema, key_id)
    if aead is not None:
        return aead
    row = DataKey.objects.filter(kid=key_id).only("wrapped").first()
    if row is None:
        raise PiiUnreadable("This value was sealed with a key this organisation does not have.")
    try:
        plaintext = kms.datakey_unwrap(name=kms.key_name(schema), wrapped=row.wrapped)
    except kms.KmsRefused:
        raise PiiUnreadable("The key of this personal data was destroyed or is not this organisation's.") from None
    aead = AESGCM(plaintext)
    _cache.put(schema, key_id, aead)
    return aead


# --- seal / unseal -----------------------------------------------------------------------------------------------


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX + ".")


def seal(value: Any, context: SealContext) -> str:
    """A JSON value sealed for ``context`` in the current tenant."""
    schema = current_schema()
    key_id, aead = _active_key(schema)
    nonce = os.urandom(12)
    data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    sealed = aead.encrypt(nonce, data, context.aad(schema))
    return f"{PREFIX}.{key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"


def _parse(token: str) -> tuple[str, bytes]:
    prefix, _, rest = token.partition(".") if isinstance(token, str) else ("", "", "")
    key_text, _, body = rest.partition(".")
    if prefix != PREFIX or not key_text.isalnum() or not key_text.isascii() or len(key_text) > 32 or not body:
        raise PiiUnreadable("Not a sealed value.")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, TypeError):
        raise PiiUnreadable("Not a sealed value.") from None
    if len(raw) < 12 + 16:
        raise PiiUnreadable("Not a sealed value.")
    return key_text, raw


def key_id_of(token: str) -> str:
    return _parse(token)[0]


def unseal(token: str, context: SealContext) -> Any:
    """The value sealed for ``context``; ``PiiUnreadable`` when it was sealed for anything else, altered, or its
    key destroyed; ``KmsUnavailable`` when the key is needed from Vault and Vault cannot be reached."""
    schema = current_schema()
    key_id, raw = _parse(token)
    aead = _key(schema, key_id)
    try:
        data = aead.decrypt(raw[:12], raw[12:], context.aad(schema))
    except InvalidTag:
        raise PiiUnreadable("This personal data does not open here (altered, or copied from another record).") from None
    return json.loads(data)


def unseal_many(items: Iterable[tuple[str, SealContext]]) -> list[Any]:
    return [unseal(token, context) for token, context in items]


def reveal(value: Any, context: SealContext) -> Any:
    """``value`` unsealed when it is sealed, else as it is (values stored before the question was flagged)."""
    return unseal(value, context) if is_sealed(value) else value


# --- tenant lifecycle --------------------------------------------------------------------------------------------


def tenant_keys_seed(context: SeedContext) -> None:
    """Provisioning: the tenant's transit key and its first data key."""
    schema = current_schema()
    kms.key_create(name=kms.key_name(schema))
    if not DataKey.objects.filter(active=True).exists():
        _datakey_new(schema)


def tenant_keys_destroy(schema_name: str) -> None:
    """Hard delete: destroy the tenant's key-encryption key in Vault (crypto-shredding) and forget its keys."""
    _cache.forget(schema_name)
    destroyed = kms.key_destroy(name=kms.key_name(schema_name))
    logger.warning("tenant personal data shredded", extra={"tenant": schema_name, "key_destroyed": destroyed})


def tenant_key_rotate() -> dict[str, int]:
    """Rotate the current tenant's KEK and rewrap every data key with the new version (no data rewritten)."""
    schema = current_schema()
    name = kms.key_name(schema)
    version = kms.key_rotate(name=name)
    rewrapped = 0
    for row in DataKey.objects.order_by("id"):
        wrapped = kms.datakey_rewrap(name=name, wrapped=row.wrapped)
        DataKey.objects.filter(pk=row.pk).update(
            wrapped=wrapped, kek_version=kms.wrapped_version(wrapped), rewrapped_at=timezone.now()
        )
        rewrapped += 1
    return {"kek_version": version, "data_keys": rewrapped}


def datakey_new() -> DataKey:
    """A new active data key for the current tenant (re-encryption moves the data to it)."""
    return _datakey_new(current_schema())


def datakey_active() -> DataKey | None:
    return DataKey.objects.filter(active=True).first()


# --- who sees it -------------------------------------------------------------------------------------------------

UNREADABLE = "[unreadable]"


def answers_reveal(rows: Iterable[tuple[int | str, str, dict[str, Any]]], *, allowed: bool) -> int:
    """For staff reads, in place. ``rows``: (survey id, submission uid, answers dict). Sealed values are opened
    when ``allowed`` (``submission.view_pii``), else shown as ``[redacted]``; a value that does not open (its key
    destroyed, altered) shows ``[unreadable]``. Each batch that opened something is audited once. Returns the
    number of values opened. ``KmsUnavailable`` (Vault down, key not cached) propagates: a clear 503."""
    from tenant_apps.audit.services import audit_record

    opened = 0
    surveys: set[str] = set()
    submissions = 0
    for survey_id, uid, answers in rows:
        touched = False
        for field, value in list(answers.items()):
            if not is_sealed(value):
                continue
            if not allowed:
                answers[field] = REDACTED
                continue
            try:
                answers[field] = unseal(value, SealContext(survey_id=survey_id, submission=uid, field=field))
            except PiiUnreadable:
                answers[field] = UNREADABLE
                continue
            opened += 1
            touched = True
        if touched:
            surveys.add(str(survey_id))
            submissions += 1
    if opened:
        audit_record(
            action="pii.decrypted",
            target_type="survey",
            target_id=",".join(sorted(surveys))[:100],
            changes={"values": opened, "submissions": submissions},
        )
    return opened


# --- files -------------------------------------------------------------------------------------------------------

FILE_MAGIC = b"PII1"


def seal_bytes(data: bytes, context: SealContext) -> bytes:
    """File content sealed like a value: ``PII1`` + key id length + key id + nonce + ciphertext."""
    schema = current_schema()
    key_id, aead = _active_key(schema)
    nonce = os.urandom(12)
    kid = key_id.encode()
    return FILE_MAGIC + bytes([len(kid)]) + kid + nonce + aead.encrypt(nonce, data, context.aad(schema))


def unseal_bytes(blob: bytes, context: SealContext) -> bytes:
    if not blob.startswith(FILE_MAGIC) or len(blob) < 5:
        raise PiiUnreadable("Not a sealed file.")
    size = blob[4]
    kid, rest = blob[5 : 5 + size].decode("ascii", "replace"), blob[5 + size :]
    aead = _key(current_schema(), kid)
    try:
        return aead.decrypt(rest[:12], rest[12:], context.aad(current_schema()))
    except InvalidTag:
        raise PiiUnreadable("This file does not open here (altered, or copied from elsewhere).") from None
