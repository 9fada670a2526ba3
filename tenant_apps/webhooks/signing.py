"""``Survey-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.

During a secret rotation's overlap the header carries one ``v1`` per valid secret (new first), so a
receiver holding either secret verifies the message. Receivers should also refuse a ``t`` older than
a few minutes (replays)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "Survey-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(*, secrets_: list[str], timestamp: int, body: bytes) -> str:
    parts = [f"t={timestamp}"] + [f"{SCHEME}={signature(secret=s, timestamp=timestamp, body=body)}" for s in secrets_]
    return ",".join(parts)


def verify(*, header: str, body: bytes, secret: str, now: int, tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """What a receiver does (the README shows the same in a few lines)."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME:
            candidates.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret=secret, timestamp=timestamp, body=body)
    return any(hmac.compare_digest(expected, c) for c in candidates)
