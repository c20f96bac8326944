"""Our netlink codec against the real kernel, with pyroute2 reading the kernel back as the
oracle (it is no longer on the plugins' path; here it is an independent second reader).

Two fresh namespaces, a "node" and a "pod"; every ``routing.Handle`` operation the
coordinator uses runs through our codec, then both readers dump the kernel:

| operation                                  | what must hold                                    |
|--------------------------------------------|---------------------------------------------------|
| veth with its peer made in the pod; MAC,   | pyroute2 sees both ends with our MAC, MTU, queue  |
| MTU, queue length, up                      | length and flags; our ``link`` reads the same     |
| addresses v4 /32, v6 /128                  | both readers list the same addresses              |
| routes: table 500 scope link, main with    | pyroute2 sees proto static, type unicast, our     |
| gateway and source, v6 /128                | table, scope, gateway, source; both dumps equal   |
| rules: from all, from <ip>, fwmark (v6)    | both readers list the same rules                  |
| neighbours v4/v6, replaced                 | permanent, our MAC; both dumps equal              |
| everything added again, deleted twice      | no error (EEXIST / gone tolerated), state as once |
| ``route_source`` towards a node address    | the source pyroute2's ``route get`` reports       |
| a missing link, a bad request              | None; NetlinkFailure naming the step, errno kept  |
| a command run in the node's namespace      | sees the node's links and our stdin; a failure is |
| (``namespaces.run``, how iptables runs)    | OSError with status and stderr; a hang is killed  |
"""

from __future__ import annotations

import errno
import ipaddress
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import IPRoute

from spidernet.netlink import namespaces, routing
from spidernet.netlink.records import NetlinkFailure, Route, Rule
from tools.testbed import netns

pytestmark = [pytest.mark.netns]

NET, IP = ipaddress.ip_network, ipaddress.ip_address


@pytest.fixture
def node_pod() -> Iterator[tuple[netns.Netns, netns.Netns]]:
    node, pod = netns.Netns.create("nlnode"), netns.Netns.create("nlpod")
    netns.ip("link", "add", "ens1", "type", "veth", "peer", "name", "ens1p", netns=node.name)
    netns.ip("link", "set", "ens1", "up", netns=node.name)
    netns.ip("addr", "add", "192.168.60.2/24", "dev", "ens1", netns=node.name)
    try:
        yield node, pod
    finally:
        node.delete()
        pod.delete()


@pytest.fixture
def handles(
    node_pod: tuple[netns.Netns, netns.Netns],
) -> Iterator[tuple[routing.Handle, routing.Handle, Any]]:
    """(node, pod) through our codec, and pyroute2's socket in the node."""
    node, pod_ns = node_pod
    with namespaces.entered(node.path):
        host = routing.open_handle()
    with host, oracle(node.path) as ipr, routing.open_handle(pod_ns.path) as pod:
        yield host, pod, ipr


def oracle(path: str) -> Any:
    """pyroute2's socket in the namespace at ``path``."""
    with namespaces.entered(path):
        return IPRoute()


def attr(msg: Any, name: str) -> Any:
    return msg.get_attr(name)


def oracle_routes(ipr: Any) -> set[tuple[Any, ...]]:
    return {
        (
            m["family"],
            f"{attr(m, 'RTA_DST') or ('0.0.0.0' if m['family'] == 2 else '::')}/{m['dst_len']}",
            attr(m, "RTA_TABLE") or m["table"],
            attr(m, "RTA_OIF") or 0,
            attr(m, "RTA_GATEWAY"),
            m["scope"],
            attr(m, "RTA_PREFSRC"),
        )
        for m in ipr.get_routes()
        if m["family"] in (2, 10)
    }


def our_routes(h: routing.Handle) -> set[tuple[Any, ...]]:
    return {
        (
            2 if r.dst.version == 4 else 10,
            str(r.dst),
            r.table,
            r.oif,
            str(r.gateway) if r.gateway else None,
            r.scope,
            str(r.src) if r.src else None,
        )
        for r in h.all_routes()
    }


def permanent(h: routing.Handle) -> list[tuple[Any, ...]]:
    """Our neighbour entries (the kernel's own ones change state on their own)."""
    return sorted((i, str(ip), mac) for i, ip, mac, state in h.neighbours() if state & 0x80)


def setup_everything(host: routing.Handle, pod: routing.Handle) -> int:
    """Every write the coordinator makes; returns the host veth's index."""
    if host.link("vethtest") is None:
        host.add_veth("vethtest", "veth0", pod.path, peer_mtu=1400)
    veth = host.link("vethtest")
    assert veth is not None
    host.set_link(veth.index, mac="02:11:22:33:44:55", txqlen=700)
    host.set_link(veth.index, up=True, mtu=1400)
    host.add_address(veth.index, ipaddress.ip_interface("169.254.1.1/32"))
    host.add_address(veth.index, ipaddress.ip_interface("fd00::1/128"))
    host.add_route(Route(NET("10.9.0.5/32"), 500, oif=veth.index, scope=253))
    host.add_route(Route(NET("fd00::5/128"), 500, oif=veth.index, scope=253))
    host.add_route(
        Route(NET("10.96.0.0/12"), 254, gateway=IP("192.168.60.1"), src=IP("192.168.60.2"))
    )
    host.add_rule(Rule(4, 1000, 500))
    host.add_rule(Rule(4, 1001, 101, src=NET("10.9.0.5/32")))
    host.add_rule(Rule(6, 1000, 100, fwmark=1))
    host.set_neighbour(veth.index, IP("10.9.0.5"), "02:aa:bb:cc:dd:ee")
    host.set_neighbour(veth.index, IP("fd00::5"), "02:aa:bb:cc:dd:ef")
    return veth.index


def test_what_our_codec_writes_is_what_pyroute2_reads_back(
    handles: tuple[routing.Handle, routing.Handle, Any],
) -> None:
    host, pod, ipr = handles
    index = setup_everything(host, pod)
    (theirs,) = ipr.get_links(index)
    ours = host.link_by_index(index)
    assert ours is not None and (ours.name, ours.mac, ours.mtu) == (
        theirs.get_attr("IFLA_IFNAME"),
        theirs.get_attr("IFLA_ADDRESS"),
        theirs.get_attr("IFLA_MTU"),
    )
    assert (ours.flags, ours.kind, theirs.get_attr("IFLA_TXQLEN")) == (
        theirs["flags"],
        "veth",
        700,
    )
    peer = pod.link("veth0")
    assert peer is not None and (peer.mtu, peer.peer_index) == (1400, index)

    assert sorted((i, str(a), s) for i, a, s in host.addresses()) == sorted(
        (m["index"], f"{m.get_attr('IFA_ADDRESS')}/{m['prefixlen']}", m["scope"])
        for m in ipr.get_addr()
    )
    assert our_routes(host) == oracle_routes(ipr)
    table_500 = [m for m in ipr.get_routes(table=500) if m.get_attr("RTA_TABLE") == 500]
    assert {(m["family"], m["proto"], m["type"], m["scope"]) for m in table_500} == {
        (2, 4, 1, 253),
        (10, 4, 1, 0),  # IPv6 keeps no scope
    }
    for family in (4, 6):
        assert {(r.priority, r.table, str(r.src), r.fwmark) for r in host.rules(family)} == {
            (
                m.get_attr("FRA_PRIORITY") or 0,
                m.get_attr("FRA_TABLE") or m["table"],
                f"{m.get_attr('FRA_SRC')}/{m['src_len']}" if m.get_attr("FRA_SRC") else "None",
                m.get_attr("FRA_FWMARK") or 0,
            )
            for m in ipr.get_rules(family=2 if family == 4 else 10)
        }
    assert sorted((i, str(a), mac, st) for i, a, mac, st in host.neighbours()) == sorted(
        (m["ifindex"], m.get_attr("NDA_DST"), m.get_attr("NDA_LLADDR") or "", m["state"])
        for m in ipr.get_neighbours()
        if m.get_attr("NDA_DST")
    )
    (get,) = ipr.route("get", dst="192.168.60.9")
    assert str(host.route_source(IP("192.168.60.9"))) == get.get_attr("RTA_PREFSRC")


def test_repeating_every_write_and_deleting_twice_converges_without_errors(
    handles: tuple[routing.Handle, routing.Handle, Any],
) -> None:
    host, pod, ipr = handles
    index = setup_everything(host, pod)
    before = (our_routes(host), host.rules(4), host.rules(6), permanent(host))
    assert setup_everything(host, pod) == index
    assert (our_routes(host), host.rules(4), host.rules(6), permanent(host)) == before
    route = Route(NET("10.9.0.5/32"), 500, oif=index)
    for _ in range(2):
        host.delete_route(route)
        host.delete_neighbour(index, IP("10.9.0.5"))
    assert not [m for m in ipr.get_routes(table=500) if m.get_attr("RTA_DST") == "10.9.0.5"]
    assert host.delete_link("vethtest") and not host.delete_link("vethtest")
    assert host.link("vethtest") is None and host.link_by_index(index) is None
    assert pod.link("veth0") is None  # the pair went together


def test_a_refusal_names_the_step_and_keeps_the_errno(
    handles: tuple[routing.Handle, routing.Handle, Any],
) -> None:
    host, _, _ = handles
    with pytest.raises(NetlinkFailure) as refused:
        host.add_route(Route(NET("10.9.0.0/24"), 254, oif=424242))
    assert refused.value.code == errno.ENODEV
    assert str(refused.value).startswith("adding route 10.9.0.0/24 table 254: ")


def test_a_command_run_in_a_namespace_sees_that_namespace_and_its_failures_are_named(
    node_pod: tuple[netns.Netns, netns.Netns], tmp_path: Path
) -> None:
    node, _ = node_pod
    out = tmp_path / "links"
    namespaces.run(
        node.path, ["sh", "-c", f"cat > {out}; ip -o link show ens1 >> {out}"], stdin="in\n"
    )
    assert out.read_text().startswith("in\n") and ": ens1@" in out.read_text()
    with pytest.raises(OSError, match=r"failed \(3\): boom"):
        namespaces.run(node.path, ["sh", "-c", "echo boom >&2; exit 3"])
    started = time.monotonic()
    with pytest.raises(namespaces.CommandTimeout):
        namespaces.run(node.path, ["sleep", "30"], timeout=0.3)
    assert time.monotonic() - started < 5  # killed, not waited for
