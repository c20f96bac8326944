"""The rtnetlink messages the plugins send and read, encoded and decoded here. Pure, no I/O.

Why our own codec and not pyroute2 (docs/performance.md, "Netlink"): importing
pyroute2 cost about 110 ms of CPU per plugin exec, more than the rest of a coordinator
ADD together, and its package ``__init__`` loads all of it whatever one imports. The
plugins send a dozen kinds of message; this module is those dozen, each laid out as
pyroute2 0.9 laid it out (same header fields, defaults, attributes and flags, read
off the wire with strace), so the kernel sees the same requests as before. pyroute2
stays the project's netlink library where it serves: the tests read kernel state
with it, as an oracle independent of this code.

Wire format (linux/netlink.h, linux/rtnetlink.h): a message is a 16-byte ``nlmsghdr``
(length, type, flags, sequence, port id), a fixed family header (``ifinfomsg``,
``ifaddrmsg``, ``rtmsg``, ``fib_rule_hdr``, ``ndmsg``), then attributes: 4-byte
``rtattr`` (length, type) plus payload, each padded to 4 bytes; nested attributes
hold attributes. All integers are host byte order (this is x86_64 only).

A request here is ``(type, flags, body)``; ``rtnl.Socket`` adds the ``nlmsghdr``.
A reply is decoded lazily: ``split`` cuts a buffer into ``Message``s, and each record
parser reads only the attributes it needs.
"""

from __future__ import annotations

import ipaddress
import struct

from spidernet.netlink.records import (
    Address,
    AddressEntry,
    Interface,
    Link,
    Neighbour,
    Network,
    Route,
    Rule,
)

# ---------------------------------------------------------------- constants

NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK, NLM_F_DUMP_INTR = 0x1, 0x2, 0x4, 0x10
NLM_F_DUMP = 0x300  # NLM_F_ROOT | NLM_F_MATCH
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_GETADDR = 20, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30
RTM_NEWRULE, RTM_GETRULE = 32, 34

AF_UNSPEC, AF_INET, AF_INET6 = 0, 2, 10
FAMILY = {4: AF_INET, 6: AF_INET6}
IFF_UP = 0x1

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK = 1, 3, 4, 5
IFLA_MASTER, IFLA_TXQLEN, IFLA_LINKINFO, IFLA_NET_NS_FD, IFLA_EXT_MASK = 10, 13, 18, 28, 29
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFLA_VLAN_ID = 1
RTEXT_FILTER_SKIP_STATS = 1 << 3  # link dumps without counters: a fraction of the bytes
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PREFSRC, RTA_MULTIPATH, RTA_TABLE = 1, 4, 5, 7, 9, 15
FRA_SRC, FRA_PRIORITY, FRA_FWMARK, FRA_TABLE = 2, 6, 10, 15
NDA_DST, NDA_LLADDR = 1, 2

RTPROT_STATIC = 4  # pyroute2's default for the routes we add, kept so `ip route` reads the same
RTN_UNICAST = 1
FR_ACT_TO_TBL = 1
RT_TABLE_COMPAT = 252  # the header's table when the real one (in the attribute) is > 255
MAIN_TABLE = 254
SCOPE_NOWHERE = 255

# IFLA_BOND_* (linux/if_link.h) -> (number, struct format); ARP_IP_TARGET is nested
# (one IPv4 address per inner attribute) and AD_ACTOR_SYSTEM a MAC, both by hand. The
# MAC goes as its 6 bytes, as the kernel wants it: pyroute2 0.9 sent the text
# "02:00:..." and the kernel refused it, so ad_actor_system never worked before.
BOND_ATTRS: dict[str, tuple[int, str]] = {
    "IFLA_BOND_MODE": (1, "B"),
    "IFLA_BOND_ACTIVE_SLAVE": (2, "I"),
    "IFLA_BOND_MIIMON": (3, "I"),
    "IFLA_BOND_UPDELAY": (4, "I"),
    "IFLA_BOND_DOWNDELAY": (5, "I"),
    "IFLA_BOND_USE_CARRIER": (6, "B"),
    "IFLA_BOND_ARP_INTERVAL": (7, "I"),
    "IFLA_BOND_ARP_IP_TARGET": (8, ""),
    "IFLA_BOND_ARP_VALIDATE": (9, "I"),
    "IFLA_BOND_ARP_ALL_TARGETS": (10, "I"),
    "IFLA_BOND_PRIMARY": (11, "I"),
    "IFLA_BOND_PRIMARY_RESELECT": (12, "B"),
    "IFLA_BOND_FAIL_OVER_MAC": (13, "B"),
    "IFLA_BOND_XMIT_HASH_POLICY": (14, "B"),
    "IFLA_BOND_RESEND_IGMP": (15, "I"),
    "IFLA_BOND_NUM_PEER_NOTIF": (16, "B"),
    "IFLA_BOND_ALL_SLAVES_ACTIVE": (17, "B"),
    "IFLA_BOND_MIN_LINKS": (18, "I"),
    "IFLA_BOND_LP_INTERVAL": (19, "I"),
    "IFLA_BOND_PACKETS_PER_SLAVE": (20, "I"),
    "IFLA_BOND_AD_LACP_RATE": (21, "B"),
    "IFLA_BOND_AD_SELECT": (22, "B"),
    "IFLA_BOND_AD_ACTOR_SYS_PRIO": (24, "H"),
    "IFLA_BOND_AD_USER_PORT_KEY": (25, "H"),
    "IFLA_BOND_AD_ACTOR_SYSTEM": (26, ""),
    "IFLA_BOND_TLB_DYNAMIC_LB": (27, "B"),
}

HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, seq, pid
_ATTR = struct.Struct("=HH")  # rtattr: length, type
_IFINFO = struct.Struct("=BxHiII")  # family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBi")  # family, prefixlen, flags, scope, index
# rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
_RTMSG = struct.Struct("=BBBBBBBBI")
_RULE = _RTMSG  # fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2, action, flags
_NDMSG = struct.Struct("=BxxxiHBB")  # family, ifindex, state, flags, type
_NEXTHOP = struct.Struct("=HBBi")  # rtnexthop: length, flags, hops, ifindex
_U32 = struct.Struct("=I")
_ERRNO = struct.Struct("=i")

Request = tuple[int, int, bytes]  # (message type, flags, body after the nlmsghdr)


# ---------------------------------------------------------------- encoding


def attr(kind: int, payload: bytes) -> bytes:
    """One attribute, padded to 4 bytes (the padding is outside its length)."""
    size = _ATTR.size + len(payload)
    return _ATTR.pack(size, kind) + payload + bytes(-size % 4)


def u32(kind: int, value: int) -> bytes:
    return attr(kind, _U32.pack(value))


def text(kind: int, value: str) -> bytes:
    return attr(kind, value.encode() + b"\0")


def ip(kind: int, value: Address) -> bytes:
    return attr(kind, value.packed)


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def _ifinfo(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return _IFINFO.pack(AF_UNSPEC, 0, index, flags, change)


def _rtmsg(family: int, dst_len: int, table: int, proto: int, scope: int, kind: int) -> bytes:
    return _RTMSG.pack(family, dst_len, 0, 0, table, proto, scope, kind, 0)


def _table(table: int) -> int:
    return table if table < 256 else MAIN_TABLE  # the attribute carries the real one


_NEW = NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE
_DO = NLM_F_REQUEST | NLM_F_ACK
_DUMP = NLM_F_REQUEST | NLM_F_DUMP


# ---------------------------------------------------------------- requests: links


def get_link(name: str = "", index: int = 0) -> Request:
    """One link by name (ENODEV when there is none) or by index."""
    return RTM_GETLINK, _DO, _ifinfo(index) + (text(IFLA_IFNAME, name) if name else b"")


def dump_links() -> Request:
    return RTM_GETLINK, _DUMP, _ifinfo() + u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)


def set_link(
    index: int,
    *,
    up: bool | None = None,
    mtu: int = 0,
    mac: str = "",
    txqlen: int = -1,
    master: int = -1,
) -> Request:
    """RTM_NEWLINK on an existing link: state (flags and change mask), MTU, MAC, queue
    length, master (0 releases it from its bond): each only when given."""
    flags, change = (IFF_UP if up else 0, IFF_UP) if up is not None else (0, 0)
    body = _ifinfo(index, flags, change)
    if mac:
        body += attr(IFLA_ADDRESS, mac_bytes(mac))
    if mtu:
        body += u32(IFLA_MTU, mtu)
    if txqlen >= 0:
        body += u32(IFLA_TXQLEN, txqlen)
    if master >= 0:
        body += u32(IFLA_MASTER, master)
    return RTM_NEWLINK, _DO, body


def delete_link(index: int) -> Request:
    return RTM_DELLINK, _DO, _ifinfo(index)


def _linkinfo(kind: str, data: bytes) -> bytes:
    return attr(IFLA_LINKINFO, text(IFLA_INFO_KIND, kind) + attr(IFLA_INFO_DATA, data))


def add_veth(name: str, peer: str, peer_netns_fd: int, peer_mtu: int) -> Request:
    """A veth pair, the peer created straight in the namespace of ``peer_netns_fd``."""
    peer_msg = _ifinfo() + text(IFLA_IFNAME, peer) + u32(IFLA_NET_NS_FD, peer_netns_fd)
    peer_msg += u32(IFLA_MTU, peer_mtu)
    body = _ifinfo() + text(IFLA_IFNAME, name) + _linkinfo("veth", attr(VETH_INFO_PEER, peer_msg))
    return RTM_NEWLINK, _NEW, body


def add_vlan(name: str, parent: int, vlan_id: int) -> Request:
    vlan = attr(IFLA_VLAN_ID, struct.pack("=H", vlan_id))
    body = _ifinfo() + text(IFLA_IFNAME, name) + u32(IFLA_LINK, parent) + _linkinfo("vlan", vlan)
    return RTM_NEWLINK, _NEW, body


def add_bond(name: str, mode: int, options: dict[str, object]) -> Request:
    """A bond; ``options`` maps IFLA_BOND_* names to values (spidernet.ifacer.bondopts)."""
    data = _bond_attr("IFLA_BOND_MODE", mode)
    for key, value in options.items():
        data += _bond_attr(key, value)
    return RTM_NEWLINK, _NEW, _ifinfo() + text(IFLA_IFNAME, name) + _linkinfo("bond", data)


def _bond_attr(key: str, value: object) -> bytes:
    kind, fmt = BOND_ATTRS[key]
    if isinstance(value, list):  # IFLA_BOND_ARP_IP_TARGET; the kernel ignores the inner types
        targets = (ip(i, ipaddress.IPv4Address(t)) for i, t in enumerate(value, start=1))
        return attr(kind, b"".join(targets))
    if isinstance(value, str):  # IFLA_BOND_AD_ACTOR_SYSTEM
        return attr(kind, mac_bytes(value))
    if not isinstance(value, int):
        raise TypeError(f"{key}: {value!r} is no integer")
    return attr(kind, struct.pack("=" + fmt, value))


# ---------------------------------------------------------------- requests: addresses, routes...


def dump_addresses() -> Request:
    return RTM_GETADDR, _DUMP, _IFADDR.pack(AF_UNSPEC, 0, 0, 0, 0)


def add_address(index: int, address: Interface) -> Request:
    family = FAMILY[address.version]
    body = _IFADDR.pack(family, address.network.prefixlen, 0, 0, index)
    body += ip(IFA_ADDRESS, address.ip)
    if address.version == 4:
        body += ip(IFA_LOCAL, address.ip)
    return RTM_NEWADDR, _NEW, body


def dump_routes(version: int | None = None) -> Request:
    """Every route of one family, or (None) of every family."""
    family = FAMILY[version] if version else AF_UNSPEC
    return RTM_GETROUTE, _DUMP, _rtmsg(family, 0, MAIN_TABLE, 0, 0, 0)


def add_route(route: Route) -> Request:
    family, table = FAMILY[route.dst.version], _table(route.table)
    body = _rtmsg(family, route.dst.prefixlen, table, RTPROT_STATIC, route.scope, RTN_UNICAST)
    body += ip(RTA_DST, route.dst.network_address) + u32(RTA_TABLE, route.table)
    if route.oif:
        body += u32(RTA_OIF, route.oif)
    if route.gateway is not None:
        body += ip(RTA_GATEWAY, route.gateway)
    if route.src is not None:
        body += ip(RTA_PREFSRC, route.src)
    return RTM_NEWROUTE, _NEW, body


def delete_route(route: Route) -> Request:
    """Scope NOWHERE matches a route of any scope (the default, universe, would miss
    every scope-link route with ESRCH)."""
    family, table = FAMILY[route.dst.version], _table(route.table)
    body = _rtmsg(family, route.dst.prefixlen, table, 0, SCOPE_NOWHERE, 0)
    body += ip(RTA_DST, route.dst.network_address) + u32(RTA_TABLE, route.table)
    if route.oif:
        body += u32(RTA_OIF, route.oif)
    if route.gateway is not None:
        body += ip(RTA_GATEWAY, route.gateway)
    return RTM_DELROUTE, _DO, body


def get_route(dst: Address) -> Request:
    """``ip route get``: the route (and source address) the kernel would use to ``dst``."""
    body = _rtmsg(FAMILY[dst.version], dst.max_prefixlen, MAIN_TABLE, 0, 0, 0)
    return RTM_GETROUTE, _DO, body + ip(RTA_DST, dst)


def dump_rules(version: int) -> Request:
    return RTM_GETRULE, _DUMP, _RULE.pack(FAMILY[version], 0, 0, 0, 0, 0, 0, 0, 0)


def add_rule(rule: Rule) -> Request:
    header_table = rule.table if rule.table < 256 else RT_TABLE_COMPAT
    src_len = rule.src.prefixlen if rule.src is not None else 0
    body = _RULE.pack(FAMILY[rule.family], 0, src_len, 0, header_table, 0, 0, FR_ACT_TO_TBL, 0)
    body += u32(FRA_TABLE, rule.table) + u32(FRA_PRIORITY, rule.priority)
    if rule.src is not None:
        body += ip(FRA_SRC, rule.src.network_address)
    if rule.fwmark:
        body += u32(FRA_FWMARK, rule.fwmark)
    return RTM_NEWRULE, _NEW, body


def set_neighbour(index: int, dst: Address, mac: str, state: int) -> Request:
    """An entry with ``state``, replacing whatever the kernel had for ``dst``."""
    body = _NDMSG.pack(FAMILY[dst.version], index, state, 0, 0)
    body += ip(NDA_DST, dst) + attr(NDA_LLADDR, mac_bytes(mac))
    return RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE | NLM_F_CREATE, body


def delete_neighbour(index: int, dst: Address, state: int) -> Request:
    body = _NDMSG.pack(FAMILY[dst.version], index, state, 0, 0) + ip(NDA_DST, dst)
    return RTM_DELNEIGH, _DO, body


def dump_neighbours() -> Request:
    return RTM_GETNEIGH, _DUMP, _NDMSG.pack(AF_UNSPEC, 0, 0, 0, 0)


# ---------------------------------------------------------------- decoding


class Message:
    """One reply message: its type, flags and sequence number, and the body after the
    ``nlmsghdr``."""

    __slots__ = ("body", "flags", "kind", "seq")

    def __init__(self, kind: int, flags: int, seq: int, body: bytes) -> None:
        self.kind = kind
        self.flags = flags
        self.seq = seq
        self.body = body

    def error(self) -> int:
        """NLMSG_ERROR's errno (positive; 0 is the ACK)."""
        return -int(_ERRNO.unpack_from(self.body)[0])


def split(data: bytes) -> list[Message]:
    """A buffer from ``recv`` -> its messages (one recv holds one or more whole ones)."""
    out, offset = [], 0
    while offset + HEADER.size <= len(data):
        length, kind, flags, seq, _ = HEADER.unpack_from(data, offset)
        if length < HEADER.size:
            break  # malformed: stop rather than loop
        out.append(Message(kind, flags, seq, data[offset + HEADER.size : offset + length]))
        offset += (length + 3) & ~3
    return out


def attrs(data: bytes, offset: int = 0, end: int | None = None) -> dict[int, bytes]:
    """Attribute type -> payload (the first of each type), from ``offset`` to ``end``."""
    out: dict[int, bytes] = {}
    end = len(data) if end is None else end
    while offset + _ATTR.size <= end:
        length, kind = _ATTR.unpack_from(data, offset)
        if length < _ATTR.size:
            break
        out.setdefault(kind & 0x3FFF, data[offset + _ATTR.size : offset + length])  # no NESTED flag
        offset += (length + 3) & ~3
    return out


def _u32(payload: bytes | None) -> int:
    return int(_U32.unpack_from(payload)[0]) if payload else 0


def _name(payload: bytes | None) -> str:
    return payload.split(b"\0", 1)[0].decode(errors="replace") if payload else ""


def _mac(payload: bytes | None) -> str:
    return ":".join(f"{b:02x}" for b in payload) if payload else ""


def _addr(payload: bytes | None) -> Address | None:
    return ipaddress.ip_address(payload) if payload and len(payload) in (4, 16) else None


def _net(family: int, packed: bytes | None, prefix: int) -> Network:
    """A network from the kernel's bytes (``(bytes, prefix)``: no text to parse)."""
    if family == AF_INET:
        return ipaddress.IPv4Network((packed or bytes(4), prefix))
    return ipaddress.IPv6Network((packed or bytes(16), prefix))


def link(msg: Message) -> Link:
    _, _, index, flags, _ = _IFINFO.unpack_from(msg.body)
    a = attrs(msg.body, _IFINFO.size)
    info = attrs(a[IFLA_LINKINFO]) if IFLA_LINKINFO in a else {}
    kind = _name(info.get(IFLA_INFO_KIND))
    vlan_id = 0
    if kind == "vlan" and IFLA_INFO_DATA in info:
        raw = attrs(info[IFLA_INFO_DATA]).get(IFLA_VLAN_ID)
        vlan_id = int(struct.unpack_from("=H", raw)[0]) if raw else 0
    return Link(
        index=index,
        name=_name(a.get(IFLA_IFNAME)),
        mac=_mac(a.get(IFLA_ADDRESS)),
        flags=flags,
        mtu=_u32(a.get(IFLA_MTU)),
        peer_index=_u32(a.get(IFLA_LINK)),
        kind=kind,
        master=_u32(a.get(IFLA_MASTER)),
        vlan_id=vlan_id,
    )


def address(msg: Message) -> AddressEntry | None:
    family, prefixlen, _, scope, index = _IFADDR.unpack_from(msg.body)
    packed = attrs(msg.body, _IFADDR.size).get(IFA_ADDRESS)
    if family == AF_INET and packed and len(packed) == 4:
        return AddressEntry(index, ipaddress.IPv4Interface((packed, prefixlen)), scope)
    if family == AF_INET6 and packed and len(packed) == 16:
        return AddressEntry(index, ipaddress.IPv6Interface((packed, prefixlen)), scope)
    return None


def route(msg: Message) -> Route | None:
    """A route of IPv4 or IPv6 (None for other families: multicast routing tables)."""
    family, dst_len, _, _, table, _, scope, _, _ = _RTMSG.unpack_from(msg.body)
    if family not in (AF_INET, AF_INET6):
        return None
    a = attrs(msg.body, _RTMSG.size)
    return Route(
        dst=_net(family, a.get(RTA_DST), dst_len),
        table=_u32(a.get(RTA_TABLE)) or table,
        oif=_u32(a.get(RTA_OIF)),
        gateway=_addr(a.get(RTA_GATEWAY)),
        scope=scope,
        src=_addr(a.get(RTA_PREFSRC)),
        hops=_hops(a.get(RTA_MULTIPATH)),
    )


def _hops(data: bytes | None) -> tuple[tuple[int, Address | None], ...]:
    """RTA_MULTIPATH: ``rtnexthop`` records, each followed by its own attributes."""
    out, offset = [], 0
    while data and offset + _NEXTHOP.size <= len(data):
        length, _, _, index = _NEXTHOP.unpack_from(data, offset)
        if length < _NEXTHOP.size:
            break
        gw = attrs(data, offset + _NEXTHOP.size, offset + length).get(RTA_GATEWAY)
        out.append((index, _addr(gw)))
        offset += (length + 3) & ~3
    return tuple(out)


def route_source(msgs: list[Message]) -> Address | None:
    """The RTA_PREFSRC of ``get_route``'s answer."""
    for msg in msgs:
        if msg.kind == RTM_NEWROUTE:
            return _addr(attrs(msg.body, _RTMSG.size).get(RTA_PREFSRC))
    return None


def rule(msg: Message) -> Rule:
    family, _, src_len, _, table, _, _, _, _ = _RULE.unpack_from(msg.body)
    a = attrs(msg.body, _RULE.size)
    src = a.get(FRA_SRC)
    return Rule(
        family=4 if family == AF_INET else 6,
        priority=_u32(a.get(FRA_PRIORITY)),
        table=_u32(a.get(FRA_TABLE)) or table,
        src=_net(family, src, src_len) if src else None,
        fwmark=_u32(a.get(FRA_FWMARK)),
    )


def neighbour(msg: Message) -> Neighbour | None:
    _, index, state, _, _ = _NDMSG.unpack_from(msg.body)
    a = attrs(msg.body, _NDMSG.size)
    dst = _addr(a.get(NDA_DST))
    return Neighbour(index, dst, _mac(a.get(NDA_LLADDR)), state) if dst is not None else None
