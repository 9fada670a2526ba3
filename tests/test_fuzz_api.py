"""Schema-driven fuzzing of both hosts' APIs (schemathesis), in ``make test``.

Every operation of the tenant schema (signed in as the organisation's admin) and of the platform schema
(anonymous) is called with generated data that fits its schema (positive) and data that does not
(negative). Every answer must be a non-5xx with a documented status, content type and body; invalid data
must be refused. The run is bounded and reproducible: ``derandomize`` (a fixed seed per operation), no
example database, ``FUZZ_EXAMPLES`` examples per operation and mode (default 15: about 1,850 requests, under
2 minutes here; ``FUZZ_EXAMPLES=40`` for a deeper run). Run it alone with
``pytest -m fuzz``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.billing.conftest import stripe_servers  # noqa: F401 - the fixture, for the billing endpoints
from tests.conftest import PASSWORD, host_of, login

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(1200), pytest.mark.usefixtures("stripe_servers")]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
# The session's own Authorization header is sent with every case, so schemathesis must not count a
# missing one as the "invalid" part of a negative case; unknown query parameters are ignored (as HTTP
# APIs do), not an error.
CONFIG = schemathesis.Config.from_dict(
    {"generation": {"with-security-parameters": False, "allow-extra-parameters": False}}
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)  # operation + check -> first message


@pytest.fixture(scope="module")
def fuzz_tenant() -> Any:
    """An organisation of its own (with the demo survey), so fuzzed writes touch nothing else."""
    from shared_apps.tenants.services import tenant_create

    return tenant_create(
        slug=f"fuzz-{uuid.uuid4().hex[:8]}",
        name="Fuzz Ltd",
        admin_email=f"admin@fuzz-{uuid.uuid4().hex[:6]}.test",
        admin_password=PASSWORD,
        demo=True,
        plan="enterprise",  # unlimited: fuzzed writes must not hit the free plan's limits
    )


def _fuzz(host: str, headers: dict[str, str]) -> Tally:
    app = get_wsgi_application()
    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/", app, config=CONFIG, headers={"Host": host, "Accept": "application/json"}
    )
    tally = Tally()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run(operation, mode, headers={"Host": host, **headers}, tally=tally)
    return tally


def _run(operation: Any, mode: GenerationMode, *, headers: dict[str, str], tally: Tally) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @hypothesis.given(operation.as_strategy(generation_mode=mode))
    def call(case: schemathesis.Case) -> None:
        response = case.call(headers=headers)
        tally.requests += 1
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as exc:  # failed checks: recorded, reported at the end
            for failure in getattr(exc, "exceptions", [exc]):
                title = getattr(failure, "title", type(failure).__name__)
                message = " ".join(str(getattr(failure, "message", failure)).split())[:400]
                key = f"{operation.label} [{mode.value}] {title}"
                tally.failures.setdefault(key, f"{response.status_code}: {message} | {case.as_curl_command()[:300]}")

    with contextlib.suppress(hypothesis.errors.Unsatisfiable):  # an operation with too few distinct inputs
        call()


def _report(name: str, tally: Tally) -> str:
    fivexx = sum(n for code, n in tally.statuses.items() if code >= 500)
    lines = [
        f"{name}: {tally.requests} requests, {len(tally.failures)} failing operation/checks, {fivexx} 5xx; "
        f"statuses {dict(sorted(tally.statuses.items()))}"
    ]
    lines += [f"  {key}: {message}" for key, message in sorted(tally.failures.items())]
    return "\n".join(lines)


def test_fuzz_tenant_api(fuzz_tenant):
    tokens = login(fuzz_tenant.organisation, fuzz_tenant.admin.email)
    tally = _fuzz(host_of(fuzz_tenant.organisation), {"Authorization": f"Bearer {tokens['access']}"})
    print(_report("tenant", tally))
    assert tally.requests > 0
    assert not tally.failures, _report("tenant", tally)


def test_fuzz_platform_api():
    tally = _fuzz("localhost", {})
    print(_report("platform", tally))
    assert tally.requests > 0
    assert not tally.failures, _report("platform", tally)
