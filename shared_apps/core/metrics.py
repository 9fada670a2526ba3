"""Prometheus metrics (``prometheus-client``): golden signals per route template, submissions and drafts,
failed sign-ins, and gauges read at scrape time (Celery queue depth, Redis memory, database connections).

Exposition: ``GET /metrics`` on the platform host only (``config/urls_public.py``), with
``Authorization: Bearer <METRICS_TOKEN>``; without ``METRICS_TOKEN`` the URL answers 404 like any unknown one.
Under gunicorn every worker is a process of its own: with ``PROMETHEUS_MULTIPROC_DIR`` set (before this
module is imported) counters and histograms are written to per-process files in that directory and a scrape
aggregates them (``MultiProcessCollector``); ``gunicorn.conf.py`` empties the directory at start and marks
dead workers. The scrape-time gauges are computed by the answering process and never written to files.

Labels are bounded: ``route`` is the URL pattern (``api/v1/surveys/<int:pk>/``), never the path; ``tenant``
is the schema of one of the ``METRICS_TENANT_TOP_N`` busiest organisations (a Redis sorted set of submissions
and drafts, read at most once a minute per process) or ``other``.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shared_apps.core.errors import error_response

REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered, by route template and status.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from the first middleware to the response, by route template.",
    ["method", "route"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0),
)
SUBMISSIONS = Counter("survey_submissions_total", "Survey responses submitted (first submit only).", ["tenant"])
DRAFTS = Counter("survey_drafts_saved_total", "Respondent drafts saved to Redis.", ["tenant"])
AUTH_FAILURES = Counter("auth_failures_total", "Failed sign-ins (wrong credentials or locked out).")
TASKS = Counter("celery_tasks_total", "Celery tasks finished in this worker, by outcome.", ["task", "outcome"])
TASK_RUNTIME = Histogram(
    "celery_task_duration_seconds",
    "Run time of a Celery task in the worker.",
    ["task"],
    buckets=(0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 90.0),
)

_TOP_KEY = "metrics:tenant-activity"
_top_lock = threading.Lock()
_top: tuple[float, frozenset[str]] = (0.0, frozenset())
_HEALTH_PATHS = {"/healthz", "/readyz", "/healthz/", "/readyz/"}


def tenant_label(schema: str) -> str:
    """``schema`` when it is among the busiest ``METRICS_TENANT_TOP_N`` organisations, else ``"other"``.
    Counts activity in Redis too, so the top set follows traffic across every process."""
    global _top  # noqa: PLW0603 - a per-process cache of the top set
    from django_redis import get_redis_connection

    redis = get_redis_connection("default")
    try:
        redis.zincrby(_TOP_KEY, 1, schema)
        now = time.monotonic()
        if now - _top[0] > settings.METRICS_TENANT_REFRESH_SECONDS:
            with _top_lock:
                names = redis.zrevrange(_TOP_KEY, 0, settings.METRICS_TENANT_TOP_N - 1)
                _top = (now, frozenset(name.decode() for name in names))
    except Exception:  # noqa: BLE001 - a metric never fails the request it counts
        return "other"
    return schema if schema in _top[1] else "other"


def submission_counted(schema: str) -> None:
    SUBMISSIONS.labels(tenant=tenant_label(schema)).inc()


def draft_counted(schema: str) -> None:
    DRAFTS.labels(tenant=tenant_label(schema)).inc()


def auth_failure_counted(**_: Any) -> None:
    AUTH_FAILURES.inc()


_task_started: dict[str, float] = {}


def _task_prerun(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _task_started[task_id] = time.perf_counter()


def _task_postrun(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    started = _task_started.pop(task_id or "", None)
    name = getattr(task, "name", "unknown")
    if started is not None:
        TASK_RUNTIME.labels(task=name).observe(time.perf_counter() - started)
    outcome = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}.get(state or "", "other")
    TASKS.labels(task=name, outcome=outcome).inc()


def _worker_ready(**_: Any) -> None:
    """``CELERY_METRICS_PORT`` set: the worker serves its metrics (prefork children write to
    ``PROMETHEUS_MULTIPROC_DIR``) on that port, for Prometheus to scrape each worker pod."""
    if settings.CELERY_METRICS_PORT:
        from prometheus_client import start_http_server

        start_http_server(settings.CELERY_METRICS_PORT, registry=registry())


def connect_task_metrics() -> None:
    from celery.signals import task_postrun, task_prerun, worker_ready

    task_prerun.connect(_task_prerun, dispatch_uid="metrics-task-prerun", weak=False)
    task_postrun.connect(_task_postrun, dispatch_uid="metrics-task-postrun", weak=False)
    worker_ready.connect(_worker_ready, dispatch_uid="metrics-worker-ready", weak=False)


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        return str(match.route)
    if request.path_info in _HEALTH_PATHS:
        return request.path_info.rstrip("/")
    return "<unmatched>"  # 404s, answers from middleware: never the raw path (unbounded)


class MetricsMiddleware:
    """Outermost middleware: counts and times every answer, 500s included (Django turns exceptions into
    responses inside the handler it wraps)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        route = _route(request)
        LATENCY.labels(method=request.method, route=route).observe(time.perf_counter() - started)
        REQUESTS.labels(method=request.method, route=route, status=str(response.status_code)).inc()
        return response


class ScrapeTimeCollector(Collector):
    """Gauges read when Prometheus scrapes: queue depth per Celery queue (LLEN on the broker), Redis memory,
    PostgreSQL connections in use against ``max_connections``. A failing source is left out of the answer
    (Prometheus alerts on absent series separately), never fails the scrape."""

    def collect(self) -> Iterator[Metric]:
        yield from self._queues()
        yield from self._redis_memory()
        yield from self._db_connections()

    @staticmethod
    def _queues() -> Iterator[Metric]:
        import redis

        from config.celery import QUEUES

        url = settings.CELERY_BROKER_URL
        if not url.startswith(("redis://", "rediss://")):
            return
        depth = GaugeMetricFamily("celery_queue_length", "Tasks waiting in a Celery queue.", labels=["queue"])
        try:
            client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            pipe = client.pipeline(transaction=False)
            for queue in QUEUES:
                pipe.llen(queue)
            for queue, length in zip(QUEUES, pipe.execute(), strict=True):
                depth.add_metric([queue], float(length))
        except redis.RedisError:
            return
        yield depth

    @staticmethod
    def _redis_memory() -> Iterator[Metric]:
        from django_redis import get_redis_connection

        try:
            info = get_redis_connection("default").info("memory")
        except Exception:  # noqa: BLE001
            return
        if "used_memory" not in info:  # a Redis Cluster answers per node: report the fullest node
            nodes = [node for node in info.values() if isinstance(node, dict) and "used_memory" in node]
            if not nodes:
                return
            info = max(nodes, key=lambda node: node["used_memory"] / (node.get("maxmemory") or float("inf")))
            info = info if info.get("maxmemory") else max(nodes, key=lambda node: node["used_memory"])
        used = GaugeMetricFamily("redis_memory_used_bytes", "Memory used by the cache Redis.")
        used.add_metric([], float(info["used_memory"]))
        yield used
        limit = GaugeMetricFamily("redis_memory_max_bytes", "The cache Redis's maxmemory (0: unlimited).")
        limit.add_metric([], float(info.get("maxmemory", 0)))
        yield limit

    @staticmethod
    def _db_connections() -> Iterator[Metric]:
        from django.db import connection

        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FILTER (WHERE state <> 'idle'), count(*),"
                    " current_setting('max_connections')::int FROM pg_stat_activity WHERE datname = current_database()"
                )
                active, total, limit = cursor.fetchone()
        except Exception:  # noqa: BLE001
            return
        in_use = GaugeMetricFamily(
            "db_connections", "Connections to the application database, by state.", labels=["state"]
        )
        in_use.add_metric(["active"], float(active))
        in_use.add_metric(["open"], float(total))
        yield in_use
        pool = GaugeMetricFamily("db_connections_max", "PostgreSQL max_connections (the pool's ceiling).")
        pool.add_metric([], float(limit))
        yield pool


def registry() -> CollectorRegistry:
    """The registry one scrape reads: the multi-process files when gunicorn runs several workers, else this
    process's own metrics; plus the scrape-time gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        scraped = CollectorRegistry()
        multiprocess.MultiProcessCollector(scraped)
    else:
        scraped = CollectorRegistry(auto_describe=True)
        for collector in (REQUESTS, LATENCY, SUBMISSIONS, DRAFTS, AUTH_FAILURES, TASKS, TASK_RUNTIME):
            scraped.register(collector)
    scraped.register(ScrapeTimeCollector())
    return scraped


def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics`` with ``Authorization: Bearer <METRICS_TOKEN>`` (platform host only)."""
    token = settings.METRICS_TOKEN
    if not token:
        return HttpResponseNotFound()
    presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(presented.encode(), token.encode()):
        return error_response(401, "not_authenticated", "A valid metrics token is required.")
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
