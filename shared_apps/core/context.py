"""Per-request (or per-task, per-command) context: carried into log lines and audit entries."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, replace

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
tenant_var: ContextVar[str] = ContextVar("tenant", default="-")


@dataclass(frozen=True)
class Actor:
    """Who acts, from where and how: recorded with every audit entry."""

    user_id: int | None = None
    kind: str = "system"  # user | system | anonymous
    channel: str = "task"  # api | cli | task
    ip: str | None = None
    user_agent: str = ""

    def with_user(self, user_id: int | None) -> Actor:
        return replace(self, user_id=user_id, kind="user" if user_id else "anonymous")


actor_var: ContextVar[Actor] = ContextVar("actor", default=Actor())  # noqa: B039 - frozen
