"""The Kubernetes manifests under deploy/kubernetes validate offline against
Kubernetes' own schemas (kubernetes-validate, strict: no unknown fields), and
fit together: the pieces select the same pods, the server's flags are
codefill's, the autoscaler's metric is one the server exports and the
adapter rule provides, and a pod gets the time its drain needs."""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from codefill.cli import build_parser
from codefill.server.lifecycle import UVICORN_GRACE_S
from codefill.server.metrics import Metrics
from tests.helpers import ROOT

K8S = ROOT / "deploy" / "kubernetes"
VARIANTS = ("gpu", "cpu")
KUBERNETES_VERSION = "1.30.0"  # the oldest supported release these manifests are checked against


def load(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def manifests() -> list[Path]:
    return sorted(p for folder in ("common", *VARIANTS) for p in (K8S / folder).glob("*.yaml"))


def by_kind(*folders: str) -> dict[str, dict]:
    docs = [doc for folder in folders for p in (K8S / folder).glob("*.yaml") for doc in load(p)]
    kinds = {doc["kind"]: doc for doc in docs}
    assert len(kinds) == len(docs), "two resources of one kind"
    return kinds


@pytest.mark.parametrize("version", [KUBERNETES_VERSION, kubernetes_validate.latest_version()])
@pytest.mark.parametrize("path", manifests(), ids=lambda p: str(p.relative_to(K8S)))
def test_manifest_validates_against_the_kubernetes_schema(path, version):
    for doc in load(path):
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_pieces_fit_together(variant):
    k = by_kind("common", variant)
    deployment, service = k["Deployment"], k["Service"]
    pdb, hpa = k["PodDisruptionBudget"], k["HorizontalPodAutoscaler"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": deployment["metadata"]["name"]}
    assert hpa["spec"]["minReplicas"] >= 2, "one replica left alone cannot be drained without an outage"
    backend = k["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] == service["spec"]["ports"][0]["name"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_server_is_probed_and_drained_as_it_expects(variant):
    pod = by_kind(variant)["Deployment"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    args = build_parser().parse_args(["serve", *container["args"]])  # codefill's own flags, or SystemExit
    assert args.func.__name__ == "cmd_serve"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["ports"][0]["containerPort"] == 8000
    # The ingress stops sending during preStop; SIGTERM then drains (server/lifecycle.py). Both must fit.
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + UVICORN_GRACE_S
    if variant == "gpu":
        assert container["resources"]["limits"]["nvidia.com/gpu"] == 1


def test_the_ingress_hashes_on_tenant_and_session_and_never_retries_a_started_completion():
    notes = by_kind("common")["Ingress"]["metadata"]["annotations"]
    key = notes["nginx.ingress.kubernetes.io/upstream-hash-by"]
    assert "$http_authorization" in key and "$http_x_session_id" in key
    assert notes["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) > 300  # codefill's request timeout
    assert "non_idempotent" not in notes["nginx.ingress.kubernetes.io/proxy-next-upstream"]


def test_the_autoscaler_reads_a_metric_the_server_exports_through_the_adapter_rule():
    metric = by_kind("common")["HorizontalPodAutoscaler"]["spec"]["metrics"][0]["pods"]["metric"]["name"]
    exported = Metrics().render().decode()
    assert re.search(rf"^# TYPE {metric} gauge$", exported, re.M), f"{metric} is not a gauge of /metrics"
    [values] = load(K8S / "prometheus-adapter" / "values.yaml")
    rules = values["rules"]["custom"]
    assert any(rule["name"]["as"] == metric and metric in rule["seriesQuery"] for rule in rules)
