"""Grafana dashboards (deploy/grafana): every panel's query parses (Debian's promtool, each query wrapped in a
recording rule) and reads only metrics the app exports, a recording rule records, or postgres_exporter serves."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import override_settings
from prometheus_client import Counter, Histogram
from prometheus_client.parser import text_string_to_metric_families

from shared_apps.core import metrics
from tests.ops.test_metrics import TOKEN, scrape

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
EXTERNAL = {"pg_replication_lag_seconds"}  # postgres_exporter on each replica
# Grafana's variables, replaced by a value of the same kind before promtool reads a query.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1d", "$tenant": ".*"}
KEYWORDS = {"and", "or", "unless", "bool", "by", "without", "on", "ignoring", "group_left", "group_right", "offset"}
KEYWORDS |= {"inf", "nan", "Inf", "NaN"}


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions, aggregations, keywords,
    label names (inside ``{}``, ``by (...)``, ``on (...)``...) or durations."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\boffset\s+\w+", "", text)
    text = re.sub(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b", "", text)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        if text[match.end() :].lstrip().startswith("(") or match.group(0) in KEYWORDS:
            continue
        names.add(match.group(0))
    return names


def test_the_tokenizer_finds_metric_names_only():
    expr = (
        'histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{route=~"a|b"}[5m])))'
        " / on (route) group_left max(x:y:z offset 1h) > bool 1e3"
    )
    assert promql_metric_names(expr) == {"http_request_duration_seconds_bucket", "x:y:z"}


def _dashboards() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in DASHBOARDS}


def _queries() -> list[tuple[str, str]]:
    """(where, expression) for every panel target and every query variable of every dashboard."""
    found = []
    for name, board in _dashboards().items():
        for panel in board["panels"]:
            for target in panel["targets"]:
                found.append((f"{name}/{panel['id']}{target['refId']}", target["expr"]))
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                inner = re.fullmatch(r"label_values\((.+),\s*\w+\)", variable["query"]["query"])
                assert inner, variable
                found.append((f"{name}/${variable['name']}", inner.group(1)))
    return found


def _grafana_to_promql(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"unknown Grafana variable in {expr!r}"
    return expr


def test_the_four_dashboards_are_provisioned():
    boards = _dashboards()
    assert {b["title"] for b in boards.values()} == {
        "Golden signals",
        "Queues and tasks",
        "Organisations",
        "Submissions per day",
    }
    assert len({b["uid"] for b in boards.values()}) == len(boards)
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "survey.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    source = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = source["datasources"][0]["uid"]
    for board in boards.values():
        assert board["panels"]
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), board["uid"]
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == uid, (board["uid"], panel["title"])
            assert panel["targets"], (board["uid"], panel["title"])


def test_every_panel_query_parses_with_promtool(tmp_path: Path):
    queries = _queries()
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {"record": "dashboard:" + re.sub(r"\W", "_", where), "expr": _grafana_to_promql(expr)}
                    for where, expr in queries
                ],
            }
        ]
    }
    path = tmp_path / "dashboards.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        ["promtool", "check", "rules", str(path)], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


def test_a_broken_query_is_caught_by_the_same_check(tmp_path: Path):
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [{"record": "x", "expr": "sum(rate(a[5m])"}]}]}))
    result = subprocess.run(
        ["promtool", "check", "rules", str(path)], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0


def _exported_names() -> set[str]:
    """Sample names the app exports: a real scrape (gauges computed at scrape time, counted requests) plus every
    counter and histogram it declares (labelled series appear in a scrape only once they have a value)."""
    names = {sample.name for family in text_string_to_metric_families(scrape()) for sample in family.samples}
    for value in vars(metrics).values():
        if isinstance(value, Counter):
            names.add(value._name + "_total")
        elif isinstance(value, Histogram):
            names |= {value._name + suffix for suffix in ("_bucket", "_sum", "_count")}
    return names


def _recorded_names() -> set[str]:
    return {
        rule["record"]
        for group in yaml.safe_load((DEPLOY / "prometheus" / "recording.yml").read_text())["groups"]
        for rule in group["rules"]
    }


@override_settings(METRICS_TOKEN=TOKEN)
def test_every_metric_a_panel_reads_is_exported_or_recorded():
    scrape()  # one request counted
    known = _exported_names() | _recorded_names() | EXTERNAL
    read: dict[str, set[str]] = {}
    for where, expr in _queries():
        for name in promql_metric_names(_grafana_to_promql(expr)):
            read.setdefault(name, set()).add(where)
    unknown = {name: sorted(places) for name, places in read.items() if name not in known}
    assert not unknown, unknown
    # Each dashboard reads something of the app's own (not only external series).
    assert len(set(read) - EXTERNAL) >= 10


@override_settings(METRICS_TOKEN=TOKEN)
def test_recording_rules_read_exported_metrics_and_are_loaded_by_prometheus():
    groups = yaml.safe_load((DEPLOY / "prometheus" / "recording.yml").read_text())["groups"]
    scrape()
    exported = _exported_names()
    for rule in (rule for group in groups for rule in group["rules"]):
        assert promql_metric_names(rule["expr"]) <= exported, rule["record"]
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert "recording.yml" in config["rule_files"]
    result = subprocess.run(
        ["promtool", "check", "rules", "recording.yml"],
        check=False,
        cwd=DEPLOY / "prometheus",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"SUCCESS: {len(_recorded_names())} rules found" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["golden-signals", "queues", "tenants", "submissions-per-day"])
def test_dashboard_files_exist(name: str):
    assert (DEPLOY / "grafana" / "dashboards" / f"{name}.json").is_file()
