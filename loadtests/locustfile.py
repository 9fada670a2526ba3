"""Load scenarios. Run headless against a running server, e.g.:

    .venv/bin/locust -f loadtests/locustfile.py --headless -u 50 -r 10 -t 30s --host http://demo.localhost:8000

Scenarios for survey load, draft save and submit arrive with the respondent work.
"""

from locust import HttpUser, between, task


class TenantVisitor(HttpUser):
    wait_time = between(0.1, 0.5)

    @task(5)
    def tenant_info(self) -> None:
        self.client.get("/api/v1/tenant/", name="tenant info")

    @task(1)
    def readiness(self) -> None:
        self.client.get("/readyz", name="readyz")
