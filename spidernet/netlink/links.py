"""Host links for ifacer: look up, create VLANs and bonds, enslave, set up/down, delete.
Does I/O (rtnetlink through ``rtnl``, and sysfs for two bond knobs).

Works in the calling process's network namespace (the node). Each method is one
kernel request; the idempotency and undo policy lives in ``spidernet.ifacer.devices``.
Kernel refusals come out as ``NetlinkFailure`` (the package's one error class)
carrying the errno in ``code``, so callers can tell "exists" (EEXIST) from "no such
device" (ENODEV) from "not allowed in this mode".
"""

from __future__ import annotations

import errno

from spidernet.netlink import messages, rtnl
from spidernet.netlink.records import Link, NetlinkFailure

SYS_CLASS_NET = "/sys/class/net"  # a string, not a pathlib.Path: pathlib costs ~8 ms an exec


class Links:
    """One rtnetlink socket; use as a context manager."""

    def __init__(self) -> None:
        self.sock = rtnl.Socket()

    def __enter__(self) -> Links:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def _call(self, what: str, request: messages.Request) -> list[messages.Message]:
        try:
            return self.sock.call(request)
        except rtnl.KernelError as e:
            raise NetlinkFailure(what, e.code) from e

    def get(self, name: str) -> Link | None:
        try:
            return messages.link(self.sock.call(messages.get_link(name=name))[0])
        except rtnl.KernelError as e:
            if e.code == errno.ENODEV:
                return None
            raise NetlinkFailure(f"looking up {name}", e.code) from e

    def all(self) -> list[Link]:
        return [messages.link(m) for m in self._call("listing links", messages.dump_links())]

    def name_of(self, index: int) -> str:
        return next((link.name for link in self.all() if link.index == index), f"#{index}")

    def set_state(self, link: Link, up: bool) -> None:
        what = f"setting {link.name} {'up' if up else 'down'}"
        self._call(what, messages.set_link(link.index, up=up))

    def add_vlan(self, name: str, parent: Link, vlan_id: int) -> None:
        self._call(f"creating VLAN {name}", messages.add_vlan(name, parent.index, vlan_id))

    def add_bond(self, name: str, mode: int, attrs: dict[str, object]) -> None:
        """``attrs``: IFLA_BOND_* -> value (spidernet.ifacer.bondopts)."""
        self._call(f"creating bond {name}", messages.add_bond(name, mode, attrs))

    def enslave(self, link: Link, master: Link) -> None:
        what = f"enslaving {link.name} to {master.name}"
        self._call(what, messages.set_link(link.index, master=master.index))

    def release(self, link: Link) -> None:
        self._call(f"releasing {link.name}", messages.set_link(link.index, master=0))

    def delete(self, link: Link) -> None:
        self._call(f"deleting {link.name}", messages.delete_link(link.index))

    def bond_slaves(self, bond: Link) -> list[str]:
        return sorted(link.name for link in self.all() if link.master == bond.index)

    def bond_sysfs(self, bond: Link, knob: str, value: str) -> None:
        """Knobs set through sysfs: ``peer_notif_delay`` (the kernel's netlink attribute
        came later than the sysfs file) and ``active_slave`` (it only makes sense once
        slaves exist)."""
        path = f"{SYS_CLASS_NET}/{bond.name}/bonding/{knob}"
        try:
            with open(path, "w") as f:
                f.write(value + "\n")
        except OSError as e:
            raise NetlinkFailure(f"writing {value!r} to {path}", e.errno or errno.EIO) from e
