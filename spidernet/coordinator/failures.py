"""Every way a coordinator verb can fail, as the coordinator's own errors. Pure, no I/O.

The device, probe and netlink code raise these (never CNI error classes);
spidernet/coordinator/plugin.py ``_translated`` is the one place that turns them into
CNI codes (docs/coordinator.md lists the codes). They live apart from the modules that
raise them so that the translation point imports only this page, not the probes'
sockets and threads, on every exec. Netlink refusals arrive as
``spidernet.netlink.records.NetlinkFailure``, the netlink package's own error.
"""

from __future__ import annotations

from ipaddress import ip_address


class PodStateError(Exception):
    """The pod is not in a state the coordinator can work with (code 112)."""


class NotAPodNic(Exception):
    """``podDefaultRouteNic`` names no link of the pod (code 7 naming the key)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name!r} is not an interface of the pod")


class RouteRefused(Exception):
    """The kernel refused a route the config itself spells (a ``policyRoutes`` entry),
    e.g. its gateway on no link of the pod (code 7 naming the entry)."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(why)
        self.field = field


class CheckFailed(Exception):
    """CHECK found state that ADD should have left (code 113)."""


class NetnsUnusable(Exception):
    """The pod's netns cannot be opened, or (CHECK) is gone (code 8)."""


class ProbeFailure(Exception):
    """A probe could not run or found a problem; the coordinator fails ADD with it (999)."""


class IPConflict(ProbeFailure):
    """Another host answers for the pod's address (code 110)."""

    def __init__(self, ip: str, mac: str, ifname: str) -> None:
        super().__init__(f"IP {ip} on {ifname} is already in use by {mac}")
        self.ip, self.mac, self.ifname = ip, mac, ifname


class GatewayUnreachable(ProbeFailure):
    """The gateway does not answer ARP / neighbour solicitation (code 111)."""

    def __init__(self, gateway: str, ifname: str, *, tries: int = 3, timeout: float = 0.1) -> None:
        kind = "ARP reply" if ip_address(gateway).version == 4 else "neighbour advertisement"
        wait = f"{tries} probes of {timeout * 1000:g} ms"
        super().__init__(f"gateway {gateway} is unreachable from {ifname}: no {kind} to {wait}")
        self.gateway, self.ifname = gateway, ifname
