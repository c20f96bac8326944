"""The frozen ifacer on a UML kernel's VLAN and bonding drivers (runs in the guest only).

Each case execs the bundle in a node netns with dummy NICs, then reads the kernel's
view back with ``ip -d -j link``.

| case                                 | expectation                                              |
|--------------------------------------|----------------------------------------------------------|
| VLAN on one NIC that is down         | NIC up; <if>.<id> VLAN id, parent, up; prevResult passed |
|                                      | through unchanged                                        |
| repeated ADD, DEL, CHECK             | same ifindex; DEL leaves it; CHECK 0, then 121 once the  |
|                                      | VLAN is down                                             |
| bond in each mode 0-6 with           | mode and options as the kernel reports them, slaves      |
| mode-fitting options + VLAN          | enslaved and up, VLAN on the bond                        |
| bad input (config)                   | code 7 naming the field, host unchanged                  |
| host contradicts config: missing     | code 7 naming the field, host unchanged                  |
| parent or slave,                     |                                                          |
| sp_bond0 is a dummy, slave already   |                                                          |
| in another bond,                     |                                                          |
| same VLAN id on another parent, name |                                                          |
| taken by a dummy                     |                                                          |
| failure after the bond was built     | bond deleted, slaves released and down again             |
| (VLAN name taken)                    |                                                          |
| an option the kernel refuses for the | code 7 naming bond.options, no bond left                 |
| mode                                 |                                                          |
| another ADD builds the bond after    | ensure() reuses it: bond, both slaves, VLAN up           |
| our first look, or                   |                                                          |
| just before our create (EEXIST),     | (it used to fail with code 7 / 120)                      |
| in-process                           |                                                          |
| three concurrent first ADDs of one   | all three succeed                                        |
| bond (frozen)                        |                                                          |
| a VLAN the kernel refuses (on lo),   | code 120, no field named, host unchanged                 |
| no bond in config                    |                                                          |
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from spidernet.ifacer import config as ifacer_config
from spidernet.ifacer import devices
from spidernet.netlink import namespaces
from spidernet.netlink.links import Links
from spidernet.netlink.routing import Link
from spidernet.types import netconf
from tests.uml_guest.conftest import Host, error_of

PREV = {
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "eth0", "sandbox": "/x"}],
    "ips": [{"address": "10.1.0.5/24", "interface": 0}],
}


def kind(link: dict[str, Any]) -> str:
    return str((link.get("linkinfo") or {}).get("info_kind", ""))


def data(link: dict[str, Any]) -> dict[str, Any]:
    return dict((link.get("linkinfo") or {}).get("info_data", {}))


def test_a_vlan_is_made_on_a_nic_that_was_down_and_prevresult_passes_through(host: Host) -> None:
    result = host.ifacer("ADD", interfaces=["ens1"], vlanID=100, prevResult=PREV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.json()["ips"] == PREV["ips"]
    links = host.links()
    vlan = links["ens1.100"]
    assert (kind(vlan), data(vlan)["id"], vlan["link"]) == ("vlan", 100, "ens1")
    assert "UP" in vlan["flags"] and "UP" in links["ens1"]["flags"]


def test_a_repeated_add_reuses_the_vlan_del_leaves_it_and_check_sees_it_go_down(host: Host) -> None:
    conf = {"interfaces": ["ens1"], "vlanID": 7}
    assert host.ifacer("ADD", **conf).returncode == 0
    index = host.links()["ens1.7"]["ifindex"]
    assert host.ifacer("ADD", **conf).returncode == 0
    assert host.ifacer("DEL", **conf).returncode == 0
    assert host.links()["ens1.7"]["ifindex"] == index
    assert host.ifacer("CHECK", **conf, prevResult=PREV).returncode == 0
    host.sh("link", "set", "ens1.7", "down")
    err = error_of(host.ifacer("CHECK", **conf, prevResult=PREV))
    assert (err["code"], "ens1.7" in err["msg"]) == (121, True)


# mode -> (options we set, what `ip -d -j link` must report in info_data)
BOND_MODES: dict[int, tuple[str, dict[str, Any]]] = {
    0: ("miimon=100;updelay=200", {"mode": "balance-rr", "miimon": 100, "updelay": 200}),
    1: (
        "miimon=50;primary=ens2;fail_over_mac=active",
        {"mode": "active-backup", "primary": "ens2", "fail_over_mac": "active"},
    ),
    2: (
        "xmit_hash_policy=layer3+4;miimon=100",
        {"mode": "balance-xor", "xmit_hash_policy": "layer3+4"},
    ),
    3: (
        "arp_interval=250;arp_ip_target=10.0.0.1,10.0.0.2",
        {"mode": "broadcast", "arp_interval": 250, "arp_ip_target": ["10.0.0.1", "10.0.0.2"]},
    ),
    4: (
        "lacp_rate=fast;xmit_hash_policy=layer2+3;miimon=100;ad_actor_system=02:00:00:00:00:2a",
        {
            "mode": "802.3ad",
            "ad_lacp_rate": "fast",
            "xmit_hash_policy": "layer2+3",
            "ad_actor_system": "02:00:00:00:00:2a",
        },
    ),
    5: ("tlb_dynamic_lb=0;miimon=100", {"mode": "balance-tlb", "tlb_dynamic_lb": 0}),
    6: ("miimon=100;downdelay=300", {"mode": "balance-alb", "downdelay": 300}),
}


@pytest.mark.parametrize("mode", sorted(BOND_MODES))
def test_a_bond_in_each_mode_gets_its_options_and_a_vlan_on_top(host: Host, mode: int) -> None:
    options, expected = BOND_MODES[mode]
    result = host.ifacer(
        "ADD",
        interfaces=["ens1", "ens2"],
        vlanID=200,
        bond={"name": "bond0", "mode": mode, "options": options},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    links = host.links()
    bond = data(links["bond0"])
    assert {k: bond.get(k) for k in expected} == expected
    for slave in ("ens1", "ens2"):
        assert (links[slave].get("master"), "UP" in links[slave]["flags"]) == ("bond0", True)
    vlan = links["bond0.200"]
    assert (kind(vlan), data(vlan)["id"], vlan["link"], "UP" in vlan["flags"]) == (
        "vlan",
        200,
        "bond0",
        True,
    )


@pytest.mark.parametrize(
    ("conf", "field"),
    [
        ({}, "interfaces"),
        ({"interfaces": []}, "interfaces"),
        ({"interfaces": ["ens1"], "vlanID": 4095}, "vlanID"),
        ({"interfaces": ["ens1", "ens2"], "bond": {"mode": 7}}, "bond.mode"),
        (
            {"interfaces": ["ens1", "ens2"], "bond": {"options": "miimon=100;speed=fast"}},
            "bond.options",
        ),
        ({"interfaces": ["ens1", "ens2"], "bond": {"options": "miimon100"}}, "bond.options"),
        ({"interfaces": ["ens9"], "vlanID": 10}, "interfaces[0]"),
        ({"interfaces": ["ens1", "ens9"], "vlanID": 10, "bond": {"mode": 1}}, "interfaces[1]"),
    ],
)
def test_bad_input_is_code_7_naming_the_field_and_leaves_the_host_as_it_was(
    host: Host, conf: dict[str, Any], field: str
) -> None:
    before = host.snapshot()
    err = error_of(host.ifacer("ADD", **conf))
    assert (err["code"], err.get("details")) == (7, f"field: {field}"), err
    assert host.snapshot() == before


def test_a_dummy_holding_the_bond_name_is_refused(host: Host) -> None:
    host.sh("link", "add", "sp_bond0", "type", "dummy")
    before = host.snapshot()
    err = error_of(host.ifacer("ADD", interfaces=["ens1", "ens2"], vlanID=5, bond={"mode": 1}))
    assert (err["code"], err["details"], "not a bond" in err["msg"]) == (
        7,
        "field: bond.name",
        True,
    )
    assert host.snapshot() == before


def test_a_slave_already_in_another_bond_is_refused(host: Host) -> None:
    host.sh("link", "add", "other", "type", "bond")
    host.sh("link", "set", "ens2", "master", "other")
    before = host.snapshot()
    err = error_of(host.ifacer("ADD", interfaces=["ens1", "ens2"], bond={"mode": 0}))
    assert (err["code"], err["details"], "other" in err["msg"]) == (7, "field: interfaces[1]", True)
    assert host.snapshot() == before


def test_the_same_vlan_id_on_another_parent_is_refused(host: Host) -> None:
    assert host.ifacer("ADD", interfaces=["ens1"], vlanID=30).returncode == 0
    before = host.snapshot()
    err = error_of(host.ifacer("ADD", interfaces=["ens2"], vlanID=30))
    assert (err["code"], err["details"], "ens1.30" in err["msg"]) == (7, "field: vlanID", True)
    assert host.snapshot() == before


def test_a_failure_after_the_bond_was_built_undoes_the_bond(host: Host) -> None:
    host.sh("link", "add", "sp_bond0.40", "type", "dummy")  # the VLAN's name is taken
    host.sh("link", "set", "ens1", "up")  # one slave up, one down: both must come back so
    before = host.snapshot()
    err = error_of(host.ifacer("ADD", interfaces=["ens1", "ens2"], vlanID=40, bond={"mode": 1}))
    assert (err["code"], err["details"]) == (7, "field: vlanID"), err
    assert host.snapshot() == before


def test_an_option_the_kernel_refuses_for_the_mode_leaves_no_bond(host: Host) -> None:
    before = host.snapshot()
    # arp_validate is not supported in 802.3ad: the kernel says so when the bond is created
    err = error_of(
        host.ifacer(
            "ADD",
            interfaces=["ens1", "ens2"],
            bond={"mode": 4, "options": "arp_interval=100;arp_validate=active"},
        )
    )
    assert (err["code"], err["details"]) == (7, "field: bond.options"), err
    assert host.snapshot() == before


# ---------------------------------------------------------------- races


class RacedLinks(Links):
    """The node as ``devices.ensure`` sees it while another pod's ADD, the frozen ifacer in
    its own process, builds the same bond in between: at ``moment`` ("look", just after
    our first look found no bond; "create", just before our create) the other ADD runs
    to completion. Everything else is the real kernel."""

    def __init__(self, host: Host, moment: str, conf: dict[str, Any]) -> None:
        with namespaces.entered(host.node.path):  # the socket stays in the node netns
            super().__init__()
        self.host, self.moment, self.conf, self.raced = host, moment, conf, False

    def _race(self) -> None:
        if not self.raced:
            self.raced = True
            other = self.host.ifacer("ADD", **self.conf)
            assert other.returncode == 0, other.stdout + other.stderr

    def get(self, name: str) -> Link | None:
        seen = super().get(name)
        if self.moment == "look" and name == self.conf["bond"]["name"] and not self.raced:
            self._race()
            return seen  # what we saw before the other ADD made the bond
        return seen

    def add_bond(self, name: str, mode: int, attrs: dict[str, object]) -> None:
        if self.moment == "create":
            self._race()
        super().add_bond(name, mode, attrs)


@pytest.mark.parametrize("moment", ["look", "create"])
def test_the_loser_of_two_first_adds_racing_for_a_bond_reuses_it(host: Host, moment: str) -> None:
    raw = {
        "cniVersion": "1.0.0",
        "name": "bond-net",
        "type": "ifacer",
        "interfaces": ["ens1", "ens2"],
        "vlanID": 50,
        "bond": {"name": "bond5", "mode": 1, "options": "miimon=100"},
    }
    conf = {k: v for k, v in raw.items() if k not in ("cniVersion", "name", "type")}
    with RacedLinks(host, moment, conf) as links:
        devices.ensure(
            ifacer_config.parse(netconf.parse(raw, "1.0.0")), links
        )  # before: code 120 / 7
        assert links.raced
    links_now = host.links()
    assert (kind(links_now["bond5"]), data(links_now["bond5"])["mode"]) == ("bond", "active-backup")
    assert [links_now[s].get("master") for s in ("ens1", "ens2")] == ["bond5", "bond5"]
    assert (kind(links_now["bond5.50"]), "UP" in links_now["bond5.50"]["flags"]) == ("vlan", True)


def test_concurrent_first_adds_of_one_bond_all_succeed(host: Host) -> None:
    conf = {"interfaces": ["ens1", "ens2"], "vlanID": 60, "bond": {"mode": 0}}
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: host.ifacer("ADD", **conf), range(3)))
    assert [r.returncode for r in results] == [0, 0, 0], [r.stdout for r in results]
    assert host.links()["sp_bond0.60"]["link"] == "sp_bond0"


# ---------------------------------------------------------------- kernel refusals


def test_a_kernel_refusing_a_plain_vlan_is_code_120_not_bond_options(host: Host) -> None:
    before = host.snapshot()
    # The loopback device cannot carry VLANs: the kernel answers EOPNOTSUPP.
    err = error_of(host.ifacer("ADD", interfaces=["lo"], vlanID=5))
    assert (err["code"], "details" in err, "lo.5" in err["msg"]) == (120, False, True), err
    assert host.snapshot() == before
