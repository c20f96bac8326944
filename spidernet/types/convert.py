"""Reading and writing CNI results in each supported spec version. No I/O.

Version differences that matter (the CNI spec's changelog):
- 0.3.0, 0.3.1, 0.4.0: ``ips[].version`` ("4"/"6") is present and required on input.
- 1.0.0: ``ips[].version`` is gone.
- 1.1.0: routes gain ``mtu``, ``advmss``, ``priority``, ``table``, ``scope``; interfaces
  gain ``mtu``, ``socketPath``, ``pciID``. Older versions do not carry them, so writing
  an older version drops them.
Versions before 0.3.0 are refused earlier (``protocol.versions``), so they never get here.

Malformed input raises InvalidConfig naming the field by its path (``prevResult.ips[0].address``),
also a list of more than ``MAX_ITEMS`` entries and a number outside its range.
"""

from __future__ import annotations

import builtins

from spidernet.ipmath import addresses
from spidernet.protocol import errors, versions
from spidernet.types import bounds
from spidernet.types.results import DNS, Interface, IPConfig, Result, Route

TYPE_CHECKING = False  # typing is not imported at run time (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

# Entries per list of a result (interfaces, ips, routes, DNS lists): a pod has a few; tens
# of thousands would keep every plugin of the chain busy for seconds.
MAX_ITEMS = 1024


def _has_ip_version(version: str) -> bool:
    return not versions.at_least(version, "1.0.0")


def _is_11(version: str) -> bool:
    return versions.at_least(version, "1.1.0")


# ---------------------------------------------------------------- reading


class _Reader:
    """Typed access to one JSON object with error messages that name the path."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, dict):
            raise errors.InvalidConfig(path, "must be an object")
        self.data: dict[str, Any] = data
        self.path = path

    def str(self, key: str, *, required: bool = False) -> str:
        value = self.data.get(key)
        if value is None:
            if required:
                raise errors.InvalidConfig(f"{self.path}.{key}", "is required")
            return ""
        if not isinstance(value, str):
            raise errors.InvalidConfig(f"{self.path}.{key}", "must be a string")
        return value

    def int(
        self, key: builtins.str, lo: builtins.int = 0, hi: builtins.int = bounds.UINT32[1]
    ) -> builtins.int | None:
        """An integer in [lo, hi]: a result's numbers are all unsigned 32-bit or less."""
        value = self.data.get(key)
        if value is None:
            return None
        return bounds.integer(value, f"{self.path}.{key}", lo, hi)

    def list(self, key: builtins.str) -> builtins.list[Any]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise errors.InvalidConfig(f"{self.path}.{key}", "must be a list")
        if len(value) > MAX_ITEMS:
            raise errors.InvalidConfig(
                f"{self.path}.{key}", f"has {len(value)} entries, more than the {MAX_ITEMS} taken"
            )
        return value

    def strs(self, key: builtins.str) -> tuple[builtins.str, ...]:
        items = self.list(key)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise errors.InvalidConfig(f"{self.path}.{key}[{i}]", "must be a string")
        return tuple(items)


def _cidr(value: str, path: str) -> str:
    try:
        addresses.interface(value)
        # ip_interface also takes "a.b.c.d/255.255.255.0" and "/0.0.0.255"; the spec (and a Go
        # consumer's net.ParseCIDR) wants a prefix length, and we pass the text through as is.
        if not value.rpartition("/")[2].isdigit():
            raise ValueError
    except addresses.ZoneIndex as e:
        raise errors.InvalidConfig(path, str(e)) from None
    except ValueError:
        raise errors.InvalidConfig(path, f"{value!r} is not an address in CIDR form") from None
    return value


def _ip(value: str, path: str) -> str:
    if value:
        try:
            addresses.address(value)
        except addresses.ZoneIndex as e:
            raise errors.InvalidConfig(path, str(e)) from None
        except ValueError:
            raise errors.InvalidConfig(path, f"{value!r} is not an IP address") from None
    return value


def _read_interface(data: object, path: str) -> Interface:
    r = _Reader(data, path)
    return Interface(
        name=r.str("name", required=True),
        mac=r.str("mac"),
        sandbox=r.str("sandbox"),
        mtu=r.int("mtu") or 0,
        socket_path=r.str("socketPath"),
        pci_id=r.str("pciID"),
    )


def _read_ip(data: object, path: str, version: str, n_interfaces: int) -> IPConfig:
    r = _Reader(data, path)
    address = _cidr(r.str("address", required=True), f"{path}.address")
    if _has_ip_version(version):
        family = r.str("version", required=True)
        actual = "6" if ":" in address else "4"
        if family != actual:
            raise errors.InvalidConfig(f"{path}.version", f"{family!r} does not match {address}")
    index = r.int("interface")
    if index is not None and not 0 <= index < n_interfaces:
        raise errors.InvalidConfig(f"{path}.interface", f"index {index} out of range")
    return IPConfig(
        address=address, gateway=_ip(r.str("gateway"), f"{path}.gateway"), interface=index
    )


def _read_route(data: object, path: str) -> Route:
    r = _Reader(data, path)
    dst = _cidr(r.str("dst", required=True), f"{path}.dst")
    return Route(
        dst=dst,
        gw=_ip(r.str("gw"), f"{path}.gw"),
        mtu=r.int("mtu") or 0,
        advmss=r.int("advmss") or 0,
        priority=r.int("priority") or 0,
        table=r.int("table"),
        scope=r.int("scope", hi=255),
    )


def _read_dns(data: object, path: str) -> DNS:
    if data is None:
        return DNS()
    r = _Reader(data, path)
    return DNS(
        nameservers=r.strs("nameservers"),
        domain=r.str("domain"),
        search=r.strs("search"),
        options=r.strs("options"),
    )


def read(data: object, version: str, path: str = "prevResult") -> Result:
    """Parse a result written in spec ``version`` (e.g. a chained plugin's prevResult)."""
    r = _Reader(data, path)
    interfaces = tuple(
        _read_interface(item, f"{path}.interfaces[{i}]")
        for i, item in enumerate(r.list("interfaces"))
    )
    ips = tuple(
        _read_ip(item, f"{path}.ips[{i}]", version, len(interfaces))
        for i, item in enumerate(r.list("ips"))
    )
    routes = tuple(
        _read_route(item, f"{path}.routes[{i}]") for i, item in enumerate(r.list("routes"))
    )
    return Result(
        interfaces=interfaces,
        ips=ips,
        routes=routes,
        dns=_read_dns(r.data.get("dns"), f"{path}.dns"),
    )


# ---------------------------------------------------------------- writing


def _write_interface(iface: Interface, version: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": iface.name}
    if iface.mac:
        out["mac"] = iface.mac
    if iface.sandbox:
        out["sandbox"] = iface.sandbox
    if _is_11(version):
        if iface.mtu:
            out["mtu"] = iface.mtu
        if iface.socket_path:
            out["socketPath"] = iface.socket_path
        if iface.pci_id:
            out["pciID"] = iface.pci_id
    return out


def _write_ip(ip: IPConfig, version: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if _has_ip_version(version):
        out["version"] = str(ip.family)
    if ip.interface is not None:
        out["interface"] = ip.interface
    out["address"] = ip.address
    if ip.gateway:
        out["gateway"] = ip.gateway
    return out


def _write_route(route: Route, version: str) -> dict[str, Any]:
    out: dict[str, Any] = {"dst": route.dst}
    if route.gw:
        out["gw"] = route.gw
    if _is_11(version):
        for key, value in (
            ("mtu", route.mtu),
            ("advmss", route.advmss),
            ("priority", route.priority),
        ):
            if value:
                out[key] = value
        if route.table is not None:
            out["table"] = route.table
        if route.scope is not None:
            out["scope"] = route.scope
    return out


def _write_dns(dns: DNS) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if dns.nameservers:
        out["nameservers"] = list(dns.nameservers)
    if dns.domain:
        out["domain"] = dns.domain
    if dns.search:
        out["search"] = list(dns.search)
    if dns.options:
        out["options"] = list(dns.options)
    return out


def write(result: Result, version: str) -> dict[str, Any]:
    """The JSON object of ``result`` in spec ``version``'s format."""
    versions.require("ADD", version)
    out: dict[str, Any] = {"cniVersion": version}
    if result.interfaces:
        out["interfaces"] = [_write_interface(i, version) for i in result.interfaces]
    out["ips"] = [_write_ip(ip, version) for ip in result.ips]
    if result.routes:
        out["routes"] = [_write_route(r, version) for r in result.routes]
    out["dns"] = _write_dns(result.dns)
    return out
