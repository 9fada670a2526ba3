"""Ceilings measured in the same run by tools that are not the code under test (issue 16): ``wrk`` against
``benchmarks/bare_wsgi.py`` under the same gunicorn settings (HTTP), ``pgbench -f`` with the submit service's own
transaction (database), ``redis-benchmark`` SET of a 2 KB value (Redis). ``print_path`` prints, per hot path, each
ceiling, our figure and the ratio figure/ceiling (throughput, and p95 as a multiple of the ceiling's p95)."""

from __future__ import annotations

import glob
import os
import re
import shutil
import statistics
import subprocess
import tempfile
from typing import Any
from urllib.parse import urlsplit

TOOLS = ("wrk", "pgbench", "redis-benchmark")


def tools_check() -> None:
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: apt-get install -y wrk postgresql-client redis-tools")


def _percentiles(samples: list[float]) -> dict[str, float]:
    if len(samples) < 2:
        value = samples[0] if samples else 0.0
        return {"p50": value, "p95": value, "p99": value}
    q = statistics.quantiles(samples, n=100)
    return {"p50": statistics.median(samples), "p95": q[94], "p99": q[98]}


def submit_transaction_sql(capture: list[str], uid: str) -> str:
    """A pgbench script replaying the statements the submit service ran (``capture``: their SQL with literals,
    as Django logged them) in one transaction, with a fresh submission uid per transaction."""
    fresh = "('00000000-0000-4000-8000-' || lpad(to_hex(:n::bigint), 12, '0'))::uuid"
    lines = ["\\set n random(1, 281474976710655)", "BEGIN;"]
    for statement in capture:
        lines.append(" ".join(statement.replace(f"'{uid}'::uuid", fresh).replace(f"'{uid}'", fresh).split()) + ";")
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def pgbench(script: str, url: str, *, clients: int, seconds: int, options: str = "") -> dict[str, Any]:
    """``pgbench -f script`` for ``seconds`` with ``clients`` connections (PGOPTIONS ``options``: search_path and
    the tenant GUC); latency percentiles from its per-transaction log, in ms."""
    with tempfile.TemporaryDirectory(prefix="bench-pgbench-") as tmp:
        path = os.path.join(tmp, "tx.sql")
        with open(path, "w") as out:
            out.write(script)
        command = ["pgbench", "-n", "-f", path, "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds)]
        run = subprocess.run(
            [*command, "-l", "--log-prefix", os.path.join(tmp, "log"), url],
            capture_output=True,
            text=True,
            env={**os.environ, "PGOPTIONS": options},
            check=False,
        )
        samples = []
        for name in glob.glob(os.path.join(tmp, "log*")):
            with open(name) as log:
                samples.extend(int(line.split()[2]) / 1000 for line in log if line.strip())
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", run.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", run.stdout)
    if run.returncode != 0 or tps is None:
        raise RuntimeError(f"pgbench failed ({run.returncode}): {run.stdout[-800:]} {run.stderr[-800:]}")
    return {**_percentiles(samples), "rps": float(tps.group(1)), "errors": int(failed.group(1)) if failed else 0}


def redis_benchmark(redis_url: str, *, clients: int, requests: int, size: int = 2048) -> dict[str, Any]:
    """``redis-benchmark -t set -d size`` (one key, overwritten) against the Redis of ``redis_url``."""
    parts = urlsplit(redis_url)
    command = ["redis-benchmark", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379)]
    command += ["--dbnum", (parts.path or "/0").strip("/") or "0", "-c", str(clients), "-n", str(requests)]
    command += ["-d", str(size), "-t", "set", "--csv"]
    env = {**os.environ, "REDISCLI_AUTH": parts.password} if parts.password else None
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    header, row = ([cell.strip('"') for cell in line.split(",")] for line in out.strip().splitlines()[-2:])
    values = dict(zip(header, row, strict=True))
    import redis

    redis.Redis.from_url(redis_url).delete("key:__rand_int__")  # the one key it wrote
    return {
        "p50": float(values["p50_latency_ms"]),
        "p95": float(values["p95_latency_ms"]),
        "p99": float(values["p99_latency_ms"]),
        "rps": float(values["rps"]),
        "errors": 0,
    }


def _row(kind: str, name: str, r: dict[str, Any]) -> str:
    errors = int(r.get("errors", 0) + r.get("non_2xx", 0))
    return f"  {kind:<9}{name:<62}{r['p50']:>9.2f}{r['p95']:>9.2f}{r['p99']:>9.2f}{r['rps']:>10.0f}{errors:>8}"


def print_path(title: str, figure: dict[str, Any], ceilings: dict[str, dict[str, Any]], label: str) -> None:
    """One hot path: ``ceiling`` lines, the ``figure`` line, one ``ratio`` line per ceiling."""
    print(f"\n{title}")
    print(f"  {'':<9}{'':<62}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'per s':>10}{'errors':>8}")
    for name, ceiling in ceilings.items():
        print(_row("ceiling", name, ceiling))
    print(_row("figure", label, figure))
    for name, ceiling in ceilings.items():
        throughput = figure["rps"] / ceiling["rps"] if ceiling["rps"] else 0.0
        p95 = figure["p95"] / ceiling["p95"] if ceiling["p95"] else 0.0
        print(f"  ratio    figure/ceiling ({name.split(':')[0]}): throughput {throughput:.2f}, p95 {p95:.1f}x")
