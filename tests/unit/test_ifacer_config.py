"""ifacer's config and bond options, pure (spidernet.ifacer.config, .bondopts).

Case matrix:
| input                                             | outcome                                   |
|---------------------------------------------------|-------------------------------------------|
| one interface, vlanID                              | master <if>.<vid>, no bond                |
| two interfaces + bond (name defaulted)             | sp_bond0, master sp_bond0.<vid>           |
| one interface + bond                               | bond ignored (upstream's reading)         |
| interfaces missing / empty / duplicate / bad name  | code 7 naming interfaces                  |
| vlanID -1, 4095, "100", derived name too long      | code 7 naming vlanID                      |
| bond.mode 7 / -1, two interfaces without bond      | code 7 naming bond.mode / bond            |
| bond name equal to a slave                         | code 7 naming bond.name                   |
| options: numbers, names, aliases, JSON array       | netlink attributes                        |
| options: malformed item, unknown key, bad value,   | code 7 naming bond.options, item quoted   |
| duplicate, over maximum, primary not a slave,      |                                           |
| primary in mode 0, bad MAC, bad/too many ARP IPs   |                                           |
| logOptions                                         | level and path taken, bad level code 7    |
"""

from __future__ import annotations

from typing import Any

import pytest

from spidernet.ifacer import bondopts, config
from spidernet.protocol import errors
from spidernet.types.netconf import NetConf


def parse(**raw: Any) -> config.IfacerConf:
    return config.parse(NetConf("1.0.0", "vlan-net", "ifacer", {"type": "ifacer", **raw}))


def refused(field: str, **raw: Any) -> errors.InvalidConfig:
    with pytest.raises(errors.InvalidConfig) as info:
        parse(**raw)
    assert info.value.code == 7
    assert info.value.field == field, info.value.msg
    return info.value


def test_one_interface_with_a_vlan_gives_the_dotted_master() -> None:
    c = parse(interfaces=["ens1"], vlanID=100)
    assert (c.bond, c.vlan_name, c.master) == (None, "ens1.100", "ens1.100")


def test_two_interfaces_make_a_bond_named_sp_bond0_by_default() -> None:
    c = parse(interfaces=["ens1", "ens2"], vlanID=7, bond={"mode": 1})
    assert c.bond is not None and (c.bond.name, c.bond.mode) == ("sp_bond0", 1)
    assert c.master == "sp_bond0.7"


def test_a_bond_without_a_vlan_is_the_master_itself() -> None:
    assert parse(interfaces=["ens1", "ens2"], bond={"name": "bond9"}).master == "bond9"


def test_one_interface_with_a_bond_section_ignores_the_bond_as_upstream_does() -> None:
    c = parse(interfaces=["ens1"], vlanID=5, bond={"mode": 4})
    assert (c.bond, c.master) == (None, "ens1.5")


@pytest.mark.parametrize(
    "interfaces", [None, [], [""], ["a/b"], ["has space"], ["x" * 16], ["e1", "e1"], "ens1"]
)
def test_bad_interfaces_are_refused_naming_the_field(interfaces: Any) -> None:
    raw = {} if interfaces is None else {"interfaces": interfaces}
    err = refused(_field_of(interfaces), **raw)
    assert err.msg


def _field_of(interfaces: Any) -> str:
    if isinstance(interfaces, list) and interfaces and interfaces != ["e1", "e1"]:
        return "interfaces[0]"
    return "interfaces"


@pytest.mark.parametrize("vlan", [-1, 4095, "100", 1.5, True])
def test_a_vlan_id_outside_0_to_4094_or_not_an_integer_is_refused(vlan: Any) -> None:
    refused("vlanID", interfaces=["ens1"], vlanID=vlan)


def test_a_vlan_name_longer_than_the_kernel_allows_is_refused_naming_vlan_id() -> None:
    err = refused("vlanID", interfaces=["enp129s0f1np1"], vlanID=100)
    assert "enp129s0f1np1.100" in err.msg


@pytest.mark.parametrize("mode", [-1, 7, "1"])
def test_a_bond_mode_outside_0_to_6_is_refused(mode: Any) -> None:
    refused("bond.mode", interfaces=["e1", "e2"], bond={"mode": mode})


def test_two_interfaces_without_a_bond_are_refused_instead_of_silently_ignored() -> None:
    refused("bond", interfaces=["e1", "e2"], vlanID=10)


def test_a_bond_named_like_one_of_its_slaves_is_refused() -> None:
    refused("bond.name", interfaces=["e1", "e2"], bond={"name": "e2"})


def opts(text: str, interfaces: tuple[str, ...] = ("e1", "e2")) -> bondopts.BondOptions:
    return bondopts.parse(text, interfaces)


def test_numbers_names_and_aliases_become_netlink_attributes() -> None:
    o = opts(
        "miimon=100; up_delay=200 "
        ";xmit_hash_policy=layer3+4;lacp_rate=fast;use_carrier=0;num_grat_arp=3;"
    )
    assert o.attrs == {
        "IFLA_BOND_MIIMON": 100,
        "IFLA_BOND_UPDELAY": 200,
        "IFLA_BOND_XMIT_HASH_POLICY": 1,
        "IFLA_BOND_AD_LACP_RATE": 1,
        "IFLA_BOND_USE_CARRIER": 0,
        "IFLA_BOND_NUM_PEER_NOTIF": 3,
    }


def test_arp_targets_come_as_a_json_array_or_a_comma_list() -> None:
    assert opts('arp_ip_target=["10.0.0.1","10.0.0.2"]').attrs["IFLA_BOND_ARP_IP_TARGET"] == [
        "10.0.0.1",
        "10.0.0.2",
    ]
    assert opts("arp_ip_target=10.0.0.1, 10.0.0.3").attrs["IFLA_BOND_ARP_IP_TARGET"] == [
        "10.0.0.1",
        "10.0.0.3",
    ]


def test_interface_options_and_the_sysfs_only_delay_are_kept_apart() -> None:
    o = opts("primary=e2;active_slave=e1;peer_notif_delay=300;ad_actor_system=02:AA:bb:cc:dd:ee")
    assert (o.primary, o.active_slave, o.peer_notif_delay) == ("e2", "e1", 300)
    assert o.attrs == {"IFLA_BOND_AD_ACTOR_SYSTEM": "02:aa:bb:cc:dd:ee"}


def test_an_empty_options_string_sets_nothing() -> None:
    assert opts("  ") == bondopts.BondOptions()


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("miimon", "'miimon'"),  # no '=' (upstream skips it, or breaks on a first item)
        ("miimon=1=2", "'miimon=1=2'"),
        ("bogus=1", "'bogus'"),
        ("miimon=", "miimon"),
        ("miimon=fast", "'fast'"),
        ("xmit_hash_policy=layer5", "layer3+4"),  # the error lists the known names
        ("miimon=1;miimon=2", "twice"),
        ("resend_igmp=256", "255"),
        ("miimon=" + "9" * 5000, "maximum"),  # Python's int() refuses 4300 digits: was 999
        ("miimon=-1", "'-1'"),
        ("miimon=\u0661", "want an integer"),  # an Arabic-Indic one: not an ASCII digit
        ("primary=e3", "'e3'"),
        ("ad_actor_system=zz:aa", "'zz:aa'"),
        ("arp_ip_target=10.0.0.300", "'10.0.0.300'"),
        ("arp_ip_target=fd00::1", "'fd00::1'"),
        ("arp_ip_target=[10.0.0.1]", "JSON"),
        ("arp_ip_target=" + ",".join(f"10.0.0.{i}" for i in range(1, 18)), "16"),
    ],
)
def test_bad_options_are_refused_naming_bond_options_and_quoting_the_item(
    text: str, quoted: str
) -> None:
    with pytest.raises(errors.InvalidConfig) as info:
        opts(text)
    assert info.value.field == "bond.options"
    assert quoted in info.value.msg


def test_primary_in_a_mode_without_one_is_refused() -> None:
    err = refused(
        "bond.options", interfaces=["e1", "e2"], bond={"mode": 0, "options": "primary=e1"}
    )
    assert "mode 1, 5 or 6" in err.msg


def test_log_options_use_the_coordinators_keys() -> None:
    c = parse(
        interfaces=["ens1"],
        logOptions={"logLevel": "debug", "logFile": "/tmp/x.log", "logMaxAge": 3},
    )
    assert (c.log.level, c.log.path) == ("debug", "/tmp/x.log")
    refused("logOptions.logLevel", interfaces=["ens1"], logOptions={"logLevel": "loud"})
