"""Set up a 20-question survey, start gunicorn (production settings), run the locust scenario headless
with a fixed user count and duration in its own process, and print p50/p95/p99 per step."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

USERS = os.environ.get("LOCUST_USERS", "50")
DURATION = os.environ.get("LOCUST_DURATION", "30s")


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
    out = Path(tempfile.mkdtemp()) / "locust"
    with server(int(os.environ.get("BENCH_WORKERS", "4"))) as base:
        env = {**os.environ, "SURVEY_LINK": survey.public_link, "TENANT_HOST": tenant_domain("loadtest")}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(ROOT / "loadtests" / "locustfile.py"),
                "--headless",
                "-u",
                USERS,
                "-r",
                "10",
                "-t",
                DURATION,
                "--host",
                base,
                "--csv",
                str(out),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            env=env,
            check=False,
        )
    print(f"\nlocust: {USERS} users for {DURATION} (separate process), per step:")
    print(f"{'step':<28}{'requests':>10}{'failures':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>9}")
    with open(f"{out}_stats.csv") as handle:
        for row in csv.DictReader(handle):
            print(
                f"{row['Name']:<28}{row['Request Count']:>10}{row['Failure Count']:>10}{row['50%']:>9}"
                f"{row['95%']:>9}{row['99%']:>9}{float(row['Requests/s']):>9.1f}"
            )


if __name__ == "__main__":
    main()
