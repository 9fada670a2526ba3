"""Prometheus metrics: token-guarded /metrics on the platform host only, golden signals per route template,
submissions/drafts with a bounded tenant label, scrape-time gauges, and gunicorn's multi-process mode."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis
import requests
from django.conf import settings
from django.test import Client, override_settings
from django_redis import get_redis_connection
from django_tenants.utils import tenant_context
from prometheus_client.parser import text_string_to_metric_families

from config.celery import app as celery_app
from tenant_apps.surveys import services
from tests.conftest import free_port, gunicorn_start, host_of, process_stop

TOKEN = "metrics-test-token-0123456789"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def scrape(client: Client | None = None) -> str:
    client = client or Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


@override_settings(METRICS_TOKEN=TOKEN)
def test_metrics_only_on_the_platform_host_and_only_with_the_token(tenant_a):
    platform = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    assert platform.get("/metrics").status_code == 401
    assert platform.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert platform.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    tenant = Client(HTTP_HOST=host_of(tenant_a))
    assert tenant.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404
    with override_settings(METRICS_TOKEN=""):
        assert platform.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def _published(tenant):
    with tenant_context(tenant):
        return services.survey_create_published(title="Metrics", definition=copy.deepcopy(services.DEMO_DEFINITION))


@override_settings(METRICS_TOKEN=TOKEN, METRICS_TENANT_TOP_N=1, METRICS_TENANT_REFRESH_SECONDS=0)
def test_golden_signals_per_route_template_and_bounded_tenant_label(tenant_a, tenant_b, monkeypatch):
    from shared_apps.core import metrics

    get_redis_connection("default").delete("metrics:tenant-activity")
    # This process's cached top set may be from an earlier test's traffic (it refreshes every minute): start afresh.
    monkeypatch.setattr(metrics, "_top", (0.0, frozenset()))
    first, second, other = _published(tenant_a), _published(tenant_a), _published(tenant_b)
    route = "api/v1/s/<str:link>/draft/"
    before = scrape()
    client_a, client_b = Client(HTTP_HOST=host_of(tenant_a)), Client(HTTP_HOST=host_of(tenant_b))
    for survey in (first, second, first):
        body = {"answers": {"q_name": "Ann"}, "page": "p_about"}
        assert (
            client_a.put(f"/api/v1/s/{survey.public_link}/draft/", body, content_type="application/json").status_code
            == 200
        )
    assert (
        client_b.put(
            f"/api/v1/s/{other.public_link}/draft/", {"answers": {}}, content_type="application/json"
        ).status_code
        == 200
    )
    refused = client_a.put(f"/api/v1/s/{first.public_link}/draft/", {"answers": []}, content_type="application/json")
    assert refused.status_code == 400
    assert client_a.get("/no/such/path/at-all").status_code == 404
    submitted = client_a.post(
        f"/api/v1/s/{first.public_link}/submit/",
        {"answers": {"q_name": "Ann", "q_role": "dev", "q_nps": 9, "q_why": "x", "q_features": ["logic"]}},
        content_type="application/json",
    )
    assert submitted.status_code in (200, 201), submitted.content
    after = scrape()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # One series per route template, whatever the survey link in the path.
    assert delta("http_requests_total", method="PUT", route=route, status="200") == 4
    assert delta("http_requests_total", method="PUT", route=route, status="400") == 1
    assert delta("http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert delta("http_request_duration_seconds_count", method="PUT", route=route) == 5
    assert not [key for key in samples(after) if first.public_link in str(key)]
    # Drafts and submissions: tenant_a is the busiest (top 1), tenant_b is folded into "other".
    assert delta("survey_drafts_saved_total", tenant=tenant_a.schema_name) == 3
    assert delta("survey_drafts_saved_total", tenant="other") == 1
    assert delta("survey_submissions_total", tenant=tenant_a.schema_name) == 1
    # tenant_b is not in the top set: none of its own series moved (an earlier test may have made one).
    moved = samples(after).items() - samples(before).items()
    assert not [key for key, _ in moved if tenant_b.schema_name in str(key)]


@override_settings(METRICS_TOKEN=TOKEN)
def test_failed_sign_ins_are_counted(tenant_a):
    before = value(scrape(), "auth_failures_total")
    response = Client(HTTP_HOST=host_of(tenant_a)).post(
        "/api/v1/auth/token/",
        {"email": "nobody@alpha.test", "password": "wrong-password-1"},
        content_type="application/json",
    )
    assert response.status_code in (400, 401)
    assert value(scrape(), "auth_failures_total") == before + 1


def test_queue_depth_redis_memory_and_db_connections_are_read_at_scrape():
    # A broker database of its own (no worker consumes it): three tasks really sent by Celery to "exports".
    broker = settings.REDIS_URL.rsplit("/", 1)[0] + "/5"
    redis.Redis.from_url(broker).flushdb()
    with celery_app.connection_for_write(broker) as connection:
        for _ in range(3):
            celery_app.send_task("tenant_apps.exports.tasks.not_consumed", queue="exports", connection=connection)
    with override_settings(METRICS_TOKEN=TOKEN, CELERY_BROKER_URL=broker):
        text = scrape()
    redis.Redis.from_url(broker).flushdb()
    assert value(text, "celery_queue_length", queue="exports") == 3
    assert value(text, "celery_queue_length", queue="high_priority") == 0
    assert value(text, "redis_memory_used_bytes") > 0
    assert value(text, "db_connections", state="open") >= 1
    assert value(text, "db_connections_max") >= value(text, "db_connections", state="open")


def test_gunicorn_two_workers_aggregate_in_multiprocess_mode(tmp_path: Path):
    directory = tmp_path / "prom"
    directory.mkdir()
    (directory / "counter_999999.db").write_bytes(b"stale")  # a previous run's file: removed at start
    process, url = gunicorn_start(env={"PROMETHEUS_MULTIPROC_DIR": str(directory), "METRICS_TOKEN": TOKEN}, workers=2)
    try:
        platform = {"Host": settings.PLATFORM_DOMAIN, "Authorization": f"Bearer {TOKEN}"}

        def hit(_: int) -> int:
            return requests.get(f"{url}/readyz", timeout=10).status_code

        text = requests.get(f"{url}/metrics", headers=platform, timeout=10).text
        start = value(text, "http_requests_total", method="GET", route="/readyz", status="200")
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(hit, range(60))) == {200}
        pids = {name.split("_")[-1] for name in os.listdir(directory) if name.startswith("counter_")}
        assert "999999.db" not in pids
        assert len(pids) >= 2, f"both workers should have answered: {pids}"
        # Whichever worker answers the scrape, it reports the sum over both.
        for _ in range(4):
            text = requests.get(f"{url}/metrics", headers=platform, timeout=10).text
            assert value(text, "http_requests_total", method="GET", route="/readyz", status="200") == start + 60
            assert value(text, "http_request_duration_seconds_count", method="GET", route="/readyz") == start + 60
        assert requests.get(f"{url}/metrics", headers={"Host": "nope.localhost"}, timeout=10).status_code in (400, 404)
    finally:
        process_stop(process)


def test_worker_serves_task_outcomes_and_run_time(tmp_path: Path):
    """A real worker on a broker database of its own, with CELERY_METRICS_PORT: a task that succeeds and one
    that fails (a tenant task sent for the public schema, refused by its base) are counted."""
    broker = settings.REDIS_URL.rsplit("/", 1)[0] + "/6"
    redis.Redis.from_url(broker).flushdb()
    port = free_port(range(5570, 5590))
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", "high_priority",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING"],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "TEST_CELERY_BROKER_URL": broker,
             "CELERY_METRICS_PORT": str(port)},
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        with celery_app.connection_for_write(broker) as connection:
            celery_app.send_task(
                "shared_apps.tenants.tasks.signups_purge_expired", queue="high_priority", connection=connection
            )
            celery_app.send_task(
                "tenant_apps.surveys.tasks.publication_compile",
                kwargs={"schema_name": "public", "publication_id": 1},
                queue="high_priority",
                connection=connection,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
                done = value(
                    text, "celery_tasks_total", task="tenant_apps.surveys.tasks.publication_compile", outcome="failed"
                )
                if done and value(
                    text,
                    "celery_tasks_total",
                    task="shared_apps.tenants.tasks.signups_purge_expired",
                    outcome="succeeded",
                ):
                    break
            except requests.RequestException:
                pass
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.3)
        assert (
            value(text, "celery_task_duration_seconds_count", task="shared_apps.tenants.tasks.signups_purge_expired")
            == 1
        )
    finally:
        process_stop(worker)
        log.close()
        redis.Redis.from_url(broker).flushdb()
