"""Address text -> ``ipaddress`` objects, refusing IPv6 zone indices. No I/O.

Python's ``ipaddress`` (3.9+) takes ``fe80::1%eth0`` as an address, ``fe80::1%eth0/64``
as an interface and ``fe80::%eth0/64`` as a network, and keeps the zone in ``str()``.
No address we read has a zone with a meaning: a pool's subnet, gateway and ranges, a
CNI result's addresses, gateways and routes, a pod's route annotation and the
coordinator's CIDRs all name addresses of a network, not of one link of this host; the
text would be echoed into results that Go's ``net.ParseIP`` refuses, or a route built
from it dropped. Every parse of such text goes through here, so a zone is a
``ValueError`` saying so, which each caller answers naming its field (code 7).
"""

from __future__ import annotations

import ipaddress

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ZoneIndex(ValueError):
    """An IPv6 zone index (``%eth0``) where no link can scope the address."""

    def __init__(self, text: str) -> None:
        super().__init__(f"{text!r} has a zone index (%...), which has no meaning here")


def _unzoned(text: str) -> str:
    if isinstance(text, str) and "%" in text:
        raise ZoneIndex(text)
    return text


def address(text: str) -> Address:
    """``ipaddress.ip_address`` without zones; ValueError."""
    return ipaddress.ip_address(_unzoned(text))


def interface(text: str) -> Interface:
    """``ipaddress.ip_interface`` without zones; ValueError."""
    return ipaddress.ip_interface(_unzoned(text))


def network(text: str, *, strict: bool = True) -> Network:
    """``ipaddress.ip_network`` without zones; ValueError."""
    return ipaddress.ip_network(_unzoned(text), strict=strict)
