"""Our rtnetlink codec (spidernet/netlink/messages.py) against pyroute2 as the oracle.

pyroute2 is no longer on the plugins' path, but its message classes still encode and
decode every rtnetlink message; here they check ours in both directions:

| direction            | messages                                                      |
|----------------------|---------------------------------------------------------------|
| our request, pyroute2 decodes | link get/set (state, MAC, MTU, queue, master), veth with its |
|                      | peer in another netns, VLAN, bond (every option kind), address |
|                      | v4/v6, route add/delete/get (table > 255 in the attribute),  |
|                      | rule (plain, from, fwmark), neighbour replace/delete, dumps  |
| pyroute2 encodes, we decode | link (VLAN id, master, peer), address, route (default,     |
|                      | multipath, table attribute), rule, neighbour                  |
| property             | any route we encode reads back the same through pyroute2      |
| framing              | several messages in one buffer, padding, a truncated attribute |
"""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pyroute2.netlink.rtnl.fibmsg import fibmsg
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.ndmsg import ndmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from spidernet.netlink import messages as m
from spidernet.netlink.records import Link, Neighbour, Route, Rule

NET = ipaddress.ip_network
IP = ipaddress.ip_address


def decoded(cls: Any, request: m.Request) -> Any:
    """Our request as pyroute2 reads it (header fields, attributes by name)."""
    kind, flags, body = request
    msg = cls(m.HEADER.pack(m.HEADER.size + len(body), kind, flags, 1, 0) + body)
    msg.decode()
    return msg


def wire(msg: Any, kind: int) -> m.Message:
    """A message pyroute2 encoded, cut out of its buffer by our framing."""
    msg["header"]["type"] = kind
    msg.encode()
    (out,) = m.split(bytes(msg.data))
    return out


# ---------------------------------------------------------------- requests


def test_link_requests_carry_what_pyroute2_sent() -> None:
    get = decoded(ifinfmsg, m.get_link(name="ens1"))
    assert (get["header"]["type"], get["index"], get.get_attr("IFLA_IFNAME")) == (18, 0, "ens1")
    up = decoded(ifinfmsg, m.set_link(7, up=True))
    assert (up["index"], up["flags"], up["change"], up["attrs"]) == (7, 1, 1, [])
    down = decoded(ifinfmsg, m.set_link(7, up=False))
    assert (down["flags"], down["change"]) == (0, 1)
    many = decoded(ifinfmsg, m.set_link(7, mac="02:11:22:33:44:55", mtu=1400, txqlen=0, master=0))
    assert many.get_attr("IFLA_ADDRESS") == "02:11:22:33:44:55"
    assert (many.get_attr("IFLA_MTU"), many.get_attr("IFLA_TXQLEN")) == (1400, 0)
    assert (many.get_attr("IFLA_MASTER"), many["change"]) == (0, 0)
    dump = decoded(ifinfmsg, m.dump_links())
    assert dump["header"]["flags"] == 0x301 and dump.get_attr("IFLA_EXT_MASK") == 8


def test_a_veth_is_created_with_its_peer_named_and_placed_in_the_other_namespace() -> None:
    msg = decoded(ifinfmsg, m.add_veth("vethabc", "veth0", 6, 1500))
    assert msg["header"]["flags"] == 0x605  # request, ack, excl, create
    assert msg.get_attr("IFLA_IFNAME") == "vethabc"
    info = msg.get_attr("IFLA_LINKINFO")
    peer = info.get_attr("IFLA_INFO_DATA").get_attr("VETH_INFO_PEER")
    assert info.get_attr("IFLA_INFO_KIND") == "veth"
    assert dict(peer["attrs"]) == {"IFLA_IFNAME": "veth0", "IFLA_NET_NS_FD": 6, "IFLA_MTU": 1500}


def test_a_vlan_names_its_parent_and_id() -> None:
    msg = decoded(ifinfmsg, m.add_vlan("ens1.100", 3, 100))
    info = msg.get_attr("IFLA_LINKINFO")
    assert (msg.get_attr("IFLA_IFNAME"), msg.get_attr("IFLA_LINK")) == ("ens1.100", 3)
    assert info.get_attr("IFLA_INFO_KIND") == "vlan"
    assert info.get_attr("IFLA_INFO_DATA").get_attr("IFLA_VLAN_ID") == 100


def test_every_bond_option_is_encoded_with_the_kernels_width() -> None:
    options: dict[str, object] = {
        key: 1 for key in m.BOND_ATTRS if key not in ("IFLA_BOND_MODE", "IFLA_BOND_ARP_IP_TARGET")
    }
    options["IFLA_BOND_AD_ACTOR_SYSTEM"] = "02:00:00:00:00:2a"
    options["IFLA_BOND_AD_ACTOR_SYS_PRIO"] = 65535
    options["IFLA_BOND_ARP_IP_TARGET"] = ["10.0.0.1", "10.0.0.2"]
    msg = decoded(ifinfmsg, m.add_bond("bond0", 4, options))
    data = msg.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_DATA")
    got = dict(data["attrs"])
    assert got.pop("IFLA_BOND_MODE") == 4
    assert got.pop("IFLA_BOND_AD_ACTOR_SYS_PRIO") == 65535
    assert bytes.fromhex(got.pop("IFLA_BOND_AD_ACTOR_SYSTEM").replace(":", "")) == bytes(
        [2, 0, 0, 0, 0, 42]
    )
    assert got.pop("IFLA_BOND_ARP_IP_TARGET") == ["10.0.0.1", "10.0.0.2"]
    assert set(got.values()) == {1}  # each read back at its own width (u8, u16 or u32)


def test_addresses_carry_local_as_well_for_ipv4() -> None:
    v4 = decoded(ifaddrmsg, m.add_address(5, ipaddress.ip_interface("169.254.1.1/32")))
    assert (v4["family"], v4["prefixlen"], v4["index"]) == (2, 32, 5)
    assert dict(v4["attrs"]) == {"IFA_ADDRESS": "169.254.1.1", "IFA_LOCAL": "169.254.1.1"}
    v6 = decoded(ifaddrmsg, m.add_address(5, ipaddress.ip_interface("fd00::1/64")))
    assert (v6["family"], v6["prefixlen"], dict(v6["attrs"])) == (
        10,
        64,
        {"IFA_ADDRESS": "fd00::1"},
    )


def test_a_route_in_a_high_table_goes_in_the_attribute_as_a_static_unicast() -> None:
    route = Route(NET("10.9.0.5/32"), 500, oif=4, scope=253, src=IP("10.0.0.1"))
    msg = decoded(rtmsg, m.add_route(route))
    assert (
        msg["family"],
        msg["dst_len"],
        msg["table"],
        msg["proto"],
        msg["scope"],
        msg["type"],
    ) == (
        2,
        32,
        254,
        4,
        253,
        1,
    )
    assert dict(msg["attrs"]) == {
        "RTA_DST": "10.9.0.5",
        "RTA_TABLE": 500,
        "RTA_OIF": 4,
        "RTA_PREFSRC": "10.0.0.1",
    }


def test_a_route_deletion_matches_any_scope_and_a_lookup_asks_for_one_address() -> None:
    gone = decoded(
        rtmsg, m.delete_route(Route(NET("fd00::/64"), 100, oif=2, gateway=IP("fd00::1")))
    )
    assert (gone["family"], gone["scope"], gone["proto"], gone["type"], gone["table"]) == (
        10,
        255,
        0,
        0,
        100,
    )
    assert dict(gone["attrs"])["RTA_GATEWAY"] == "fd00::1"
    get = decoded(rtmsg, m.get_route(IP("192.168.60.9")))
    assert (get["dst_len"], get.get_attr("RTA_DST"), get["header"]["flags"]) == (
        32,
        "192.168.60.9",
        5,
    )


def test_rules_name_their_table_priority_source_and_mark() -> None:
    plain = decoded(fibmsg, m.add_rule(Rule(4, 1000, 500)))
    assert (plain["table"], plain["action"], dict(plain["attrs"])) == (
        252,
        1,
        {"FRA_TABLE": 500, "FRA_PRIORITY": 1000},
    )
    src = decoded(fibmsg, m.add_rule(Rule(4, 1001, 101, src=NET("10.9.0.5/32"))))
    assert (src["src_len"], src["table"], src.get_attr("FRA_SRC")) == (32, 101, "10.9.0.5")
    mark = decoded(fibmsg, m.add_rule(Rule(6, 1000, 100, fwmark=1)))
    assert (mark["family"], mark.get_attr("FRA_FWMARK")) == (10, 1)


def test_neighbours_are_replaced_and_deleted_by_address_and_link() -> None:
    msg = decoded(ndmsg, m.set_neighbour(7, IP("fd00::5"), "02:aa:bb:cc:dd:ee", 0x80))
    assert (msg["family"], msg["ifindex"], msg["state"], msg["header"]["flags"]) == (
        10,
        7,
        0x80,
        0x505,
    )
    assert dict(msg["attrs"]) == {"NDA_DST": "fd00::5", "NDA_LLADDR": "02:aa:bb:cc:dd:ee"}
    gone = decoded(ndmsg, m.delete_neighbour(7, IP("10.9.0.5"), 0x80))
    assert (gone["family"], gone.get_attr("NDA_DST")) == (2, "10.9.0.5")


# ---------------------------------------------------------------- replies


def test_a_link_reply_yields_name_mac_flags_mtu_peer_master_and_vlan_id() -> None:
    msg = ifinfmsg()
    msg["index"], msg["flags"] = 9, 0x1003
    msg["attrs"] = [
        ("IFLA_IFNAME", "ens1.100"),
        ("IFLA_ADDRESS", "02:00:00:00:00:01"),
        ("IFLA_MTU", 1500),
        ("IFLA_LINK", 3),
        ("IFLA_MASTER", 12),
        (
            "IFLA_LINKINFO",
            {
                "attrs": [
                    ("IFLA_INFO_KIND", "vlan"),
                    ("IFLA_INFO_DATA", {"attrs": [("IFLA_VLAN_ID", 100)]}),
                ]
            },
        ),
    ]
    link = m.link(wire(msg, m.RTM_NEWLINK))
    assert link == Link(9, "ens1.100", "02:00:00:00:00:01", 0x1003, 1500, 3, "vlan", 12, 100)
    assert link.up_broadcast_multicast


def test_address_route_rule_and_neighbour_replies_become_records() -> None:
    addr = ifaddrmsg()
    addr["family"], addr["prefixlen"], addr["scope"], addr["index"] = 10, 64, 0, 4
    addr["attrs"] = [("IFA_ADDRESS", "fd00::1")]
    entry = m.address(wire(addr, m.RTM_NEWADDR))
    assert entry is not None and (entry.index, str(entry.address), entry.scope) == (
        4,
        "fd00::1/64",
        0,
    )

    route = rtmsg()
    route["family"], route["table"], route["scope"] = 10, 254, 0
    route["attrs"] = [
        ("RTA_TABLE", 254),
        (
            "RTA_MULTIPATH",
            [
                {"oif": 2, "attrs": [("RTA_GATEWAY", "fe80::1")]},
                {"oif": 3, "attrs": [("RTA_GATEWAY", "fe80::2")]},
            ],
        ),
    ]
    assert m.route(wire(route, m.RTM_NEWROUTE)) == Route(
        NET("::/0"), 254, hops=((2, IP("fe80::1")), (3, IP("fe80::2")))
    )

    rule = fibmsg()
    rule["family"], rule["src_len"], rule["table"] = 2, 24, 252
    rule["attrs"] = [("FRA_TABLE", 1000), ("FRA_PRIORITY", 1001), ("FRA_SRC", "10.9.0.0")]
    assert m.rule(wire(rule, 32)) == Rule(4, 1001, 1000, src=NET("10.9.0.0/24"))

    neigh = ndmsg()
    neigh["family"], neigh["ifindex"], neigh["state"] = 2, 5, 0x80
    neigh["attrs"] = [("NDA_DST", "10.9.0.5"), ("NDA_LLADDR", "02:aa:bb:cc:dd:ee")]
    assert m.neighbour(wire(neigh, m.RTM_NEWNEIGH)) == Neighbour(
        5, IP("10.9.0.5"), "02:aa:bb:cc:dd:ee", 0x80
    )


def test_several_messages_in_one_buffer_are_cut_apart_and_a_truncated_attribute_ends_the_list() -> (
    None
):
    one = m.HEADER.pack(16 + 6, m.RTM_NEWLINK, 2, 7, 0) + b"\x06\x00\x03\x00ab" + b"\0\0"
    two = m.HEADER.pack(16, m.NLMSG_DONE, 2, 7, 0)
    msgs = m.split(one + two)
    assert [(x.kind, x.seq) for x in msgs] == [(m.RTM_NEWLINK, 7), (m.NLMSG_DONE, 7)]
    assert m.attrs(msgs[0].body) == {3: b"ab"}
    assert m.attrs(b"\x08\x00\x03\x00ab") == {3: b"ab"}  # claims 4 bytes, has 2: what is there
    assert m.attrs(b"\x02\x00\x03\x00") == {}  # a length below the header: stop


@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 32),
    st.integers(1, 2**31 - 1),
    st.sampled_from([0, 253]),
    st.integers(0, 2**32 - 1) | st.none(),
)
def test_any_ipv4_route_we_encode_reads_back_the_same_through_pyroute2(
    raw: int, prefix: int, table: int, scope: int, gw: int | None
) -> None:
    dst = ipaddress.ip_network((raw, prefix), strict=False)
    route = Route(dst, table, oif=3, scope=scope, gateway=IP(gw) if gw is not None else None)
    msg = decoded(rtmsg, m.add_route(route))
    assert (msg["dst_len"], msg.get_attr("RTA_DST"), msg.get_attr("RTA_TABLE")) == (
        prefix,
        str(dst.network_address),
        table,
    )
    assert msg.get_attr("RTA_GATEWAY") == (str(route.gateway) if route.gateway else None)
    reply = rtmsg(
        m.HEADER.pack(16 + len(msg.data) - 16, m.RTM_NEWROUTE, 0, 1, 0) + bytes(msg.data[16:])
    )
    reply.decode()
    assert m.route(m.split(bytes(reply.data))[0]) == route
