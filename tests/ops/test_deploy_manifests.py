"""deploy/k8s rendered by `kubectl kustomize` and validated offline by kubernetes-validate --strict; the
docker-compose file by `docker-compose config -q`; the k8s PgBouncer config is the tested template's rendering."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from string import Template

import pytest
import yaml

from config.celery import QUEUES

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"


def run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, check=False, cwd=cwd, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    path = tmp_path_factory.mktemp("k8s") / "production.yaml"
    path.write_text(run("kubectl", "kustomize", str(K8S / "overlays" / "production")).stdout)
    return path, [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_kubernetes_validate_strict(rendered):
    path, documents = rendered
    result = run(str(Path(sys.executable).parent / "kubernetes-validate"), "--strict", str(path))
    passed = result.stdout.count("passed for resource")
    custom = [doc for doc in documents if doc["apiVersion"] == "keda.sh/v1alpha1"]
    assert passed == len(documents) - len(custom), result.stdout
    # The only kind without a built-in schema is KEDA's ScaledObject: checked below against what it scales.
    warnings = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("WARN")]
    assert all("ScaledObject" in line for line in warnings), warnings


def test_production_shape(rendered):
    _, documents = rendered
    by_kind: dict[str, dict[str, dict]] = {}
    for doc in documents:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    assert all(doc["metadata"].get("namespace") == "survey" for doc in documents if doc["kind"] != "Namespace")
    hpa = by_kind["HorizontalPodAutoscaler"]["survey-api"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 50)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    api = by_kind["Deployment"]["survey-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["image"] == "registry.example.com/survey-platform:1.0.0"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert by_kind["PodDisruptionBudget"]["survey-api"]["spec"]["minAvailable"] == 2
    beat = by_kind["Deployment"]["survey-beat"]["spec"]
    assert (beat["replicas"], beat["strategy"]["type"]) == (1, "Recreate")
    # One worker Deployment per Celery queue, each scaled by KEDA on that queue's length.
    scaled = by_kind["ScaledObject"]
    assert {obj["spec"]["triggers"][0]["metadata"]["listName"] for obj in scaled.values()} == set(QUEUES)
    for obj in scaled.values():
        target = by_kind["Deployment"][obj["spec"]["scaleTargetRef"]["name"]]
        queue = obj["spec"]["triggers"][0]["metadata"]["listName"]
        assert f"-Q {queue} " in target["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    for name, deployment in by_kind["Deployment"].items():
        pod = deployment["spec"]["template"]
        assert pod["metadata"]["labels"]["app.kubernetes.io/part-of"] == "survey-platform", name
        assert pod["metadata"]["annotations"]["vault.hashicorp.com/agent-inject"] == "true", name
        for container in pod["spec"]["containers"]:
            assert container["resources"]["requests"], name
            assert container["resources"]["limits"]["memory"], name
    assert "default-deny" in by_kind["NetworkPolicy"]
    migrate = by_kind["Job"]["survey-migrate"]["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "migrate --noinput" in migrate
    assert "check_isolation" in migrate


def test_k8s_pgbouncer_config_is_the_tested_template():
    rendered = Template((ROOT / "deploy" / "pgbouncer" / "pgbouncer.ini.template").read_text()).substitute(
        LISTEN_ADDR="0.0.0.0",  # noqa: S104 - inside the pod
        LISTEN_PORT="6432",
        DB_HOST="postgres-primary.survey.svc",
        DB_PORT="5432",
        AUTH_TYPE="scram-sha-256",
        AUTH_FILE="/etc/pgbouncer/auth/userlist.txt",
        RUN_DIR="/tmp",  # noqa: S108
    )
    assert (K8S / "base" / "pgbouncer.ini").read_text() == rendered
    assert "pool_mode = session" in rendered


def test_docker_compose_full_stack_is_valid():
    # The secret key is the one value the file demands from .env; any value renders.
    run("docker-compose", "-f", "docker-compose.yml", "config", "-q", env={"DJANGO_SECRET_KEY": "compose-check"})
    services = set(
        run(
            "docker-compose", "-f", "docker-compose.yml", "config", "--services", env={"DJANGO_SECRET_KEY": "x"}
        ).stdout.split()
    )
    workers = {f"worker-{queue.replace('_', '-')}" for queue in QUEUES}
    fixed = {"postgres", "postgres-replica", "redis", "vault", "minio", "migrate", "api", "beat", "nginx"}
    assert services == fixed | workers | {"prometheus", "grafana"}


def test_prometheus_config_is_valid():
    out = run("promtool", "check", "config", "prometheus.yml", cwd=ROOT / "deploy" / "prometheus").stdout
    assert "SUCCESS: 7 rules found" in out
