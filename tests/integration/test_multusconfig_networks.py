"""The NADs our example SpiderMultusConfigs render run through libcni on the host kernel and
give pods addresses (macvlan needs nothing more; the VLAN, bond and ipvlan examples run
in the UML guest: tests/uml_guest/test_multusconfig_networks.py).

| example (upstream's docs       | chain rendered           | expected                            |
| shape)                         |                          |                                     |
|--------------------------------|--------------------------|-------------------------------------|
| smc-macvlan-ens1: macvlan on   | macvlan + spiderpool,    | one address of each pool on eth0;   |
| ens1, v4 + v6 pools            | coordinator              | DEL frees both                      |
| smc-macvlan-tuned: a chained   | macvlan, tuning,         | the address; the sysctl set in the  |
| tuning plugin, coordinator     | coordinator              | pod; the MAC starts 0a:1b           |
| mode and MAC prefix, CNI 1.0.0 |                          |                                     |
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration import smc_networks
from tests.integration.ipam_scenarios import Scenario
from tools.testbed import cni, netns
from tools.testbed.cluster import Cluster

pytestmark = [pytest.mark.apiserver, pytest.mark.netns]


@pytest.fixture
def sc(
    cluster: Cluster, api_underlay: netns.Underlay, tmp_path: Path, bundle_bin: Path
) -> Scenario:
    return Scenario(cluster, api_underlay, tmp_path)


def test_the_dual_stack_macvlan_example_addresses_the_pod_from_both_pools(sc: Scenario) -> None:
    node = sc.node(0)
    conflist, pools = smc_networks.network(sc.cluster, "smc-macvlan-ens1", node)
    try:
        assert [p["type"] for p in conflist["plugins"]] == ["macvlan", "coordinator"]
        rt = cni.Runtime(conflist, node=node.netns, extra_env=node.config.env)
        ref, pod = sc.pod("a", node)
        result = rt.add(ref.container_id, pod.path, pod=ref)
        got = sorted(str(ip["address"]) for ip in result["ips"])
        assert got[0].startswith("172.31.10.1") and got[1].startswith("fd00:172:31:10::")
        assert sorted(pod.addresses("eth0")) == got
        assert [sc.cluster.holders(p) != {} for p in pools] == [True, True]
        sc.cluster.delete_pod(sc.ns, "a")
        rt.delete(ref.container_id, pod.path, pod=ref)
        assert all(sc.cluster.records(p) == {} for p in pools)
    finally:
        smc_networks.remove_pools(sc.cluster, pools)


def test_the_tuned_example_runs_its_chained_plugin_and_the_coordinators_keys(sc: Scenario) -> None:
    node = sc.node(0)
    conflist, pools = smc_networks.network(sc.cluster, "smc-macvlan-tuned", node)
    try:
        assert [p["type"] for p in conflist["plugins"]] == ["macvlan", "tuning", "coordinator"]
        rt = cni.Runtime(conflist, node=node.netns, extra_env=node.config.env)
        ref, pod = sc.pod("a", node)
        result = rt.add(ref.container_id, pod.path, pod=ref)
        assert str(result["ips"][0]["address"]).startswith("172.31.30.1")
        sysctl = pod.run("cat", "/proc/sys/net/ipv4/conf/eth0/arp_notify").stdout
        assert sysctl.strip() == "1"
        eth0 = netns.ip_json("link", "show", "dev", "eth0", netns=pod.name)[0]
        assert eth0["address"].startswith("0a:1b:")
        sc.cluster.delete_pod(sc.ns, "a")
        rt.delete(ref.container_id, pod.path, pod=ref)
        assert all(sc.cluster.records(p) == {} for p in pools)
    finally:
        smc_networks.remove_pools(sc.cluster, pools)
