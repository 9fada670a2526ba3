"""Tenant-bound JWTs (simplejwt) with refresh-token families tracked in Redis.

Every login starts a *family*. A refresh token is valid while its family is alive and the token
itself has not been used: rotation marks the presented token used and issues the next one in the
same family. Presenting a used token again means it was copied: the whole family is revoked
(theft detection). Logout revokes the family; password change, deactivation and removal revoke
every family of the user (in one tenant, or in all). Access tokens carry the family too, and the
authentication checks it is alive, so revocation also ends access tokens at once.

Redis keys (raw client, so the tenant is put in each key by hand):
    jwt:{schema}:fam:{family}   -> user id                    TTL: refresh lifetime
    jwt:{schema}:rt:{jti}       -> "{family}|active" / "|used" TTL: refresh lifetime
    jwt:user:{user_id}:fams     -> set of "{schema}|{family}" TTL: refresh lifetime
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django_redis import get_redis_connection
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from shared_apps.core.cache import tenant_key

# Atomically: unknown -> "unknown"; family gone -> "revoked"; used -> revoke family, "reused";
# active -> mark used, "ok".
_ROTATE = """
local state = redis.call('GET', KEYS[1])
if not state then return 'unknown' end
if redis.call('EXISTS', KEYS[2]) == 0 then return 'revoked' end
if string.sub(state, -5) == '|used' then
  redis.call('DEL', KEYS[2])
  return 'reused'
end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
return 'ok'
"""


class RefreshRejected(Exception):
    def __init__(self, reason: str, *, family: str | None = None, user_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.family = family
        self.user_id = user_id


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    family: str


def _redis() -> Any:
    return get_redis_connection("default")


def _ttl() -> int:
    return int(jwt_settings.REFRESH_TOKEN_LIFETIME.total_seconds())


def refresh_lifetime_seconds() -> int:
    """How long a refresh token lives (the browser app's cookie expires with it)."""
    return _ttl()


def _fam_key(schema: str, family: str) -> str:
    return tenant_key(schema, "jwt", "fam", family)


def _rt_key(schema: str, jti: str) -> str:
    return tenant_key(schema, "jwt", "rt", jti)


def _user_key(user_id: int) -> str:
    return f"jwt:user:{user_id}:fams"


def _issue(*, user_id: int, schema: str, family: str) -> TokenPair:
    refresh = RefreshToken()
    refresh["user_id"] = user_id
    refresh["tenant"] = schema
    refresh["fam"] = family
    access = refresh.access_token  # copies user_id, tenant, fam
    ttl = _ttl()
    client = _redis()
    # The user's index of families spans tenants (its own hash slot on a Redis Cluster), so it cannot share a
    # transaction with the tenant's keys: it is written first, so a family is never alive without being indexed
    # (an index entry whose family never came is harmless: revoking it deletes nothing).
    index = client.pipeline(transaction=False)
    index.sadd(_user_key(user_id), f"{schema}|{family}")
    index.expire(_user_key(user_id), ttl)
    index.execute()
    pipe = client.pipeline(transaction=True)  # both keys carry the {schema} hash tag: one slot
    pipe.set(_rt_key(schema, str(refresh["jti"])), f"{family}|active", ex=ttl)
    pipe.set(_fam_key(schema, family), user_id, ex=ttl)
    pipe.execute()
    return TokenPair(access=str(access), refresh=str(refresh), family=family)


def tokens_issue(*, user_id: int, schema: str) -> TokenPair:
    """Start a new family (a login)."""
    return _issue(user_id=user_id, schema=schema, family=uuid.uuid4().hex)


def _decode_refresh(raw: str, *, schema: str) -> RefreshToken:
    try:
        token = RefreshToken(raw)  # type: ignore[arg-type]  # signature, expiry, token type
    except TokenError as exc:
        raise RefreshRejected("invalid") from exc
    if token.get("tenant") != schema:
        raise RefreshRejected("wrong_tenant")
    return token


def tokens_rotate(*, raw_refresh: str, schema: str) -> TokenPair:
    token = _decode_refresh(raw_refresh, schema=schema)
    family, user_id = str(token["fam"]), int(token["user_id"])
    outcome = _redis().eval(_ROTATE, 2, _rt_key(schema, str(token["jti"])), _fam_key(schema, family), f"{family}|used")
    outcome = outcome.decode() if isinstance(outcome, bytes) else outcome
    if outcome != "ok":
        raise RefreshRejected(outcome, family=family, user_id=user_id)
    return _issue(user_id=user_id, schema=schema, family=family)


def tokens_revoke_refresh(*, raw_refresh: str, schema: str) -> tuple[int, str]:
    """Logout: revoke the presented token's family. Returns (user id, family)."""
    token = _decode_refresh(raw_refresh, schema=schema)
    family, user_id = str(token["fam"]), int(token["user_id"])
    if not _redis().delete(_fam_key(schema, family)):
        raise RefreshRejected("revoked", family=family, user_id=user_id)
    return user_id, family


def tokens_revoke_user(*, user_id: int, schema: str | None = None) -> int:
    """Revoke every family of the user in ``schema``, or in every tenant when None.
    Returns how many families were alive."""
    client = _redis()
    members = [m.decode() for m in client.smembers(_user_key(user_id))]
    chosen = [m for m in members if schema is None or m.split("|", 1)[0] == schema]
    if not chosen:
        return 0
    # Families of several tenants and the user's index: several hash slots on a cluster, so no transaction (each
    # DEL is a revocation on its own; the index is tidied last).
    pipe = client.pipeline(transaction=False)
    for member in chosen:
        member_schema, family = member.split("|", 1)
        pipe.delete(_fam_key(member_schema, family))
    pipe.srem(_user_key(user_id), *chosen)
    return int(sum(pipe.execute()[:-1]))


def family_alive(*, schema: str, family: str) -> bool:
    return bool(_redis().exists(_fam_key(schema, family)))


def access_decode(raw: str) -> AccessToken:
    return AccessToken(raw)  # type: ignore[arg-type]
