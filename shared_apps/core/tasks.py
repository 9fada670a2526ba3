"""Task bases. Platform tasks run in the public schema; tenant tasks name their schema explicitly.

A tenant task is declared with ``@tenant_task(name=...)`` and takes ``schema_name`` as a keyword
argument. Sending it puts that schema in the message header (tenant-schemas-celery switches the
worker's connection to it); running it refuses when the connection is in ``public`` or in a schema
other than the one named, so a message that lost its header can never run against the wrong data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import shared_task
from tenant_schemas_celery.task import TenantTask

from shared_apps.core.context import Actor, actor_var, tenant_var
from shared_apps.core.tenancy import current_schema


class TenantScopedError(RuntimeError):
    pass


class TenantScopedTask(TenantTask):
    abstract = True

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        schema_name = (kwargs or {}).get("schema_name")
        if not schema_name or schema_name == "public":
            raise TenantScopedError(f"{self.name} needs schema_name=<tenant schema> as a keyword argument.")
        headers = dict(options.pop("headers", None) or {})
        headers["_schema_name"] = schema_name
        return super().apply_async(args=args, kwargs=kwargs, headers=headers, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        schema_name = kwargs.get("schema_name")
        in_schema = current_schema()
        if not schema_name or in_schema == "public" or in_schema != schema_name:
            raise TenantScopedError(
                f"{self.name} refused to run: task names schema {schema_name!r} but the connection is in {in_schema!r}."
            )
        token = tenant_var.set(schema_name)
        actor_token = actor_var.set(Actor(kind="system", channel="task", user_agent=f"task {self.name}"))
        try:
            return super().__call__(*args, **kwargs)
        finally:
            tenant_var.reset(token)
            actor_var.reset(actor_token)


def tenant_task(*, name: str, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """Declare a tenant task with an explicit, stable name (renaming a module must not strand
    queued messages)."""
    options.setdefault("acks_late", True)
    return shared_task(name=name, base=TenantScopedTask, **options)


def platform_task(*, name: str, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """A task that runs in the public schema (provisioning, purge, fan-out)."""
    options.setdefault("acks_late", True)
    return shared_task(name=name, **options)
