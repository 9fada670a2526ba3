"""Analytics tasks (queue ``analytics``): a 5-second beat reads the global set of dirty schemas and sends one
aggregation task per schema found there, so idle organisations cost nothing."""

from __future__ import annotations

from django_redis import get_redis_connection

from shared_apps.core.tasks import platform_task, tenant_task
from tenant_apps.analytics.services import DIRTY_SCHEMAS, tenant_aggregate


@platform_task(name="tenant_apps.analytics.tasks.refresh_dirty", soft_time_limit=4, time_limit=5)
def refresh_dirty() -> int:
    """Beat, every 5 s: one ``aggregate`` task per organisation with dirty surveys."""
    redis = get_redis_connection("default")
    count = 0
    while True:
        schemas = [s.decode() for s in redis.spop(DIRTY_SCHEMAS, 1000) or []]
        if not schemas:
            return count
        for schema_name in schemas:
            aggregate.apply_async(kwargs={"schema_name": schema_name})
            count += 1


@tenant_task(name="tenant_apps.analytics.tasks.aggregate", soft_time_limit=50, time_limit=60)
def aggregate(*, schema_name: str) -> int:
    """Aggregate this organisation's dirty surveys; returns the number of (version, day) buckets rewritten."""
    return sum(len(run.buckets) for run in tenant_aggregate())
