"""The Kubernetes manifests in deploy/kubernetes: valid against the Kubernetes schemas
(kubernetes-validate's bundled ones, strict: no unknown fields), and saying what the
service needs: probes on /healthz and /readyz, secrets by reference only, the metrics
directory on an emptyDir, a grace period longer than the drain, a non-root read-only
container, the migration as a Job. And compose.yaml, rendered by a real Compose
implementation (`docker compose config`, or Debian's `docker-compose config`)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cryptography.fernet import Fernet

from tests.conftest import REQUIRE_SERVICES

MANIFESTS = Path(__file__).parent.parent / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.31.0"
DRAIN_SECONDS = 10  # uvicorn's timeout_graceful_shutdown (authapi.cli)
SECRET_VARIABLES = {
    "AUTHAPI_DATABASE_URL",
    "AUTHAPI_REDIS_URL",
    "AUTHAPI_ENCRYPTION_KEYS",
    "AUTHAPI_SMTP_URL",
}


def documents() -> dict[str, dict[str, Any]]:
    """Every manifest by kind."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            found[document["kind"]] = document
    return found


def pod(kind: str) -> dict[str, Any]:
    spec: dict[str, Any] = documents()[kind]["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("path", sorted(MANIFESTS.glob("*.yaml")), ids=lambda path: path.name)
def test_each_manifest_is_valid_for_kubernetes(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_a_manifest_with_an_unknown_field_is_refused_by_the_check() -> None:
    broken = documents()["Deployment"]
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_kind_the_issue_asks_for_is_there() -> None:
    assert set(documents()) >= {
        "Deployment",
        "Job",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "ConfigMap",
        "Secret",
    }


def test_probes_check_liveness_and_readiness() -> None:
    (container,) = pod("Deployment")["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_the_grace_period_outlasts_the_pre_stop_pause_and_the_drain() -> None:
    spec = pod("Deployment")
    (container,) = spec["containers"]
    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert spec["terminationGracePeriodSeconds"] > pause + DRAIN_SECONDS


def test_the_metrics_directory_is_an_empty_dir_of_the_pod() -> None:
    spec = pod("Deployment")
    (container,) = spec["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    directory = env["PROMETHEUS_MULTIPROC_DIR"]
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volume = next(m for path, m in mounts.items() if directory.startswith(path + "/"))
    assert {"name": volume, "emptyDir": {}} in spec["volumes"]


def test_secrets_come_by_reference_and_no_manifest_but_the_example_holds_one() -> None:
    for kind in ("Deployment", "Job"):
        (container,) = pod(kind)["containers"]
        assert {"secretRef": {"name": "authapi"}} in container["envFrom"]
        assert not SECRET_VARIABLES & {item["name"] for item in container.get("env", [])}
    assert not SECRET_VARIABLES & set(documents()["ConfigMap"]["data"])
    example = documents()["Secret"]["stringData"]
    assert set(example) == SECRET_VARIABLES
    assert all("CHANGE-ME" in value or "redis://" in value for value in example.values())


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_containers_run_as_a_non_root_user_on_a_read_only_root(kind: str) -> None:
    spec = pod(kind)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 10001  # the image's `authapi` user
    (container,) = spec["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_job_migrates_and_the_service_reaches_the_pods() -> None:
    (container,) = pod("Job")["containers"]
    assert container["args"] == ["migrate"]
    service, deployment = documents()["Service"], documents()["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert documents()["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= (
        labels.items()
    )
    assert (
        documents()["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"]
        == (deployment["metadata"]["name"])
    )


# --- compose.yaml ----------------------------------------------------------------------
COMPOSE_FILE = Path(__file__).parent.parent / "compose.yaml"
COMPOSE_SECRETS = {
    "POSTGRES_PASSWORD": secrets.token_hex(16),
    "AUTHAPI_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
}


def compose_tool() -> list[str]:
    """A real Compose implementation: the docker CLI's `compose` plugin, else Debian's
    `docker-compose` (1.29, which knows the Compose Specification and
    `service_completed_successfully`); `make system-packages` installs the latter."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    message = (
        "no Compose implementation (`docker compose`, `docker-compose`): run `make system-packages`"
    )
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; AUTHAPI_TEST_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
    pytest.skip(message)


def compose_config(variables: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`compose config` on compose.yaml with exactly `variables` set: nothing from the
    caller's environment, and an empty env file instead of any .env next to the file."""
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **variables}
    return subprocess.run(
        [*compose_tool(), "--env-file", str(env_file), "--file", str(COMPOSE_FILE), "config"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )


class TestCompose:
    def test_it_renders_with_the_secrets_set(self, tmp_path: Path) -> None:
        result = compose_config(COMPOSE_SECRETS, tmp_path)
        assert result.returncode == 0, result.stderr
        config = yaml.safe_load(result.stdout)
        services = config["services"]
        assert set(services) == {"authapi", "migrate", "postgres", "redis"}
        # (Compose v2 adds `required: true` to each dependency; v1 does not)
        conditions = {
            name: dependency["condition"]
            for name, dependency in services["authapi"]["depends_on"].items()
        }
        assert conditions == {
            "migrate": "service_completed_successfully",
            "postgres": "service_healthy",
            "redis": "service_healthy",
        }
        assert services["migrate"]["command"] == ["migrate"]
        assert services["migrate"]["restart"] == "no"
        password = COMPOSE_SECRETS["POSTGRES_PASSWORD"]
        key = COMPOSE_SECRETS["AUTHAPI_ENCRYPTION_KEYS"]
        for name in ("authapi", "migrate"):
            assert services[name]["image"] == "authapi"
            assert Path(services[name]["build"]["context"]) == COMPOSE_FILE.parent
            environment = services[name]["environment"]
            assert f":{password}@postgres:5432/" in environment["AUTHAPI_DATABASE_URL"]
            assert environment["AUTHAPI_REDIS_URL"].startswith("redis://redis:")
            assert environment["AUTHAPI_ENCRYPTION_KEYS"] == key
        assert "/healthz" in " ".join(services["authapi"]["healthcheck"]["test"])
        assert services["postgres"]["image"] == "postgres:16"
        assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == password
        assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
        assert services["redis"]["image"] == "redis:7"
        command = services["redis"]["command"]
        assert command[command.index("--appendonly") + 1] == "yes"
        assert command[command.index("--appendfsync") + 1] == "everysec"
        assert "ping" in services["redis"]["healthcheck"]["test"]
        assert set(config["volumes"]) == {"postgres-data", "redis-data"}

    @pytest.mark.parametrize("missing", sorted(COMPOSE_SECRETS))
    def test_a_missing_secret_stops_it(self, missing: str, tmp_path: Path) -> None:
        variables = {name: value for name, value in COMPOSE_SECRETS.items() if name != missing}
        result = compose_config(variables, tmp_path)
        assert result.returncode != 0, result.stdout
        assert f"set {missing}" in result.stderr
