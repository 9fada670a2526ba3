"""Analytics reads use the ``replica`` alias while it answers, and fall back to the primary when it is down
(here the alias points at this session's database; tests/ops/test_streaming_replica.py runs a real one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from shared_apps.core import replica
from tenant_apps.analytics.models import Watermark
from tenant_apps.analytics.replica import ReplicaRouter
from tests.tenant_apps.analytics.test_api import analyst, populated  # noqa: F401 - fixtures


@pytest.fixture
def replica_down() -> Iterator[None]:
    """The replica stops answering: its alias points at a port where nothing listens (5489, this helper's)."""
    settings = connections[replica.ALIAS].settings_dict
    port = settings["PORT"]
    connections[replica.ALIAS].close()
    settings["PORT"] = "5489"
    replica.replica_lag(refresh=True)
    yield
    settings["PORT"] = port
    connections[replica.ALIAS].close()
    replica.replica_lag(refresh=True)


def test_analytics_reads_go_to_the_replica(populated, analyst):  # noqa: F811
    assert replica.replica_lag(refresh=True) == 0
    assert ReplicaRouter().db_for_read(Watermark) == "replica"
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        response = analyst.get(f"/api/v1/surveys/{populated.pk}/analytics/?hidden.q_src=ads")
    assert response.status_code == 200
    assert response.json()["totals"]["responses"] == 3
    assert any("responses_answer" in q["sql"] for q in on_replica.captured_queries)


def test_reads_fall_back_to_the_primary_when_the_replica_is_down(populated, analyst, replica_down):  # noqa: F811
    assert replica.replica_lag() is None
    assert ReplicaRouter().db_for_read(Watermark) == "default"
    response = analyst.get(f"/api/v1/surveys/{populated.pk}/analytics/?hidden.q_src=ads")
    assert response.status_code == 200
    assert response.json()["totals"]["responses"] == 3
