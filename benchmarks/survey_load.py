"""Benchmark: survey load for respondents under concurrency, next to a trivial JSON endpoint, plus the
cost of evaluating the survey's rules per submission in each evaluator.

A real server (gunicorn, production settings) and a separate load process (wrk) on this machine. The
survey has 50 questions over 10 pages and 30 rules. Run with ``make bench-load`` (scratch database).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %.2f %.2f %.2f %.2f %d\\n", summary.requests,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6), summary.errors.status + summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def build_definition() -> tuple[dict, dict]:
    """50 questions on 10 pages, 30 rules (display logic, requirements, variables, skips, piping)."""
    pages, answers = [], {}
    rules = display = 0
    for p in range(10):
        questions = []
        for k in range(5):
            n = p * 5 + k
            qid = f"q{n}"
            kind = ("number", "single_choice", "short_text", "multiple_choice", "yes_no")[k]
            piped = f" (after {{{{q{n - 1}|-}}}})" if n else ""
            question: dict = {"id": qid, "type": kind, "text": f"Question {n}{piped}"}
            if kind in ("single_choice", "multiple_choice"):
                question["choices"] = [{"id": f"c{c}", "text": f"Choice {c}", "score": c} for c in range(5)]
            if n > 0 and k in (1, 3) and display < 20:
                question["visible_if"] = {"q": f"q{n - 1}", "op": "is_answered"}
                rules += 1
                display += 1
            questions.append(question)
            answers[qid] = {
                "number": n,
                "single_choice": "c2",
                "short_text": f"text {n}",
                "multiple_choice": ["c1", "c3"],
                "yes_no": True,
            }[kind]
        page_rules: list[dict[str, object]] = []
        if p < 9:
            page_rules.append(
                {
                    "id": f"r_var{p}",
                    "then": [
                        {
                            "type": "set_variable",
                            "variable": "score",
                            "expr": {"add": [{"var": "score"}, {"score": f"q{p * 5 + 1}"}]},
                        }
                    ],
                }
            )
            rules += 1
        if p == 4:
            page_rules.append(
                {
                    "id": "r_skip",
                    "when": {"var": "score", "op": "gt", "value": 1000},
                    "then": [{"type": "skip_to", "page": "p9"}],
                }
            )
            rules += 1
        pages.append({"id": f"p{p}", "title": f"Page {p}", "questions": questions, "rules": page_rules})
    assert rules == 30, rules
    definition = {
        "variables": [{"id": "score", "initial": 0}],
        "end_screens": [{"id": "thanks", "text": "Thanks! Score {{var.score}}"}],
        "pages": pages,
    }
    return definition, answers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wrk(url: str, host: str, seconds: int, connections: int, script: str) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script, "-H", f"Host: {host}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    requests, p50, p95, p99, rps, errors = line.split()[1:]
    return {
        "requests": int(requests),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "rps": float(rps),
        "errors": int(errors),
    }


def main() -> None:
    import django

    django.setup()
    from django_tenants.utils import tenant_context

    from shared_apps.accounts.services import password_generate
    from shared_apps.tenants.models import Organisation
    from shared_apps.tenants.services import tenant_create, tenant_domain
    from tenant_apps.surveys import services
    from tenant_apps.surveys.logic.evaluator import evaluate
    from tenant_apps.surveys.models import Publication

    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk")
    definition, answers = build_definition()
    organisation = (
        Organisation.objects.filter(slug="bench-load").first()
        or tenant_create(
            slug="bench-load",
            name="Bench load",
            admin_email="bench-load@example.test",
            admin_password=password_generate(),
        ).organisation
    )
    with tenant_context(organisation):
        survey = services.survey_create(title="Benchmark survey", created_by_id=None, definition=definition)
        publication = services.publication_request(survey=survey, requested_by_id=None)
    with tenant_context(organisation):
        result = services.publication_compile_run(publication=Publication.objects.get(pk=publication.pk))
        assert result.status == "published", result.errors
    link = survey.public_link
    host = tenant_domain("bench-load")

    port = free_port()
    workers = int(os.environ.get("BENCH_WORKERS", "3"))
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
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
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
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        request = urllib.request.Request(f"{base}/api/v1/s/{link}/", headers={"Host": host})
        body = urllib.request.urlopen(request, timeout=5).read()
        assert len(json.loads(body)["definition"]["pages"]) == 10
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(WRK_SCRIPT)
        seconds = int(os.environ.get("BENCH_SECONDS", "10"))
        connections = int(os.environ.get("BENCH_CONNECTIONS", "32"))
        wrk(f"{base}/api/v1/s/{link}/", host, 2, connections, script.name)  # warm every worker's caches
        rows = {
            "baseline: GET /healthz (JsonResponse, no DB)": wrk(
                f"{base}/healthz", host, seconds, connections, script.name
            ),
            f"survey load: GET /api/v1/s/<link>/ ({len(body) // 1024} KiB)": wrk(
                f"{base}/api/v1/s/{link}/", host, seconds, connections, script.name
            ),
        }
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)

    print(f"\nsurvey load, gunicorn {workers} sync workers, wrk 2 threads x {connections} connections, {seconds}s each")
    print(f"{'endpoint':<52}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>10}{'errors':>8}")
    for name, r in rows.items():
        print(f"{name:<52}{r['p50']:>9.2f}{r['p95']:>9.2f}{r['p99']:>9.2f}{r['rps']:>10.0f}{r['errors']:>8}")

    runs = 2000
    py = timeit.repeat(lambda: evaluate(definition, answers), number=runs, repeat=5)
    py_us = statistics.median(py) / runs * 1e6
    node = subprocess.run(
        ["node", str(ROOT / "benchmarks" / "evaluate_bench.mjs")],
        input=json.dumps({"definition": definition, "answers": answers, "runs": runs}),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print("\nrule evaluation per submission (50 questions, 30 rules), median of 5 x 2000 runs:")
    print(f"  Python evaluator: {py_us:8.1f} us")
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    print(f"  JavaScript evaluator (Node {version}): {float(node):8.1f} us")


if __name__ == "__main__":
    main()
