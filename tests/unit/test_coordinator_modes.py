"""coordinator.modes: the pure decisions of an ADD.

Case matrix:

    resolve/placement   auto: first NIC -> underlay first; later NIC with veth0 -> underlay;
                        later NIC without veth0 -> overlay (first iff table 101);
                        explicit underlay on a later NIC without veth0 -> PodStateError;
                        overlay on the first NIC or with veth0 -> PodStateError
    choose_table        empty pod -> 101; skips used tables and 253-255; a NIC's own rule
                        table wins (re-ADD); own tables below 101 (the fwmark 100) ignored
    host_addresses      route sources first, deduplicated, family-filtered, None dropped
    gateways            first address per family
    mac_with_prefix     v4 whole address, v6 last 4 bytes
    is_host_nic / usable / host_veth_name / random_mac
"""

from __future__ import annotations

import ipaddress

import pytest

from spidernet.coordinator import modes

ip = ipaddress.ip_address


def place(mode: str, ifname: str, *, veth0: bool, table: int = 101) -> modes.Placement:
    return modes.placement(mode, ifname=ifname, default_nic="eth0", has_veth0=veth0, table=table)


def test_auto_makes_the_first_nic_the_first_underlay_nic() -> None:
    assert place("auto", "eth0", veth0=False) == modes.Placement("underlay", True, 101)


def test_auto_makes_a_later_nic_underlay_once_veth0_exists() -> None:
    assert place("auto", "net1", veth0=True, table=102) == modes.Placement("underlay", False, 102)


@pytest.mark.parametrize(("table", "first"), [(101, True), (102, False)])
def test_auto_without_veth0_is_overlay_and_first_only_on_table_101(table: int, first: bool) -> None:
    assert place("auto", "net1", veth0=False, table=table) == modes.Placement(
        "overlay", first, table
    )


@pytest.mark.parametrize(
    ("mode", "ifname", "veth0"),
    [("underlay", "net1", False), ("overlay", "eth0", False), ("overlay", "net1", True)],
)
def test_impossible_placements_are_pod_state_errors(mode: str, ifname: str, veth0: bool) -> None:
    with pytest.raises(modes.PodStateError):
        place(mode, ifname, veth0=veth0)


def test_an_empty_pod_gets_table_101() -> None:
    assert modes.choose_table(used=[254, 255, 253, 100], own_rule_tables=[]) == 101


def test_used_tables_are_skipped() -> None:
    assert modes.choose_table(used=[101, 102, 104], own_rule_tables=[]) == 103


def test_reserved_kernel_tables_are_never_chosen() -> None:
    assert modes.choose_table(used=range(101, 253), own_rule_tables=[]) == 256


def test_a_nic_with_a_rule_keeps_its_table_on_re_add() -> None:
    assert modes.choose_table(used=[101, 102], own_rule_tables=[102]) == 102
    assert modes.choose_table(used=[100, 101], own_rule_tables=[100]) == 102


def test_host_addresses_put_route_sources_first_without_duplicates() -> None:
    got = modes.host_addresses(
        [ip("10.0.0.2"), None, ip("fd00::2")], [ip("192.168.1.5"), ip("10.0.0.2")], frozenset({4})
    )
    assert got == [ip("10.0.0.2"), ip("192.168.1.5")]


def test_gateways_are_the_first_address_of_each_family() -> None:
    assert modes.gateways([ip("fd00::2"), ip("10.0.0.2"), ip("10.0.0.3")]) == {
        6: ip("fd00::2"),
        4: ip("10.0.0.2"),
    }


@pytest.mark.parametrize(
    ("address", "mac"),
    [("10.191.0.10", "0a:1b:0a:bf:00:0a"), ("fd00::1:a0b:c0d", "0a:1b:0a:0b:0c:0d")],
)
def test_the_mac_prefix_takes_the_last_four_bytes_of_the_address(address: str, mac: str) -> None:
    assert modes.mac_with_prefix(b"\x0a\x1b", ip(address)) == mac


@pytest.mark.parametrize(
    ("name", "host"),
    [
        ("ens1", True),
        ("eth0", True),
        ("bond0.100", True),
        ("lo", False),
        ("veth1234", False),
        ("cali0", False),
        ("docker0", False),
        ("cni0", False),
        ("flannel.1", False),
    ],
)
def test_container_and_cni_links_are_not_host_nics(name: str, host: bool) -> None:
    assert modes.is_host_nic(name) is host


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("10.0.0.5/24", True),
        ("fd00::5/64", True),
        ("fe80::1/64", False),
        ("169.254.1.1/16", False),
        ("127.0.0.1/8", False),
    ],
)
def test_link_local_and_loopback_addresses_are_not_routed(address: str, ok: bool) -> None:
    assert modes.usable(ipaddress.ip_interface(address)) is ok


def test_host_veth_names_fit_ifnamsiz() -> None:
    assert modes.host_veth_name("0123456789abcdef") == "veth0123456789a"
    assert len(modes.host_veth_name("x" * 64)) == 15


def test_random_macs_are_locally_administered_unicast() -> None:
    mac = modes.random_mac(bytes(range(1, 6)))
    assert mac == "02:01:02:03:04:05"
    assert int(mac[:2], 16) & 0x03 == 0x02
