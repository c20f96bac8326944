"""The manifests render, validate against current Kubernetes schemas and are accepted by a
real API server (installer/manifests, docs/install.md).

| case            | how                                   | expected                              |
|-----------------|---------------------------------------|---------------------------------------|
| renders         | ``kubectl kustomize`` of              | every object, the image named         |
|                 | installer/manifests and of its        |                                       |
|                 | examples                              |                                       |
| one CRD list    | the top-level kustomization vs        | the same files                        |
|                 | crds/kustomization.yaml               |                                       |
| current schemas | kubernetes-validate, strict,          | every built-in object valid           |
|                 | Kubernetes 1.28 and the newest it     |                                       |
|                 | knows                                 |                                       |
| real server     | server-side apply, dry run, on the    | every object accepted                 |
|                 | 1.20 apiserver (CronJob as            |                                       |
|                 | batch/v1beta1, the DaemonSet without  |                                       |
|                 | 1.22's maxSurge)                      |                                       |
| examples        | pools and NADs, and the               | accepted                              |
|                 | SpiderMultusConfig examples, dry run, |                                       |
|                 | with Multus's NAD CRD installed       |                                       |
| examples        | each NAD's config                     | a conflist ifacer -> macvlan or       |
|                 |                                       | ipvlan -> coordinator, IPAM           |
|                 |                                       | spiderpool, its pools exist and name  |
|                 |                                       | it in multusName                      |
| DaemonSet       | the fields docs/install.md promises   | host paths, every taint tolerated,    |
|                 |                                       | node-critical, surge rollout,         |
|                 |                                       | requests, readiness on the            |
|                 |                                       | installer's file                      |
| CronJob         | the GC                                | every minute, Forbid, its own         |
|                 |                                       | account, the gc/main.py entry point   |
"""

from __future__ import annotations

import json
import os
from typing import Any

import kubernetes_validate
import pytest
import yaml

from installer import settings
from spidernet.protocol import outcomes
from tools.testbed import crds, manifests
from tools.testbed.cluster import Cluster

pytestmark = pytest.mark.skipif(
    manifests.kubectl() is None, reason="kubectl is not installed (it renders the manifests)"
)

# Multus's CRD, as Multus ships it (spec.config a string), for the example NADs.
BUILT_IN_GROUPS = (
    "v1",
    "apps/v1",
    "batch/v1",
    "rbac.authorization.k8s.io/v1",
    "apiextensions.k8s.io/v1",
    "admissionregistration.k8s.io/v1",
)


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return manifests.render(manifests.MANIFESTS)


@pytest.fixture(scope="module")
def examples() -> list[dict[str, Any]]:
    return manifests.render(manifests.MANIFESTS / "examples")


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def test_the_manifests_render_every_object_with_the_image_named(
    objects: list[dict[str, Any]],
) -> None:
    kinds = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objects)
    assert kinds == sorted(
        [
            "CustomResourceDefinition/spiderippools.spiderpool.spidernet.io",
            "CustomResourceDefinition/spiderendpoints.spiderpool.spidernet.io",
            "CustomResourceDefinition/spiderreservedips.spiderpool.spidernet.io",
            "CustomResourceDefinition/spidermultusconfigs.spiderpool.spidernet.io",
            "ServiceAccount/spidernet-node",
            "ServiceAccount/spidernet-gc",
            "ClusterRole/spidernet-ipam",
            "ClusterRole/spidernet-gc",
            "ClusterRole/spidernet-cli",
            "ClusterRoleBinding/spidernet-ipam",
            "ClusterRoleBinding/spidernet-gc",
            "Role/spidernet-gc-state",
            "RoleBinding/spidernet-gc-state",
            "Role/spidernet-node-usage",
            "RoleBinding/spidernet-node-usage",
            "ConfigMap/spidernet-ipam",
            "DaemonSet/spidernet-installer",
            "CronJob/spidernet-gc",
            "Role/spidernet-webhook-claims",
            "RoleBinding/spidernet-webhook-claims",
            "Service/spidernet-webhook",
            "ConfigMap/spidernet-pool-claims",
            "ValidatingWebhookConfiguration/spidernet",
            "MutatingWebhookConfiguration/spidernet",
        ]
    )
    ds, cj = (
        one(objects, "DaemonSet", "spidernet-installer"),
        one(objects, "CronJob", "spidernet-gc"),
    )
    assert ds["spec"]["template"]["spec"]["containers"][0]["image"] == "spidernet:0.1.0"
    assert (
        cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"]
        == "spidernet:0.1.0"
    )


def test_the_top_level_lists_exactly_the_crds_of_the_crd_kustomization() -> None:
    top = yaml.safe_load((manifests.MANIFESTS / "kustomization.yaml").read_text())["resources"]
    crds = yaml.safe_load((manifests.MANIFESTS / "crds" / "kustomization.yaml").read_text())[
        "resources"
    ]
    assert [r for r in top if r.startswith("crds/")] == [f"crds/{r}" for r in crds]


@pytest.mark.parametrize("version", ["1.28.0", kubernetes_validate.latest_version()])
def test_every_built_in_object_is_valid_for_a_current_kubernetes(
    objects: list[dict[str, Any]], version: str
) -> None:
    checked = [o for o in objects if o["apiVersion"] in BUILT_IN_GROUPS]
    assert len(checked) == len(objects)
    for obj in checked:
        kubernetes_validate.validate(obj, version, strict=True)  # raises naming the field


def test_every_object_is_accepted_by_the_real_api_server(
    cluster: Cluster, objects: list[dict[str, Any]]
) -> None:
    for obj in objects:
        status, reply = manifests.apply(cluster.cp, manifests.for_1_20(obj), dry_run=True)
        assert status in (200, 201), f"{obj['kind']}/{obj['metadata']['name']}: {reply}"


def test_the_example_pools_and_networks_are_accepted_by_the_real_api_server(
    cluster: Cluster, examples: list[dict[str, Any]]
) -> None:
    crds.install_multus(cluster.cp)
    for obj in examples + manifests.render(manifests.MANIFESTS / "examples" / "multusconfigs"):
        status, reply = manifests.apply(cluster.cp, obj, dry_run=True)
        assert status in (200, 201), f"{obj['kind']}/{obj['metadata']['name']}: {reply}"


def test_each_example_network_is_an_ifacer_main_spiderpool_coordinator_chain_on_its_own_pools(
    examples: list[dict[str, Any]],
) -> None:
    pools = {o["metadata"]["name"]: o["spec"] for o in examples if o["kind"] == "SpiderIPPool"}
    nads = [o for o in examples if o["kind"] == "NetworkAttachmentDefinition"]
    assert sorted(n["metadata"]["name"] for n in nads) == [
        "bond-vlan200",
        "ipvlan-ens1",
        "macvlan-ens1",
        "vlan100-ens1",
    ]
    for nad in nads:
        conf = json.loads(nad["spec"]["config"])
        key = f"{nad['metadata']['namespace']}/{nad['metadata']['name']}"
        assert conf["name"] == nad["metadata"]["name"]
        assert [p["type"] for p in conf["plugins"]] in (
            ["ifacer", "macvlan", "coordinator"],
            ["ifacer", "ipvlan", "coordinator"],
        )
        ipam = conf["plugins"][1]["ipam"]
        assert ipam["type"] == "spiderpool"
        named = ipam.get("default_ipv4_ippool", []) + ipam.get("default_ipv6_ippool", [])
        assert named and all(key in pools[p]["multusName"] for p in named), key


def test_the_installer_daemonset_has_what_spec_6_asks_for(objects: list[dict[str, Any]]) -> None:
    ds = one(objects, "DaemonSet", "spidernet-installer")
    pod = ds["spec"]["template"]["spec"]
    container = pod["containers"][0]
    host = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    defaults = settings.Settings()
    assert host == {
        "cni-bin": "/opt/cni/bin",
        "cni-conf": "/etc/cni/net.d",
        "outcomes": os.path.dirname(outcomes.DEFAULT_PATH),
    }
    assert (mounts["cni-bin"], mounts["cni-conf"]) == (defaults.cni_bin_dir, defaults.cni_conf_dir)
    assert mounts["outcomes"] == os.path.dirname(defaults.outcomes_file)
    assert defaults.outcomes_file.endswith(outcomes.DEFAULT_PATH)
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert pod["priorityClassName"] == "system-node-critical"
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert container["readinessProbe"]["exec"]["command"] == ["test", "-e", defaults.ready_file]
    port = container["ports"][0]
    assert (port["name"], port["containerPort"]) == ("metrics", defaults.metrics_port)
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["command"] == ["python3", "-m", "installer"]
    assert (
        pod["serviceAccountName"] == "spidernet-node"
        and pod["automountServiceAccountToken"] is False
    )
    token = next(v for v in pod["volumes"] if v["name"] == "token")["projected"]["sources"]
    assert (
        mounts["token"] + "/token" == defaults.token_file
        and token[0]["serviceAccountToken"]["path"] == "token"
    )


def test_the_gc_cronjob_runs_every_minute_never_twice_at_once_as_its_own_account(
    objects: list[dict[str, Any]],
) -> None:
    cj = one(objects, "CronJob", "spidernet-gc")
    assert (cj["spec"]["schedule"], cj["spec"]["concurrencyPolicy"]) == ("* * * * *", "Forbid")
    pod = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "spidernet-gc"
    assert pod["containers"][0]["command"] == ["python3", "/opt/spidernet/gc/main.py"]
