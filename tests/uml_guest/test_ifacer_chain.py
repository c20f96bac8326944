"""ifacer -> Debian macvlan -> spiderpool through libcni, against a control plane that runs
in the same UML guest (the guest has no path to the host's loopback; docs/testbed.md).

| chain                                         | expectation                                     |
|-----------------------------------------------|-------------------------------------------------|
| ifacer(ens1, VLAN 100) -> macvlan(ens1.100)   | pod addressed from the pool; VLAN id 100 on the |
| on two nodes, two pods on node 0, one on 1    | node as the kernel reports it; the second pod   |
|                                               | reuses the device; pods on both nodes ping each |
|                                               | other through the tagged fabric; DEL of node 0's|
|                                               | pods leaves ens1.100 up and frees their IPs     |
| ifacer(bond of ens1+ens2, mode 1, miimon,     | bond mode, miimon and primary read back, both   |
| primary, VLAN 200) -> macvlan(sp_bond0.200)   | NICs enslaved; the second pod reuses the bond;  |
|                                               | DEL of both leaves bond and VLAN up             |
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.ipam_scenarios import Scenario, SimNode
from tools.testbed import cni, netns
from tools.testbed.cluster import Cluster

pytestmark = [pytest.mark.apiserver, pytest.mark.netns]


@pytest.fixture
def sc(
    cluster: Cluster, api_underlay: netns.Underlay, tmp_path: Path, bundle_bin: Path
) -> Scenario:
    return Scenario(cluster, api_underlay, tmp_path)


def chain(node: SimNode, ifacer: dict[str, Any], master: str, pool: str) -> cni.Runtime:
    conflist = {
        "cniVersion": "1.0.0",
        "name": "underlay-vlan",
        "plugins": [
            {"type": "ifacer", **ifacer},
            {
                "type": "macvlan",
                "master": master,
                "mode": "bridge",
                "ipam": node.config.ipam(default_ipv4_ippool=[pool]),
            },
        ],
    }
    return cni.Runtime(conflist, node=node.netns, extra_env=node.config.env)


def link(node: SimNode, name: str) -> dict[str, Any]:
    found = netns.ip_json("-d", "link", "show", "dev", name, netns=node.netns.name)
    assert found, f"{name} is missing on {node.netns.name}"
    return found[0]


def add(rt: cni.Runtime, ref: cni.PodRef, pod: netns.Netns) -> str:
    result = rt.add(ref.container_id, pod.path, pod=ref)
    return str(result["ips"][0]["address"])


def test_a_vlan_chain_addresses_pods_reuses_the_device_and_keeps_it_after_del(sc: Scenario) -> None:
    pool = sc.name("vlan100")
    sc.cluster.pool(pool, "10.70.0.0/24", ["10.70.0.10-10.70.0.20"])
    n0, n1 = sc.node(0), sc.node(1)
    rt0, rt1 = (
        chain(n, {"interfaces": ["ens1"], "vlanID": 100}, "ens1.100", pool) for n in (n0, n1)
    )
    (a, pod_a), (b, pod_b), (c, pod_c) = sc.pod("a", n0), sc.pod("b", n0), sc.pod("c", n1)

    ip_a = add(rt0, a, pod_a)
    vlan = link(n0, "ens1.100")
    assert (vlan["linkinfo"]["info_kind"], vlan["linkinfo"]["info_data"]["id"], vlan["link"]) == (
        "vlan",
        100,
        "ens1",
    )
    ip_b, ip_c = add(rt0, b, pod_b), add(rt1, c, pod_c)
    assert link(n0, "ens1.100")["ifindex"] == vlan["ifindex"]  # reused, not re-made
    assert len({ip_a, ip_b, ip_c}) == 3 and all(
        ip.startswith("10.70.0.") for ip in (ip_a, ip_b, ip_c)
    )
    assert pod_a.addresses("eth0") == [ip_a]
    assert pod_a.ping(ip_c.split("/")[0]), "pods on two nodes should reach each other over VLAN 100"

    rt0.delete(a.container_id, pod_a.path, pod=a)
    rt0.delete(b.container_id, pod_b.path, pod=b)
    sc.cluster.delete_pod(sc.ns, "a")
    sc.cluster.delete_pod(sc.ns, "b")
    rt0.delete(a.container_id, pod_a.path, pod=a)  # DEL after the pods are gone releases
    rt0.delete(b.container_id, pod_b.path, pod=b)
    assert "UP" in link(n0, "ens1.100")["flags"]
    assert list(sc.cluster.records(pool)) == [ip_c.split("/")[0]]
    rt1.delete(c.container_id, pod_c.path, pod=c)


def add_second_nic(underlay: netns.Underlay, node: SimNode, name: str) -> None:
    port = f"{node.netns.name[-6:]}{name}"
    netns.ip("link", "add", name, "type", "veth", "peer", "name", port, netns=node.netns.name)
    netns.ip("link", "set", port, "netns", underlay.fabric.name, netns=node.netns.name)
    netns.ip("link", "set", port, "master", "br0", "up", netns=underlay.fabric.name)


def test_a_bond_chain_builds_the_bond_once_and_keeps_it_after_del(sc: Scenario) -> None:
    pool = sc.name("bond200")
    sc.cluster.pool(pool, "10.71.0.0/24", ["10.71.0.10-10.71.0.20"])
    node = sc.node(0)
    add_second_nic(sc.underlay, node, "ens2")
    ifacer = {
        "interfaces": ["ens1", "ens2"],
        "vlanID": 200,
        "bond": {"mode": 1, "options": "miimon=100;primary=ens1"},
    }
    rt = chain(node, ifacer, "sp_bond0.200", pool)
    (a, pod_a), (b, pod_b) = sc.pod("a", node), sc.pod("b", node)

    ip_a = add(rt, a, pod_a)
    bond = link(node, "sp_bond0")
    info = bond["linkinfo"]["info_data"]
    assert (info["mode"], info["miimon"], info["primary"]) == ("active-backup", 100, "ens1")
    assert {link(node, nic).get("master") for nic in ("ens1", "ens2")} == {"sp_bond0"}
    vlan = link(node, "sp_bond0.200")
    assert (vlan["linkinfo"]["info_data"]["id"], vlan["link"]) == (200, "sp_bond0")
    ip_b = add(rt, b, pod_b)
    assert link(node, "sp_bond0")["ifindex"] == bond["ifindex"]
    assert ip_a != ip_b and pod_b.addresses("eth0") == [ip_b]

    for ref, pod in ((a, pod_a), (b, pod_b)):
        sc.cluster.delete_pod(sc.ns, ref.name)
        rt.delete(ref.container_id, pod.path, pod=ref)
    assert all("UP" in link(node, name)["flags"] for name in ("sp_bond0", "sp_bond0.200"))
    assert sc.cluster.records(pool) == {}
