"""The example networks of installer/manifests/examples run through libcni as shipped, in
the UML guest (VLAN, bond and ipvlan need its kernel): the example pools applied as they
are, each NAD's config unchanged but for where the node keeps its kubeconfig, locks,
notes and logs (the defaults are the real host's /etc/cni/net.d and /var/lib/cni).

| example      | node        | expected                                                            |
|--------------|-------------|---------------------------------------------------------------------|
| vlan100-ens1 | ens1        | ens1.100 made; the pod on eth0 gets an address of vlan100-v4; DEL   |
|              |             | frees it                                                            |
| bond-vlan200 | ens1 + ens2 | sp_bond0 active-backup with both, sp_bond0.200; address of          |
|              |             | bond-vlan200-v4 outside excludeIPs; DEL frees it                    |
| ipvlan-ens1  | ens1        | an ipvlan NIC in the pod with an address of ipvlan-ens1-v4; DEL     |
|              |             | frees it                                                            |
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.ipam_scenarios import Scenario, SimNode
from tests.uml_guest.test_ifacer_chain import add_second_nic, link
from tools.testbed import cni, manifests, netns
from tools.testbed.cluster import Cluster

pytestmark = [pytest.mark.apiserver, pytest.mark.netns]
EXAMPLES = manifests.MANIFESTS / "examples"


def network(cluster: Cluster, name: str, node: SimNode) -> tuple[dict[str, Any], list[str]]:
    """The NAD's conflist with this node's paths, and its pools, applied to the cluster."""
    objects = manifests.listed(EXAMPLES)
    nad = next(
        o
        for o in objects
        if o["kind"] == "NetworkAttachmentDefinition" and o["metadata"]["name"] == name
    )
    key = f"{nad['metadata']['namespace']}/{name}"
    pools = [
        o for o in objects if o["kind"] == "SpiderIPPool" and key in o["spec"].get("multusName", [])
    ]
    for pool in pools:
        assert manifests.apply(cluster.cp, pool, dry_run=False)[0] in (200, 201)
    conflist = json.loads(nad["spec"]["config"])
    main, coordinator = conflist["plugins"][1], conflist["plugins"][2]
    main["ipam"] = {**main["ipam"], **node.config.ipam()}
    coordinator["logOptions"] = {"logFile": str(node.config.dir / "coordinator.log")}
    return conflist, [p["metadata"]["name"] for p in pools]


@pytest.fixture
def sc(
    cluster: Cluster, api_underlay: netns.Underlay, tmp_path: Path, bundle_bin: Path
) -> Scenario:
    return Scenario(cluster, api_underlay, tmp_path)


def run(
    sc: Scenario, node: SimNode, name: str
) -> tuple[str, list[str], cni.Runtime, cni.PodRef, netns.Netns]:
    conflist, pools = network(sc.cluster, name, node)
    rt = cni.Runtime(conflist, node=node.netns, extra_env=node.config.env)
    ref, pod = sc.pod("a", node)
    result = rt.add(ref.container_id, pod.path, pod=ref)
    return str(result["ips"][0]["address"]), pools, rt, ref, pod


def release(
    sc: Scenario, rt: cni.Runtime, ref: cni.PodRef, pod: netns.Netns, pools: list[str]
) -> None:
    sc.cluster.delete_pod(sc.ns, ref.name)
    rt.delete(ref.container_id, pod.path, pod=ref)
    assert all(sc.cluster.records(p) == {} for p in pools)


def test_the_vlan_example_makes_its_vlan_and_addresses_the_pod_from_its_pool(sc: Scenario) -> None:
    node = sc.node(0)
    address, pools, rt, ref, pod = run(sc, node, "vlan100-ens1")
    vlan = link(node, "ens1.100")
    assert (vlan["linkinfo"]["info_data"]["id"], vlan["link"]) == (100, "ens1")
    assert address.startswith("172.30.100.1") and pod.addresses("eth0") == [address]
    release(sc, rt, ref, pod, pools)


def test_the_bond_example_bonds_both_nics_and_skips_its_excluded_address(sc: Scenario) -> None:
    node = sc.node(0)
    add_second_nic(sc.underlay, node, "ens2")
    address, pools, rt, ref, pod = run(sc, node, "bond-vlan200")
    assert link(node, "sp_bond0")["linkinfo"]["info_data"]["mode"] == "active-backup"
    assert {link(node, nic).get("master") for nic in ("ens1", "ens2")} == {"sp_bond0"}
    assert link(node, "sp_bond0.200")["linkinfo"]["info_data"]["id"] == 200
    assert address.startswith("172.30.200.1") and address != "172.30.200.150/24"
    release(sc, rt, ref, pod, pools)


def test_the_ipvlan_example_gives_the_pod_an_ipvlan_nic_from_its_pool(sc: Scenario) -> None:
    node = sc.node(0)
    address, pools, rt, ref, pod = run(sc, node, "ipvlan-ens1")
    eth0 = netns.ip_json("-d", "link", "show", "dev", "eth0", netns=pod.name)[0]
    assert eth0["linkinfo"]["info_kind"] == "ipvlan"
    assert address.startswith("172.30.20.1") and pod.addresses("eth0") == [address]
    release(sc, rt, ref, pod, pools)
