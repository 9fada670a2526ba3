"""Redis Cluster: three real masters (``redis-server --cluster-enabled yes`` on free ports, joined by
``redis-cli --cluster create``), selected by ``REDIS_URL=redis+cluster://...``. The cache, drafts, throttles,
refresh tokens and HyperLogLogs work on it through gunicorn; a multi-key command across hash slots fails there,
so the ``{schema}`` hash tags of ``tenant_key`` are what keep the app's multi-key commands working."""

from __future__ import annotations

import copy
import random
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from django.test import override_settings
from django.utils import timezone
from django_redis import get_redis_connection
from django_tenants.utils import tenant_context
from redis.cluster import RedisCluster, key_slot
from redis.exceptions import RedisClusterException, ResponseError

from config.settings.base import redis_cache
from shared_apps.core.cache import TenantCache, tenant_key
from shared_apps.core.redis_cluster import cluster_client, cluster_nodes
from shared_apps.tenants.models import Organisation
from tenant_apps.analytics.services import hll_key, tenant_aggregate
from tenant_apps.responses.models import DraftCopy
from tenant_apps.responses.services import (
    draft_key,
    drafts_dirty_key,
    drafts_quarantine_key,
    drafts_quarantined,
    drafts_sync,
    unique_respondents,
)
from tenant_apps.surveys import services
from tests.conftest import PASSWORD, gunicorn_start, host_of, process_stop

GOOD = {"q_name": "Ann", "q_role": "dev", "q_nps": 9, "q_why": "clustered", "q_features": ["logic"]}


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cluster_ports(count: int = 3) -> list[int]:
    """Ports whose cluster-bus port (+10000) is free too."""
    ports: list[int] = []
    start = random.randint(21000, 29000)  # noqa: S311 - spreads parallel sessions apart
    for port in range(start, start + 2000):
        if _free(port) and _free(port + 10000):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError("no free ports for a Redis Cluster")


@pytest.fixture(scope="module")
def cluster_url() -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="survey-redis-cluster-"))
    ports = _cluster_ports()
    processes = []
    try:
        for port in ports:
            log = open(root / f"{port}.log", "wb")  # noqa: SIM115
            processes.append(
                subprocess.Popen(
                    [
                        "redis-server",
                        "--port", str(port), "--bind", "127.0.0.1",
                        "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
                        "--cluster-node-timeout", "5000", "--dir", str(root),
                        "--save", "", "--appendonly", "no",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )  # fmt: skip
            log.close()
        for port in ports:
            _wait(lambda port=port: redis.Redis(port=port).ping(), f"redis-server on {port}")
        created = subprocess.run(
            [
                "redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas", "0", "--cluster-yes",
            ],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert created.returncode == 0, created.stdout + created.stderr
        assert "[OK] All 16384 slots covered." in created.stdout
        for port in ports:
            _wait(lambda port=port: _cluster_state(port) == "ok", f"cluster state seen by {port}")
        yield "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)
    finally:
        for process in processes:
            process_stop(process)
        shutil.rmtree(root, ignore_errors=True)


def _cluster_state(port: int) -> str:
    info = subprocess.run(
        ["redis-cli", "-p", str(port), "cluster", "info"], capture_output=True, text=True, timeout=10, check=True
    ).stdout
    return dict(line.strip().split(":", 1) for line in info.splitlines() if ":" in line).get("cluster_state", "")


def _wait(check, what: str, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        assert time.monotonic() < deadline, f"{what}: not ready"
        time.sleep(0.1)


def _schemas_on_two_masters(client: RedisCluster) -> tuple[str, str]:
    """Two tenant schemas whose hash tags live on different masters."""
    first = "t_alpha"
    node = client.get_node_from_key(tenant_key(first, "x"))
    for index in range(1000):
        other = f"t_other_{index}"
        if client.get_node_from_key(tenant_key(other, "x")).name != node.name:
            return first, other
    raise AssertionError("every schema on one master?")


def test_three_masters_cover_every_slot(cluster_url: str):
    client = cluster_client(cluster_url)
    assert len(client.get_primaries()) == 3
    info = client.cluster_info()
    assert info["cluster_state"] == "ok"
    assert int(info["cluster_slots_assigned"]) == 16384
    assert cluster_nodes(cluster_url) == [(n.host, n.port) for n in client.nodes_manager.startup_nodes.values()]
    # Tenants spread over the masters: 60 schemas land on all three.
    owners = {client.get_node_from_key(tenant_key(f"t_spread_{i}", "draft", "x")).name for i in range(60)}
    assert len(owners) == 3


def test_a_multi_key_command_across_slots_fails_and_hash_tags_make_it_work(cluster_url: str):
    client = cluster_client(cluster_url)
    one, two = _schemas_on_two_masters(client)
    untagged = [f"{one}:draft:a", f"{two}:draft:b"]  # no hash tag: two slots
    assert key_slot(untagged[0].encode()) != key_slot(untagged[1].encode())
    client.set(untagged[0], "1")
    client.set(untagged[1], "2")
    # The server refuses it with CROSSSLOT (a plain connection to the node that owns the first key)...
    node = client.get_node_from_key(untagged[0])
    with pytest.raises(ResponseError, match="hash to the same slot"):
        redis.Redis(host=node.host, port=node.port).mget(untagged)
    with pytest.raises(ResponseError, match="hash to the same slot"):
        redis.Redis(host=node.host, port=node.port).sunionstore(untagged[0], [untagged[0], f"{two}:draft:c"])
    # ... and so does the cluster client, for a command and for a transaction.
    with pytest.raises(RedisClusterException):
        client.mget(untagged)
    pipe = client.pipeline(transaction=True)
    pipe.set(untagged[0], "x")
    pipe.set(untagged[1], "y")
    with pytest.raises(RedisClusterException):
        pipe.execute()
    # One tenant's keys share the {schema} slot: the same commands work.
    tagged = [tenant_key(one, "draft", "a"), tenant_key(one, "drafts-dirty"), tenant_key(one, "hll", "r", 1)]
    assert len({key_slot(k.encode()) for k in tagged}) == 1
    client.set(tagged[0], "1")
    assert client.mget([tagged[0], tenant_key(one, "draft", "missing")]) == [b"1", None]
    pipe = client.pipeline(transaction=True)
    pipe.sadd(tagged[1], "a")
    pipe.pfadd(tagged[2], "r1", "r2")
    assert pipe.execute() == [1, 1]
    assert client.sunionstore(tagged[1], [tagged[1], tenant_key(one, "drafts-syncing")]) == 1
    assert client.rename(tagged[0], tenant_key(one, "drafts-quarantine", "a"))
    # redis-py refuses RENAME (and MGET, PFCOUNT...) inside a cluster pipeline, whatever the slots: the app
    # issues them on their own (tenant_apps.responses.services._draft_quarantine).
    with pytest.raises(RedisClusterException, match="blocked"):
        client.pipeline(transaction=False).rename(tenant_key(one, "x"), tenant_key(one, "y"))
    assert client.pfcount(tagged[2], tenant_key(one, "hll", "r", 2)) == 2


@pytest.fixture(scope="module")
def clustered_server(cluster_url: str) -> Iterator[str]:
    process, base = gunicorn_start(env={"TEST_REDIS_URL": cluster_url}, workers=2)
    yield base
    process_stop(process)


def test_the_app_through_gunicorn_on_the_cluster(cluster_url: str, clustered_server: str, make_tenant):
    admin_email = f"cluster-{uuid.uuid4().hex[:6]}@example.test"
    tenant: Organisation = make_tenant(admin_email=admin_email)
    with tenant_context(tenant):
        survey = services.survey_create_published(title="Clustered", definition=copy.deepcopy(services.DEMO_DEFINITION))
    base, headers = clustered_server, {"Host": host_of(tenant)}
    client = cluster_client(cluster_url)
    schema = tenant.schema_name
    # What this test process itself wrote to its single Redis (publishing in-process announces survey.published,
    # whose webhook handler caches the tenant's subscriptions there): the server must add nothing to it.
    from django.conf import settings

    single = redis.Redis.from_url(settings.REDIS_URL)
    written_here = set(single.scan_iter(match=tenant_key(schema, "*")))

    assert requests.get(f"{base}/readyz", timeout=10).json()["checks"]["redis"]["ok"] is True
    # Sign-in and refresh rotation: refresh families in the cluster (Lua over two {schema} keys).
    token = requests.post(
        f"{base}/api/v1/auth/token/", json={"email": admin_email, "password": PASSWORD}, headers=headers, timeout=10
    )
    assert token.status_code == 200, token.text
    rotated = requests.post(
        f"{base}/api/v1/auth/token/refresh/", json={"refresh": token.json()["refresh"]}, headers=headers, timeout=10
    )
    assert rotated.status_code == 200, rotated.text
    reused = requests.post(
        f"{base}/api/v1/auth/token/refresh/", json={"refresh": token.json()["refresh"]}, headers=headers, timeout=10
    )
    assert reused.status_code == 401  # reuse detected: the family is revoked
    assert list(client.scan_iter(match=tenant_key(schema, "jwt", "rt", "*")))

    # Survey load (two-level cache: L2 in the cluster), twice per worker.
    for _ in range(4):
        loaded = requests.get(f"{base}/api/v1/s/{survey.public_link}/", headers=headers, timeout=10)
        assert loaded.status_code == 200, loaded.text
    assert list(client.scan_iter(match=tenant_key(schema, "*")))

    # Drafts: saved, updated and resumed from the cluster.
    saved = requests.put(
        f"{base}/api/v1/s/{survey.public_link}/draft/",
        json={"answers": {"q_name": "Ann"}, "page": "p_about"},
        headers=headers,
        timeout=10,
    )
    assert saved.status_code == 200, saved.text
    uid, resume = saved.json()["submission_id"], saved.json()["token"]
    updated = requests.put(
        f"{base}/api/v1/s/{survey.public_link}/draft/",
        json={"answers": {"q_name": "Ann", "q_role": "dev"}, "page": "p_about", "submission_id": uid, "token": resume},
        headers=headers,
        timeout=10,
    )
    assert updated.status_code == 200, updated.text
    assert client.exists(draft_key(schema, uid))
    resumed = requests.get(
        f"{base}/api/v1/s/{survey.public_link}/draft/{uid}/", params={"token": resume}, headers=headers, timeout=10
    )
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["answers"] == {"q_name": "Ann", "q_role": "dev"}

    # The periodic drafts sync (SUNIONSTORE, a Lua script over two keys, MGET) runs on the cluster too.
    with override_settings(REDIS_URL=cluster_url, CACHES={"default": redis_cache(cluster_url)}):
        assert isinstance(get_redis_connection("default"), RedisCluster)
        assert client.sismember(drafts_dirty_key(schema), uid)
        with tenant_context(tenant):
            assert drafts_sync() >= 1
            assert DraftCopy.objects.filter(uid=uid).exists()
            # A record the sync cannot store is quarantined (RENAME within the tenant's slot), not lost.
            bad = str(uuid.uuid4())
            client.set(draft_key(schema, bad), b"not json", ex=600)
            client.sadd(drafts_dirty_key(schema), bad)
            drafts_sync()
            assert bad in drafts_quarantined(schema=schema)
            assert client.exists(drafts_quarantine_key(schema, bad))
            assert not client.exists(draft_key(schema, bad))

    # Submit (HyperLogLog of respondents, analytics marks) for two respondents.
    for respondent, extra in (("r-1", {"submission_id": uid, "token": resume}), ("r-2", {})):
        submitted = requests.post(
            f"{base}/api/v1/s/{survey.public_link}/submit/",
            json={"answers": GOOD, **extra},
            headers={**headers, "X-Respondent-Key": respondent},
            timeout=10,
        )
        assert submitted.status_code in (200, 201), submitted.text
    with override_settings(REDIS_URL=cluster_url, CACHES={"default": redis_cache(cluster_url)}):
        with tenant_context(tenant):
            assert unique_respondents(survey_id=survey.pk) == 2
            # Analytics: the dirty marks the submits left, the aggregation and its HyperLogLog rebuild (a
            # transaction over the tenant's day keys) on the cluster.
            assert tenant_aggregate()
        assert client.pfcount(hll_key(schema, survey.pk, timezone.now().date())) == 2
        # The two-level cache's invalidation deletes every key of the tenant's cache from the cluster.
        cache = TenantCache("cluster-test", l1_seconds=1, l2_seconds=60, encode=str.encode, decode=bytes.decode)
        assert cache.get(schema, "a", load=lambda: "A") == "A"
        assert cache.get(schema, "b", load=lambda: "B") == "B"
        assert client.get(cache.redis_key(schema, "a")) == b"A"
        cache.invalidate_now(schema)
        assert client.get(cache.redis_key(schema, "a")) is None
        assert client.get(cache.redis_key(schema, "b")) is None

    # The analytics summary (PFCOUNT over the days' HyperLogLogs, cached in the cluster) through gunicorn.
    fresh = requests.post(
        f"{base}/api/v1/auth/token/", json={"email": admin_email, "password": PASSWORD}, headers=headers, timeout=10
    ).json()["access"]
    summary = requests.get(
        f"{base}/api/v1/surveys/{survey.pk}/analytics/",
        headers={**headers, "Authorization": f"Bearer {fresh}"},
        timeout=20,
    )
    assert summary.status_code == 200, summary.text
    assert summary.json()["totals"]["unique_respondents"] == 2

    # Throttles count in the cluster (Django's cache API: keys prefixed by schema).
    assert any(b"throttle" in key for key in client.scan_iter(match=f"{schema}:*", count=1000))
    # Nothing reached the single test Redis under this tenant's hash tag from the server: the cluster held it all.
    assert set(single.scan_iter(match=tenant_key(schema, "*"))) == written_here
