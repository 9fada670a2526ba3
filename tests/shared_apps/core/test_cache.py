"""Cache keys are tenant-scoped: the same key in two tenants holds two values."""

from __future__ import annotations

from django.core.cache import cache
from django_redis import get_redis_connection
from django_tenants.utils import tenant_context


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
