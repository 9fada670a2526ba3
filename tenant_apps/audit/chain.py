"""The audit log's hash chain: each entry carries ``entry_hash = sha256(prev_hash + canonical(entry))``
and ``chain_seq`` (1, 2, ... per month), chained to the previous entry of the same monthly partition.

Writers (``audit_record``) serialise per tenant and month with a transaction-scoped advisory lock, then
read the last link and insert the next one: one extra round trip (``audit_chain_next``), no trigger, no
table lock. The
lock is released when the writer's transaction ends, so the next writer (READ COMMITTED: a fresh
snapshot per statement) always sees the link it chains to. ``audit_verify`` walks every partition
and names the first entry whose link does not hold (an edited, inserted or removed row)."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection

GENESIS = "0" * 64
_FIELDS = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_kind",
    "action",
    "target_type",
    "target_id",
    "changes",
    "ip",
    "user_agent",
    "request_id",
    "channel",
)


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ip(value: Any) -> str:
    return str(ipaddress.ip_address(str(value).split("/")[0])) if value else ""


def canonical(entry: Mapping[str, Any]) -> bytes:
    """The bytes an entry's hash covers: every column but the chain's own, in a fixed form."""
    body = {
        "id": int(entry["id"]),
        "occurred_at": _utc(entry["occurred_at"]),
        "actor_id": entry["actor_id"],
        "actor_kind": entry["actor_kind"],
        "action": entry["action"],
        "target_type": entry["target_type"],
        "target_id": entry["target_id"],
        "changes": entry["changes"],
        "ip": _ip(entry["ip"]),
        "user_agent": entry["user_agent"],
        "request_id": entry["request_id"],
        "channel": entry["channel"],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(*, prev_hash: str, chain_seq: int, entry: Mapping[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(f"{prev_hash}:{chain_seq}:".encode())
    digest.update(canonical(entry))
    return digest.hexdigest()


def month_bounds(moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The monthly partition (UTC) holding ``moment``."""
    start = moment.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


@dataclass(frozen=True)
class Link:
    id: int
    chain_seq: int
    prev_hash: str
    entry_hash: str


def chain_next(*, schema_name: str, occurred_at: dt.datetime) -> tuple[int, int, str]:
    """Inside the writer's transaction: take the partition's chain lock, reserve an id and return
    ``(id, chain_seq, prev_hash)`` for the entry about to be inserted."""
    start, end = month_bounds(occurred_at)
    with connection.cursor() as cursor:
        # audit_chain_next (migration audit 0003): lock, then reserve the id and read the last link, in one call.
        cursor.execute(
            "SELECT * FROM audit_chain_next(%s, %s, %s)", [f"audit_event:{schema_name}:{start:%Y-%m}", start, end]
        )
        new_id, last_seq, last_hash = cursor.fetchone()
    if last_seq is None:
        return int(new_id), 1, GENESIS
    return int(new_id), int(last_seq) + 1, str(last_hash)


@dataclass(frozen=True)
class Break:
    partition: str
    id: int
    chain_seq: int | None
    occurred_at: dt.datetime
    reason: str

    def __str__(self) -> str:
        return (
            f"first broken link: audit entry id={self.id} seq={self.chain_seq} "
            f"({self.occurred_at.isoformat()}) in {self.partition}: {self.reason}"
        )


@dataclass
class VerifyReport:
    entries: int = 0
    partitions: int = 0
    broken: Break | None = None


def _rows(cursor: Any) -> Iterator[dict[str, Any]]:
    names = [*_FIELDS, "chain_seq", "prev_hash", "entry_hash", "partition"]
    while True:
        rows = cursor.fetchmany(2000)
        if not rows:
            return
        for row in rows:
            entry = dict(zip(names, row, strict=True))
            if isinstance(entry["changes"], str):
                entry["changes"] = json.loads(entry["changes"])
            yield entry


def audit_verify(*, cursor: Any) -> VerifyReport:
    """Walk the current tenant's audit entries partition by partition in chain order and check every
    link. ``cursor`` reads ``audit_event`` of the schema on its search_path (application or owner role)."""
    report = VerifyReport()
    cursor.execute(
        f"SELECT {', '.join(_FIELDS)}, chain_seq, prev_hash, entry_hash, tableoid::regclass::text "
        "FROM audit_event ORDER BY tableoid::regclass::text, date_trunc('month', occurred_at AT TIME ZONE 'UTC'), "
        "chain_seq NULLS FIRST, id"
    )
    current: tuple[str, dt.datetime] | None = None
    prev_hash, prev_seq = GENESIS, 0
    for entry in _rows(cursor):
        start, _end = month_bounds(entry["occurred_at"])
        group = (entry["partition"], start)
        if group != current:
            current, prev_hash, prev_seq = group, GENESIS, 0
            report.partitions += 1
        report.entries += 1
        reason = ""
        if entry["chain_seq"] is None or entry["entry_hash"] is None:
            reason = "entry carries no hash (inserted outside the audit recorder)"
        elif entry["chain_seq"] != prev_seq + 1:
            reason = f"sequence jumps from {prev_seq} to {entry['chain_seq']} (entries removed or inserted)"
        elif entry["prev_hash"] != prev_hash:
            reason = "previous-hash does not match the previous entry (entries removed, inserted or reordered)"
        elif entry_hash(prev_hash=prev_hash, chain_seq=entry["chain_seq"], entry=entry) != entry["entry_hash"]:
            reason = "content does not match its hash (entry altered)"
        if reason:
            report.broken = Break(
                partition=entry["partition"],
                id=entry["id"],
                chain_seq=entry["chain_seq"],
                occurred_at=entry["occurred_at"],
                reason=reason,
            )
            return report
        prev_hash, prev_seq = entry["entry_hash"], entry["chain_seq"]
    return report
