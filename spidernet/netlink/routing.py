"""Links, addresses, routes, policy rules and neighbours in one network namespace. Does I/O.

A ``Handle`` is a netlink socket opened in a namespace (``open_handle(path)``; no path =
the namespace we run in). Its methods are the coordinator's vocabulary, in the shapes it
needs (``ipaddress`` values, the frozen records of ``records``), so no wire format leaks
out; ``messages`` encodes and decodes, ``rtnl`` carries.

Idempotency (a retried ADD must converge, docs/coordinator.md "EEXIST-tolerant"): adding
a route, rule or address that exists is success; deleting one that is gone is success;
neighbours are written with replace semantics. Every other kernel refusal becomes
``NetlinkFailure`` saying what was being done, with the errno kept.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator

from spidernet.netlink import messages, namespaces, rtnl
from spidernet.netlink.records import (
    MAIN_TABLE,
    NUD_PERMANENT,
    SCOPE_LINK,
    SCOPE_NOWHERE,
    Address,
    Interface,
    Link,
    NetlinkFailure,
    Network,
    Route,
    Rule,
)

__all__ = [  # the records, for callers that know them as routing.Link etc.
    "MAIN_TABLE",
    "NUD_PERMANENT",
    "SCOPE_LINK",
    "SCOPE_NOWHERE",
    "Address",
    "Handle",
    "Interface",
    "Link",
    "NetlinkFailure",
    "Network",
    "Route",
    "Rule",
    "open_handle",
]

_GONE = (errno.ENOENT, errno.ESRCH, errno.ENODEV, errno.EADDRNOTAVAIL)


@contextlib.contextmanager
def _doing(what: str, *, tolerate: tuple[int, ...] = ()) -> Iterator[None]:
    try:
        yield
    except rtnl.KernelError as e:
        if e.code not in tolerate:
            raise NetlinkFailure(what, e.code) from e


class Handle:
    """Netlink access to one namespace; ``path`` is "" for the namespace we run in."""

    def __init__(self, sock: rtnl.Socket, path: str) -> None:
        self.sock = sock
        self.path = path

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Handle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ links

    def links(self) -> list[Link]:
        with _doing("listing links"):
            return [messages.link(m) for m in self.sock.call(messages.dump_links())]

    def link(self, name: str) -> Link | None:
        with _doing(f"looking up link {name}", tolerate=(errno.ENODEV,)):
            return messages.link(self.sock.call(messages.get_link(name=name))[0])
        return None

    def link_by_index(self, index: int) -> Link | None:
        with _doing(f"looking up link #{index}", tolerate=_GONE):
            return messages.link(self.sock.call(messages.get_link(index=index))[0])
        return None

    def set_link(
        self, index: int, *, up: bool | None = None, mtu: int = 0, mac: str = "", txqlen: int = -1
    ) -> None:
        """Bring the link up or down, set its MTU, MAC or queue length: each only if given."""
        given = {
            "state": up is not None,
            "mtu": mtu > 0,
            "address": bool(mac),
            "txqlen": txqlen >= 0,
        }
        with _doing(f"setting {sorted(k for k, v in given.items() if v)} on link #{index}"):
            self.sock.call(messages.set_link(index, up=up, mtu=mtu, mac=mac, txqlen=txqlen))

    def delete_link(self, name: str) -> bool:
        """Delete ``name``; False when it did not exist."""
        link = self.link(name)
        if link is None:
            return False
        with _doing(f"deleting link {name}", tolerate=_GONE):
            self.sock.call(messages.delete_link(link.index))
        return True

    def add_veth(self, name: str, peer: str, peer_netns_path: str, *, peer_mtu: int) -> None:
        """A veth pair with ``name`` here and ``peer`` created straight in the other namespace.

        Creating the peer in place avoids a temporary name on either side: a pod may
        already have a link of our host-side name, and the host one of ``peer``.
        """
        fd = os.open(peer_netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            with _doing(f"creating veth {name} <-> {peer}"):
                self.sock.call(messages.add_veth(name, peer, fd, peer_mtu))
        finally:
            os.close(fd)

    # ------------------------------------------------------------ addresses

    def addresses(self, index: int | None = None) -> list[tuple[int, Interface, int]]:
        """(link index, address with prefix, scope) of every address, or of one link."""
        with _doing("listing addresses"):
            msgs = self.sock.call(messages.dump_addresses())
        entries = (messages.address(m) for m in msgs)
        return [
            (e.index, e.address, e.scope)
            for e in entries
            if e is not None and (index is None or e.index == index)
        ]

    def add_address(self, index: int, address: Interface) -> None:
        with _doing(f"adding {address} to link #{index}", tolerate=(errno.EEXIST,)):
            self.sock.call(messages.add_address(index, address))

    # ------------------------------------------------------------ routes

    def routes(self, *, table: int, family: int | None = None) -> list[Route]:
        with _doing(f"listing routes of table {table}"):
            msgs = self.sock.call(messages.dump_routes(family))
        return [r for r in map(messages.route, msgs) if r is not None and r.table == table]

    def all_routes(self) -> list[Route]:
        """Every route of every table, IPv4 and IPv6."""
        with _doing("listing routes"):
            msgs = self.sock.call(messages.dump_routes())
        return [r for r in map(messages.route, msgs) if r is not None]

    def add_route(self, route: Route) -> None:
        """Add ``route``; an identical one already there is success."""
        with _doing(f"adding route {route.dst} table {route.table}", tolerate=(errno.EEXIST,)):
            self.sock.call(messages.add_route(route))

    def delete_route(self, route: Route) -> None:
        with _doing(f"deleting route {route.dst} table {route.table}", tolerate=_GONE):
            self.sock.call(messages.delete_route(route))

    def route_source(self, dst: Address) -> Address | None:
        """The source address the kernel would pick towards ``dst`` (``ip route get``)."""
        try:
            return messages.route_source(self.sock.call(messages.get_route(dst)))
        except rtnl.KernelError:
            return None  # unreachable from here: no source to offer

    # ------------------------------------------------------------ rules

    def rules(self, family: int) -> list[Rule]:
        with _doing("listing rules"):
            return [messages.rule(m) for m in self.sock.call(messages.dump_rules(family))]

    def add_rule(self, rule: Rule) -> None:
        """Add ``rule`` unless an identical one exists (the kernel refuses duplicates with
        EEXIST)."""
        if rule in self.rules(rule.family):
            return
        with _doing(f"adding rule to table {rule.table}", tolerate=(errno.EEXIST,)):
            self.sock.call(messages.add_rule(rule))

    # ------------------------------------------------------------ neighbours

    def set_neighbour(self, index: int, ip: Address, mac: str) -> None:
        """A PERMANENT entry ip -> mac on link ``index`` (replacing any other state)."""
        with _doing(f"setting neighbour {ip} -> {mac}"):
            self.sock.call(messages.set_neighbour(index, ip, mac, NUD_PERMANENT))

    def neighbours(self) -> list[tuple[int, Address, str, int]]:
        """(link index, ip, mac, state) of every neighbour entry."""
        with _doing("listing neighbours"):
            msgs = self.sock.call(messages.dump_neighbours())
        entries = (messages.neighbour(m) for m in msgs)
        return [(n.index, n.ip, n.mac, n.state) for n in entries if n is not None]

    def delete_neighbour(self, index: int, ip: Address) -> None:
        with _doing(f"deleting neighbour {ip}", tolerate=_GONE):
            self.sock.call(messages.delete_neighbour(index, ip, NUD_PERMANENT))


def open_handle(path: str = "") -> Handle:
    """A handle on the namespace at ``path`` (FileNotFoundError if gone), or on ours."""
    if not path:
        return Handle(rtnl.Socket(), "")
    with namespaces.entered(path):
        return Handle(rtnl.Socket(), path)
