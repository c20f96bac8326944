"""Links, addresses, routes, policy rules and neighbours in one network namespace. Does I/O.

A ``Handle`` is a pyroute2 socket opened in a namespace (``open_handle(path)``; no path =
the namespace we run in). Its methods are the coordinator's vocabulary, in the shapes it
needs (``ipaddress`` values, frozen records), so no pyroute2 type leaks out.

Idempotency (a retried ADD must converge: EEXIST-tolerant): adding a route,
rule or address that exists is success; deleting one that is gone is success; neighbours
are written with replace semantics. Every other kernel refusal becomes ``NetlinkFailure``
saying what was being done, with the errno kept.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from spidernet.netlink import namespaces

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

MAIN_TABLE = 254
SCOPE_LINK = 253
SCOPE_NOWHERE = 255
NUD_PERMANENT = 0x80
IFF_UP, IFF_BROADCAST, IFF_MULTICAST = 0x1, 0x2, 0x1000
_AF = {4: 2, 6: 10}
_GONE = (errno.ENOENT, errno.ESRCH, errno.ENODEV, errno.EADDRNOTAVAIL)


class NetlinkFailure(Exception):
    def __init__(self, what: str, code: int) -> None:
        super().__init__(f"{what}: {os.strerror(code)}")
        self.code = code


@contextlib.contextmanager
def _doing(what: str, *, tolerate: tuple[int, ...] = ()) -> Iterator[None]:
    try:
        yield
    except NetlinkError as e:
        if e.code not in tolerate:
            raise NetlinkFailure(what, e.code) from e


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Rule:
    family: int
    priority: int
    table: int
    src: Network | None = None
    fwmark: int = 0


def parse_link(msg: Any) -> Link:
    info = msg.get_attr("IFLA_LINKINFO")
    kind = (info.get_attr("IFLA_INFO_KIND") if info else None) or ""
    data = info.get_attr("IFLA_INFO_DATA") if info else None
    vlan_id = (data.get_attr("IFLA_VLAN_ID") if kind == "vlan" and data else None) or 0
    return Link(
        index=msg["index"],
        name=msg.get("IFLA_IFNAME"),
        mac=msg.get("IFLA_ADDRESS") or "",
        flags=msg["flags"],
        mtu=msg.get("IFLA_MTU") or 0,
        peer_index=msg.get("IFLA_LINK") or 0,
        kind=kind,
        master=msg.get("IFLA_MASTER") or 0,
        vlan_id=vlan_id,
    )


def _opt_ip(text: str | None) -> Address | None:
    return ipaddress.ip_address(text) if text else None


def _route(msg: Any) -> Route:
    family = 4 if msg["family"] == 2 else 6
    dst = msg.get("RTA_DST") or ("0.0.0.0" if family == 4 else "::")
    gw, src = msg.get("RTA_GATEWAY"), msg.get("RTA_PREFSRC")
    hops = tuple((h["oif"], _opt_ip(h.get("RTA_GATEWAY"))) for h in msg.get("RTA_MULTIPATH") or ())
    return Route(
        dst=ipaddress.ip_network(f"{dst}/{msg['dst_len']}"),
        table=msg.get("RTA_TABLE") or msg["table"],
        oif=msg.get("RTA_OIF") or 0,
        gateway=ipaddress.ip_address(gw) if gw else None,
        scope=msg["scope"],
        src=ipaddress.ip_address(src) if src else None,
        hops=hops,
    )


def _rule(msg: Any) -> Rule:
    src = msg.get("FRA_SRC")
    return Rule(
        family=4 if msg["family"] == 2 else 6,
        priority=msg.get("FRA_PRIORITY") or 0,
        table=msg.get("FRA_TABLE") or msg["table"],
        src=ipaddress.ip_network(f"{src}/{msg['src_len']}") if src else None,
        fwmark=msg.get("FRA_FWMARK") or 0,
    )


class Handle:
    """Netlink access to one namespace; ``path`` is "" for the namespace we run in."""

    def __init__(self, ipr: Any, path: str) -> None:
        self.ipr = ipr
        self.path = path

    def close(self) -> None:
        self.ipr.close()

    def __enter__(self) -> Handle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ links

    def links(self) -> list[Link]:
        with _doing("listing links"):
            return [parse_link(m) for m in self.ipr.get_links()]

    def link(self, name: str) -> Link | None:
        with _doing(f"looking up link {name}"):
            found = self.ipr.link_lookup(ifname=name)
            return parse_link(self.ipr.get_links(found[0])[0]) if found else None

    def link_by_index(self, index: int) -> Link | None:
        with _doing(f"looking up link #{index}", tolerate=_GONE):
            return parse_link(self.ipr.get_links(index)[0])
        return None

    def set_link(self, index: int, **attrs: Any) -> None:
        """``state="up"``, ``mtu``, ``address`` (MAC), ``txqlen``: pyroute2's names."""
        with _doing(f"setting {sorted(attrs)} on link #{index}"):
            self.ipr.link("set", index=index, **attrs)

    def delete_link(self, name: str) -> bool:
        """Delete ``name``; False when it did not exist."""
        link = self.link(name)
        if link is None:
            return False
        with _doing(f"deleting link {name}", tolerate=_GONE):
            self.ipr.link("del", index=link.index)
        return True

    def add_veth(self, name: str, peer: str, peer_netns_path: str, *, peer_mtu: int) -> None:
        """A veth pair with ``name`` here and ``peer`` created straight in the other namespace.

        Creating the peer in place avoids a temporary name on either side: a pod may
        already have a link of our host-side name, and the host one of ``peer``.
        """
        fd = os.open(peer_netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            with _doing(f"creating veth {name} <-> {peer}"):
                self.ipr.link(
                    "add",
                    ifname=name,
                    kind="veth",
                    peer={"ifname": peer, "net_ns_fd": fd, "mtu": peer_mtu},
                )
        finally:
            os.close(fd)

    # ------------------------------------------------------------ addresses

    def addresses(self, index: int | None = None) -> list[tuple[int, Interface, int]]:
        """(link index, address with prefix, scope) of every address, or of one link."""
        with _doing("listing addresses"):
            msgs = self.ipr.get_addr(index=index) if index is not None else self.ipr.get_addr()
        return [
            (
                m["index"],
                ipaddress.ip_interface(f"{m.get('IFA_ADDRESS')}/{m['prefixlen']}"),
                m["scope"],
            )
            for m in msgs
        ]

    def add_address(self, index: int, address: Interface) -> None:
        with _doing(f"adding {address} to link #{index}", tolerate=(errno.EEXIST,)):
            self.ipr.addr(
                "add", index=index, address=str(address.ip), prefixlen=address.network.prefixlen
            )

    # ------------------------------------------------------------ routes

    def routes(self, *, table: int, family: int | None = None) -> list[Route]:
        kw: dict[str, Any] = {"table": table}
        if family:
            kw["family"] = _AF[family]
        with _doing(f"listing routes of table {table}"):
            return [
                _route(m)
                for m in self.ipr.get_routes(**kw)
                if (m.get("RTA_TABLE") or m["table"]) == table
            ]

    def all_routes(self) -> list[Route]:
        """Every route of every table and family."""
        with _doing("listing routes"):
            return [_route(m) for m in self.ipr.get_routes()]

    def add_route(self, route: Route) -> None:
        """Add ``route``; an identical one already there is success."""
        kw: dict[str, Any] = {
            "dst": str(route.dst),
            "table": route.table,
            "family": _AF[route.dst.version],
        }
        if route.oif:
            kw["oif"] = route.oif
        if route.gateway is not None:
            kw["gateway"] = str(route.gateway)
        if route.scope:
            kw["scope"] = route.scope
        if route.src is not None:
            kw["prefsrc"] = str(route.src)
        with _doing(f"adding route {route.dst} table {route.table}", tolerate=(errno.EEXIST,)):
            self.ipr.route("add", **kw)

    def delete_route(self, route: Route) -> None:
        # scope NOWHERE matches a route of any scope; pyroute2's default (universe) would
        # miss every scope-link route with ESRCH, which we tolerate, so silently.
        kw: dict[str, Any] = {
            "dst": str(route.dst),
            "table": route.table,
            "family": _AF[route.dst.version],
            "scope": SCOPE_NOWHERE,
        }
        if route.oif:
            kw["oif"] = route.oif
        if route.gateway is not None:
            kw["gateway"] = str(route.gateway)
        with _doing(f"deleting route {route.dst} table {route.table}", tolerate=_GONE):
            self.ipr.route("del", **kw)

    def route_source(self, dst: Address) -> Address | None:
        """The source address the kernel would pick towards ``dst`` (``ip route get``)."""
        try:
            msgs = self.ipr.route("get", dst=str(dst))
        except NetlinkError:
            return None  # unreachable from here: no source to offer
        src = msgs[0].get("RTA_PREFSRC") if msgs else None
        return ipaddress.ip_address(src) if src else None

    # ------------------------------------------------------------ rules

    def rules(self, family: int) -> list[Rule]:
        with _doing("listing rules"):
            return [_rule(m) for m in self.ipr.get_rules(family=_AF[family])]

    def add_rule(self, rule: Rule) -> None:
        """Add ``rule`` unless an identical one exists (the kernel refuses duplicates with
        EEXIST)."""
        if rule in self.rules(rule.family):
            return
        kw: dict[str, Any] = {
            "family": _AF[rule.family],
            "table": rule.table,
            "priority": rule.priority,
        }
        if rule.src is not None:
            kw.update(src=str(rule.src.network_address), src_len=rule.src.prefixlen)
        if rule.fwmark:
            kw["fwmark"] = rule.fwmark
        with _doing(f"adding rule to table {rule.table}", tolerate=(errno.EEXIST,)):
            self.ipr.rule("add", **kw)

    # ------------------------------------------------------------ neighbours

    def set_neighbour(self, index: int, ip: Address, mac: str) -> None:
        """A PERMANENT entry ip -> mac on link ``index`` (replacing any other state)."""
        with _doing(f"setting neighbour {ip} -> {mac}"):
            self.ipr.neigh(
                "replace",
                dst=str(ip),
                lladdr=mac,
                ifindex=index,
                state=NUD_PERMANENT,
                family=_AF[ip.version],
            )

    def neighbours(self) -> list[tuple[int, Address, str, int]]:
        """(link index, ip, mac, state) of every neighbour entry."""
        with _doing("listing neighbours"):
            msgs = self.ipr.get_neighbours()
        return [
            (
                m["ifindex"],
                ipaddress.ip_address(m.get("NDA_DST")),
                m.get("NDA_LLADDR") or "",
                m["state"],
            )
            for m in msgs
            if m.get("NDA_DST")
        ]

    def delete_neighbour(self, index: int, ip: Address) -> None:
        with _doing(f"deleting neighbour {ip}", tolerate=_GONE):
            self.ipr.neigh("del", dst=str(ip), ifindex=index, family=_AF[ip.version])


def open_handle(path: str = "") -> Handle:
    """A handle on the namespace at ``path`` (FileNotFoundError if gone), or on ours."""
    if not path:
        return Handle(IPRoute(), "")
    with namespaces.entered(path):
        return Handle(IPRoute(), path)
