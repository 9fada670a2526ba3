"""Set up a 20-question survey (4 pages), start gunicorn (production settings), run a locust profile headless in
processes of its own - one, or a master and ``LOCUST_WORKERS`` workers - and print p50/p95/p99 per step, the
users reached and the failures.

    LOCUST_PROFILE   Respondent (fast loop, default) or HumanRespondent (5-20 s think time per page)
    LOCUST_USERS     users to reach (default 50)          LOCUST_SPAWN_RATE  users started per second (10)
    LOCUST_DURATION  run time, e.g. 30s, 5m (30s)         LOCUST_WORKERS     0: one process; N: master + N workers
    BENCH_WORKERS    gunicorn workers (4)
"""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

PROFILE = os.environ.get("LOCUST_PROFILE", "Respondent")
USERS = os.environ.get("LOCUST_USERS", "50")
SPAWN_RATE = os.environ.get("LOCUST_SPAWN_RATE", "10")
DURATION = os.environ.get("LOCUST_DURATION", "30s")
WORKERS = int(os.environ.get("LOCUST_WORKERS", "0"))
LOGLEVEL = os.environ.get("LOCUST_LOGLEVEL", "WARNING")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _locust(base: str, out: Path, env: dict[str, str], root: Path) -> None:
    common = [sys.executable, "-m", "locust", "-f", str(root / "loadtests" / "locustfile.py"), PROFILE]
    run = ["--headless", "-u", USERS, "-r", SPAWN_RATE, "-t", DURATION, "--host", base]
    report = ["--csv", str(out), "--csv-full-history", "--only-summary", "--loglevel", LOGLEVEL]
    if not WORKERS:
        subprocess.run([*common, *run, *report], env=env, check=False)
        return
    port = _free_port()
    master = subprocess.Popen(
        [
            *common,
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--expect-workers",
            str(WORKERS),
            *run,
            *report,
        ],
        env=env,
    )
    time.sleep(1)
    workers = [
        subprocess.Popen(
            [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port), "--loglevel", LOGLEVEL],
            env=env,
        )
        for _ in range(WORKERS)
    ]
    master.wait()
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


def main() -> None:
    import django

    from benchmarks._common import vault_for_benchmark

    vault_for_benchmark()  # before the settings are read: production settings need Vault
    django.setup()
    from django_tenants.utils import tenant_context

    from benchmarks._common import ROOT, server
    from benchmarks.respondent import build
    from shared_apps.accounts.services import password_generate
    from shared_apps.tenants.models import Organisation
    from shared_apps.tenants.services import tenant_create, tenant_domain
    from tenant_apps.surveys import services

    definition, _ = build()
    organisation = (
        Organisation.objects.filter(slug="loadtest").first()
        or tenant_create(
            slug="loadtest",
            name="Load test",
            admin_email="loadtest@example.test",
            admin_password=password_generate(),
            plan="enterprise",  # unlimited: the load test submits far past the free plan's monthly responses
        ).organisation
    )
    with tenant_context(organisation):
        survey = services.survey_create_published(title="Load test survey", definition=definition)
    out = Path(tempfile.mkdtemp(prefix="survey-locust-")) / "locust"
    print(f"locust CSV files: {out}_*.csv")
    with server(int(os.environ.get("BENCH_WORKERS", "4"))) as base:
        env = {
            "LOCUST_HEARTBEAT_LIVENESS": "30",  # master, workers and server share this machine's cores
            **os.environ,
            "SURVEY_LINK": survey.public_link,
            "TENANT_HOST": tenant_domain("loadtest"),
        }
        _locust(base, out, env, ROOT)
    mode = f"master + {WORKERS} workers" if WORKERS else "one process"
    print(f"\nlocust {PROFILE}: {USERS} users (+{SPAWN_RATE}/s) for {DURATION}, {mode}, per step:")
    print(f"{'step':<28}{'requests':>10}{'failures':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>9}")
    with open(f"{out}_stats.csv") as handle:
        for row in csv.DictReader(handle):
            print(
                f"{row['Name']:<28}{row['Request Count']:>10}{row['Failure Count']:>10}{row['50%']:>9}"
                f"{row['95%']:>9}{row['99%']:>9}{float(row['Requests/s']):>9.1f}"
            )
    with open(f"{out}_stats_history.csv") as handle:
        history = [row for row in csv.DictReader(handle) if row["Name"] == "Aggregated"]
    if history:
        peak = max(int(row["User Count"]) for row in history)
        at_peak = [row for row in history if int(row["User Count"]) == peak]
        rps = [float(row["Requests/s"]) for row in at_peak]
        p95 = [float(row["95%"]) for row in at_peak if row["95%"] not in ("N/A", "")]
        print(
            f"users reached: {peak} (held {len(at_peak)} s); at that level: {sum(rps) / len(rps):.1f} req/s, "
            f"p95 (last 10 s window) up to {max(p95) if p95 else 0:.0f} ms"
        )


if __name__ == "__main__":
    main()
