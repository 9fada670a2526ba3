"""The web request's id travels with the tasks it enqueues: a ``request_id`` Celery message header, set when
the task is published and restored in the worker for the task's run, so the task's JSON log lines and audit
entries carry the id of the request that caused them."""

from __future__ import annotations

from contextvars import Token
from typing import Any

from celery.signals import before_task_publish, task_postrun, task_prerun

from shared_apps.core.context import request_id_var

_tokens: dict[str, Token[str]] = {}


def _on_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    request_id = request_id_var.get()
    if headers is not None and request_id != "-":
        headers.setdefault("request_id", request_id)


def _on_prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    request_id = getattr(getattr(task, "request", None), "request_id", None)
    if task_id and isinstance(request_id, str) and request_id:
        _tokens[task_id] = request_id_var.set(request_id[:64])


def _on_postrun(task_id: str | None = None, **_: Any) -> None:
    token = _tokens.pop(task_id or "", None)
    if token is not None:
        request_id_var.reset(token)


def connect() -> None:
    before_task_publish.connect(_on_publish, dispatch_uid="trace-request-id-publish", weak=False)
    task_prerun.connect(_on_prerun, dispatch_uid="trace-request-id-prerun", weak=False)
    task_postrun.connect(_on_postrun, dispatch_uid="trace-request-id-postrun", weak=False)
