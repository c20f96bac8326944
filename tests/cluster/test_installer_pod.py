"""The installer DaemonSet as pods under real kubelets, and what the kubelets leave of the machine.

- every node: its installer pod Ready; the node's /opt/cni/bin has our three plugins
  (links into ``.spidernet/current``), its /etc/cni/net.d/spiderpool.d the kubeconfig,
  ``nodename``, the token kubelet projected into that very pod, and the cluster IPAM
  config with the values of the ConfigMap the manifests install (the plugins take their
  kubeconfig path, lock and log paths from it);
- kubelet's global sysctls: each kubelet wrote its values into the node's shadow files;
  the machine's own values are unchanged;
- the machine's mount table: nothing of the nodes' mounts (kubelet's rshared root dir,
  projected-volume tmpfs, overlay rootfs).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.testbed import kubenode
from tools.testbed.kubecluster import LocalCluster

pytestmark = pytest.mark.cluster

KUBELET_WANTS = {
    "vm/overcommit_memory": "1",
    "vm/panic_on_oom": "0",
    "kernel/panic": "10",
    "kernel/panic_on_oops": "1",
}


def test_every_node_runs_an_installer_pod_that_fills_the_nodes_cni_directories(kube: LocalCluster):
    configmap = kube.api.request("GET", "/api/v1/namespaces/kube-system/configmaps/spidernet-ipam")
    assert configmap[0] == 200, configmap
    ipam_config = json.loads(configmap[1]["data"]["cluster-ipam.json"])
    pods = kube.installer_pods()
    assert sorted(pods) == sorted(n.name for n in kube.nodes)
    for node in kube.nodes:
        pod = pods[node.name]
        assert all(c["ready"] for c in pod["status"]["containerStatuses"]), node.name
        bin_dir = node.host_path("/opt/cni/bin")
        current = (bin_dir / ".spidernet" / "current").resolve()
        manifest = json.loads((current / "MANIFEST.json").read_text())
        for plugin in ("ifacer", "spiderpool", "coordinator"):
            link = bin_dir / plugin
            assert link.is_symlink() and link.resolve().is_relative_to(current), plugin
        conf = node.host_path("/etc/cni/net.d/spiderpool.d")
        assert (conf / "nodename").read_text().strip() == node.name
        kubeconfig = json.loads((conf / "spiderpool.kubeconfig").read_text())
        assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://10.96.0.1:443"
        assert json.loads((conf / "cluster-ipam.json").read_text()) == ipam_config, node.name
        claims = kube.node_token_claims(node)["kubernetes.io"]
        assert claims["pod"]["name"] == pod["metadata"]["name"]
        assert claims["pod"]["uid"] == pod["metadata"]["uid"]
        assert claims["serviceaccount"]["name"] == "spidernet-node"
        print(f"{node.name}: {manifest['version']} installed, token of {claims['pod']['name']}")


def test_kubelets_sysctl_writes_land_in_the_nodes_files_and_the_machine_keeps_its_values(
    kube: LocalCluster, host_sysctls: dict[str, str]
):
    for node in kube.nodes:
        written = node.shadowed_sysctls()
        assert {k: written[k] for k in KUBELET_WANTS} == KUBELET_WANTS, node.name
    assert kubenode.read_sysctls() == host_sysctls


def test_no_mount_of_a_node_reaches_the_machines_mount_table(kube: LocalCluster):
    mounts = Path("/proc/self/mounts").read_text()
    for node in kube.nodes:
        assert str(node.workdir) not in mounts
    for path in ("/var/lib/kubelet", "/opt/cni/bin", "/etc/cni/net.d", "/run/containerd"):
        assert f" {path}" not in mounts, path
