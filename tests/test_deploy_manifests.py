"""The Kubernetes manifests in deploy/kubernetes: valid against the Kubernetes schemas
(kubernetes-validate's bundled ones, strict: no unknown fields), and saying what the
service needs: probes on /healthz and /readyz, secrets by reference only, the metrics
directory on an emptyDir, a grace period longer than the drain, a non-root read-only
container, the migration as a Job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

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
