"""The coordinator's ARP/NDP probes against real kernels in network namespaces of our own.

Layout, fresh for each test: a fabric netns holding bridge br0, and members joined to it
by veth pairs, each member's end named eth0: the "pod" (10.6.0.5/24, fd00:6::5/64) and
peers that own whatever address a case needs (the gateway .1/::1, or the pod's own IP).

Cases, each for IPv4 (ARP) and IPv6 (NDP):
- a peer owns the pod's IP            -> IPConflict naming the IP and the peer's MAC
- nobody else owns it                 -> passes
- the gateway answers                 -> passes
- no gateway on the link              -> GatewayUnreachable
- conflict and no gateway             -> IPConflict (the conflict check comes first)
- conflict and a gateway              -> IPConflict, and the gateway never heard from the
                                         pod's IP (no neighbour entry for it)
- gateway check only, IP owned        -> passes (no conflict check was asked for)
Then: with both families probed in parallel, an IPv6 conflict outranks a missing
IPv4 gateway; the caller's thread is in its own netns before and after; a
dual-stack probe with nothing wrong takes bounded time (printed); a down eth0 is
brought up; a pod address still in DAD (tentative) neither blocks nor delays the
IPv6 probe; a missing interface or a path that is not a netns is a ProbeFailure,
not a conflict; with both checks off nothing is opened.

Timing (detectOptions), shown by counting frames on the wire (tests/integration/
wire.py) rather than by the clock: a silent conflict check sends exactly ``tries``
probes per family (1 and 5); a gateway that answers 1 s late is unreachable with a
50 ms timeout (both tries went out) and reachable with a 3 s one (one try was enough);
with a 3 s interval the late answer lands in the pause and the second try never goes
out; a late answer to a conflict probe in the pause is a conflict.

Why ``nodad`` on IPv6 addresses: a tentative address does not answer solicitations
(and our DAD probe for it would make its kernel declare it duplicate), so without it
peers would need ~1-2 s of kernel DAD before each case. One case leaves the pod's own
address tentative on purpose (DAD stretched to 10 s) to show the probe does not wait
for it. Multicast snooping is off on br0 so that solicited-node multicast is flooded
whatever MLD state the bridge has learnt.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from spidernet.coordinator import probes
from tests.integration.wire import SLOW_HOST_MAC, Wire
from tools.testbed.netns import Netns, ip, ip_json

pytestmark = pytest.mark.netns


@dataclass(frozen=True)
class Family:
    name: str
    pod: str  # the pod's address (CIDR)
    gateway: str  # the gateway's address (CIDR)
    other: str  # a bystander's address (CIDR)

    @property
    def pod_ip(self) -> str:
        return self.pod.split("/")[0]

    @property
    def gateway_ip(self) -> str:
        return self.gateway.split("/")[0]


V4 = Family("v4", "10.6.0.5/24", "10.6.0.1/24", "10.6.0.9/24")
V6 = Family("v6", "fd00:6::5/64", "fd00:6::1/64", "fd00:6::9/64")
FAMILIES = [pytest.param(V4, id="v4"), pytest.param(V6, id="v6")]


@dataclass
class Lan:
    fabric: Netns
    members: list[Netns] = field(default_factory=list)

    def join(self, role: str, *cidrs: str, dad: bool = False, up: bool = True) -> Netns:
        ns = Netns.create(role)
        self.members.append(ns)
        port = f"port{len(self.members)}"
        ip(
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            port,
            "netns",
            self.fabric.name,
            netns=ns.name,
        )
        ip("link", "set", port, "master", "br0", "up", netns=self.fabric.name)
        for cidr in cidrs:
            nodad = ("nodad",) if ":" in cidr and not dad else ()
            ip("addr", "add", cidr, "dev", "eth0", *nodad, netns=ns.name)
        if up:
            ip("link", "set", "eth0", "up", netns=ns.name)
        return ns

    def close(self) -> None:
        for ns in [*self.members, self.fabric]:
            ns.delete()


def mac_of(ns: Netns) -> str:
    return str(ip_json("link", "show", "dev", "eth0", netns=ns.name)[0]["address"])


def neighbours(ns: Netns) -> set[str]:
    return {entry["dst"] for entry in ip_json("neigh", "show", "dev", "eth0", netns=ns.name)}


def netns_inode() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


@pytest.fixture
def lan() -> Iterator[Lan]:
    if os.geteuid() != 0:
        pytest.skip(
            "the probes need root: they create network namespaces and raw AF_PACKET sockets"
        )
    fabric = Netns.create("fabric")
    ip("link", "add", "br0", "type", "bridge", "mcast_snooping", "0", netns=fabric.name)
    ip("link", "set", "br0", "up", netns=fabric.name)
    network = Lan(fabric)
    yield network
    network.close()


def run(
    pod: Netns,
    f: Family,
    *,
    conflict: bool = True,
    gateway: bool = True,
    addresses: list[str] | None = None,
    gateways: list[str] | None = None,
    **timing: float,
) -> None:
    probes.probe(
        pod.path,
        "eth0",
        [f.pod] if addresses is None else addresses,
        [f.gateway_ip] if gateways is None else gateways,
        conflict=conflict,
        gateway=gateway,
        **timing,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("f", FAMILIES)
def test_an_address_a_peer_owns_is_a_conflict_naming_the_ip_and_the_peers_mac(
    lan: Lan, f: Family
) -> None:
    pod = lan.join("pod", f.pod)
    owner = lan.join("owner", f.pod, f.gateway)
    with pytest.raises(probes.IPConflict) as caught:
        run(pod, f)
    assert (caught.value.ip, caught.value.mac) == (f.pod_ip, mac_of(owner))
    assert str(caught.value) == f"IP {f.pod_ip} on eth0 is already in use by {mac_of(owner)}"


@pytest.mark.parametrize("f", FAMILIES)
def test_an_address_nobody_else_owns_passes_the_conflict_check(lan: Lan, f: Family) -> None:
    pod = lan.join("pod", f.pod)
    lan.join("bystander", f.other)
    run(pod, f, gateway=False)


@pytest.mark.parametrize("f", FAMILIES)
def test_a_gateway_that_answers_passes(lan: Lan, f: Family) -> None:
    pod = lan.join("pod", f.pod)
    gw = lan.join("gw", f.gateway)
    run(pod, f, conflict=False)
    assert f.pod_ip in neighbours(gw)  # it answered us, having learnt where we are


@pytest.mark.parametrize("f", FAMILIES)
def test_a_gateway_missing_from_the_link_is_unreachable(lan: Lan, f: Family) -> None:
    pod = lan.join("pod", f.pod)
    lan.join("bystander", f.other)
    with pytest.raises(probes.GatewayUnreachable) as caught:
        run(pod, f)
    assert caught.value.gateway == f.gateway_ip
    assert str(caught.value).startswith(f"gateway {f.gateway_ip} is unreachable from eth0")


@pytest.mark.parametrize("f", FAMILIES)
def test_a_conflict_is_reported_even_when_the_gateway_is_missing_too(lan: Lan, f: Family) -> None:
    pod = lan.join("pod", f.pod)
    lan.join("owner", f.pod)
    with pytest.raises(probes.IPConflict):
        run(pod, f)


@pytest.mark.parametrize("f", FAMILIES)
def test_after_a_conflict_the_gateway_never_hears_from_the_pods_ip(lan: Lan, f: Family) -> None:
    pod = lan.join("pod", f.pod)
    lan.join("owner", f.pod)
    gw = lan.join("gw", f.gateway)
    with pytest.raises(probes.IPConflict):
        run(pod, f)
    # A gateway probe from the pod's IP would have made the gateway's kernel record it.
    assert f.pod_ip not in neighbours(gw)


@pytest.mark.parametrize("f", FAMILIES)
def test_with_only_the_gateway_check_asked_for_an_owned_ip_passes(lan: Lan, f: Family) -> None:
    pod = lan.join("pod", f.pod)
    lan.join("owner", f.pod)
    lan.join("gw", f.gateway)
    run(pod, f, conflict=False)


def test_a_conflict_in_one_family_outranks_an_unreachable_gateway_in_the_other(lan: Lan) -> None:
    pod = lan.join("pod", V4.pod, V6.pod)
    lan.join("owner", V6.pod)
    with pytest.raises(probes.IPConflict) as caught:
        run(pod, V4, addresses=[V4.pod, V6.pod], gateways=[V4.gateway_ip])
    assert caught.value.ip == V6.pod_ip


def test_the_calling_thread_is_in_its_own_netns_before_and_after(lan: Lan) -> None:
    pod = lan.join("pod", V4.pod, V6.pod)
    lan.join("gw", V4.gateway, V6.gateway)
    before = netns_inode()
    run(pod, V4, addresses=[V4.pod, V6.pod], gateways=[V4.gateway_ip, V6.gateway_ip])
    assert netns_inode() == before
    with pytest.raises(probes.GatewayUnreachable):
        run(pod, V4, gateways=["10.6.0.77"])
    assert netns_inode() == before


def test_a_dual_stack_probe_with_nothing_wrong_takes_bounded_time(lan: Lan) -> None:
    pod = lan.join("pod", V4.pod, V6.pod)
    lan.join("gw", V4.gateway, V6.gateway)
    start = time.monotonic()
    run(pod, V4, addresses=[V4.pod, V6.pod], gateways=[V4.gateway_ip, V6.gateway_ip])
    elapsed = time.monotonic() - start
    print(
        f"\ndual-stack probe, no conflict, gateways answer: {elapsed * 1000:.0f} ms (3 tries "
        "x 100 ms per family)"
    )
    assert elapsed < 5  # loose on purpose: a sanity bound, not a benchmark


def test_a_down_interface_is_brought_up_and_probed(lan: Lan) -> None:
    pod = lan.join("pod", V4.pod, up=False)
    lan.join("gw", V4.gateway)
    run(pod, V4)
    assert "UP" in ip_json("link", "show", "dev", "eth0", netns=pod.name)[0]["flags"]


def test_a_tentative_pod_address_neither_blocks_nor_delays_the_ipv6_probe(lan: Lan) -> None:
    lan.join("gw", V6.gateway)
    pod = lan.join("pod", V6.pod, dad=True, up=False)
    # Kernel DAD lasts one retransmit interval: 10 s here, far longer than the probe.
    pod.run("sysctl", "-qw", "net.ipv6.neigh.eth0.retrans_time_ms=10000")
    ip("link", "set", "eth0", "up", netns=pod.name)
    start = time.monotonic()
    run(pod, V6)
    print(f"\nIPv6 probe on a tentative address: {(time.monotonic() - start) * 1000:.0f} ms")
    addrs = ip_json("addr", "show", "dev", "eth0", netns=pod.name)[0]["addr_info"]
    assert any(a["local"] == V6.pod_ip and a.get("tentative") for a in addrs), (
        "the probe waited for kernel DAD"
    )


def test_a_missing_interface_is_a_probe_failure_not_a_conflict(lan: Lan) -> None:
    pod = lan.join("pod", V4.pod)
    with pytest.raises(probes.ProbeFailure, match="cannot open eth9 in netns") as caught:
        probes.probe(pod.path, "eth9", [V4.pod], [], conflict=True, gateway=False)
    assert not isinstance(caught.value, probes.IPConflict | probes.GatewayUnreachable)


def test_a_path_that_is_not_a_netns_is_a_probe_failure(lan: Lan) -> None:
    with pytest.raises(probes.ProbeFailure, match="cannot open eth0 in netns /proc/self/status"):
        probes.probe("/proc/self/status", "eth0", [V4.pod], [], conflict=True, gateway=False)
    with pytest.raises(probes.ProbeFailure, match="No such file"):
        probes.probe(
            "/var/run/netns/sn-no-such-netns", "eth0", [V4.pod], [], conflict=True, gateway=False
        )


def test_with_both_checks_off_nothing_is_opened() -> None:
    probes.probe("/nonexistent", "eth0", [V4.pod], [V4.gateway_ip], conflict=False, gateway=False)


# ---------------------------------------------------------------- timing (detectOptions)

SLOW = 1.0  # s before the slow host answers: far beyond a 50 ms window, well inside 3 s


@pytest.mark.parametrize("f", FAMILIES)
@pytest.mark.parametrize("tries", [1, 5])
def test_a_silent_conflict_check_sends_exactly_tries_probes(
    lan: Lan, f: Family, tries: int
) -> None:
    pod = lan.join("pod", f.pod)
    with Wire(lan.join("listener")) as wire:
        run(pod, f, gateway=False, tries=tries, timeout=0.05)
    assert wire.probes_for(f.pod_ip) == tries


def test_a_gateway_answering_after_the_timeout_is_unreachable_and_within_it_reachable(
    lan: Lan,
) -> None:
    pod = lan.join("pod", V4.pod)
    slow = lan.join("slowgw")
    with (
        Wire(slow, answer_for=V4.gateway_ip, delay=SLOW) as wire,
        pytest.raises(probes.GatewayUnreachable),
    ):
        run(pod, V4, conflict=False, tries=2, timeout=0.05)
    assert wire.requests_for(V4.gateway_ip) == 2  # every try went out; no answer came in time
    with Wire(slow, answer_for=V4.gateway_ip, delay=SLOW) as wire:
        run(pod, V4, conflict=False, tries=2, timeout=3.0)
    assert wire.requests_for(V4.gateway_ip) == 1  # the first try's answer came within the timeout


def test_an_answer_in_the_interval_counts_and_spares_the_next_try(lan: Lan) -> None:
    pod = lan.join("pod", V4.pod)
    with Wire(lan.join("slowgw"), answer_for=V4.gateway_ip, delay=SLOW) as wire:
        run(pod, V4, conflict=False, tries=2, timeout=0.05, interval=3.0)
    assert wire.requests_for(V4.gateway_ip) == 1


def test_a_late_claim_heard_in_the_interval_is_a_conflict(lan: Lan) -> None:
    pod = lan.join("pod", V4.pod)
    with (
        Wire(lan.join("squatter"), answer_for=V4.pod_ip, delay=SLOW) as wire,
        pytest.raises(probes.IPConflict) as c,
    ):
        run(pod, V4, gateway=False, tries=3, timeout=0.05, interval=3.0)
    assert (c.value.mac, wire.probes_for(V4.pod_ip)) == (
        ":".join(f"{b:02x}" for b in SLOW_HOST_MAC),
        1,
    )
