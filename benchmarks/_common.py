"""Shared pieces of the benchmarks: a production-settings gunicorn on this machine, and wrk."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

WRK_DONE = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %.2f %.2f %.2f %.2f %d %d\\n", summary.requests,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6), summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout, summary.errors.status))
end
"""


def vault_for_benchmark() -> None:
    """Production settings need Vault: without VAULT_ADDR, start a dev OpenBao for this run (stopped at exit)
    and export it, so this process and the servers it starts share it. Call before ``django.setup()``."""
    if os.environ.get("VAULT_ADDR"):
        return
    import atexit

    from shared_apps.core.devvault import bao_start, bao_stop

    process, addr, token = bao_start()
    os.environ["VAULT_ADDR"], os.environ["VAULT_TOKEN"] = addr, token
    atexit.register(bao_stop, process)


vault_for_benchmark()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server(
    workers: int,
    worker_class: str = "sync",
    threads: int = 1,
    app: str = "config.wsgi",
    extra_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """gunicorn (``gunicorn.conf.py`` + these flags) with production settings against the benchmark database, serving
    ``app`` (``benchmarks.bare_wsgi``: the HTTP ceiling under the same settings); yields the base URL."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": ".localhost,localhost,127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "THROTTLE_RESPONDENT": "10000000/min",
        "THROTTLE_ANON": "10000000/min",
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://survey_app@127.0.0.1:5432/survey"),
        "DATABASE_OWNER_URL": os.environ.get("DATABASE_OWNER_URL", "postgres://survey_owner@127.0.0.1:5432/survey"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def wrk(url: str, host: str, seconds: int, connections: int, setup: str = "") -> dict[str, float]:
    """Run wrk (2 threads) with an optional Lua prelude (method, body, headers); latency in ms. A response slower
    than 10 s counts as an error (wrk's default, 2 s, dropped slow answers of a loaded machine from the latencies)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(setup + WRK_DONE)
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", script.name]
    out = subprocess.run(
        [*command, "-H", f"Host: {host}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    requests, p50, p95, p99, rps, errors, bad_status = line.split()[1:]
    return {
        "requests": int(requests),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "rps": float(rps),
        "errors": int(errors),
        "non_2xx": int(bad_status),
    }


def print_rows(title: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    print(f"{'case':<58}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'per s':>10}{'errors':>8}")
    for name, r in rows.items():
        errors = int(r.get("errors", 0) + r.get("non_2xx", 0))
        print(f"{name:<58}{r['p50']:>9.2f}{r['p95']:>9.2f}{r['p99']:>9.2f}{r['rps']:>10.0f}{errors:>8}")


def published_survey(slug: str, name: str, title: str, definition: dict[str, Any]) -> tuple[Any, str]:
    """The benchmark organisation (created once) and a freshly published survey in it: (survey, host)."""
    from django_tenants.utils import tenant_context

    from shared_apps.accounts.services import password_generate
    from shared_apps.tenants.models import Organisation
    from shared_apps.tenants.services import tenant_create, tenant_domain
    from tenant_apps.surveys.services import survey_create_published

    organisation = (
        Organisation.objects.filter(slug=slug).first()
        or tenant_create(
            slug=slug,
            name=name,
            admin_email=f"{slug}@example.test",
            admin_password=password_generate(),
            plan="enterprise",  # unlimited: a benchmark submits far past the free plan's monthly responses
        ).organisation
    )
    with tenant_context(organisation):
        survey = survey_create_published(title=title, definition=definition)
    return survey, tenant_domain(slug)
