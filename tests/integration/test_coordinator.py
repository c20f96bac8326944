"""coordinator as the frozen binary, chained after Debian's macvlan + our spiderpool, through
libcni.

Every case runs in namespaces of its own: a node netns (the runtime and plugins run
there), pod netns, and fabric peers (a router holding the pools' gateways and a
client address, or an address squatter). Kernel state is read with ``ip -j``.

Case matrix:
| case                                        | expectation                                        |
|---------------------------------------------|----------------------------------------------------|
| single NIC, v4 / v6 / dual-stack            | veth0 <-> veth<cid>; pod: host /32 or /128 and    |
|                                             | hijack CIDR via veth0, permanent neighbours,       |
|                                             | fwmark -> table 100; host: from all lookup 500,    |
|                                             | pod /32 or /128 in 500; pings pod -> host, pod -> |
|                                             | hijacked address, host -> pod; CHECK               |
| three NICs (eth0, net1, net2), 3 subnets    | tables 101, 102 with from-rules; main default on   |
|                                             | podDefaultRouteNic; a router's pings to each NIC   |
|                                             | are answered through that NIC (tx counters, route  |
|                                             | get)                                               |
| IP already owned by a fabric host           | ADD code 110 naming IP and MAC; runtime DEL frees  |
|                                             | the IP                                             |
| gateway absent, detectGateway               | ADD code 111 naming the gateway                    |
| detectOptions absent / retries 5 / 1        | a listener on the fabric counts 3 / 5 / 1 ARP      |
|                                             | probes                                             |
| DEL                                         | host veth and table-500 routes gone; also after    |
|                                             | the pod netns was deleted first; the shared rule   |
|                                             | stays                                              |
| CNI_NETNS a plain file or a directory       | DEL 0 (host veth gone), CHECK 8                    |
| netns unmounted, its path left (libcni DEL) | the coordinator's DEL succeeds, so the IPAM's DEL  |
|                                             | runs and the address is released                   |
| re-ADD of the same sandbox fails late       | the first ADD's veth, table-500 routes and         |
|                                             | neighbours stay; the node still reaches the pod    |
| bad config (mode, CIDR, MAC prefix, MTU)    | code 7 naming the key; node state unchanged        |
| podDefaultRouteNic names no pod NIC         | code 7; node state as after the first NIC          |
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration import coordinator_env as env
from tests.integration.coordinator_env import CoordinatorEnv
from tests.integration.wire import Wire
from tools.testbed import cni, netns

pytestmark = [pytest.mark.apiserver, pytest.mark.netns]

HIJACK_V4, HIJACK_V6 = "10.250.0.0/16", "fd25::/64"
HIJACKED_V4, HIJACKED_V6 = "10.250.0.1", "fd25::1"  # held by the node: reachable only via veth0


def ip_of(cidr: str) -> str:
    return cidr.split("/")[0]


def eventually_pings(ns: netns.Netns, address: str, *, source: str = "") -> bool:
    """A few single pings: the first may wait for neighbour resolution on the fabric."""
    flag = "-6" if ":" in address else "-4"
    argv = ["ping", flag, "-c", "1", "-W", "1", *(("-I", source) if source else ()), address]
    return any(ns.run(*argv, check=False).returncode == 0 for _ in range(5))


# ------------------------------------------------------------------ single NIC


FAMILIES = {
    "v4": (("10.130.0.2/24",), [("10.130.0.0/24", ["10.130.0.10-10.130.0.20"], "10.130.0.1")]),
    "v6": (("fd13::2/64",), [("fd13::/64", ["fd13::10-fd13::20"], "fd13::1")]),
    "dual": (
        ("10.131.0.2/24", "fd31::2/64"),
        [
            ("10.131.0.0/24", ["10.131.0.10-10.131.0.20"], "10.131.0.1"),
            ("fd31::/64", ["fd31::10-fd31::20"], "fd31::1"),
        ],
    ),
}


@pytest.mark.parametrize("family", ["v4", "v6", "dual"])
def test_a_single_nic_underlay_pod_talks_to_its_host_through_veth0(
    make_env: Any, family: str
) -> None:
    host_addrs, pool_specs = FAMILIES[family]
    e = make_env(*host_addrs)
    for cidr in (HIJACKED_V4 + "/32", HIJACKED_V6 + "/128"):
        netns.ip("addr", "add", cidr, "dev", "lo", netns=e.node.name)
    pools = [
        e.pool(f"p{i}", subnet, ips, gateway=gw) for i, (subnet, ips, gw) in enumerate(pool_specs)
    ]
    rt = e.runtime(e.conflist(pools, coordinator={"hijackCIDR": [HIJACK_V4, HIJACK_V6]}))
    ref, pod = e.pod("a")
    result = rt.add(ref.container_id, pod.path, pod=ref)
    pod_ips = [ip_of(ip["address"]) for ip in result["ips"]]
    host_veth = f"veth{ref.container_id[:11]}"
    assert env.link(e.node, host_veth)["operstate"] in ("UP", "UNKNOWN")
    veth0 = env.link(pod, "veth0")
    assert veth0["mtu"] == 1500
    for host_cidr in host_addrs:
        fam = "-6" if ":" in host_cidr else "-4"
        host_ip, pod_ip = (
            ip_of(host_cidr),
            next(ip for ip in pod_ips if (":" in ip) == (fam == "-6")),
        )
        _assert_pod_layout(e, pod, fam, host_ip, pod_ip, host_veth)
        _assert_host_layout(e, fam, pod_ip, host_veth, veth0["address"])
        assert eventually_pings(pod, host_ip), f"pod -> host {host_ip}"
        assert eventually_pings(pod, HIJACKED_V4 if fam == "-4" else HIJACKED_V6), (
            "pod -> hijacked CIDR"
        )
        assert eventually_pings(e.node, pod_ip), f"host -> pod {pod_ip}"
    rt.check(ref.container_id, pod.path, pod=ref)


def _assert_pod_layout(
    e: CoordinatorEnv, pod: netns.Netns, fam: str, host_ip: str, pod_ip: str, host_veth: str
) -> None:
    main = env.routes(pod, "main", fam)
    host_route = next(r for r in main if r["dst"] == host_ip)
    assert host_route["dev"] == "veth0"
    if fam == "-4":  # IPv6 routes carry no scope, and no src (upstream's kernel-bug workaround)
        assert (host_route["scope"], host_route["prefsrc"]) == ("link", pod_ip)
    hijack = next(r for r in main if r["dst"] == (HIJACK_V4 if fam == "-4" else HIJACK_V6))
    assert (hijack["gateway"], hijack["dev"]) == (host_ip, "veth0")
    default = next(r for r in main if r["dst"] == "default")
    assert default["dev"] == "eth0"
    table100 = env.routes(pod, "100", fam)
    assert {(r["dst"], r.get("gateway"), r["dev"]) for r in table100} >= {
        ("default", host_ip, "veth0")
    }
    mark_rule = next(r for r in env.rules(pod, fam) if r.get("fwmark"))
    assert (mark_rule["priority"], mark_rule["fwmark"], mark_rule["table"]) == (1000, "0x1", "100")
    neigh = next(n for n in env.neighbours(pod, "veth0") if n["dst"] == host_ip)
    assert neigh["state"] == ["PERMANENT"]
    assert neigh["lladdr"] == env.link(e.node, host_veth)["address"]
    tool = "iptables" if fam == "-4" else "ip6tables"
    mangle = pod.run(tool, "-t", "mangle", "-S").stdout
    assert (
        "-A PREROUTING -i veth0 -m conntrack --ctstate NEW -j MARK --set-xmark 0x1/0xffffffff"
        in mangle
    )
    assert "-A OUTPUT -j CONNMARK --restore-mark" in mangle


def _assert_host_layout(
    e: CoordinatorEnv, fam: str, pod_ip: str, host_veth: str, veth0_mac: str
) -> None:
    shared = [r for r in env.rules(e.node, fam) if r.get("table") == "500"]
    assert [(r["priority"], r["src"]) for r in shared] == [(1000, "all")]
    table500 = env.routes(e.node, "500", fam)
    assert [(r["dst"], r["dev"]) for r in table500] == [(pod_ip, host_veth)]
    neigh = next(n for n in env.neighbours(e.node, host_veth) if n["dst"] == pod_ip)
    assert (neigh["lladdr"], neigh["state"]) == (veth0_mac, ["PERMANENT"])


# ------------------------------------------------------------------ three NICs

CLIENT = "10.200.0.2"  # on the router's lo: off every pod subnet, so replies need a default route


def _three_nic_pod(
    e: CoordinatorEnv, default_nic: str = ""
) -> tuple[cni.PodRef, netns.Netns, dict[str, str]]:
    ref, pod = e.pod("m")
    addresses = {}
    for i, ifname in enumerate(("eth0", "net1", "net2")):
        pool = e.pool(
            f"n{i}", f"10.14{i}.0.0/24", [f"10.14{i}.0.10-10.14{i}.0.20"], gateway=f"10.14{i}.0.1"
        )
        coordinator = (
            {"podDefaultRouteNic": default_nic} if default_nic and ifname == "net2" else {}
        )
        rt = e.runtime(e.conflist([pool], coordinator=coordinator, network=f"macvlan-{ifname}"))
        result = rt.add(ref.container_id, pod.path, ifname, pod=ref)
        addresses[ifname] = ip_of(result["ips"][0]["address"])
    return ref, pod, addresses


@pytest.mark.parametrize("default_nic", ["", "net2"])
def test_three_nics_answer_through_the_nic_a_packet_came_in_on(
    make_env: Any, default_nic: str
) -> None:
    e = make_env("10.140.0.2/24")
    router = e.underlay.add_peer(
        f"rt{e.ns[-4:]}", ("10.140.0.1/24", "10.141.0.1/24", "10.142.0.1/24")
    )
    netns.ip("addr", "add", CLIENT + "/32", "dev", "lo", netns=router.name)
    _ref, pod, addresses = _three_nic_pod(e, default_nic)
    keeper = default_nic or "eth0"
    tables = {"eth0": "main", "net1": "101", "net2": "102"}
    if default_nic == "net2":  # net2 takes the main default; eth0's routes move to net2's table
        tables.update(eth0="102", net2="main")
    for ifname, table in tables.items():
        defaults = [r for r in env.routes(pod, table) if r["dst"] == "default"]
        assert [(r["dev"], r["gateway"]) for r in defaults] == [
            (ifname, f"10.14{ifname[-1] if ifname != 'eth0' else 0}.0.1")
        ]
        if table != "main":
            rule = next(r for r in env.rules(pod) if r.get("src") == addresses[ifname])
            assert (rule["table"], rule["priority"]) == (table, 1001)
    assert [r["dev"] for r in env.routes(pod) if r["dst"] == "default"] == [keeper]
    for ifname, address in addresses.items():
        assert env.route_get(pod, CLIENT, src=address)["dev"] == ifname
        assert eventually_pings(router, address, source=CLIENT), f"router -> {ifname} {address}"
        before = {nic: env.tx_packets(pod, nic) for nic in addresses}
        router.run("ping", "-c", "10", "-i", "0.05", "-W", "1", "-I", CLIENT, address)
        sent = {nic: env.tx_packets(pod, nic) - before[nic] for nic in addresses}
        assert sent[ifname] >= 10 and all(n < 10 for nic, n in sent.items() if nic != ifname), (
            ifname,
            sent,
        )


# ------------------------------------------------------------------ probes


@pytest.mark.parametrize("version", ["1.0.0", "0.3.1"])
def test_a_conflicting_address_fails_add_naming_ip_and_mac_and_the_retry_gets_another(
    make_env: Any, version: str
) -> None:
    """A host outside the cluster on the pool's lowest address must not
    block the pool. The runtime's DEL (no prevResult under 1.0.0; a sandbox seconds old
    under 0.3.1, which never sends one) releases it into cool-down (I5, docs/ipam.md), so the
    retried sandbox, and the next pod, get another address instead of failing forever."""
    e = make_env("10.150.0.2/24")
    squatter = e.underlay.add_peer(f"sq{e.ns[-4:]}", ("10.150.0.10/24",))
    squatter_mac = env.link(squatter, "eth0")["address"]
    pool = e.pool("p", "10.150.0.0/24", ["10.150.0.10-10.150.0.12"], gateway="10.150.0.1")
    rt = e.runtime(e.conflist([pool], coordinator={"detectIPConflict": True}, version=version))
    ref, pod = e.pod("a")
    nodes_before = env.host_state(e.node)
    with pytest.raises(cni.CniFailure) as failure:
        rt.add(ref.container_id, pod.path, pod=ref)
    assert failure.value.code == 110
    assert "10.150.0.10" in failure.value.msg and squatter_mac in failure.value.msg.lower()
    assert env.host_state(e.node) == nodes_before
    assert list(e.cluster.records(pool)) == ["10.150.0.10"]  # until the runtime's DEL
    rt.delete(
        ref.container_id, pod.path, pod=ref
    )  # libcni cached no result: DEL carries no prevResult
    assert e.cluster.holders(pool) == {}
    assert e.cluster.records(pool)["10.150.0.10"]["strikes"] == 1  # cooling, not free
    retry = dataclasses.replace(ref, container_id=ref.container_id + "-2")
    result = rt.add(retry.container_id, pod.path, pod=retry)
    assert result["ips"][0]["address"] == "10.150.0.11/24"
    other, other_pod = e.pod("b")
    assert (
        rt.add(other.container_id, other_pod.path, pod=other)["ips"][0]["address"]
        == "10.150.0.12/24"
    )


def test_an_unanswering_gateway_fails_add_with_detect_gateway(make_env: Any) -> None:
    e = make_env("10.151.0.2/24")
    pool = e.pool(
        "p", "10.151.0.0/24", ["10.151.0.10-10.151.0.11"], gateway="10.151.0.1"
    )  # nobody holds .1
    rt = e.runtime(e.conflist([pool], coordinator={"detectGateway": True}))
    ref, pod = e.pod("a")
    with pytest.raises(cni.CniFailure) as failure:
        rt.add(ref.container_id, pod.path, pod=ref)
    assert failure.value.code == 111
    assert "10.151.0.1" in failure.value.msg
    rt.delete(ref.container_id, pod.path, pod=ref)
    assert e.cluster.holders(pool) == {}


@pytest.mark.parametrize(
    ("options", "sent"),
    [(None, 3), ({"retries": 5, "timeout": "50ms"}, 5), ({"retries": 1}, 1)],
    ids=["default", "retries-5", "retries-1"],
)
def test_detect_options_set_how_many_conflict_probes_the_coordinator_sends(
    make_env: Any, options: dict[str, Any] | None, sent: int
) -> None:
    e = make_env("10.153.0.2/24")
    listener = e.underlay.add_peer(f"ls{e.ns[-4:]}")
    pool = e.pool("p", "10.153.0.0/24", ["10.153.0.10"], gateway="10.153.0.1")
    coordinator = {"detectIPConflict": True, **({"detectOptions": options} if options else {})}
    rt = e.runtime(e.conflist([pool], coordinator=coordinator))
    ref, pod = e.pod("a")
    with Wire(listener) as wire:
        rt.add(ref.container_id, pod.path, pod=ref)
    assert wire.probes_for("10.153.0.10") == sent


def test_an_answering_gateway_and_a_free_address_pass_both_probes(make_env: Any) -> None:
    e = make_env("10.152.0.2/24")
    e.underlay.add_peer(f"gw{e.ns[-4:]}", ("10.152.0.1/24",))
    pool = e.pool("p", "10.152.0.0/24", ["10.152.0.10-10.152.0.11"], gateway="10.152.0.1")
    rt = e.runtime(
        e.conflist([pool], coordinator={"detectIPConflict": True, "detectGateway": True})
    )
    ref, pod = e.pod("a")
    assert rt.add(ref.container_id, pod.path, pod=ref)["ips"][0]["address"] == "10.152.0.10/24"


# ------------------------------------------------------------------ DEL


@pytest.mark.parametrize("netns_gone", [False, True])
def test_del_removes_the_host_veth_and_the_host_routes(make_env: Any, netns_gone: bool) -> None:
    e = make_env("10.160.0.2/24", "fd16::2/64")
    pools = [
        e.pool("p4", "10.160.0.0/24", ["10.160.0.10-10.160.0.11"], gateway="10.160.0.1"),
        e.pool("p6", "fd16::/64", ["fd16::10-fd16::11"], gateway="fd16::1"),
    ]
    rt = e.runtime(e.conflist(pools))
    ref, pod = e.pod("a")
    rt.add(ref.container_id, pod.path, pod=ref)
    host_veth = f"veth{ref.container_id[:11]}"
    assert env.link(e.node, host_veth)
    if netns_gone:
        pod.delete()
    rt.delete(ref.container_id, pod.path, pod=ref)
    assert not e.node.has_link(host_veth)
    for fam in ("-4", "-6"):
        assert env.routes(e.node, "500", fam) == []
        assert [r["priority"] for r in env.rules(e.node, fam) if r.get("table") == "500"] == [
            1000
        ]  # shared, kept
    rt.delete(ref.container_id, pod.path, pod=ref)  # DEL is idempotent


def test_del_of_a_later_nic_removes_only_its_host_routes(make_env: Any) -> None:
    e = make_env("10.140.0.2/24")
    ref, pod, addresses = _three_nic_pod(e)
    host_veth = f"veth{ref.container_id[:11]}"
    rt = e.runtime(e.conflist([e.name("n2")], network="macvlan-net2"))
    rt.delete(ref.container_id, pod.path, "net2", pod=ref)
    assert sorted(r["dst"] for r in env.routes(e.node, "500")) == sorted(
        [addresses["eth0"], addresses["net1"]]
    )
    assert env.link(e.node, host_veth)


@pytest.mark.parametrize("what", ["file", "directory"])
def test_del_with_a_netns_path_that_is_no_netns_succeeds_and_check_answers_8(
    make_env: Any, bundle_bin: Path, tmp_path: Path, what: str
) -> None:
    e = make_env("10.161.0.2/24")
    pool = e.pool("p", "10.161.0.0/24", ["10.161.0.10"], gateway="10.161.0.1")
    conflist = e.conflist([pool])
    ref, pod = e.pod("a")
    result = e.runtime(conflist).add(ref.container_id, pod.path, pod=ref)
    bogus = tmp_path / "netns"
    bogus.write_text("") if what == "file" else bogus.mkdir()
    conf = {
        "cniVersion": "1.0.0",
        "name": conflist["name"],
        **conflist["plugins"][1],
        "prevResult": result,
    }
    env_vars = {"CNI_CONTAINERID": ref.container_id, "CNI_NETNS": str(bogus), "CNI_IFNAME": "eth0"}
    check = cni.exec_plugin(bundle_bin / "coordinator", "CHECK", conf, env=env_vars, node=e.node)
    assert (check.returncode, check.json()["code"]) == (1, 8), check.stdout
    deleted = cni.exec_plugin(bundle_bin / "coordinator", "DEL", conf, env=env_vars, node=e.node)
    assert (deleted.returncode, deleted.stdout) == (0, ""), deleted.stdout
    assert not e.node.has_link(
        f"veth{ref.container_id[:11]}"
    )  # nothing of ours can be in a non-netns


def test_a_runtime_del_after_the_netns_was_unmounted_still_reaches_the_ipam(make_env: Any) -> None:
    """The runtime unmounted the pod's netns but left its path, a plain file. The
    coordinator runs first in a DEL; failing there stopped libcni before the IPAM's DEL."""
    e = make_env("10.162.0.2/24")
    pool = e.pool("p", "10.162.0.0/24", ["10.162.0.10"], gateway="10.162.0.1")
    rt = e.runtime(e.conflist([pool]))
    ref, pod = e.pod("a")
    rt.add(ref.container_id, pod.path, pod=ref)
    subprocess.run(["umount", pod.path], check=True)
    assert Path(pod.path).is_file()
    e.cluster.delete_pod(e.ns, "a")
    with pytest.raises(cni.CniFailure) as failure:
        rt.delete(ref.container_id, pod.path, pod=ref)
    # Debian's macvlan refuses the path (its ns.GetNS), but only after its IPAM's DEL ran.
    assert "unknown FS magic" in failure.value.msg
    assert e.cluster.holders(pool) == {}
    coordinator_log = [
        json.loads(line) for line in (e.config.dir / "coordinator.log").read_text().splitlines()
    ]
    assert not [line for line in coordinator_log if line["level"] == "ERROR"], coordinator_log


def test_a_failed_re_add_leaves_what_the_first_add_made(make_env: Any, bundle_bin: Path) -> None:
    e = make_env("10.163.0.2/24")
    pool = e.pool("p", "10.163.0.0/24", ["10.163.0.10"], gateway="10.163.0.1")
    conflist = e.conflist([pool])
    ref, pod = e.pod("a")
    result = e.runtime(conflist).add(ref.container_id, pod.path, pod=ref)
    host_veth = f"veth{ref.container_id[:11]}"

    def node_state() -> tuple[Any, ...]:
        return (
            env.link(e.node, host_veth)["ifindex"],
            env.routes(e.node, "500"),
            env.neighbours(e.node, host_veth),
        )

    before = node_state()
    # The same sandbox again, failing at its last step (policy route via an off-link gateway).
    off_link = {
        **conflist["plugins"][1],
        "policyRoutes": [{"dst": "10.79.0.0/16", "gw": "10.99.99.1"}],
    }
    again = cni.exec_plugin(
        bundle_bin / "coordinator",
        "ADD",
        {"cniVersion": "1.0.0", "name": conflist["name"], **off_link, "prevResult": result},
        env={"CNI_CONTAINERID": ref.container_id, "CNI_NETNS": pod.path, "CNI_IFNAME": "eth0"},
        node=e.node,
    )
    assert again.returncode == 1 and "10.79.0.0/16" in again.json()["msg"], again.stdout
    assert node_state() == before  # the routes and neighbours of the first ADD are still there
    assert eventually_pings(e.node, "10.163.0.10"), "host -> pod after the failed re-ADD"


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("coordinator", "field"),
    [
        ({"mode": "bridge"}, "mode"),
        ({"hijackCIDR": ["10.0.0.0/33"]}, "hijackCIDR[0]"),
        ({"podMACPrefix": "01:00"}, "podMACPrefix"),
        ({"vethMTU": -1}, "vethMTU"),
    ],
)
def test_bad_config_is_code_7_naming_the_key_and_leaves_the_node_as_it_was(
    make_env: Any, coordinator: dict[str, Any], field: str
) -> None:
    e = make_env("10.170.0.2/24")
    pool = e.pool("p", "10.170.0.0/24", ["10.170.0.10-10.170.0.11"], gateway="10.170.0.1")
    rt = e.runtime(e.conflist([pool], coordinator=coordinator))
    ref, pod = e.pod("a")
    before = env.host_state(e.node)
    with pytest.raises(cni.CniFailure) as failure:
        rt.add(ref.container_id, pod.path, pod=ref)
    assert failure.value.code == 7
    assert failure.value.error.get("details") == f"field: {field}"
    assert env.host_state(e.node) == before


def test_a_default_route_nic_the_pod_lacks_is_code_7_and_leaves_the_node_as_after_the_first_nic(
    make_env: Any,
) -> None:
    e = make_env("10.180.0.2/24")
    ref, pod = e.pod("a")
    first = e.pool("p0", "10.180.0.0/24", ["10.180.0.10-10.180.0.11"], gateway="10.180.0.1")
    e.runtime(e.conflist([first], network="macvlan-eth0")).add(ref.container_id, pod.path, pod=ref)
    before = env.host_state(e.node)
    second = e.pool("p1", "10.181.0.0/24", ["10.181.0.10-10.181.0.11"], gateway="10.181.0.1")
    rt = e.runtime(
        e.conflist([second], coordinator={"podDefaultRouteNic": "net9"}, network="macvlan-net1")
    )
    with pytest.raises(cni.CniFailure) as failure:
        rt.add(ref.container_id, pod.path, "net1", pod=ref)
    assert (failure.value.code, failure.value.error.get("details")) == (
        7,
        "field: podDefaultRouteNic",
    )
    assert env.host_state(e.node) == before


def test_a_missing_prev_result_is_code_7_naming_it(make_env: Any, bundle_bin: Path) -> None:
    e = make_env()
    pod = e.underlay.add_pod(f"{e.ns[-4:]}np")
    conf = {"cniVersion": "1.0.0", "name": "n", "type": "coordinator"}
    env_vars = {"CNI_CONTAINERID": "abc", "CNI_NETNS": pod.path, "CNI_IFNAME": "eth0"}
    res = cni.exec_plugin(bundle_bin / "coordinator", "ADD", conf, env=env_vars, node=e.node)
    assert res.returncode == 1
    assert (res.json()["code"], res.json()["details"]) == (7, "field: prevResult")
    assert json.loads(res.stdout)["msg"].startswith("invalid config: prevResult")


def test_mode_disabled_passes_prev_result_through_untouched(make_env: Any) -> None:
    e = make_env("10.190.0.2/24")
    pool = e.pool("p", "10.190.0.0/24", ["10.190.0.10-10.190.0.11"], gateway="10.190.0.1")
    rt = e.runtime(e.conflist([pool], coordinator={"mode": "disabled"}))
    ref, pod = e.pod("a")
    before = env.host_state(e.node)
    assert rt.add(ref.container_id, pod.path, pod=ref)["ips"][0]["address"] == "10.190.0.10/24"
    assert not pod.has_link("veth0")
    assert env.host_state(e.node) == before


# ------------------------------------------------------------------ knobs and re-ADD


def test_knobs_land_in_the_pod_and_the_result_carries_the_rewritten_mac(
    make_env: Any, bundle_bin: Path
) -> None:
    e = make_env("10.191.0.2/24")
    gateway = e.underlay.add_peer(f"gw{e.ns[-4:]}", ("10.191.0.1/24",))
    pool = e.pool("p", "10.191.0.0/24", ["10.191.0.10-10.191.0.11"], gateway="10.191.0.1")
    knobs = {
        "podMACPrefix": "0a:1b",
        "txQueueLen": 2000,
        "vethMTU": 1400,
        "vethLinkAddress": "169.254.200.1",
        "podRPFilter": 2,
        "policyRoutes": [{"dst": "10.77.0.0/16", "gw": "10.191.0.1"}],
        "detectGateway": True,
    }  # the gateway probe teaches the gateway the MAC from before the rewrite
    conflist = e.conflist([pool], coordinator=knobs)
    rt = e.runtime(conflist)
    ref, pod = e.pod("a")
    result = rt.add(ref.container_id, pod.path, pod=ref)
    eth0 = env.link(pod, "eth0")
    assert eth0["address"] == "0a:1b:0a:bf:00:0a"  # prefix + 10.191.0.10
    assert [i["mac"] for i in result["interfaces"] if i["name"] == "eth0"] == ["0a:1b:0a:bf:00:0a"]
    learnt = [
        n.get("lladdr")
        for _ in range(20)
        for n in env.neighbours(gateway, "eth0")
        if n["dst"] == "10.191.0.10"
    ]
    assert "0a:1b:0a:bf:00:0a" in learnt, "the gateway heard no gratuitous ARP for the new MAC"
    assert eth0["txqlen"] == 2000
    assert (
        env.link(e.node, "ens1").get("txqlen") != 2000
    )  # the pod's NIC, not the host's (upstream quirk)
    assert env.link(pod, "veth0")["mtu"] == 1400
    assert "169.254.200.1/32" in pod.run("ip", "-4", "addr", "show", "dev", "veth0").stdout
    assert pod.run("sysctl", "-n", "net.ipv4.conf.all.rp_filter").stdout.strip() == "2"
    policy = next(r for r in env.routes(pod) if r["dst"] == "10.77.0.0/16")
    assert (policy["gateway"], policy["dev"]) == ("10.191.0.1", "eth0")
    # a re-ADD (the runtime retrying) converges on the same state and result
    plugin_conf = {
        "cniVersion": "1.0.0",
        "name": conflist["name"],
        **conflist["plugins"][1],
        "prevResult": result,
    }

    def state() -> tuple[Any, ...]:
        mangle = pod.run("iptables", "-t", "mangle", "-S").stdout
        return (
            env.host_state(e.node),
            env.routes(pod),
            env.rules(pod),
            env.routes(pod, "100"),
            mangle,
        )

    before = state()
    again = cni.exec_plugin(
        bundle_bin / "coordinator",
        "ADD",
        plugin_conf,
        node=e.node,
        env={"CNI_CONTAINERID": ref.container_id, "CNI_NETNS": pod.path, "CNI_IFNAME": "eth0"},
    )
    assert again.returncode == 0, again.stdout
    assert again.json() == result
    assert state() == before


# ------------------------------------------------------------------ overlay


def test_an_overlay_pod_keeps_its_default_on_eth0_and_routes_the_underlay_nic_by_table(
    make_env: Any,
) -> None:
    e = make_env("10.192.0.2/24")
    ref, pod = e.pod("o")
    # what an overlay CNI (Calico) leaves: eth0 <-> cali* on the host
    cali = f"cali{ref.container_id[:11]}"
    netns.ip(
        "link",
        "add",
        cali,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        pod.name,
        netns=e.node.name,
    )
    netns.ip("addr", "add", "10.244.1.1/24", "dev", cali, netns=e.node.name)
    netns.ip("link", "set", cali, "up", netns=e.node.name)
    for argv in (
        ("addr", "add", "10.244.1.5/24", "dev", "eth0"),
        ("link", "set", "eth0", "up"),
        ("route", "add", "default", "via", "10.244.1.1", "dev", "eth0"),
    ):
        netns.ip(*argv, netns=pod.name)
    pool = e.pool("p", "10.192.0.0/24", ["10.192.0.10-10.192.0.11"], gateway="10.192.0.1")
    rt = e.runtime(e.conflist([pool], network="macvlan-net1"))
    net1 = ip_of(rt.add(ref.container_id, pod.path, "net1", pod=ref)["ips"][0]["address"])
    assert not pod.has_link("veth0")
    assert [r["dev"] for r in env.routes(pod) if r["dst"] == "default"] == ["eth0"]
    assert [(r["dev"], r["gateway"]) for r in env.routes(pod, "101") if r["dst"] == "default"] == [
        ("net1", "10.192.0.1")
    ]
    assert [(r["dev"], r["gateway"]) for r in env.routes(pod, "100") if r["dst"] == "default"] == [
        ("eth0", "10.244.1.1")
    ]
    by_src = {r.get("src"): r["table"] for r in env.rules(pod)}
    assert (by_src[net1], by_src["10.244.1.5"]) == ("101", "100")
    assert {r["dst"]: r["dev"] for r in env.routes(pod)}[
        "10.192.0.2"
    ] == "eth0"  # host address via the overlay veth
    assert [(r["dst"], r["dev"]) for r in env.routes(e.node, "500")] == [(net1, cali)]
    assert eventually_pings(e.node, net1), "host -> pod's underlay address through the overlay veth"
    rt.delete(ref.container_id, pod.path, "net1", pod=ref)
    assert env.routes(e.node, "500") == [] and e.node.has_link(cali)


def test_a_failure_mid_add_takes_back_the_host_veth_and_routes(make_env: Any) -> None:
    e = make_env("10.193.0.2/24")
    pool = e.pool("p", "10.193.0.0/24", ["10.193.0.10-10.193.0.11"], gateway="10.193.0.1")
    off_link = {
        "policyRoutes": [{"dst": "10.78.0.0/16", "gw": "10.99.99.1"}]
    }  # the last step: no route to gw
    rt = e.runtime(e.conflist([pool], coordinator=off_link))
    ref, pod = e.pod("a")
    before = env.host_state(e.node, shared_rule_table="500")
    with pytest.raises(cni.CniFailure) as failure:
        rt.add(ref.container_id, pod.path, pod=ref)
    assert failure.value.code == 7 and "10.78.0.0/16" in failure.value.msg
    assert failure.value.error.get("details") == "field: policyRoutes[0]", failure.value.error
    assert env.host_state(e.node, shared_rule_table="500") == before  # the shared rule may stay
