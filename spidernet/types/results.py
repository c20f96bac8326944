"""The CNI Result as frozen dataclasses, in the 1.1.0 shape. No I/O.

Every other spec version is read into and written from this one shape by
``types.convert``. Addresses are kept as strings in CIDR form ("10.0.0.5/24"): they are
parsed with ``ipaddress`` where a plugin needs their value.
"""

from __future__ import annotations

from spidernet.types.record import field, record


@record
class Interface:
    name: str
    mac: str = ""
    sandbox: str = ""
    mtu: int = 0  # 1.1.0
    socket_path: str = ""  # 1.1.0
    pci_id: str = ""  # 1.1.0


@record
class IPConfig:
    address: str  # CIDR: the IP with its subnet's prefix length
    gateway: str = ""
    interface: int | None = None  # index into Result.interfaces

    @property
    def family(self) -> int:
        return 6 if ":" in self.address else 4


@record
class Route:
    dst: str
    gw: str = ""
    mtu: int = 0  # 1.1.0
    advmss: int = 0  # 1.1.0
    priority: int = 0  # 1.1.0
    table: int | None = None  # 1.1.0
    scope: int | None = None  # 1.1.0


@record
class DNS:
    nameservers: tuple[str, ...] = ()
    domain: str = ""
    search: tuple[str, ...] = ()
    options: tuple[str, ...] = ()

    def empty(self) -> bool:
        return not (self.nameservers or self.domain or self.search or self.options)


@record
class Result:
    interfaces: tuple[Interface, ...] = ()
    ips: tuple[IPConfig, ...] = ()
    routes: tuple[Route, ...] = ()
    dns: DNS = field(default_factory=DNS)
