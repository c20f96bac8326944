"""What the plugins read from and write to the kernel's routing tables: links, routes,
policy rules, and the netlink package's one error. Pure records, no I/O.

The vocabulary of ``routing.Handle`` and ``links.Links`` (``ipaddress`` values, frozen
records), so that callers never see a wire format.
"""

from __future__ import annotations

import ipaddress
import os

from spidernet.types.record import record

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

MAIN_TABLE = 254
SCOPE_LINK = 253
SCOPE_NOWHERE = 255
NUD_PERMANENT = 0x80
IFF_UP, IFF_BROADCAST, IFF_MULTICAST = 0x1, 0x2, 0x1000


class NetlinkFailure(Exception):
    """The kernel refused a request; ``code`` is its errno, the message says what was
    being done. The netlink package's only error: callers decide what it means."""

    def __init__(self, what: str, code: int) -> None:
        super().__init__(f"{what}: {os.strerror(code)}")
        self.code = code


@record
class Link:
    index: int
    name: str
    mac: str
    flags: int
    mtu: int
    peer_index: int  # IFLA_LINK: a veth's peer (in the peer's namespace), a VLAN's parent
    kind: str = ""  # IFLA_INFO_KIND: "vlan", "bond", "veth"...; "" for a plain NIC
    master: int = 0  # IFLA_MASTER: the bond or bridge it is enslaved to; 0 when none
    vlan_id: int = 0  # for kind "vlan"

    @property
    def up(self) -> bool:
        return bool(self.flags & IFF_UP)

    @property
    def up_broadcast_multicast(self) -> bool:
        want = IFF_UP | IFF_BROADCAST | IFF_MULTICAST
        return self.flags & want == want


@record
class Route:
    dst: Network
    table: int
    oif: int = 0
    gateway: Address | None = None
    scope: int = 0
    src: Address | None = None
    hops: tuple[tuple[int, Address | None], ...] = ()  # multipath: (oif, gateway) per nexthop

    @property
    def is_default(self) -> bool:
        return self.dst.prefixlen == 0


@record
class Rule:
    family: int
    priority: int
    table: int
    src: Network | None = None
    fwmark: int = 0


@record
class Neighbour:
    index: int
    ip: Address
    mac: str
    state: int


@record
class AddressEntry:
    index: int
    address: Interface
    scope: int
