"""StatefulSet fixed IPs, multi-NIC pods and the pool rules of the spiderpool IPAM, through
libcni + Debian macvlan + the frozen binary.

| rule                         | case                                | expectation                |
|------------------------------|-------------------------------------|----------------------------|
| StatefulSet fixed IPs        | pod deleted and re-created 20x (new | the same 3 addresses every |
|                              | UID), 2 NICs, dual-stack            | time; records move         |
| StatefulSet scale-down       | replicas 2 -> 1, web-1 deleted, its | web-1's addresses          |
|                              | DELs                                | released, web-0's kept     |
| StatefulSet gone             | the StatefulSet deleted, then its   | released                   |
|                              | pod's DEL                           |                            |
| StatefulSet pools changed    | re-created with an ippool           | moved to the new pool,     |
|                              | annotation naming another pool      | nothing left in the old    |
| multi-NIC                    | eth0 + 2 ippools interfaces,        | all addresses,             |
|                              | dual-stack on one                   | cleangateway per NIC       |
| multi-NIC, failure           | the third NIC's pool is full;       | no record anywhere, no     |
|                              | Multus DELs every NIC               | endpoint                   |
| replicas across subnets      | one annotation, pools with          | each pod its zone's pool;  |
|                              | nodeAffinity per zone               | none: every pool named     |
|                              |                                     | with why                   |
| reserved / exclude / gateway | the only free one reserved (with,   | exhausted / skipped /      |
|                              | without ipVersion); excluded;       | refused with the reason    |
|                              | gateway in ips                      |                            |
| routes annotation            | a route whose gw is in the NIC's    | the first in the result,   |
|                              | subnet, one whose is not            | the second dropped         |
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.ipam_scenarios import Scenario, SimNode
from tools.testbed import cni, netns
from tools.testbed.cluster import Cluster, macvlan_conflist

pytestmark = [pytest.mark.apiserver, pytest.mark.netns]
IPPOOLS = "ipam.spidernet.io/ippools"
IPPOOL = "ipam.spidernet.io/ippool"


@pytest.fixture
def sc(
    cluster: Cluster, api_underlay: netns.Underlay, tmp_path: Path, bundle_bin: Path
) -> Scenario:
    return Scenario(cluster, api_underlay, tmp_path)


def nic(node: SimNode, name: str, **ipam: Any) -> cni.Runtime:
    """The runtime of one NIC's network (Multus runs one conflist per NIC)."""
    return cni.Runtime(
        macvlan_conflist(node.config, name=name, **ipam),
        node=node.netns,
        extra_env=node.config.env,
    )


def addresses(result: dict[str, Any]) -> list[str]:
    return sorted(i["address"] for i in result["ips"])


def holders(sc: Scenario, *pools: str) -> dict[str, str]:
    return {ip: r["podUid"] for p in pools for ip, r in sc.cluster.holders(p).items()}


# ------------------------------------------------------------------ StatefulSet


def _sts_pools(sc: Scenario) -> tuple[str, str, str]:
    v4, v6, extra = sc.name("v4"), sc.name("v6"), sc.name("x4")
    sc.cluster.pool(v4, "10.220.0.0/24", ["10.220.0.10-10.220.0.40"], gateway="10.220.0.1")
    sc.cluster.pool(v6, "fd00:220::/64", ["fd00:220::10-fd00:220::40"])
    sc.cluster.pool(extra, "10.221.0.0/24", ["10.221.0.10-10.221.0.40"])
    return v4, v6, extra


def _sts_annotations(v4: str, v6: str, extra: str) -> dict[str, str]:
    return {
        IPPOOLS: json.dumps(
            [
                {"interface": "eth0", "ipv4": [v4], "ipv6": [v6]},
                {"interface": "net1", "ipv4": [extra]},
            ]
        )
    }


def _sts_pod(
    sc: Scenario,
    node: SimNode,
    sts: dict[str, Any],
    name: str,
    gen: int,
    annotations: dict[str, str],
) -> tuple[cni.PodRef, netns.Netns]:
    obj = sc.cluster.pod(sc.ns, name, node.config.name, annotations=annotations, owner=sts)
    ref = cni.PodRef(sc.ns, name, obj["metadata"]["uid"], f"c-{name}-{gen}")
    return ref, sc.underlay.add_pod(f"{sc.ns[-4:]}{name[-1]}{gen}")


def test_a_statefulset_pod_re_created_20_times_keeps_its_addresses_on_both_nics(
    sc: Scenario,
) -> None:
    v4, v6, extra = _sts_pools(sc)
    node = sc.node()
    eth0, net1 = nic(node, "net-a"), nic(node, "net-b")
    sts = sc.cluster.statefulset(sc.ns, "web", replicas=1)
    anno = _sts_annotations(v4, v6, extra)
    first: list[str] = []
    uids = set()
    for gen in range(20):
        ref, pod = _sts_pod(sc, node, sts, "web-0", gen, anno)
        uids.add(ref.uid)
        got = addresses(eth0.add(ref.container_id, pod.path, "eth0", pod=ref)) + addresses(
            net1.add(ref.container_id, pod.path, "net1", pod=ref)
        )
        first = first or got
        assert got == first, f"round {gen}"
        assert set(holders(sc, v4, v6, extra).values()) == {ref.uid}
        sc.cluster.delete_pod(sc.ns, "web-0", grace=30)  # terminating: the pod's DELs come now
        for rt, ifname in ((net1, "net1"), (eth0, "eth0")):
            rt.delete(ref.container_id, pod.path, ifname, pod=ref)
        sc.cluster.delete_pod(sc.ns, "web-0")  # gone; the StatefulSet controller re-creates it
        pod.delete()
        assert len(holders(sc, v4, v6, extra)) == 3
    assert len(uids) == 20 and len(first) == 3


def test_scaling_a_statefulset_down_releases_the_out_of_range_ordinal(sc: Scenario) -> None:
    v4, _v6, _extra = _sts_pools(sc)
    node = sc.node()
    eth0 = nic(node, "net-a")
    sts = sc.cluster.statefulset(sc.ns, "db", replicas=2)
    anno = {IPPOOL: json.dumps({"ipv4": [v4]})}
    refs = {}
    for name in ("db-0", "db-1"):
        ref, pod = _sts_pod(sc, node, sts, name, 0, anno)
        eth0.add(ref.container_id, pod.path, pod=ref)
        refs[name] = (ref, pod)
    sc.cluster.scale(sc.ns, "db", 1)
    ref, pod = refs["db-1"]
    sc.cluster.delete_pod(sc.ns, "db-1")
    eth0.delete(ref.container_id, pod.path, pod=ref)
    assert set(holders(sc, v4).values()) == {refs["db-0"][0].uid}
    assert sc.cluster.endpoint(sc.ns, "db-1") is None


def test_a_pod_of_a_deleted_statefulset_is_released_by_its_del(sc: Scenario) -> None:
    v4, _, _ = _sts_pools(sc)
    node = sc.node()
    eth0 = nic(node, "net-a")
    sts = sc.cluster.statefulset(sc.ns, "old", replicas=1)
    ref, pod = _sts_pod(sc, node, sts, "old-0", 0, {IPPOOL: json.dumps({"ipv4": [v4]})})
    eth0.add(ref.container_id, pod.path, pod=ref)
    sc.cluster.cp.request("DELETE", f"/apis/apps/v1/namespaces/{sc.ns}/statefulsets/old")
    sc.cluster.delete_pod(sc.ns, "old-0")
    eth0.delete(ref.container_id, pod.path, pod=ref)
    assert holders(sc, v4) == {} and sc.cluster.endpoint(sc.ns, "old-0") is None


def test_a_re_created_statefulset_pod_whose_pool_changed_moves_to_the_new_pool(
    sc: Scenario,
) -> None:
    v4, _, extra = _sts_pools(sc)
    node = sc.node()
    eth0 = nic(node, "net-a")
    sts = sc.cluster.statefulset(sc.ns, "mv", replicas=1)
    ref, pod = _sts_pod(sc, node, sts, "mv-0", 0, {IPPOOL: json.dumps({"ipv4": [v4]})})
    eth0.add(ref.container_id, pod.path, pod=ref)
    sc.cluster.delete_pod(sc.ns, "mv-0")
    eth0.delete(ref.container_id, pod.path, pod=ref)
    assert list(holders(sc, v4).values()) == [ref.uid]  # kept for the re-created pod
    new, pod2 = _sts_pod(sc, node, sts, "mv-0", 1, {IPPOOL: json.dumps({"ipv4": [extra]})})
    got = eth0.add(new.container_id, pod2.path, pod=new)
    assert addresses(got) == ["10.221.0.10/24"]
    assert holders(sc, v4) == {} and list(holders(sc, extra).values()) == [new.uid]


# ------------------------------------------------------------------ multi-NIC


def test_a_pod_with_three_nics_gets_every_address_with_cleangateway_per_nic(sc: Scenario) -> None:
    v4, v6, extra = _sts_pools(sc)
    third = sc.name("t4")
    sc.cluster.pool(third, "10.222.0.0/24", ["10.222.0.10-10.222.0.11"], gateway="10.222.0.1")
    node = sc.node()
    anno = {
        IPPOOLS: json.dumps(
            [
                {"interface": "eth0", "ipv4": [v4], "ipv6": [v6]},
                {"interface": "net1", "ipv4": [extra]},
                {"interface": "net2", "ipv4": [third], "cleangateway": True},
            ]
        )
    }
    ref, pod = sc.pod("m", node, annotations=anno)
    got = {
        ifname: nic(node, f"net-{ifname}").add(ref.container_id, pod.path, ifname, pod=ref)
        for ifname in ("eth0", "net1", "net2")
    }
    assert addresses(got["eth0"]) == ["10.220.0.10/24", "fd00:220::10/64"]
    assert addresses(got["net1"]) == ["10.221.0.10/24"]
    assert addresses(got["net2"]) == ["10.222.0.10/24"]
    assert [r["dst"] for r in got["eth0"].get("routes", [])] == [
        "0.0.0.0/0"
    ]  # v6 pool has no gateway
    assert got["net2"].get("routes", []) == []  # cleangateway: no default route via 10.222.0.1


def test_a_failure_on_the_third_nic_leaves_nothing_once_the_runtime_deleted_every_nic(
    sc: Scenario,
) -> None:
    v4, v6, extra = _sts_pools(sc)
    full = sc.name("full")
    sc.cluster.pool(full, "10.223.0.0/24", ["10.223.0.10"])
    node = sc.node()
    blocker, bpod = sc.pod("blocker", node, annotations={IPPOOL: json.dumps({"ipv4": [full]})})
    nic(node, "net-x").add(blocker.container_id, bpod.path, pod=blocker)
    anno = {
        IPPOOLS: json.dumps(
            [
                {"interface": "eth0", "ipv4": [v4], "ipv6": [v6]},
                {"interface": "net1", "ipv4": [extra]},
                {"interface": "net2", "ipv4": [full]},
            ]
        )
    }
    ref, pod = sc.pod("m", node, annotations=anno)
    runtimes = {ifname: nic(node, f"net-{ifname}") for ifname in ("eth0", "net1", "net2")}
    for ifname in ("eth0", "net1"):
        runtimes[ifname].add(ref.container_id, pod.path, ifname, pod=ref)
    with pytest.raises(cni.CniFailure) as failure:
        runtimes["net2"].add(ref.container_id, pod.path, "net2", pod=ref)
    assert failure.value.code == 100 and full in failure.value.msg
    for ifname in ("net2", "net1", "eth0"):  # Multus undoes every delegate after a failed one
        runtimes[ifname].delete(ref.container_id, pod.path, ifname, pod=ref)
    assert holders(sc, v4, v6, extra) == {} and sc.cluster.endpoint(sc.ns, "m") is None
    assert list(holders(sc, full).values()) == [blocker.uid]


# ------------------------------------------------------------------ replicas across subnets


def test_one_annotation_gives_each_pod_its_zones_pool_and_names_every_pool_when_none_fits(
    sc: Scenario,
) -> None:
    zones = {"east": "10.224.1", "west": "10.224.2"}
    pools = []
    for zone, net in zones.items():
        name = sc.name(f"z-{zone}")
        sc.cluster.pool(
            name,
            f"{net}.0/24",
            [f"{net}.10-{net}.20"],
            nodeAffinity={"matchLabels": {"zone": zone}},
        )
        pools.append(name)
    anno = {IPPOOL: json.dumps({"ipv4": pools})}
    got = {}
    for i, zone in enumerate(["east", "west", "north"]):
        node = sc.node(i)
        sc.cluster.node(node.config.name)  # already there: label it
        sc.cluster.cp.request(
            "PATCH",
            f"/api/v1/nodes/{node.config.name}",
            {"metadata": {"labels": {"zone": zone}}},
            content_type="application/merge-patch+json",
        )
        ref, pod = sc.pod(f"r{i}", node, annotations=anno)
        try:
            got[zone] = addresses(node.runtime().add(ref.container_id, pod.path, pod=ref))
        except cni.CniFailure as e:
            got[zone] = [f"{e.code}: {e.msg}"]
    assert got["east"] == ["10.224.1.10/24"] and got["west"] == ["10.224.2.10/24"]
    assert got["north"][0].startswith("101: ")
    for name in pools:
        assert f"{name}: nodeAffinity does not match node" in got["north"][0]


# -------------------------------------------------------------- reserved, excluded, gateway, routes


@pytest.mark.parametrize("family", [4, None], ids=["ipVersion-4", "no-ipVersion"])
def test_a_reserved_address_is_never_handed_out_even_when_it_is_the_only_free_one(
    sc: Scenario, family: int | None
) -> None:
    """Upstream users write SpiderReservedIPs without ipVersion (its webhook fills it in):
    the family is each entry's own."""
    pool = sc.name("p")
    sc.cluster.pool(pool, "10.225.0.0/24", ["10.225.0.10-10.225.0.12"], excludeIPs=["10.225.0.11"])
    sc.cluster.reserved(sc.name("r"), family, ["10.225.0.12"])
    node = sc.node()
    rt = node.runtime(default_ipv4_ippool=[pool])
    ref, pod = sc.pod("a", node)
    assert addresses(rt.add(ref.container_id, pod.path, pod=ref)) == ["10.225.0.10/24"]
    other, opod = sc.pod("b", node)
    with pytest.raises(cni.CniFailure) as failure:
        rt.add(other.container_id, opod.path, pod=other)
    assert failure.value.code == 100 and "exhausted" in failure.value.msg
    assert list(sc.cluster.holders(pool)) == ["10.225.0.10"]


def test_a_pool_whose_gateway_lies_inside_its_ips_is_skipped_with_that_reason(sc: Scenario) -> None:
    bad, good = sc.name("bad"), sc.name("good")
    sc.cluster.pool(bad, "10.226.0.0/24", ["10.226.0.1-10.226.0.9"], gateway="10.226.0.1")
    sc.cluster.pool(good, "10.227.0.0/24", ["10.227.0.10"], gateway="10.227.0.1")
    node = sc.node()
    ref, pod = sc.pod("a", node, annotations={IPPOOL: json.dumps({"ipv4": [bad]})})
    with pytest.raises(cni.CniFailure) as failure:
        node.runtime().add(ref.container_id, pod.path, pod=ref)
    assert (
        failure.value.code == 101
        and "spec.gateway 10.226.0.1 is inside spec.ips" in failure.value.msg
    )
    ref2, pod2 = sc.pod("b", node, annotations={IPPOOL: json.dumps({"ipv4": [bad, good]})})
    assert addresses(node.runtime().add(ref2.container_id, pod2.path, pod=ref2)) == [
        "10.227.0.10/24"
    ]


def test_routes_from_the_annotation_join_the_nic_whose_subnet_holds_their_gateway(
    sc: Scenario,
) -> None:
    pool = sc.name("p")
    sc.cluster.pool(pool, "10.228.0.0/24", ["10.228.0.10"], gateway="10.228.0.1")
    node = sc.node()
    routes = [
        {"dst": "172.16.0.0/16", "gw": "10.228.0.254"},
        {"dst": "172.17.0.0/16", "gw": "192.168.9.1"},
    ]
    ref, pod = sc.pod("a", node, annotations={"ipam.spidernet.io/routes": json.dumps(routes)})
    got = node.runtime(default_ipv4_ippool=[pool]).add(ref.container_id, pod.path, pod=ref)
    assert [(r["dst"], r.get("gw")) for r in got["routes"]] == [
        ("0.0.0.0/0", "10.228.0.1"),
        ("172.16.0.0/16", "10.228.0.254"),
    ]
    again, pod2 = (
        dataclasses.replace(ref, container_id="c-a-2"),
        sc.underlay.add_pod(f"{sc.ns[-4:]}a2"),
    )
    assert (
        node.runtime(default_ipv4_ippool=[pool]).add(again.container_id, pod2.path, pod=again)[
            "routes"
        ]
        == got["routes"]
    )
