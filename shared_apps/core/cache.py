"""The one cache helper: L1 in this process (bounded in bytes, least recently used out first) over L2 in
Redis, tenant-scoped keys, and invalidation broadcast to every process over Redis pub/sub.

    PERMISSIONS = TenantCache("perm", l1_seconds=60, l2_seconds=300, encode=..., decode=...)
    principal = PERMISSIONS.get(schema, user_id, load=lambda: _load(user_id))   # None is cached too
    PERMISSIONS.invalidate(schema, user_id)     # after commit; every process drops its L1 copy
    PERMISSIONS.invalidate(schema)              # every entry of that tenant

Raw Redis keys (drafts, counters, HyperLogLogs) are built with :func:`tenant_key`, whose ``{schema}``
hash tag keeps one tenant's keys in one Redis Cluster slot, so multi-key commands keep working there.

The L1 of every cache in the process shares one byte budget (``CACHE_L1_MAX_BYTES``, 256 MB by
default, the source design's budget per instance). An entry is cached in L1 only while the process
holds a live invalidation subscription: without one it could go stale unseen. When the
subscription is (re)established every L1 is cleared, since messages may have been missed.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import transaction
from django_redis import get_redis_connection

from shared_apps.core.redis_cluster import subscriber_client

logger = logging.getLogger(__name__)

T = TypeVar("T")
CHANNEL = "cache:invalidate"
_NONE = b"\x00"  # L2 marker for a cached "nothing here"


def tenant_key(schema: str, *parts: object) -> str:
    """A raw Redis key of one tenant: ``{t_acme}:draft:<uid>``."""
    return ":".join([f"{{{schema}}}", *(str(part) for part in parts)])


class _L1:
    """Every cache's in-process entries: one LRU with a byte budget, keyed ``(cache, schema, key)``."""

    def __init__(self) -> None:
        self.entries: OrderedDict[tuple[str, str, Hashable], tuple[float, int, Any]] = OrderedDict()
        self.bytes = 0
        self.lock = threading.Lock()

    def get(self, key: tuple[str, str, Hashable]) -> tuple[bool, Any]:
        with self.lock:
            entry = self.entries.get(key)
            if entry is None:
                return False, None
            expires, size, value = entry
            if expires < time.monotonic():
                del self.entries[key]
                self.bytes -= size
                return False, None
            self.entries.move_to_end(key)
            return True, value

    def put(self, key: tuple[str, str, Hashable], value: Any, size: int, ttl: float) -> None:
        budget = settings.CACHE_L1_MAX_BYTES
        if size > budget // 4:
            return  # one entry never takes a quarter of the budget
        with self.lock:
            old = self.entries.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self.entries[key] = (time.monotonic() + ttl, size, value)
            self.bytes += size
            while self.bytes > budget and self.entries:
                _, (_, dropped, _) = self.entries.popitem(last=False)
                self.bytes -= dropped

    def drop(self, cache: str, schema: str, key: Hashable | None) -> None:
        with self.lock:
            if key is not None:
                matching = [(cache, schema, key)] if (cache, schema, key) in self.entries else []
            else:
                matching = [k for k in self.entries if k[0] == cache and k[1] == schema]
            for k in matching:
                self.bytes -= self.entries.pop(k)[1]

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.bytes = 0


class _Bus:
    """One subscriber thread per process (started lazily, restarted after a fork)."""

    def __init__(self) -> None:
        self.l1 = _L1()
        self._pid: int | None = None
        self._lock = threading.Lock()
        self.listening = threading.Event()

    def ensure(self) -> None:
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._lock:
            if self._pid == pid:
                return
            self._pid = pid
            self.l1.clear()
            self.listening = threading.Event()
            threading.Thread(target=self._listen, args=(self.listening,), name="cache-invalidate", daemon=True).start()
        self.listening.wait(timeout=2)

    def publish(self, cache: str, schema: str, key: Hashable | None) -> None:
        self.l1.drop(cache, schema, key)
        get_redis_connection("default").publish(CHANNEL, json.dumps([cache, schema, key]))

    def _listen(self, listening: threading.Event) -> None:
        while True:
            try:
                # A client of its own: the cache client's socket timeout would end an idle listen().
                # On a Redis Cluster: one node (PUBLISH reaches subscribers on every node).
                client = subscriber_client(settings.REDIS_URL, socket_timeout=None, health_check_interval=30)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                self.l1.clear()
                listening.set()
                for message in pubsub.listen():
                    if message.get("type") == "message":
                        cache, schema, key = json.loads(message["data"])
                        self.l1.drop(cache, schema, key)
            except Exception:  # noqa: BLE001 - reconnect on any Redis failure
                listening.clear()
                logger.warning("cache invalidation subscription lost; retrying")
                time.sleep(1)


_BUS = _Bus()


class TenantCache(Generic[T]):
    """A named two-level cache. ``l2_seconds=0`` keeps it in process only (values need no encoding)."""

    def __init__(
        self,
        name: str,
        *,
        l1_seconds: float,
        l2_seconds: int = 0,
        encode: Callable[[T], bytes] | None = None,
        decode: Callable[[bytes], T] | None = None,
    ) -> None:
        if l2_seconds and (encode is None or decode is None):
            raise ValueError("an L2 (Redis) cache needs encode and decode")
        self.name = name
        self.l1_seconds = l1_seconds
        self.l2_seconds = l2_seconds
        self.encode = encode
        self.decode = decode

    def redis_key(self, schema: str, key: Hashable) -> str:
        return tenant_key(schema, self.name, key)

    def get(self, schema: str, key: Hashable, load: Callable[[], T | None]) -> T | None:
        """L1, else L2, else ``load()``; what is found (``None`` included) is cached at each level."""
        _BUS.ensure()
        hit, value = _BUS.l1.get((self.name, schema, key))
        if hit:
            return value
        raw: bytes | None = None
        if self.l2_seconds:
            client = get_redis_connection("default")
            raw = client.get(self.redis_key(schema, key))
            if raw is not None:
                value = None if raw == _NONE else self.decode(raw)  # type: ignore[misc]
            else:
                value = load()
                raw = _NONE if value is None else self.encode(value)  # type: ignore[misc]
                client.set(self.redis_key(schema, key), raw, ex=self.l2_seconds)
        else:
            value = load()
        if _BUS.listening.is_set():
            size = len(raw) if raw is not None else len(pickle.dumps(value))
            _BUS.l1.put((self.name, schema, key), value, size + 200, self.l1_seconds)
        return value

    def invalidate(self, schema: str, key: Hashable | None = None) -> None:
        """Once the current transaction commits, drop ``key`` (or every entry of ``schema``) everywhere."""
        transaction.on_commit(lambda: self.invalidate_now(schema, key))

    def invalidate_now(self, schema: str, key: Hashable | None = None) -> None:
        if self.l2_seconds:
            client = get_redis_connection("default")
            if key is not None:
                client.delete(self.redis_key(schema, key))
            else:
                keys = list(client.scan_iter(match=tenant_key(schema, self.name, "*"), count=1000))
                if keys:
                    client.delete(*keys)
        _BUS.publish(self.name, schema, key)


def l1_usage() -> tuple[int, int]:
    """(entries, bytes) held by this process's L1."""
    return len(_BUS.l1.entries), _BUS.l1.bytes


def l1_clear() -> None:
    """Empty this process's L1 (benchmarks and tests measuring a cold cache)."""
    _BUS.l1.clear()
