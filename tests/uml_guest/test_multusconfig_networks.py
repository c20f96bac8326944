"""The NADs our example SpiderMultusConfigs render for VLAN, bond and ipvlan run through
libcni in the UML guest (their kernel drivers live only there) and give pods addresses.
The examples are in upstream's docs shape (the KubeCon slide's macvlan on VLAN 100, the
docs' ipvlan on a bond); tests/integration/smc_networks.py renders them.

| example          | node        | expected                                                        |
|------------------|-------------|-----------------------------------------------------------------|
| smc-vlan100-ens1 | ens1        | ifacer first: ens1.100 made; the pod's macvlan on it gets an    |
|                  |             | address of smc-vlan100-v4; DEL frees it                         |
| smc-ipvlan-ens1  | ens1        | no ifacer (no VLAN, one NIC); an ipvlan NIC in the pod with an  |
|                  |             | address of smc-ipvlan-ens1-v4                                   |
| smc-bond-vlan200 | ens1 + ens2 | sp_bond0 active-backup over both, sp_bond0.200; the ipvlan      |
|                  |             | NIC's address from smc-bond-vlan200-v4                          |
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration import smc_networks
from tests.integration.ipam_scenarios import Scenario, SimNode
from tests.uml_guest.test_ifacer_chain import add_second_nic, link
from tools.testbed import cni, netns
from tools.testbed.cluster import Cluster

pytestmark = [pytest.mark.apiserver, pytest.mark.netns]


@pytest.fixture
def sc(
    cluster: Cluster, api_underlay: netns.Underlay, tmp_path: Path, bundle_bin: Path
) -> Scenario:
    return Scenario(cluster, api_underlay, tmp_path)


def run_and_release(
    sc: Scenario, node: SimNode, name: str, chain: list[str]
) -> tuple[str, netns.Netns]:
    """ADD through the rendered chain, then DEL; the pod's address (and the pod netns)."""
    conflist, pools = smc_networks.network(sc.cluster, name, node)
    assert [p["type"] for p in conflist["plugins"]] == chain
    rt = cni.Runtime(conflist, node=node.netns, extra_env=node.config.env)
    ref, pod = sc.pod("a", node)
    result = rt.add(ref.container_id, pod.path, pod=ref)
    address = str(result["ips"][0]["address"])
    assert pod.addresses("eth0") == [address]
    kind = netns.ip_json("-d", "link", "show", "dev", "eth0", netns=pod.name)[0]["linkinfo"][
        "info_kind"
    ]
    assert kind == chain[-2]
    sc.cluster.delete_pod(sc.ns, "a")
    rt.delete(ref.container_id, pod.path, pod=ref)
    assert all(sc.cluster.records(p) == {} for p in pools)
    smc_networks.remove_pools(sc.cluster, pools)
    return address, pod


def test_the_vlan_example_renders_ifacer_first_and_addresses_the_pod(sc: Scenario) -> None:
    node = sc.node(0)
    address, _ = run_and_release(sc, node, "smc-vlan100-ens1", ["ifacer", "macvlan", "coordinator"])
    vlan = link(node, "ens1.100")
    assert (vlan["linkinfo"]["info_data"]["id"], vlan["link"]) == (100, "ens1")
    assert address.startswith("172.31.100.1")


def test_the_ipvlan_example_gives_the_pod_an_ipvlan_nic(sc: Scenario) -> None:
    address, _ = run_and_release(sc, sc.node(0), "smc-ipvlan-ens1", ["ipvlan", "coordinator"])
    assert address.startswith("172.31.20.1")


def test_the_bond_example_bonds_both_nics_under_its_vlan(sc: Scenario) -> None:
    node = sc.node(0)
    add_second_nic(sc.underlay, node, "ens2")
    address, _ = run_and_release(sc, node, "smc-bond-vlan200", ["ifacer", "ipvlan", "coordinator"])
    assert link(node, "sp_bond0")["linkinfo"]["info_data"]["mode"] == "active-backup"
    assert {link(node, nic).get("master") for nic in ("ens1", "ens2")} == {"sp_bond0"}
    assert link(node, "sp_bond0.200")["linkinfo"]["info_data"]["id"] == 200
    assert address.startswith("172.31.200.1")
