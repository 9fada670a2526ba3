"""Redis Cluster for the cache, drafts, throttles, refresh tokens and HyperLogLogs, selected by configuration:

    REDIS_URL=redis+cluster://10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379

(any reachable nodes; the client discovers the rest and follows MOVED/ASK). django-redis has no cluster client,
so ``ClusterClient`` gives it one: every ``get_redis_connection("default")`` is then a ``redis.cluster.RedisCluster``.

Multi-key commands (pipelines in a transaction, ``MGET``, ``SUNIONSTORE``, ``RENAME``, Lua with several keys,
``PFCOUNT`` of several keys) only work when every key is in one hash slot: every such key of the platform is built
with ``shared_apps.core.cache.tenant_key``, whose ``{schema}`` hash tag puts all of one tenant's raw keys in one
slot. Cache entries of Django's cache API are single-key. Pub/sub (L1 invalidation) is cluster-wide: a PUBLISH on
any node reaches subscribers on every node, so the subscriber listens on one node.

The Celery broker stays a single Redis (``CELERY_BROKER_URL``): see deploy/README.md.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import redis
from django_redis.client import DefaultClient
from redis.cluster import ClusterNode, RedisCluster

SCHEME = "redis+cluster"


def is_cluster_url(url: str) -> bool:
    return url.startswith(f"{SCHEME}://")


def cluster_nodes(url: str) -> list[tuple[str, int]]:
    """``redis+cluster://h1:p1,h2:p2/`` -> ``[("h1", p1), ("h2", p2)]`` (port 6379 when omitted)."""
    if not is_cluster_url(url):
        raise ValueError(f"not a {SCHEME}:// URL: {url!r}")
    nodes = []
    for part in url[len(SCHEME) + 3 :].split("/", 1)[0].split(","):
        piece = part.strip()
        if piece.startswith(f"{SCHEME}://"):  # django-redis splits LOCATION on commas: tolerate repeats
            piece = piece[len(SCHEME) + 3 :]
        if not piece:
            continue
        parsed = urlsplit(f"redis://{piece}")
        nodes.append((parsed.hostname or "127.0.0.1", parsed.port or 6379))
    if not nodes:
        raise ValueError(f"no node in {url!r}")
    return nodes


def cluster_client(url: str, **kwargs: Any) -> RedisCluster:
    return RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in cluster_nodes(url)], **kwargs)


def subscriber_client(url: str, **kwargs: Any) -> redis.Redis:
    """A plain client for SUBSCRIBE: a single Redis, or the first node of a cluster (PUBLISH is cluster-wide)."""
    if is_cluster_url(url):
        host, port = cluster_nodes(url)[0]
        return redis.Redis(host=host, port=port, **kwargs)
    return redis.Redis.from_url(url, **kwargs)


class ClusterClient(DefaultClient):
    """django-redis client over one ``RedisCluster`` (``CACHES["default"]["OPTIONS"]["CLIENT_CLASS"]``)."""

    _server: list[str]

    def __init__(self, server: Any, params: dict[str, Any], backend: Any) -> None:
        super().__init__(server, params, backend)
        servers: list[str] = list(self._server)
        self._cluster_url = ",".join(servers)
        self._server = [self._cluster_url]  # one logical server: no read replicas to pick from
        self._clients = [None]

    def get_next_client_index(self, write: bool = True, tried: list[int] | None = None) -> int:
        return 0

    def connect(self, index: int = 0) -> Any:
        return cluster_client(
            self._cluster_url,
            socket_connect_timeout=self._options.get("SOCKET_CONNECT_TIMEOUT"),
            socket_timeout=self._options.get("SOCKET_TIMEOUT"),
        )

    def disconnect(self, index: int = 0, client: Any = None) -> None:
        client = client if client is not None else self._clients[index]
        if client is not None:
            client.close()
