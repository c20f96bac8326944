"""types.convert properties over random valid Results (hypothesis).

Case matrix:

    generated    0-3 interfaces (1.1 fields random), 0-4 ips mixing v4/v6 with random
                 prefixes, optional gateways and valid interface indexes, 0-4 routes
                 with every 1.1 field random (table/scope may be None or 0), random dns
    properties   1.1.0:                 read(write(r)) == r
                 0.3.0/0.3.1/0.4.0/1.0.0: read(write(r)) == r with the 1.1-only fields cleared
                 every version:         write is JSON-serialisable, and write(read(write(r)))
                                        == write(r) (a fixed point after one trip)
                 0.3.x/0.4.0:           ips[].version matches the address family
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from spidernet.protocol import versions
from spidernet.types import convert
from spidernet.types.record import replace
from spidernet.types.results import DNS, Interface, IPConfig, Result, Route

PROFILE = settings(max_examples=60, deadline=None)

_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
_small = st.integers(min_value=0, max_value=2**31 - 1)


@st.composite
def cidrs(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return f"{draw(st.ip_addresses(v=4))}/{draw(st.integers(0, 32))}"
    return f"{draw(st.ip_addresses(v=6))}/{draw(st.integers(0, 128))}"


gateways = st.one_of(st.just(""), st.ip_addresses().map(str))

interfaces = st.builds(
    Interface,
    name=_text,
    mac=_text,
    sandbox=_text,
    mtu=_small,
    socket_path=_text,
    pci_id=_text,
)

routes = st.builds(
    Route,
    dst=cidrs(),
    gw=gateways,
    mtu=_small,
    advmss=_small,
    priority=_small,
    table=st.none() | _small,
    scope=st.none() | st.integers(0, 255),
)

dnses = st.builds(
    DNS,
    nameservers=st.lists(st.ip_addresses().map(str), max_size=3).map(tuple),
    domain=_text,
    search=st.lists(_text, max_size=3).map(tuple),
    options=st.lists(_text, max_size=3).map(tuple),
)


@st.composite
def results(draw: st.DrawFn) -> Result:
    ifaces = tuple(draw(st.lists(interfaces, max_size=3)))
    index = st.none() | st.integers(0, len(ifaces) - 1) if ifaces else st.none()
    ips = draw(
        st.lists(
            st.builds(IPConfig, address=cidrs(), gateway=gateways, interface=index), max_size=4
        )
    )
    return Result(
        interfaces=ifaces,
        ips=tuple(ips),
        routes=tuple(draw(st.lists(routes, max_size=4))),
        dns=draw(dnses),
    )


def without_11_fields(result: Result) -> Result:
    return replace(
        result,
        interfaces=tuple(replace(i, mtu=0, socket_path="", pci_id="") for i in result.interfaces),
        routes=tuple(
            replace(r, mtu=0, advmss=0, priority=0, table=None, scope=None) for r in result.routes
        ),
    )


def trip(result: Result, version: str) -> Result:
    return convert.read(json.loads(json.dumps(convert.write(result, version))), version)


@PROFILE
@given(results())
def test_1_1_0_write_then_read_returns_the_same_result(result: Result) -> None:
    assert trip(result, "1.1.0") == result


@PROFILE
@given(results(), st.sampled_from(versions.SUPPORTED[:-1]))
def test_older_versions_round_trip_without_the_1_1_only_fields(
    result: Result, version: str
) -> None:
    assert trip(result, version) == without_11_fields(result)


@PROFILE
@given(results(), st.sampled_from(versions.SUPPORTED))
def test_one_trip_reaches_a_fixed_point(result: Result, version: str) -> None:
    once = convert.write(result, version)
    assert convert.write(trip(result, version), version) == once


@PROFILE
@given(results(), st.sampled_from(versions.SUPPORTED[:3]))
def test_pre_1_0_ips_carry_the_address_family(result: Result, version: str) -> None:
    for ip, written in zip(result.ips, convert.write(result, version)["ips"], strict=True):
        assert written["version"] == ("6" if ":" in ip.address else "4")
