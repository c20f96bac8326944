"""Host links for ifacer: look up, create VLANs and bonds, enslave, set up/down, delete.
Does I/O (rtnetlink through pyroute2, and sysfs for two bond knobs netlink lacks here).

Works in the calling process's network namespace (the node). Each method is one
kernel request; the idempotency and undo policy lives in ``spidernet.ifacer.devices``.
Kernel refusals come out as ``routing.NetlinkFailure`` (the package's one error class)
carrying the errno in ``code``, so callers can tell "exists" (EEXIST) from "no such
device" (ENODEV) from "not allowed in this mode".
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from spidernet.netlink.routing import Link, NetlinkFailure, parse_link

SYS_CLASS_NET = Path("/sys/class/net")


class Links:
    """One rtnetlink socket; use as a context manager."""

    def __init__(self) -> None:
        self.ipr = IPRoute()

    def __enter__(self) -> Links:
        return self

    def __exit__(self, *exc: object) -> None:
        self.ipr.close()

    def _call(self, what: str, *args: Any, **kw: Any) -> Any:
        try:
            return self.ipr.link(*args, **kw)
        except NetlinkError as e:
            raise NetlinkFailure(what, e.code) from e

    def get(self, name: str) -> Link | None:
        try:
            return parse_link(self.ipr.link("get", ifname=name)[0])
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                return None
            raise NetlinkFailure(f"looking up {name}", e.code) from e

    def all(self) -> list[Link]:
        return [parse_link(m) for m in self.ipr.get_links()]

    def name_of(self, index: int) -> str:
        return next((link.name for link in self.all() if link.index == index), f"#{index}")

    def set_state(self, link: Link, up: bool) -> None:
        self._call(
            f"setting {link.name} {'up' if up else 'down'}",
            "set",
            index=link.index,
            state="up" if up else "down",
        )

    def add_vlan(self, name: str, parent: Link, vlan_id: int) -> None:
        self._call(
            f"creating VLAN {name}",
            "add",
            ifname=name,
            kind="vlan",
            link=parent.index,
            vlan_id=vlan_id,
        )

    def add_bond(self, name: str, mode: int, attrs: dict[str, object]) -> None:
        """``attrs``: IFLA_BOND_* -> value; pyroute2 spells them ``bond_<lowercase>``."""
        kw = {
            "bond_" + key.removeprefix("IFLA_BOND_").lower(): value for key, value in attrs.items()
        }
        self._call(f"creating bond {name}", "add", ifname=name, kind="bond", bond_mode=mode, **kw)

    def enslave(self, link: Link, master: Link) -> None:
        self._call(
            f"enslaving {link.name} to {master.name}", "set", index=link.index, master=master.index
        )

    def release(self, link: Link) -> None:
        self._call(f"releasing {link.name}", "set", index=link.index, master=0)

    def delete(self, link: Link) -> None:
        self._call(f"deleting {link.name}", "del", index=link.index)

    def bond_slaves(self, bond: Link) -> list[str]:
        return sorted(link.name for link in self.all() if link.master == bond.index)

    def bond_sysfs(self, bond: Link, knob: str, value: str) -> None:
        """Knobs without a netlink attribute in pyroute2 0.9 (``peer_notif_delay``) or
        that only make sense once slaves exist (``active_slave``)."""
        path = SYS_CLASS_NET / bond.name / "bonding" / knob
        try:
            path.write_text(value + "\n")
        except OSError as e:
            raise NetlinkFailure(f"writing {value!r} to {path}", e.errno or errno.EIO) from e
