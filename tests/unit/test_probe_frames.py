"""ARP and NDP frames of the coordinator's probes, byte for byte. Pure, no I/O.

Cases:
- ARP request: golden bytes for an RFC 5227 probe (sender 0.0.0.0) and for a
  gateway request (sender = our IP); a parsed reply gives back every field, with
  or without Ethernet padding; not ARP, not Ethernet/IPv4 ARP, an unknown opcode
  or a truncated frame parse to None.
- NDP helpers: solicited-node group and its multicast MAC (RFC 4291's example).
- Neighbour Solicitation: golden bytes for a DAD probe (unspecified source, no
  option) and for a gateway probe (source address + source link-layer option);
  both checksums verify under an independent RFC 1071 sum.
- Neighbour Advertisement: parsed with and without the target link-layer option
  and with trailing padding; parsed as None when the checksum, hop limit, code,
  type, length, target (multicast), options (zero length, overrun) or next header
  are wrong, when the frame is truncated, or when it is not IPv6 at all.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

import pytest

from spidernet.coordinator import frames

OUR_MAC = bytes.fromhex("02aabbccddee")
PEER_MAC = bytes.fromhex("021122334455")
ALL_NODES = IPv6Address("ff02::1")

ARP_PROBE = (
    "ffffffffffff 02aabbccddee 0806 0001 0800 06 04 0001 02aabbccddee 00000000 000000000000 "
    "0a060005"
)
ARP_GATEWAY = (
    "ffffffffffff 02aabbccddee 0806 0001 0800 06 04 0001 02aabbccddee 0a060005 000000000000 "
    "0a060001"
)
NS_DAD = (
    "3333ff000005 02aabbccddee 86dd"
    " 60000000 0018 3a ff 00000000000000000000000000000000 ff0200000000000000000001ff000005"
    " 87 00 7d97 00000000 fd000006000000000000000000000005"
)
NS_GATEWAY = (
    "3333ff000001 02aabbccddee 86dd"
    " 60000000 0020 3a ff fd000006000000000000000000000005 ff0200000000000000000001ff000001"
    " 87 00 e324 00000000 fd000006000000000000000000000001 0101 02aabbccddee"
)


def golden(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def rfc1071_sum(data: bytes) -> int:
    """The Internet checksum sum, written out byte pair by byte pair (independent of frames')."""
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) + (data[i + 1] if i + 1 < len(data) else 0)
        total = (total & 0xFFFF) + (total >> 16)
    return total


def checksum_verifies(frame: bytes) -> bool:
    src, dst, message = frame[22:38], frame[38:54], frame[54:]
    pseudo = src + dst + struct.pack("!I3xB", len(message), 58)
    return rfc1071_sum(pseudo + message) == 0xFFFF


def arp_reply(sender_mac: bytes, sender_ip: str, target_mac: bytes, target_ip: str) -> bytes:
    return (
        struct.pack("!6s6sH", target_mac, sender_mac, 0x0806)
        + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2)
        + sender_mac
        + IPv4Address(sender_ip).packed
        + target_mac
        + IPv4Address(target_ip).packed
    )


def advertisement(
    target: str, *, option: bytes | None = PEER_MAC, extra_options: bytes = b""
) -> bytes:
    """An NA from PEER_MAC to all-nodes, as a defending owner sends it (flags: override)."""
    tlla = struct.pack("!BB6s", 2, 1, option) if option else b""
    body = struct.pack("!I16s", 0x20000000, IPv6Address(target).packed) + tlla + extra_options
    packet = frames.icmpv6_packet(IPv6Address("fd00:6::9"), ALL_NODES, 136, body)
    return frames.multicast_mac(ALL_NODES) + PEER_MAC + b"\x86\xdd" + packet


def patched(frame: bytes, offset: int, value: bytes) -> bytes:
    return frame[:offset] + value + frame[offset + len(value) :]


def test_an_arp_probe_has_sender_ip_zero_our_mac_and_a_broadcast_destination() -> None:
    frame = frames.arp_request(OUR_MAC, frames.UNSPECIFIED_V4, IPv4Address("10.6.0.5"))
    assert frame == golden(ARP_PROBE)


def test_an_arp_gateway_request_is_sent_from_our_ip() -> None:
    frame = frames.arp_request(OUR_MAC, IPv4Address("10.6.0.5"), IPv4Address("10.6.0.1"))
    assert frame == golden(ARP_GATEWAY)


@pytest.mark.parametrize("padding", [0, 18], ids=["bare", "padded-to-60"])
def test_an_arp_reply_parses_to_all_its_fields(padding: int) -> None:
    arp = frames.parse_arp(arp_reply(PEER_MAC, "10.6.0.5", OUR_MAC, "0.0.0.0") + bytes(padding))
    assert arp == frames.Arp(
        frames.ARP_REPLY, PEER_MAC, IPv4Address("10.6.0.5"), OUR_MAC, IPv4Address(0)
    )


def test_our_own_arp_request_parses_as_a_request() -> None:
    arp = frames.parse_arp(golden(ARP_GATEWAY))
    assert arp is not None and (arp.op, arp.sender_ip) == (
        frames.ARP_REQUEST,
        IPv4Address("10.6.0.5"),
    )


@pytest.mark.parametrize(
    ("offset", "value"),
    [
        (12, b"\x86\xdd"),
        (14, b"\x00\x06"),
        (16, b"\x86\xdd"),
        (18, b"\x10"),
        (19, b"\x10"),
        (20, b"\x00\x03"),
    ],
    ids=["ethertype-ipv6", "htype-ieee802", "ptype-ipv6", "hlen-16", "plen-16", "opcode-rarp"],
)
def test_a_frame_that_is_not_ethernet_ipv4_arp_parses_to_none(offset: int, value: bytes) -> None:
    assert (
        frames.parse_arp(
            patched(arp_reply(PEER_MAC, "10.6.0.5", OUR_MAC, "10.6.0.5"), offset, value)
        )
        is None
    )


def test_a_truncated_arp_frame_parses_to_none() -> None:
    assert frames.parse_arp(arp_reply(PEER_MAC, "10.6.0.5", OUR_MAC, "10.6.0.5")[:41]) is None


def test_the_solicited_node_group_and_its_mac_follow_rfc_4291_and_2464() -> None:
    group = frames.solicited_node(IPv6Address("4037::1:800:200e:8c6c"))
    assert group == IPv6Address("ff02::1:ff0e:8c6c")
    assert frames.multicast_mac(group) == bytes.fromhex("3333ff0e8c6c")


def test_a_dad_solicitation_has_the_unspecified_source_and_no_link_layer_option() -> None:
    frame = frames.neighbor_solicitation(OUR_MAC, frames.UNSPECIFIED_V6, IPv6Address("fd00:6::5"))
    assert frame == golden(NS_DAD)
    assert checksum_verifies(frame)


def test_a_gateway_solicitation_carries_our_address_and_our_mac_as_option() -> None:
    frame = frames.neighbor_solicitation(
        OUR_MAC, IPv6Address("fd00:6::5"), IPv6Address("fd00:6::1")
    )
    assert frame == golden(NS_GATEWAY)
    assert checksum_verifies(frame)


def test_an_advertisement_parses_to_its_sender_target_and_option() -> None:
    na = frames.parse_advertisement(advertisement("fd00:6::5"))
    assert na == frames.Advertisement(PEER_MAC, IPv6Address("fd00:6::5"), PEER_MAC)


def test_an_advertisement_without_option_parses_with_no_target_mac() -> None:
    na = frames.parse_advertisement(advertisement("fd00:6::5", option=None))
    assert na == frames.Advertisement(PEER_MAC, IPv6Address("fd00:6::5"), None)


def test_an_advertisement_with_ethernet_padding_still_parses() -> None:
    assert frames.parse_advertisement(advertisement("fd00:6::5") + bytes(8)) is not None


def test_an_unknown_option_is_skipped() -> None:
    na = frames.parse_advertisement(
        advertisement("fd00:6::5", extra_options=bytes([200, 1]) + bytes(6))
    )
    assert na is not None and na.target_mac == PEER_MAC


@pytest.mark.parametrize(
    ("offset", "value"),
    [
        (56, b"\x00\x00"),  # checksum
        (21, b"\xfe"),  # hop limit 254: the NA was routed, so is not from this link
        (55, b"\x01"),  # code
        (20, b"\x00"),  # next header: hop-by-hop options instead of ICMPv6
        (14, b"\x40"),  # IP version 4
        (18, b"\x00\x40"),  # payload length beyond the frame
        (18, b"\x00\x10"),  # payload length below an NA's minimum
        (12, b"\x08\x00"),  # ethertype IPv4
    ],
    ids=[
        "checksum",
        "hop-limit",
        "code",
        "next-header",
        "version",
        "length-long",
        "length-short",
        "ethertype",
    ],
)
def test_a_malformed_advertisement_parses_to_none(offset: int, value: bytes) -> None:
    assert frames.parse_advertisement(patched(advertisement("fd00:6::5"), offset, value)) is None


@pytest.mark.parametrize(
    "extra_options",
    [bytes([200, 0]) + bytes(6), bytes([200, 2]) + bytes(6), bytes([200])],
    ids=["zero-length", "overrun", "lone-byte"],
)
def test_an_advertisement_with_a_malformed_option_parses_to_none(extra_options: bytes) -> None:
    assert (
        frames.parse_advertisement(advertisement("fd00:6::5", extra_options=extra_options)) is None
    )


def test_an_advertisement_for_a_multicast_target_parses_to_none() -> None:
    assert frames.parse_advertisement(advertisement("ff02::1:ff00:5")) is None


def test_a_solicitation_is_not_an_advertisement() -> None:
    assert frames.parse_advertisement(golden(NS_GATEWAY)) is None


def test_a_truncated_advertisement_parses_to_none() -> None:
    assert frames.parse_advertisement(advertisement("fd00:6::5")[:70]) is None


def test_macs_are_formatted_lowercase_with_colons() -> None:
    assert frames.format_mac(bytes.fromhex("02AABBCCDDEE")) == "02:aa:bb:cc:dd:ee"
