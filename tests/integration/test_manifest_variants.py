"""The distribution overlays (installer/overlays) and the monitoring kustomization
(installer/manifests/monitoring) render with every kubectl here, and change only what
docs/install.md, "Other distributions", and docs/metrics.md say they change.

| case                   | how                                   | expected                      |
|------------------------|---------------------------------------|-------------------------------|
| every variant renders  | ``kubectl kustomize`` with Debian's   | the same objects from each    |
|                        | 1.20 (kustomize v2.0.3) and the       |                               |
|                        | kubectl on PATH                       |                               |
| k3s / RKE2 / OpenShift | the DaemonSet's host paths            | cni-bin moved to the          |
|                        |                                       | distribution's bin dir;       |
|                        |                                       | cni-conf stays /etc/cni/net.d |
|                        |                                       | (where the plugins look)      |
| each overlay           | everything but the DaemonSet          | the base's objects, plus on   |
|                        |                                       | OpenShift the SCC binding     |
| current schemas        | kubernetes-validate of the DaemonSet  | valid                         |
|                        | each overlay changes                  |                               |
| monitoring             | kinds and labels                      | PodMonitor, PrometheusRule,   |
|                        |                                       | the dashboard ConfigMap for   |
|                        |                                       | Grafana's sidecar             |
| the 1.20 server        | server-side dry run of the OpenShift  | accepted                      |
|                        | binding                               |                               |
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from tools.testbed import manifests, paths
from tools.testbed.cluster import Cluster

pytestmark = pytest.mark.skipif(
    not manifests.kubectls(), reason="no kubectl here (tools/bootstrap.sh unpacks Debian's 1.20)"
)
OVERLAYS = paths.REPO / "installer" / "overlays"
MONITORING = manifests.MANIFESTS / "monitoring"
BIN_DIRS = {
    "k3s": "/var/lib/rancher/k3s/data/cni",
    "rke2": "/opt/cni/bin",
    "openshift": "/var/lib/cni/bin",
}


def rendered(directory: Path) -> list[dict[str, Any]]:
    """The objects every kubectl here renders (asserted to be the same for each; the order
    of kinds is kustomize's and differs between its versions)."""
    outputs = [
        sorted(manifests.render(directory, binary), key=key) for binary in manifests.kubectls()
    ]
    for other in outputs[1:]:
        assert other == outputs[0], f"{directory}: kubectls render differently"
    return outputs[0]


def key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def host_paths(objects: list[dict[str, Any]]) -> dict[str, str]:
    (ds,) = [o for o in objects if o["kind"] == "DaemonSet"]
    return {
        v["name"]: v["hostPath"]["path"]
        for v in ds["spec"]["template"]["spec"]["volumes"]
        if "hostPath" in v
    }


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return rendered(manifests.MANIFESTS)


def test_every_distribution_has_an_overlay() -> None:
    assert sorted(p.name for p in OVERLAYS.iterdir() if p.is_dir()) == sorted(BIN_DIRS)


@pytest.mark.parametrize("distribution", sorted(BIN_DIRS))
def test_an_overlay_moves_only_the_bin_dir(base: list[dict[str, Any]], distribution: str) -> None:
    objects = rendered(OVERLAYS / distribution)
    paths_base, paths_here = host_paths(base), host_paths(objects)
    assert paths_here["cni-bin"] == BIN_DIRS[distribution]
    assert paths_here["cni-conf"] == "/etc/cni/net.d"
    assert {k: v for k, v in paths_here.items() if k != "cni-bin"} == {
        k: v for k, v in paths_base.items() if k != "cni-bin"
    }
    others = {key(o): o for o in objects if o["kind"] != "DaemonSet"}
    base_others = {key(o): o for o in base if o["kind"] != "DaemonSet"}
    added = set(others) - set(base_others)
    expected = (
        {("RoleBinding", "spidernet-node-privileged-scc")} if distribution == "openshift" else set()
    )
    assert added == expected
    assert {k: others[k] for k in base_others} == base_others
    (ds,) = [o for o in objects if o["kind"] == "DaemonSet"]
    kubernetes_validate.validate(ds, kubernetes_validate.latest_version(), strict=True)


def test_the_monitoring_kustomization_renders_rules_scraping_and_the_dashboard() -> None:
    objects = {o["kind"]: o for o in rendered(MONITORING)}
    assert sorted(objects) == ["ConfigMap", "PodMonitor", "PrometheusRule"]
    board = objects["ConfigMap"]
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert board["metadata"]["name"] == "spidernet-dashboard"  # no hash suffix: stable name
    assert json.loads(board["data"]["spidernet-dashboard.json"])["uid"] == "spidernet-overview"
    selector = objects["PodMonitor"]["spec"]["selector"]["matchLabels"]
    assert selector == {"app.kubernetes.io/name": "spidernet-installer"}
    assert all(o["metadata"]["namespace"] == "kube-system" for o in objects.values())


def test_the_openshift_binding_is_accepted_by_the_real_api_server(cluster: Cluster) -> None:
    (binding,) = [
        o
        for o in rendered(OVERLAYS / "openshift")
        if o["kind"] == "RoleBinding" and o["metadata"]["name"] == "spidernet-node-privileged-scc"
    ]
    status, reply = manifests.apply(cluster.cp, binding, dry_run=True)
    assert status in (200, 201), reply
