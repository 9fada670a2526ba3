"""Cache keys are tenant-scoped: the same key in two tenants holds two values."""

from __future__ import annotations

import time
import uuid

import pytest
from django.core.cache import cache
from django.test import override_settings
from django_redis import get_redis_connection
from django_tenants.utils import tenant_context

from shared_apps.core.cache import TenantCache, l1_clear, l1_usage, tenant_key


def test_same_key_in_two_tenants_holds_two_values(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        cache.set("settings", "A's value", 60)
    with tenant_context(tenant_b):
        assert cache.get("settings") is None
        cache.set("settings", "B's value", 60)
    with tenant_context(tenant_a):
        assert cache.get("settings") == "A's value"
    with tenant_context(tenant_b):
        assert cache.get("settings") == "B's value"
    assert cache.get("settings") is None  # public


def test_redis_keys_carry_the_schema_name(tenant_a):
    with tenant_context(tenant_a):
        cache.set("probe-key", 1, 60)
    keys = [key.decode() for key in get_redis_connection("default").keys("*probe-key")]
    assert keys == [f"{tenant_a.schema_name}::1:probe-key"]


# --- the two-level cache helper (shared_apps.core.cache) ------------------------------------------


def _cache(**kwargs: object) -> TenantCache[str]:
    return TenantCache(
        f"test-{uuid.uuid4().hex[:8]}",
        l1_seconds=kwargs.pop("l1_seconds", 60),  # type: ignore[arg-type]
        l2_seconds=kwargs.pop("l2_seconds", 60),  # type: ignore[arg-type]
        encode=str.encode,
        decode=bytes.decode,
    )


class Loader:
    def __init__(self, value: str | None) -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> str | None:
        self.calls += 1
        return self.value


def test_a_value_is_loaded_once_then_served_from_l1_then_l2():
    cache = _cache()
    load = Loader("hello")
    assert cache.get("t_x", "k", load) == "hello"
    assert cache.get("t_x", "k", load) == "hello"
    assert load.calls == 1
    l1_clear()  # a fresh process: L2 (Redis) still has it
    assert cache.get("t_x", "k", load) == "hello"
    assert load.calls == 1
    assert get_redis_connection("default").get(cache.redis_key("t_x", "k")) == b"hello"


def test_nothing_found_is_cached_too():
    cache = _cache()
    load = Loader(None)
    assert cache.get("t_x", "missing", load) is None
    l1_clear()
    assert cache.get("t_x", "missing", load) is None
    assert load.calls == 1


def test_keys_are_tenant_scoped_and_hash_tagged_by_schema():
    cache = _cache()
    assert cache.get("t_a", "k", lambda: "A") == "A"
    assert cache.get("t_b", "k", lambda: "B") == "B"
    assert cache.redis_key("t_a", "k") == f"{{t_a}}:{cache.name}:k"
    assert tenant_key("t_a", "draft", 42) == "{t_a}:draft:42"
    # Invalidating one tenant leaves the other's entries alone, in L1 and in Redis.
    cache.invalidate_now("t_a")
    assert cache.get("t_a", "k", lambda: "A2") == "A2"
    assert cache.get("t_b", "k", lambda: "B2") == "B"


def test_invalidating_one_key_drops_it_from_both_levels():
    cache = _cache()
    cache.get("t_a", "k1", lambda: "one")
    cache.get("t_a", "k2", lambda: "two")
    cache.invalidate_now("t_a", "k1")
    assert get_redis_connection("default").get(cache.redis_key("t_a", "k1")) is None
    assert cache.get("t_a", "k1", lambda: "one again") == "one again"
    assert cache.get("t_a", "k2", lambda: "two again") == "two"


def test_the_in_process_level_is_bounded_in_bytes_and_drops_the_least_recently_used():
    budget = 64 * 1024
    with override_settings(CACHE_L1_MAX_BYTES=budget):
        l1_clear()
        cache = _cache(l2_seconds=0)
        value = "x" * 1000
        for i in range(200):  # about 240 KB offered to a 64 KB budget
            cache.get("t_a", i, lambda: value)
            if i == 150:
                cache.get("t_a", 0, lambda: "reloaded")  # (0 was evicted long ago)
            assert l1_usage()[1] <= budget
        entries, used = l1_usage()
        assert 0 < entries < 200
        assert used > budget // 2
        load = Loader("new")
        cache.get("t_a", 199, load)  # recent: still cached
        assert load.calls == 0
        cache.get("t_a", 1, load)  # oldest: evicted
        assert load.calls == 1
    l1_clear()


def test_l1_entries_expire():
    cache = _cache(l1_seconds=0.05, l2_seconds=0)
    load = Loader("v")
    cache.get("t_a", "k", load)
    time.sleep(0.1)
    cache.get("t_a", "k", load)
    assert load.calls == 2


def test_an_l2_cache_needs_a_codec():
    with pytest.raises(ValueError, match="encode and decode"):
        TenantCache("bad", l1_seconds=1, l2_seconds=1)
