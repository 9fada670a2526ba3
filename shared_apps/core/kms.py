"""Key-encryption keys (KEK): one per tenant, held by Vault's transit engine (OpenBao in development and tests).

Envelope encryption: tenant apps keep a data key (AES-256) *wrapped* by the tenant's transit key; this module
creates that key, wraps and unwraps data keys, rotates the KEK, rewraps, and destroys it (crypto-shredding:
every data key it wrapped, and so every ciphertext, becomes unreadable). The KEK never leaves Vault.

Backends:
- ``transit`` (``VAULT_ADDR`` set): hvac against Vault / OpenBao. Auth: ``VAULT_TOKEN``, or AppRole
  (``VAULT_ROLE_ID`` + ``VAULT_SECRET_ID``), or Kubernetes (``VAULT_K8S_ROLE`` + the service account token at
  ``VAULT_K8S_JWT_PATH``). The token is never logged nor put in an exception message.
- ``local`` (``VAULT_ADDR`` empty, development only; production settings refuse it): per-tenant keys in files
  under ``KMS_LOCAL_DIR``, same semantics (versions, rotate, rewrap, destroy).

Errors: :class:`KmsUnavailable` (Vault unreachable, sealed or failing: a 503 the client may retry) and
:class:`KmsRefused` (the key does not exist, was destroyed, or the ciphertext is not its own).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from django.conf import settings

from shared_apps.core.errors import DomainError
from shared_apps.core.health import RETRY_AFTER_SECONDS

logger = logging.getLogger(__name__)


class KmsUnavailable(DomainError):
    """The key service cannot be reached (or is sealed): nothing that needs a key can be done now."""

    code = "kms_unavailable"
    status = 503
    retry_after = RETRY_AFTER_SECONDS


class KmsRefused(DomainError):
    """The key service answered, and refused: no such key (destroyed?) or a ciphertext it did not make."""

    code = "key_unavailable"
    status = 409


def key_name(schema_name: str) -> str:
    """The transit key of a tenant: ``tenant-<schema>``."""
    return f"tenant-{schema_name}"


# --- transit (hvac) ---------------------------------------------------------------------------------------------

_client_lock = threading.Lock()
_client: tuple[tuple[str, ...], Any] | None = None


def _settings_fingerprint() -> tuple[str, ...]:
    return (
        settings.VAULT_ADDR,
        settings.VAULT_TOKEN,
        settings.VAULT_ROLE_ID,
        settings.VAULT_SECRET_ID,
        settings.VAULT_K8S_ROLE,
        settings.VAULT_NAMESPACE,
    )


def _login(client: Any) -> None:
    if settings.VAULT_TOKEN:
        client.token = settings.VAULT_TOKEN
    elif settings.VAULT_ROLE_ID and settings.VAULT_SECRET_ID:
        client.auth.approle.login(role_id=settings.VAULT_ROLE_ID, secret_id=settings.VAULT_SECRET_ID)
    elif settings.VAULT_K8S_ROLE:
        jwt = Path(settings.VAULT_K8S_JWT_PATH).read_text().strip()
        client.auth.kubernetes.login(role=settings.VAULT_K8S_ROLE, jwt=jwt)
    else:
        raise KmsUnavailable("No Vault auth method is configured (VAULT_TOKEN, AppRole or Kubernetes).")


def _transit() -> Any:
    """A logged-in hvac client, shared by the process (re-made when the settings change, e.g. in tests)."""
    import hvac

    global _client  # noqa: PLW0603 - one client per process
    fingerprint = _settings_fingerprint()
    with _client_lock:
        if _client is not None and _client[0] == fingerprint:
            return _client[1]
        client = hvac.Client(
            url=settings.VAULT_ADDR, namespace=settings.VAULT_NAMESPACE or None, timeout=settings.VAULT_TIMEOUT
        )
        _call(lambda: _login(client))
        _client = (fingerprint, client)
        return client


def _call(operation: Any) -> Any:
    """Run one Vault call, mapping failures to KmsUnavailable / KmsRefused (never quoting the token)."""
    import hvac.exceptions
    import requests

    try:
        return operation()
    except (requests.ConnectionError, requests.Timeout, hvac.exceptions.VaultDown) as exc:
        logger.warning("vault unavailable", extra={"error": type(exc).__name__})
        raise KmsUnavailable("The key service is unavailable. Try again shortly.") from None
    except (hvac.exceptions.InternalServerError, hvac.exceptions.BadGateway, hvac.exceptions.RateLimitExceeded) as exc:
        logger.warning("vault error", extra={"error": type(exc).__name__})
        raise KmsUnavailable("The key service is unavailable. Try again shortly.") from None
    except hvac.exceptions.Unauthorized:
        global _client  # noqa: PLW0603 - an expired token: log in again next time
        _client = None
        raise KmsUnavailable("The key service refused our credentials.") from None
    except (hvac.exceptions.InvalidPath, hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden) as exc:
        # Vault's messages name the key and the error, never the token.
        errors = "; ".join(str(e) for e in (getattr(exc, "errors", None) or [])[:2])[:200]
        raise KmsRefused(f"The key service refused: {errors or type(exc).__name__}.") from None


def _mount() -> str:
    return str(settings.VAULT_TRANSIT_MOUNT)


# --- local development backend ----------------------------------------------------------------------------------

_local_lock = threading.Lock()


def _local_path(name: str) -> Path:
    return Path(settings.KMS_LOCAL_DIR) / f"{name}.json"


def _local_read(name: str) -> dict[str, Any]:
    try:
        return dict(json.loads(_local_path(name).read_text()))
    except FileNotFoundError:
        raise KmsRefused(f"The key service refused: no key {name!r}.") from None


def _local_write(name: str, data: dict[str, Any]) -> None:
    path = _local_path(name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def _local_wrap(name: str, plaintext: bytes) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data = _local_read(name)
    version = int(data["latest"])
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(bytes.fromhex(data["keys"][str(version)])).encrypt(nonce, plaintext, name.encode())
    return f"local:v{version}:{base64.b64encode(nonce + sealed).decode()}"


def _local_unwrap(name: str, wrapped: str) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data = _local_read(name)
    try:
        _, version, body = wrapped.split(":", 2)
        raw = base64.b64decode(body)
        key = bytes.fromhex(data["keys"][version.removeprefix("v")])
        return AESGCM(key).decrypt(raw[:12], raw[12:], name.encode())
    except (ValueError, KeyError, InvalidTag):
        raise KmsRefused("The key service refused: not a ciphertext of this key.") from None


# --- the operations ---------------------------------------------------------------------------------------------


def backend() -> str:
    return "transit" if settings.VAULT_ADDR else "local"


def transit_enable() -> None:
    """Mount the transit engine when it is not mounted (dev servers and tests)."""
    client = _transit()
    mounts = _call(client.sys.list_mounted_secrets_engines)
    if f"{_mount()}/" not in (mounts.get("data") or mounts):
        _call(lambda: client.sys.enable_secrets_engine(backend_type="transit", path=_mount()))


def key_create(*, name: str) -> None:
    """Create the key-encryption key ``name`` (idempotent)."""
    if backend() == "local":
        with _local_lock:
            if not _local_path(name).exists():
                _local_write(name, {"latest": 1, "keys": {"1": secrets.token_hex(32)}})
        return
    client = _transit()
    _call(lambda: client.secrets.transit.create_key(name=name, key_type="aes256-gcm96", mount_point=_mount()))


def key_version(*, name: str) -> int:
    """The key's latest version."""
    if backend() == "local":
        return int(_local_read(name)["latest"])
    client = _transit()
    response = _call(lambda: client.secrets.transit.read_key(name=name, mount_point=_mount()))
    return int(response["data"]["latest_version"])


def datakey_generate(*, name: str) -> tuple[bytes, str]:
    """A fresh 256-bit data key: (plaintext, wrapped by ``name``). Keep only the wrapped form."""
    if backend() == "local":
        plaintext = secrets.token_bytes(32)
        return plaintext, _local_wrap(name, plaintext)
    client = _transit()
    response = _call(
        lambda: client.secrets.transit.generate_data_key(
            name=name, key_type="plaintext", bits=256, mount_point=_mount()
        )
    )
    return base64.b64decode(response["data"]["plaintext"]), str(response["data"]["ciphertext"])


def datakey_unwrap(*, name: str, wrapped: str) -> bytes:
    if backend() == "local":
        return _local_unwrap(name, wrapped)
    client = _transit()
    response = _call(lambda: client.secrets.transit.decrypt_data(name=name, ciphertext=wrapped, mount_point=_mount()))
    return base64.b64decode(response["data"]["plaintext"])


def key_rotate(*, name: str) -> int:
    """A new version of the KEK (old versions still unwrap until rewrapped). Returns the new version."""
    if backend() == "local":
        with _local_lock:
            data = _local_read(name)
            version = int(data["latest"]) + 1
            data["keys"][str(version)] = secrets.token_hex(32)
            data["latest"] = version
            _local_write(name, data)
        return version
    client = _transit()
    _call(lambda: client.secrets.transit.rotate_key(name=name, mount_point=_mount()))
    return key_version(name=name)


def datakey_rewrap(*, name: str, wrapped: str) -> str:
    """The same data key wrapped by the KEK's latest version (the data key itself is not revealed)."""
    if backend() == "local":
        return _local_wrap(name, _local_unwrap(name, wrapped))
    client = _transit()
    response = _call(lambda: client.secrets.transit.rewrap_data(name=name, ciphertext=wrapped, mount_point=_mount()))
    return str(response["data"]["ciphertext"])


def wrapped_version(wrapped: str) -> int:
    """The KEK version a wrapped key names (``vault:v3:...`` / ``local:v3:...``)."""
    try:
        return int(wrapped.split(":", 2)[1].removeprefix("v"))
    except (IndexError, ValueError):
        return 0


def key_destroy(*, name: str) -> bool:
    """Delete the KEK for good (crypto-shredding). Returns False when there was no such key."""
    if backend() == "local":
        try:
            _local_path(name).unlink()
        except FileNotFoundError:
            return False
        logger.warning("tenant key destroyed", extra={"key": name, "backend": "local"})
        return True
    client = _transit()
    try:
        _call(
            lambda: client.secrets.transit.update_key_configuration(
                name=name, deletion_allowed=True, mount_point=_mount()
            )
        )
    except KmsRefused:
        return False
    _call(lambda: client.secrets.transit.delete_key(name=name, mount_point=_mount()))
    logger.warning("tenant key destroyed", extra={"key": name, "backend": "transit"})
    return True
