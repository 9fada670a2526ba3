"""The app through Debian's PgBouncer in session mode (deploy/pgbouncer): one gunicorn worker, so one server
connection serves both tenants in turn; each submission lands in its own tenant's schema under RLS."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from string import Template

import psycopg
import requests
from django.conf import settings
from django_tenants.utils import tenant_context

from tenant_apps.responses.models import Submission
from tenant_apps.surveys import services
from tests.conftest import free_port, gunicorn_start, host_of, process_stop

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "pgbouncer" / "pgbouncer.ini.template"


def test_requests_through_pgbouncer_session_mode_switch_tenants(tenant_a, tenant_b):
    surveys = {}
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            surveys[tenant.slug] = services.survey_create_published(
                title=f"Pooled {tenant.slug}", definition=copy.deepcopy(services.DEMO_DEFINITION)
            )
    app = settings.DATABASES["default"]
    root = Path(tempfile.mkdtemp(prefix="survey-pgbouncer-"))
    shutil.chown(root, "postgres")  # PgBouncer refuses to run as root: it runs as postgres (-u)
    port = free_port(range(5570, 5590))
    (root / "userlist.txt").write_text('"survey_app" ""\n')
    (root / "pgbouncer.ini").write_text(
        Template(TEMPLATE.read_text()).substitute(
            LISTEN_ADDR="127.0.0.1",
            LISTEN_PORT=port,
            DB_HOST=app["HOST"],
            DB_PORT=app["PORT"] or 5432,
            AUTH_TYPE="trust",
            AUTH_FILE=root / "userlist.txt",
            RUN_DIR=root,
        )
    )
    user = ["-u", "postgres"] if os.geteuid() == 0 else []
    bouncer = subprocess.Popen(["pgbouncer", *user, str(root / "pgbouncer.ini")], stderr=subprocess.DEVNULL)
    server = None
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                psycopg.connect(host="127.0.0.1", port=port, user="survey_app", dbname="pgbouncer").close()
                break
            except psycopg.OperationalError:
                assert bouncer.poll() is None, "pgbouncer exited"
                assert time.monotonic() < deadline, "pgbouncer did not start"
                time.sleep(0.1)
        url = f"postgres://survey_app@127.0.0.1:{port}/{app['NAME']}"
        server, base = gunicorn_start(env={"TEST_DATABASE_URL": url})
        good = {"q_name": "Ann", "q_role": "dev", "q_nps": 9, "q_why": "pooled", "q_features": ["logic"]}
        for _ in range(3):
            for tenant in (tenant_a, tenant_b):
                survey = surveys[tenant.slug]
                loaded = requests.get(
                    f"{base}/api/v1/s/{survey.public_link}/", headers={"Host": host_of(tenant)}, timeout=10
                )
                assert loaded.status_code == 200, loaded.text
                assert loaded.json()["survey"]["title"] == f"Pooled {tenant.slug}"
                submitted = requests.post(
                    f"{base}/api/v1/s/{survey.public_link}/submit/",
                    json={"answers": {**good, "q_name": tenant.slug}},
                    headers={"Host": host_of(tenant)},
                    timeout=10,
                )
                assert submitted.status_code in (200, 201), submitted.text
        # Tenant B's survey link is unknown on tenant A's host (the switched search_path holds).
        foreign = requests.get(
            f"{base}/api/v1/s/{surveys[tenant_b.slug].public_link}/", headers={"Host": host_of(tenant_a)}, timeout=10
        )
        assert foreign.status_code == 404
        with psycopg.connect(
            host="127.0.0.1", port=port, user="survey_app", dbname="pgbouncer", autocommit=True
        ) as admin:
            pools = admin.execute("SHOW POOLS").fetchall()
            columns = [column.name for column in admin.execute("SHOW POOLS").description]
            stats = {row[0]: row for row in admin.execute("SHOW STATS").fetchall()}
        pool = next(dict(zip(columns, row, strict=True)) for row in pools if row[0] == app["NAME"])
        assert pool["pool_mode"] == "session"
        # gunicorn's persistent connection holds its server connection for the whole session.
        assert pool["cl_active"] >= 1
        assert pool["sv_active"] >= 1
        assert app["NAME"] in stats  # the app's queries went through PgBouncer
    finally:
        if server is not None:
            process_stop(server)
        process_stop(bouncer)
        shutil.rmtree(root, ignore_errors=True)
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            stored = Submission.objects.filter(survey_id=surveys[tenant.slug].pk)
            assert stored.count() == 3
