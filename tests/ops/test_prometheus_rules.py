"""The critical alerts (deploy/prometheus/alerts.yml): checked and unit-tested by Debian's promtool, and every
metric they read is one the app really exports (or postgres_exporter's replica lag)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from tests.ops.test_metrics import TOKEN, scrape

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
UNIT_TESTS = sorted((RULES / "tests").glob("*.yml"))
EXTERNAL = {"pg_replication_lag_seconds"}  # postgres_exporter, scraped from the replicas


def promtool(*args: str) -> str:
    result = subprocess.run(["promtool", *args], check=False, cwd=RULES, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_rules_are_valid():
    assert "SUCCESS: 7 rules found" in promtool("check", "rules", "alerts.yml")


@pytest.mark.parametrize("unit", UNIT_TESTS, ids=[path.stem for path in UNIT_TESTS])
def test_rule_unit_tests(unit: Path):
    assert "SUCCESS" in promtool("test", "rules", str(unit.relative_to(RULES)))


def test_every_alert_has_a_unit_test():
    alerts = {
        rule["alert"]
        for group in yaml.safe_load((RULES / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    }
    tested = {
        case["alertname"]
        for unit in UNIT_TESTS
        for test in yaml.safe_load(unit.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert alerts == tested


@override_settings(METRICS_TOKEN=TOKEN)
def test_rules_read_metrics_the_app_exports():
    text = (RULES / "alerts.yml").read_text()
    used = set(
        re.findall(r"\b([a-z_]+_(?:total|seconds_bucket|length|bytes|connections|connections_max|seconds))\b", text)
    )
    scrape()  # a request counted (labelled series appear once they have a value)
    exported = {sample.name for family in text_string_to_metric_families(scrape()) for sample in family.samples}
    assert used - EXTERNAL, used
    assert used - EXTERNAL <= exported, used - EXTERNAL - exported
