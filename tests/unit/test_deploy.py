"""deploy/kubernetes/: every manifest validates against the current Kubernetes API schemas
(``kubernetes-validate``, strict: unknown fields are errors), and the manifests agree with each
other and with what permsvc reads and serves."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from permsvc.settings import _ENV_FIELDS

if os.environ.get("CI", "").lower() == "true":  # under CI the test extra must have installed it
    import kubernetes_validate
else:
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="the test extra is not installed"
    )

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
_MINIMUM_VERSION = (1, 33)
_CRDS = {"monitoring.coreos.com/v1"}
"""API groups that are CustomResourceDefinitions, which kubernetes-validate has no schema for."""


def _manifests() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(DEPLOY.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert len(docs) == 1, f"{path.name}: one resource per file"
        out[docs[0]["kind"]] = docs[0]
    return out


MANIFESTS = _manifests()


def _container(kind: str) -> dict[str, Any]:
    (container,) = MANIFESTS[kind]["spec"]["template"]["spec"]["containers"]
    return container


def _env(kind: str) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in _container(kind).get("env", [])}


def test_the_schemas_are_a_current_kubernetes() -> None:
    version = kubernetes_validate.latest_version()
    assert tuple(int(p) for p in version.split(".")[:2]) >= _MINIMUM_VERSION, version


@pytest.mark.parametrize(
    "kind", sorted(k for k, m in MANIFESTS.items() if m["apiVersion"] not in _CRDS)
)
def test_each_manifest_validates(kind: str) -> None:
    """(The ServiceMonitor, a custom resource, is checked by test_the_service_monitor_scrapes_the_service.)"""
    manifest = MANIFESTS[kind]
    kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)


def test_an_invalid_manifest_is_refused() -> None:
    """The validator is not a no-op: a misspelt field fails strict validation."""
    broken = yaml.safe_load((DEPLOY / "deployment.yaml").read_text())
    broken["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    present = {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def test_the_deployment_runs_locked_down() -> None:
    pod = MANIFESTS["Deployment"]["spec"]["template"]["spec"]
    container = _container("Deployment")
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    # the one writable place (metrics of several workers, a SQLite data dir) is an emptyDir
    assert [m["mountPath"] for m in container["volumeMounts"]] == ["/tmp"]
    resources = container["resources"]
    assert (
        resources["requests"]["cpu"]
        and resources["requests"]["memory"]
        and resources["limits"]["memory"]
    )


def test_the_image_user_matches_the_pod_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    uid = MANIFESTS["Deployment"]["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
    assert f"USER {uid}:" in dockerfile
    assert MANIFESTS["Job"]["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == uid


def _memory_bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(quantity[: -len(suffix)]) * factor
    return int(quantity)


def test_probes_shutdown_and_memory_fit_permsvc() -> None:
    from permsvc.api.ops import healthz, readyz

    container = _container("Deployment")
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz" == next(iter(healthz.paths))
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz" == next(iter(readyz.paths))
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert {p["name"] for p in container["ports"]} >= {"http"}
    env = _env("Deployment")
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    grace = MANIFESTS["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert pre_stop + float(env["PERMSVC_GRACEFUL_SHUTDOWN_S"]) < grace
    assert int(env["PERMSVC_INDEX_MEMORY_BUDGET"]) < _memory_bytes(
        container["resources"]["limits"]["memory"]
    )
    assert env["PERMSVC_MIGRATE"] == "false", "the migration Job migrates, not every pod"


def test_every_permsvc_variable_is_a_setting() -> None:
    known = {f"PERMSVC_{name.upper()}" for name in _ENV_FIELDS}
    for kind in ("Deployment", "Job"):
        names = {n for n in _env(kind) if n.startswith("PERMSVC_")}
        assert names <= known, names - known
    secret_keys = set(MANIFESTS["Secret"]["stringData"])
    assert secret_keys <= known
    for kind in ("Deployment", "Job"):
        for value in _env(kind).values():
            if isinstance(value, dict) and "secretKeyRef" in value:
                assert value["secretKeyRef"]["name"] == MANIFESTS["Secret"]["metadata"]["name"]
                assert value["secretKeyRef"]["key"] in secret_keys


def test_the_migration_job_migrates_with_the_servers_image_and_database() -> None:
    job = _container("Job")
    assert job["args"] == ["migrate"]
    assert job["image"] == _container("Deployment")["image"]
    assert _env("Job")["PERMSVC_DATABASE_URL"] == _env("Deployment")["PERMSVC_DATABASE_URL"]
    assert MANIFESTS["Job"]["spec"]["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never")


def test_service_pdb_and_hpa_select_the_deployment() -> None:
    pod_labels = MANIFESTS["Deployment"]["spec"]["template"]["metadata"]["labels"]
    for kind, selector in (
        ("Service", MANIFESTS["Service"]["spec"]["selector"]),
        (
            "PodDisruptionBudget",
            MANIFESTS["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
        ),
        ("Deployment", MANIFESTS["Deployment"]["spec"]["selector"]["matchLabels"]),
    ):
        assert selector.items() <= pod_labels.items(), kind
    target = MANIFESTS["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == (
        "Deployment",
        MANIFESTS["Deployment"]["metadata"]["name"],
    )
    hpa = MANIFESTS["HorizontalPodAutoscaler"]["spec"]
    # a drain can always evict one pod: more replicas than the budget keeps
    assert hpa["minReplicas"] > MANIFESTS["PodDisruptionBudget"]["spec"]["minAvailable"]
    assert MANIFESTS["Deployment"]["spec"]["replicas"] >= hpa["minReplicas"]
    assert MANIFESTS["Service"]["spec"]["ports"][0]["targetPort"] == "http"


def test_the_service_monitor_scrapes_the_service() -> None:
    from permsvc.api.ops import metrics_endpoint

    monitor = MANIFESTS["ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    service = MANIFESTS["Service"]
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics" == next(iter(metrics_endpoint.paths))
    assert set(monitor["spec"]) <= {"selector", "endpoints", "namespaceSelector", "jobLabel"}
    assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "scheme", "relabelings"}
