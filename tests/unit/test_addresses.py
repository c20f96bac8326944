"""ipmath.addresses: address text parsed as ipaddress does, without IPv6 zone indices.

| call      | text                                   | outcome                          |
|-----------|----------------------------------------|----------------------------------|
| address   | 10.0.0.1, fd00::1                      | the address                      |
| interface | 10.0.0.1/24, fd00::1/64                | the interface                    |
| network   | 10.0.0.0/24; 10.0.0.1/24 strict=False  | the network                      |
| each      | a zone: fe80::1%eth0, ...%1, ...%      | ZoneIndex (a ValueError) quoting |
|           |                                        | the text                         |
| parse_ip  | fe80::1%eth0 (ipmath.ranges)           | ZoneIndex                        |
| RangeSet  | a CIDR with a zone                     | RangeError                       |
"""

from __future__ import annotations

import ipaddress

import pytest

from spidernet.ipmath import addresses, ranges


def test_addresses_without_a_zone_parse_as_ipaddress_does() -> None:
    assert addresses.address("fd00::1") == ipaddress.ip_address("fd00::1")
    assert addresses.interface("10.0.0.1/24") == ipaddress.ip_interface("10.0.0.1/24")
    assert addresses.network("10.0.0.1/24", strict=False) == ipaddress.ip_network("10.0.0.0/24")
    with pytest.raises(ValueError):
        addresses.network("10.0.0.1/24")


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (addresses.address, "fe80::1%eth0"),
        (addresses.address, "fe80::1%1"),
        (addresses.interface, "fe80::1%eth0/64"),
        (addresses.network, "fe80::%eth0/64"),
        (ranges.parse_ip, "fe80::1%eth0"),
    ],
)
def test_a_zone_index_is_refused_saying_so(parse: object, text: str) -> None:
    with pytest.raises(addresses.ZoneIndex, match="zone index") as e:
        parse(text)  # type: ignore[operator]
    assert repr(text) in str(e.value)


def test_a_range_set_refuses_a_zoned_cidr() -> None:
    with pytest.raises(ranges.RangeError, match="zone index"):
        ranges.RangeSet.parse(["fe80::%eth0/120"], 6, allow_cidr=True)
