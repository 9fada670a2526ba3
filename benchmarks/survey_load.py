"""Benchmark: survey load for respondents under concurrency, next to its ceiling measured in the same run (wrk
against a bare WSGI JSON app of the same size under the same gunicorn settings), plus the cost of evaluating the
survey's rules per submission in each evaluator.

A real server (gunicorn, production settings) and a separate load process (wrk) on this machine. The
survey has 50 questions over 10 pages and 30 rules. Run with ``make bench-load`` (scratch database).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import timeit
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from benchmarks._common import published_survey, server, wrk  # noqa: E402 - after the path is set
from benchmarks.ceilings import print_path, tools_check  # noqa: E402


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


def main() -> None:
    import django

    django.setup()

    from tenant_apps.surveys.logic.evaluator import evaluate

    tools_check()
    definition, answers = build_definition()
    slug = os.environ.get("BENCH_SLUG", "bench-load")
    survey, host = published_survey(slug, "Bench load", "Benchmark survey", definition)
    link = survey.public_link
    workers = int(os.environ.get("BENCH_WORKERS", "3"))
    seconds = int(os.environ.get("BENCH_SECONDS", "10"))
    connections = int(os.environ.get("BENCH_CONNECTIONS", "32"))
    with server(workers) as base:
        request = urllib.request.Request(f"{base}/api/v1/s/{link}/", headers={"Host": host})
        body = urllib.request.urlopen(request, timeout=5).read()
        assert len(json.loads(body)["definition"]["pages"]) == 10
        wrk(f"{base}/api/v1/s/{link}/", host, max(1, seconds // 5), connections)  # warm every worker's caches
        figure = wrk(f"{base}/api/v1/s/{link}/", host, seconds, connections)
    with server(workers, app="benchmarks.bare_wsgi", extra_env={"BARE_JSON_BYTES": str(len(body))}) as bare:
        ceiling = wrk(f"{bare}/", host, seconds, connections)
    print_path(
        f"survey load: gunicorn {workers} sync workers, wrk 2 threads x {connections} connections, {seconds}s each",
        figure,
        {f"HTTP: wrk -> bare WSGI JSON ({len(body) // 1024} KiB), same gunicorn": ceiling},
        f"GET /api/v1/s/<link>/ ({len(body) // 1024} KiB, 50 questions)",
    )

    runs = int(os.environ.get("BENCH_EVAL_RUNS", "2000"))
    py = timeit.repeat(lambda: evaluate(definition, answers), number=runs, repeat=5)
    py_us = statistics.median(py) / runs * 1e6
    node = subprocess.run(
        ["node", str(ROOT / "benchmarks" / "evaluate_bench.mjs")],
        input=json.dumps({"definition": definition, "answers": answers, "runs": runs}),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"\nrule evaluation per submission (50 questions, 30 rules), median of 5 x {runs} runs:")
    print(f"  Python evaluator: {py_us:8.1f} us")
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    print(f"  JavaScript evaluator (Node {version}): {float(node):8.1f} us")


if __name__ == "__main__":
    main()
