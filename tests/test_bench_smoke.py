"""A 2-second smoke run of each hot-path benchmark (``make bench-load``, ``make bench-respondent``) so none rots:
each runs as ``make bench`` runs it (gunicorn with production settings, wrk, pgbench, redis-benchmark), here against
the test database and Redis with a new organisation, and must print, per hot path, its ceilings, our figure and
one ratio per ceiling. The figures themselves are not checked (the machine is shared)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import pytest
from django.conf import settings

from tests.conftest import ROOT, unique_slug

pytestmark = pytest.mark.bench_smoke

ROW = re.compile(r"^  (ceiling|figure) +(.+?) +([0-9.]+) +([0-9.]+) +([0-9.]+) +([0-9]+) +([0-9]+)$")
RATIO = re.compile(
    r"^  ratio +figure/ceiling \((HTTP|DB|Redis)[^)]*\): throughput [0-9]+\.[0-9]{2}, p95 [0-9]+\.[0-9]x$"
)


@pytest.mark.parametrize(
    ("script", "paths", "ceilings"),
    [("survey_load.py", 1, {"HTTP"}), ("respondent.py", 2, {"HTTP", "Redis", "DB"})],
)
def test_benchmark_prints_ceiling_figure_and_ratio(
    script: str, paths: int, ceilings: set[str], vault_server: dict[str, Any]
) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": settings.DATABASE_APP_URL,
        "DATABASE_OWNER_URL": settings.DATABASE_OWNER_URL,
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.REDIS_URL,  # no worker consumes it: the submits' tasks stay queued there
        "VAULT_ADDR": vault_server["addr"],
        "VAULT_TOKEN": vault_server["token"],
        "LOG_LEVEL": "WARNING",
        "BENCH_SLUG": unique_slug("bench"),
        "BENCH_SECONDS": "2",
        "BENCH_CONNECTIONS": "8",
        "BENCH_WORKERS": "2",
        "BENCH_EVAL_RUNS": "20",
        "BENCH_PROFILE_CALLS": "5",
    }
    run = subprocess.run(
        [sys.executable, f"benchmarks/{script}"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    lines = run.stdout.splitlines()
    rows = [match for match in map(ROW.match, lines) if match]
    figures = [row for row in rows if row[1] == "figure"]
    assert len(figures) == paths, run.stdout
    found = {row[2].split(":")[0].split(",")[0] for row in rows if row[1] == "ceiling"}
    assert found == ceilings, run.stdout
    # Throughput, and most of the 2 s of requests answered 2xx (a timeout on a loaded machine is no failure).
    assert all(float(row[6]) > 0 and int(row[7]) <= float(row[6]) for row in rows), run.stdout
    ratios = [line for line in lines if line.startswith("  ratio")]
    assert ratios, run.stdout
    assert all(RATIO.match(line) for line in ratios), ratios
    assert len(ratios) == len([row for row in rows if row[1] == "ceiling"])
