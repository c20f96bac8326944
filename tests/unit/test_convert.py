"""types.convert: golden JSON per spec version, cross-version conversion, read errors.

Case matrix:

    golden     one full Result (2 interfaces, v4 + v6 ips with gateways and interface
               indexes, routes with every 1.1.0 field, dns) x 0.3.0 / 0.3.1 / 0.4.0 /
               1.0.0 / 1.1.0: write == golden, read(golden) == Result (minus the 1.1-only
               fields for older versions), and the golden survives json dumps/loads
    shape      0.3.x/0.4.0 carry ips[].version "4"/"6", 1.x never; 1.1-only route fields
               mtu/advmss/priority/table/scope and interface mtu/socketPath/pciID are
               dropped below 1.1.0; zero table/scope are kept in 1.1.0 (0 is a real value);
               IPAM result (no interfaces, no ips[].interface); empty result; write refuses
               an unsupported version (code 1)
    convert    a 0.3.1 prevResult -> 1.0.0 output -> back to 0.3.1, byte-for-byte golden
    lenient    1.x input carrying a stray ips[].version is accepted; dns null or {}
    errors     read raises InvalidConfig (code 7) naming the path: not an object (result,
               ips[0], dns, interfaces[0]), not a list, address missing / without prefix /
               garbage / prefix > 32 / not a string / netmask instead of prefix length,
               ips[].version missing / wrong family / not a string, interface index out
               of range / negative / not an int / bool, bad gateway, route dst missing /
               not CIDR / netmask form, bad route gw, non-int route mtu or table, a route
               number beyond its unsigned range (table 2**32, scope 256, mtu -1), an
               interface mtu of 300 digits, an IPv6 zone index in an address, gateway or
               route gw, a list of more than 1024 entries (routes,
               nameservers), interface name missing, non-string mac or
               mtu, non-string nameserver, search not a list; the path prefix is the
               caller's
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from spidernet.protocol import errors, versions
from spidernet.types import convert
from spidernet.types.record import replace
from spidernet.types.results import DNS, Interface, IPConfig, Result, Route

OLD_VERSIONS = ("0.3.0", "0.3.1", "0.4.0")

FULL = Result(
    interfaces=(
        Interface(name="sp_bond0.100", mac="02:00:00:00:00:01", mtu=9000, pci_id="0000:3b:00.0"),
        Interface(
            name="eth0",
            mac="02:00:00:00:00:02",
            sandbox="/var/run/netns/pod",
            socket_path="/run/vhost.sock",
        ),
    ),
    ips=(
        IPConfig(address="10.6.0.5/16", gateway="10.6.0.1", interface=1),
        IPConfig(address="fd00:6::5/64", gateway="fd00:6::1", interface=1),
    ),
    routes=(
        Route(
            dst="0.0.0.0/0", gw="10.6.0.1", mtu=1450, advmss=1400, priority=100, table=101, scope=0
        ),
        Route(dst="::/0", gw="fd00:6::1", table=0),
        Route(dst="172.16.0.0/12"),
    ),
    dns=DNS(
        nameservers=("10.96.0.10",),
        domain="cluster.local",
        search=("default.svc.cluster.local",),
        options=("ndots:5",),
    ),
)


def strip_11(result: Result) -> Result:
    """``result`` as a pre-1.1.0 version can carry it."""
    return replace(
        result,
        interfaces=tuple(replace(i, mtu=0, socket_path="", pci_id="") for i in result.interfaces),
        routes=tuple(
            replace(r, mtu=0, advmss=0, priority=0, table=None, scope=None) for r in result.routes
        ),
    )


GOLDEN_DNS = {
    "nameservers": ["10.96.0.10"],
    "domain": "cluster.local",
    "search": ["default.svc.cluster.local"],
    "options": ["ndots:5"],
}

GOLDEN_OLD_BODY: dict[str, Any] = {
    "interfaces": [
        {"name": "sp_bond0.100", "mac": "02:00:00:00:00:01"},
        {"name": "eth0", "mac": "02:00:00:00:00:02", "sandbox": "/var/run/netns/pod"},
    ],
    "ips": [
        {"version": "4", "interface": 1, "address": "10.6.0.5/16", "gateway": "10.6.0.1"},
        {"version": "6", "interface": 1, "address": "fd00:6::5/64", "gateway": "fd00:6::1"},
    ],
    "routes": [
        {"dst": "0.0.0.0/0", "gw": "10.6.0.1"},
        {"dst": "::/0", "gw": "fd00:6::1"},
        {"dst": "172.16.0.0/12"},
    ],
    "dns": GOLDEN_DNS,
}

GOLDEN_100: dict[str, Any] = {
    "cniVersion": "1.0.0",
    "interfaces": [
        {"name": "sp_bond0.100", "mac": "02:00:00:00:00:01"},
        {"name": "eth0", "mac": "02:00:00:00:00:02", "sandbox": "/var/run/netns/pod"},
    ],
    "ips": [
        {"interface": 1, "address": "10.6.0.5/16", "gateway": "10.6.0.1"},
        {"interface": 1, "address": "fd00:6::5/64", "gateway": "fd00:6::1"},
    ],
    "routes": [
        {"dst": "0.0.0.0/0", "gw": "10.6.0.1"},
        {"dst": "::/0", "gw": "fd00:6::1"},
        {"dst": "172.16.0.0/12"},
    ],
    "dns": GOLDEN_DNS,
}

GOLDEN_110: dict[str, Any] = {
    "cniVersion": "1.1.0",
    "interfaces": [
        {"name": "sp_bond0.100", "mac": "02:00:00:00:00:01", "mtu": 9000, "pciID": "0000:3b:00.0"},
        {
            "name": "eth0",
            "mac": "02:00:00:00:00:02",
            "sandbox": "/var/run/netns/pod",
            "socketPath": "/run/vhost.sock",
        },
    ],
    "ips": [
        {"interface": 1, "address": "10.6.0.5/16", "gateway": "10.6.0.1"},
        {"interface": 1, "address": "fd00:6::5/64", "gateway": "fd00:6::1"},
    ],
    "routes": [
        {
            "dst": "0.0.0.0/0",
            "gw": "10.6.0.1",
            "mtu": 1450,
            "advmss": 1400,
            "priority": 100,
            "table": 101,
            "scope": 0,
        },
        {"dst": "::/0", "gw": "fd00:6::1", "table": 0},
        {"dst": "172.16.0.0/12"},
    ],
    "dns": GOLDEN_DNS,
}

GOLDEN: dict[str, dict[str, Any]] = {
    **{v: {"cniVersion": v, **GOLDEN_OLD_BODY} for v in OLD_VERSIONS},
    "1.0.0": GOLDEN_100,
    "1.1.0": GOLDEN_110,
}


def expected_for(version: str) -> Result:
    return FULL if version == "1.1.0" else strip_11(FULL)


# ---------------------------------------------------------------- golden round trips


def test_golden_covers_every_supported_version() -> None:
    assert tuple(GOLDEN) == versions.SUPPORTED


@pytest.mark.parametrize("version", versions.SUPPORTED)
def test_write_produces_the_golden_json(version: str) -> None:
    assert convert.write(FULL, version) == GOLDEN[version]


@pytest.mark.parametrize("version", versions.SUPPORTED)
def test_read_of_the_golden_json_gives_the_result(version: str) -> None:
    assert convert.read(GOLDEN[version], version) == expected_for(version)


@pytest.mark.parametrize("version", versions.SUPPORTED)
def test_golden_round_trips_through_json_text(version: str) -> None:
    text = json.dumps(convert.write(FULL, version))
    assert convert.write(convert.read(json.loads(text), version), version) == GOLDEN[version]


@pytest.mark.parametrize("version", versions.SUPPORTED)
def test_ips_carry_version_only_before_1_0_0(version: str) -> None:
    ips = convert.write(FULL, version)["ips"]
    if version in OLD_VERSIONS:
        assert [ip["version"] for ip in ips] == ["4", "6"]
    else:
        assert all("version" not in ip for ip in ips)


@pytest.mark.parametrize("version", versions.SUPPORTED)
def test_1_1_only_fields_appear_only_in_1_1_0(version: str) -> None:
    out = convert.write(FULL, version)
    route_keys = set().union(*(r.keys() for r in out["routes"]))
    iface_keys = set().union(*(i.keys() for i in out["interfaces"]))
    only_11 = (
        {"mtu", "advmss", "priority", "table", "scope"} & route_keys,
        {"mtu", "socketPath", "pciID"} & iface_keys,
    )
    if version == "1.1.0":
        assert only_11 == (
            {"mtu", "advmss", "priority", "table", "scope"},
            {"mtu", "socketPath", "pciID"},
        )
    else:
        assert only_11 == (set(), set())


@pytest.mark.parametrize("version", versions.SUPPORTED)
def test_ipam_result_has_no_interfaces_and_no_interface_index(version: str) -> None:
    ipam = Result(
        ips=(IPConfig(address="10.6.0.5/16", gateway="10.6.0.1"),), routes=(Route(dst="0.0.0.0/0"),)
    )
    out = convert.write(ipam, version)
    assert "interfaces" not in out
    assert "interface" not in out["ips"][0]
    assert convert.read(out, version) == ipam


@pytest.mark.parametrize("version", versions.SUPPORTED)
def test_empty_result_round_trips(version: str) -> None:
    assert convert.write(Result(), version) == {"cniVersion": version, "ips": [], "dns": {}}
    assert convert.read({"cniVersion": version}, version) == Result()


@pytest.mark.parametrize("version", ["0.1.0", "0.2.0", "1.2.0"])
def test_write_refuses_versions_we_do_not_speak(version: str) -> None:
    with pytest.raises(errors.IncompatibleVersion):
        convert.write(FULL, version)


# ---------------------------------------------------------------- cross-version


def test_0_3_1_prev_result_converts_to_1_0_0_and_back() -> None:
    prev = convert.read(GOLDEN["0.3.1"], "0.3.1")
    assert convert.write(prev, "1.0.0") == GOLDEN_100
    assert convert.write(convert.read(GOLDEN_100, "1.0.0"), "0.3.1") == GOLDEN["0.3.1"]


def test_1_1_0_result_written_as_0_4_0_loses_only_1_1_fields() -> None:
    back = convert.read(convert.write(FULL, "0.4.0"), "0.4.0")
    assert back == strip_11(FULL)
    assert convert.write(back, "1.1.0") == convert.write(strip_11(FULL), "1.1.0")


def test_1_x_input_with_a_stray_ip_version_is_accepted() -> None:
    data = copy.deepcopy(GOLDEN_100)
    data["ips"][0]["version"] = "6"  # meaningless in 1.x: ignored, not checked
    assert convert.read(data, "1.0.0") == strip_11(FULL)


@pytest.mark.parametrize("dns", [None, {}], ids=["null", "empty"])
def test_null_or_empty_dns_reads_as_empty(dns: object) -> None:
    assert convert.read({"ips": [], "dns": dns}, "1.0.0").dns == DNS()


# ---------------------------------------------------------------- read errors

Mutation = Callable[[dict[str, Any]], None]


def _set(path: tuple[Any, ...], value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path: tuple[Any, ...]) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


READ_ERRORS: list[tuple[str, str, Mutation, str]] = [
    # (case id, version, mutation of the golden, field named)
    ("ips-not-list", "1.0.0", _set(("ips",), {"address": "10.0.0.1/24"}), "prevResult.ips"),
    ("ip-not-object", "1.0.0", _set(("ips", 0), "10.6.0.5/16"), "prevResult.ips[0]"),
    ("address-missing", "1.0.0", _delete(("ips", 0, "address")), "prevResult.ips[0].address"),
    (
        "address-no-prefix",
        "1.0.0",
        _set(("ips", 1, "address"), "fd00:6::5"),
        "prevResult.ips[1].address",
    ),
    (
        "address-garbage",
        "0.3.1",
        _set(("ips", 0, "address"), "10.6.0.500/16"),
        "prevResult.ips[0].address",
    ),
    (
        "address-netmask",
        "1.0.0",
        _set(("ips", 0, "address"), "10.6.0.5/255.255.0.0"),
        "prevResult.ips[0].address",
    ),
    (
        "address-hostmask",
        "0.4.0",
        _set(("ips", 0, "address"), "10.6.0.5/0.0.255.255"),
        "prevResult.ips[0].address",
    ),
    (
        "route-dst-netmask",
        "1.0.0",
        _set(("routes", 2, "dst"), "172.16.0.0/255.240.0.0"),
        "prevResult.routes[2].dst",
    ),
    (
        "address-prefix-too-long",
        "1.1.0",
        _set(("ips", 0, "address"), "10.6.0.5/33"),
        "prevResult.ips[0].address",
    ),
    (
        "address-not-string",
        "1.1.0",
        _set(("ips", 0, "address"), 167772165),
        "prevResult.ips[0].address",
    ),
    ("version-missing", "0.4.0", _delete(("ips", 1, "version")), "prevResult.ips[1].version"),
    ("version-6-for-v4", "0.3.1", _set(("ips", 0, "version"), "6"), "prevResult.ips[0].version"),
    ("version-4-for-v6", "0.3.0", _set(("ips", 1, "version"), "4"), "prevResult.ips[1].version"),
    ("version-int", "0.4.0", _set(("ips", 0, "version"), 4), "prevResult.ips[0].version"),
    (
        "interface-out-of-range",
        "1.0.0",
        _set(("ips", 0, "interface"), 2),
        "prevResult.ips[0].interface",
    ),
    (
        "interface-negative",
        "0.3.1",
        _set(("ips", 0, "interface"), -1),
        "prevResult.ips[0].interface",
    ),
    (
        "interface-not-int",
        "1.0.0",
        _set(("ips", 0, "interface"), "1"),
        "prevResult.ips[0].interface",
    ),
    ("interface-bool", "1.0.0", _set(("ips", 0, "interface"), True), "prevResult.ips[0].interface"),
    (
        "interface-without-interfaces",
        "1.0.0",
        _delete(("interfaces",)),
        "prevResult.ips[0].interface",
    ),
    (
        "gateway-bad",
        "0.3.1",
        _set(("ips", 0, "gateway"), "10.6.0.256"),
        "prevResult.ips[0].gateway",
    ),
    (
        "gateway-cidr",
        "1.0.0",
        _set(("ips", 1, "gateway"), "fd00:6::1/64"),
        "prevResult.ips[1].gateway",
    ),
    ("route-dst-missing", "1.0.0", _delete(("routes", 2, "dst")), "prevResult.routes[2].dst"),
    (
        "route-dst-not-cidr",
        "0.4.0",
        _set(("routes", 0, "dst"), "default"),
        "prevResult.routes[0].dst",
    ),
    ("route-gw-bad", "1.0.0", _set(("routes", 1, "gw"), "nope"), "prevResult.routes[1].gw"),
    ("route-mtu-string", "1.1.0", _set(("routes", 0, "mtu"), "1450"), "prevResult.routes[0].mtu"),
    ("route-table-float", "1.1.0", _set(("routes", 0, "table"), 1.5), "prevResult.routes[0].table"),
    (
        "route-table-beyond-32-bits",
        "1.1.0",
        _set(("routes", 0, "table"), 2**32),
        "prevResult.routes[0].table",
    ),
    (
        "route-scope-beyond-8-bits",
        "1.1.0",
        _set(("routes", 0, "scope"), 256),
        "prevResult.routes[0].scope",
    ),
    ("route-mtu-negative", "1.1.0", _set(("routes", 0, "mtu"), -1), "prevResult.routes[0].mtu"),
    (
        "address-zoned",
        "1.0.0",
        _set(("ips", 1, "address"), "fe80::5%eth0/64"),
        "prevResult.ips[1].address",
    ),
    (
        "gateway-zoned",
        "1.0.0",
        _set(("ips", 1, "gateway"), "fe80::1%eth0"),
        "prevResult.ips[1].gateway",
    ),
    ("route-gw-zoned", "1.0.0", _set(("routes", 1, "gw"), "fe80::1%2"), "prevResult.routes[1].gw"),
    (
        "too-many-routes",
        "1.0.0",
        _set(("routes",), [{"dst": "10.0.0.0/8"}] * 1025),
        "prevResult.routes",
    ),
    (
        "too-many-nameservers",
        "1.0.0",
        _set(("dns", "nameservers"), ["10.96.0.10"] * 1025),
        "prevResult.dns.nameservers",
    ),
    (
        "iface-mtu-huge",
        "1.1.0",
        _set(("interfaces", 0, "mtu"), 10**300),
        "prevResult.interfaces[0].mtu",
    ),
    ("iface-not-object", "1.0.0", _set(("interfaces", 0), "eth0"), "prevResult.interfaces[0]"),
    (
        "iface-name-missing",
        "1.0.0",
        _delete(("interfaces", 1, "name")),
        "prevResult.interfaces[1].name",
    ),
    (
        "iface-mac-not-string",
        "1.0.0",
        _set(("interfaces", 0, "mac"), 2),
        "prevResult.interfaces[0].mac",
    ),
    (
        "iface-mtu-string",
        "1.1.0",
        _set(("interfaces", 0, "mtu"), "9000"),
        "prevResult.interfaces[0].mtu",
    ),
    ("dns-not-object", "1.0.0", _set(("dns",), ["10.96.0.10"]), "prevResult.dns"),
    (
        "nameserver-not-string",
        "1.0.0",
        _set(("dns", "nameservers"), ["10.96.0.10", 53]),
        "prevResult.dns.nameservers[1]",
    ),
    ("search-not-list", "1.0.0", _set(("dns", "search"), "cluster.local"), "prevResult.dns.search"),
]


@pytest.mark.parametrize(
    ("version", "mutate", "field"), [c[1:] for c in READ_ERRORS], ids=[c[0] for c in READ_ERRORS]
)
def test_read_errors_name_the_path(version: str, mutate: Mutation, field: str) -> None:
    data = copy.deepcopy(GOLDEN[version])
    mutate(data)
    with pytest.raises(errors.InvalidConfig) as exc:
        convert.read(data, version)
    assert exc.value.field == field
    assert exc.value.code == 7
    assert exc.value.details == f"field: {field}"


@pytest.mark.parametrize("data", [None, [], "x", 1])
def test_read_of_a_non_object_names_the_root(data: object) -> None:
    with pytest.raises(errors.InvalidConfig) as exc:
        convert.read(data, "1.0.0")
    assert exc.value.field == "prevResult"


def test_read_error_paths_start_with_the_callers_prefix() -> None:
    with pytest.raises(errors.InvalidConfig) as exc:
        convert.read({"ips": [{"address": "bad"}]}, "1.0.0", path="delegate.result")
    assert exc.value.field == "delegate.result.ips[0].address"
