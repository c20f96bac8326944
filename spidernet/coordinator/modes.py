"""Pure decisions of a coordinator ADD: mode, first NIC, table number, MAC, host addresses. No I/O.

Everything here takes facts already read from the pod and host namespaces and returns
what to do, so the rules can be tested without a kernel.

Tables (deterministic numbers, docs/coordinator.md "Layout"):
100 holds the fwmark reply path of the first underlay NIC; each further NIC takes the
lowest table from 101 up that no policy rule and no route in the pod uses yet, and a
re-ADD of a NIC finds its own table again through the ``from <its address>`` rule.
Upstream derives the number from the count of UP links instead (``len(links) + 98``),
which any extra link in the pod (a tunnel, a second veth) shifts.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence

from spidernet.coordinator.failures import PodStateError
from spidernet.types.record import record

TYPE_CHECKING = False  # typing is not imported at run time (docs/performance.md)
if TYPE_CHECKING:
    from typing import Literal

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

POD_VETH = "veth0"
FWMARK_TABLE = 100
FIRST_NIC_TABLE = 101
_RESERVED_TABLES = range(253, 256)  # default, main, local

# Host links whose addresses the pod is not routed to (upstream's step 8, docs/coordinator.md):
# other pods' veths and well-known container/CNI bridges and tunnels.
_NOT_HOST_NIC = re.compile(
    r"^(docker.*|cbr.*|dummy.*|virbr.*|lxcbr.*|veth.*|lo|cali.*|flannel.*|kube-ipvs.*|cni.*|vx-submariner|cilium.*)$"
)


@record
class Placement:
    mode: Literal["underlay", "overlay"]
    first: bool  # the NIC that creates veth0 (underlay) or the first extra NIC (overlay)
    table: int  # where this NIC's policy routes go (unused by the first underlay NIC)


def host_veth_name(container_id: str) -> str:
    return "veth" + container_id[:11]


def resolve_mode(
    mode: str, *, ifname: str, default_nic: str, has_veth0: bool
) -> Literal["underlay", "overlay"]:
    """``auto``: the pod's first NIC, or any NIC once veth0 exists, is underlay (upstream's step
    6)."""
    if mode in ("underlay", "overlay"):
        return mode  # type: ignore[return-value]
    return "underlay" if ifname == default_nic or has_veth0 else "overlay"


def check_mode(mode: str, *, ifname: str, default_nic: str, has_veth0: bool) -> None:
    if mode == "underlay" and ifname != default_nic and not has_veth0:
        raise PodStateError(
            f"{ifname}: pod has no {POD_VETH}; the coordinator must also run for the pod's "
            f"first NIC {default_nic}"
        )
    if mode == "overlay" and ifname == default_nic:
        raise PodStateError(f"{ifname}: overlay mode never tunes the pod's first NIC {default_nic}")
    if mode == "overlay" and has_veth0:
        raise PodStateError(
            f"{ifname}: overlay mode, but the pod already has {POD_VETH} from an underlay NIC"
        )


def choose_table(*, used: Iterable[int], own_rule_tables: Iterable[int]) -> int:
    """Lowest free table from 101; a NIC that already has a rule (re-ADD) keeps its table."""
    mine = sorted(t for t in own_rule_tables if t >= FIRST_NIC_TABLE and t not in _RESERVED_TABLES)
    if mine:
        return mine[0]
    taken = set(used)
    table = FIRST_NIC_TABLE
    while table in taken or table in _RESERVED_TABLES:
        table += 1
    return table


def placement(
    mode: str, *, ifname: str, default_nic: str, has_veth0: bool, table: int
) -> Placement:
    resolved = resolve_mode(mode, ifname=ifname, default_nic=default_nic, has_veth0=has_veth0)
    check_mode(resolved, ifname=ifname, default_nic=default_nic, has_veth0=has_veth0)
    first = ifname == default_nic if resolved == "underlay" else table == FIRST_NIC_TABLE
    return Placement(resolved, first, table)


def usable(address: Interface) -> bool:
    """Addresses the coordinator routes: not link-local, multicast or loopback."""
    ip = address.ip
    return not (ip.is_link_local or ip.is_multicast or ip.is_loopback)


def families(addresses: Iterable[Interface]) -> frozenset[int]:
    return frozenset(a.version for a in addresses if usable(a))


def is_host_nic(name: str) -> bool:
    return not _NOT_HOST_NIC.fullmatch(name)


def host_addresses(
    route_sources: Iterable[Address | None],
    nic_addresses: Iterable[Address],
    wanted: frozenset[int],
) -> list[Address]:
    """Host addresses the pod gets routes to: sources towards the pod first, then the rest,
    deduplicated."""
    out: list[Address] = []
    for ip in [*route_sources, *nic_addresses]:
        if ip is not None and ip.version in wanted and ip not in out:
            out.append(ip)
    return out


def gateways(host_ips: Sequence[Address]) -> dict[int, Address]:
    """The first host address of each family: next hop of the hijack and fwmark routes."""
    out: dict[int, Address] = {}
    for ip in host_ips:
        out.setdefault(ip.version, ip)
    return out


def mac_with_prefix(prefix: bytes, address: Address) -> str:
    """Prefix (2 bytes) + the last 4 bytes of ``address`` (upstream's step 10)."""
    raw = prefix + address.packed[-4:]
    return ":".join(f"{b:02x}" for b in raw)


def random_mac(seed: bytes) -> str:
    """A locally administered unicast MAC from 5 random bytes (set explicitly so that
    systemd's MACAddressPolicy on the host cannot rewrite the veth's address)."""
    return ":".join(f"{b:02x}" for b in bytes([0x02]) + seed[:5])
