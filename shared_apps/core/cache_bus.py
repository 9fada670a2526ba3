"""An in-process (L1) cache whose entries every process drops on a Redis pub/sub message.

Keys are strings that start with the tenant schema (``"t_acme:42"``). ``invalidate(prefix)``
drops matching entries here at once and publishes the prefix; a daemon thread in every other
process (started lazily, restarted after a fork) drops them there. When the subscription is
(re)established the whole L1 is cleared, since messages may have been missed meanwhile.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import redis
from django.conf import settings
from django_redis import get_redis_connection

logger = logging.getLogger(__name__)


class InvalidatingLocalCache:
    def __init__(self, channel: str, ttl_seconds: float, max_entries: int = 50_000) -> None:
        self.channel = channel
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._data: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._listening = threading.Event()

    # --- reads and writes -----------------------------------------------------------------
    def get(self, key: str) -> Any | None:
        self._ensure_listener()
        entry = self._data.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires < time.monotonic():
            self._data.pop(key, None)
            return None
        return value

    def set(self, key: str, value: Any) -> None:
        self._ensure_listener()
        if not self._listening.is_set():
            return  # without a live subscription an entry could go stale unseen: do not cache
        with self._lock:
            if len(self._data) >= self.max_entries:
                self._data.clear()
            self._data[key] = (time.monotonic() + self.ttl, value)

    def invalidate(self, prefix: str) -> None:
        """Drop entries starting with ``prefix`` in this process and, via Redis, in every other."""
        self.drop_local(prefix)
        get_redis_connection("default").publish(self.channel, prefix)

    def drop_local(self, prefix: str) -> None:
        with self._lock:
            for key in [k for k in self._data if k.startswith(prefix)]:
                self._data.pop(key, None)

    def clear_local(self) -> None:
        with self._lock:
            self._data.clear()

    # --- the subscriber -------------------------------------------------------------------
    def _ensure_listener(self) -> None:
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._lock:
            if self._pid == pid:
                return
            self._pid = pid
            self._data.clear()
            self._listening = threading.Event()
            thread = threading.Thread(target=self._listen, name=f"invalidate:{self.channel}", daemon=True)
            thread.start()
        self._listening.wait(timeout=2)

    def _listen(self) -> None:
        listening = self._listening
        while True:
            try:
                # A client of its own: the cache client's socket timeout would end an idle listen().
                client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=None, health_check_interval=30)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                self.clear_local()
                listening.set()
                for message in pubsub.listen():
                    if message.get("type") == "message":
                        data = message["data"]
                        self.drop_local(data.decode() if isinstance(data, bytes) else str(data))
            except Exception:  # noqa: BLE001 - reconnect on any Redis failure
                listening.clear()
                logger.warning("cache invalidation subscription lost; retrying", extra={"channel": self.channel})
                time.sleep(1)
