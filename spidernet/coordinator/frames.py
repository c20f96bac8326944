"""Ethernet frames for the coordinator's probes: ARP (RFC 826, RFC 5227) and NDP (RFC 4861). Pure,
no I/O.

The probes send whole frames on an AF_PACKET socket, so the builders here produce the
Ethernet header too, and the parsers read frames as that socket delivers them (any
trailing Ethernet padding is tolerated). A parser returns None for anything that is
not a well-formed frame of its kind: a link carries all sorts of traffic, and a
malformed or forged-looking frame must never count as evidence of a conflict.

MAC addresses are 6-byte ``bytes`` here; ``format_mac`` renders them for messages.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

from spidernet.types.record import record

ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
BROADCAST_MAC = b"\xff" * 6
UNSPECIFIED_V4 = IPv4Address(0)
UNSPECIFIED_V6 = IPv6Address(0)

ARP_REQUEST, ARP_REPLY = 1, 2
NEIGHBOR_SOLICITATION, NEIGHBOR_ADVERTISEMENT = 135, 136
OPTION_SOURCE_LLADDR, OPTION_TARGET_LLADDR = 1, 2
IPPROTO_ICMPV6 = 58
NDP_HOP_LIMIT = 255  # RFC 4861 §7.1: sent with 255, and anything less was routed, so is dropped

_ETHERNET = struct.Struct("!6s6sH")  # destination, source, ethertype
# htype, ptype, hlen, plen, op, sender MAC, sender IP, target MAC, target IP
_ARP = struct.Struct("!HHBBH6s4s6s4s")
_ARP_ETHERNET_IPV4 = (1, 0x0800, 6, 4)
_IPV6 = struct.Struct(
    "!IHBB16s16s"
)  # version/class/flow, payload length, next header, hop limit, src, dst
_ICMPV6 = struct.Struct("!BBH")  # type, code, checksum
_ND_BODY = struct.Struct("!4x16s")  # NS and NA alike: 4 bytes of flags/reserved, then the target
_ND_MIN = _ICMPV6.size + _ND_BODY.size


@record
class Arp:
    op: int
    sender_mac: bytes
    sender_ip: IPv4Address
    target_mac: bytes
    target_ip: IPv4Address


@record
class Advertisement:
    """A Neighbour Advertisement: ``target`` is the address the sender claims."""

    source_mac: bytes  # Ethernet source of the frame
    target: IPv6Address
    target_mac: bytes | None  # the target link-layer address option, when present


def format_mac(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def arp_request(mac: bytes, sender: IPv4Address, target: IPv4Address) -> bytes:
    """A broadcast ARP request; ``sender`` 0.0.0.0 makes it an RFC 5227 probe."""
    header = _ETHERNET.pack(BROADCAST_MAC, mac, ETH_P_ARP)
    return header + _ARP.pack(
        *_ARP_ETHERNET_IPV4, ARP_REQUEST, mac, sender.packed, bytes(6), target.packed
    )


def parse_arp(frame: bytes) -> Arp | None:
    if len(frame) < _ETHERNET.size + _ARP.size or _ethertype(frame) != ETH_P_ARP:
        return None
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP.unpack_from(frame, _ETHERNET.size)
    if (htype, ptype, hlen, plen) != _ARP_ETHERNET_IPV4 or op not in (ARP_REQUEST, ARP_REPLY):
        return None
    return Arp(op, sha, IPv4Address(spa), tha, IPv4Address(tpa))


def solicited_node(address: IPv6Address) -> IPv6Address:
    """RFC 4291 §2.7.1: ff02::1:ff00:0/104 plus the address's low 24 bits."""
    return IPv6Address(b"\xff\x02" + bytes(9) + b"\x01\xff" + address.packed[13:])


def multicast_mac(group: IPv6Address) -> bytes:
    """RFC 2464 §7: 33:33 plus the group's low 32 bits."""
    return b"\x33\x33" + group.packed[12:]


def neighbor_solicitation(mac: bytes, source: IPv6Address, target: IPv6Address) -> bytes:
    """An NS for ``target`` sent to its solicited-node group.

    With the unspecified source it is a DAD probe (RFC 4862 §5.4.2), which must not
    carry a source link-layer address option (RFC 4861 §4.3); otherwise the option
    tells the target where to send its unicast answer.
    """
    group = solicited_node(target)
    option = b"" if source == UNSPECIFIED_V6 else struct.pack("!BB6s", OPTION_SOURCE_LLADDR, 1, mac)
    packet = icmpv6_packet(
        source, group, NEIGHBOR_SOLICITATION, _ND_BODY.pack(target.packed) + option
    )
    return _ETHERNET.pack(multicast_mac(group), mac, ETH_P_IPV6) + packet


def icmpv6_packet(source: IPv6Address, destination: IPv6Address, kind: int, body: bytes) -> bytes:
    """An IPv6 header (hop limit 255) plus an ICMPv6 message of ``kind`` (code 0), checksummed."""
    checksum = icmpv6_checksum(source, destination, _ICMPV6.pack(kind, 0, 0) + body)
    message = _ICMPV6.pack(kind, 0, checksum) + body
    header = _IPV6.pack(
        6 << 28, len(message), IPPROTO_ICMPV6, NDP_HOP_LIMIT, source.packed, destination.packed
    )
    return header + message


def icmpv6_checksum(source: IPv6Address, destination: IPv6Address, message: bytes) -> int:
    """RFC 4443 §2.3: ones' complement sum over the pseudo-header and the message."""
    return ~_ones_complement_sum(_pseudo(source.packed, destination.packed, message)) & 0xFFFF


def parse_advertisement(frame: bytes) -> Advertisement | None:
    """A valid NA per RFC 4861 §7.1.2 (hop limit, code, checksum, length, options), else None."""
    offset = _ETHERNET.size + _IPV6.size
    if len(frame) < offset + _ND_MIN or _ethertype(frame) != ETH_P_IPV6:
        return None
    first_word, length, next_header, hop_limit, src, dst = _IPV6.unpack_from(frame, _ETHERNET.size)
    # Extension headers are not followed: a real NA never carries any.
    if first_word >> 28 != 6 or next_header != IPPROTO_ICMPV6 or hop_limit != NDP_HOP_LIMIT:
        return None
    message = frame[offset : offset + length]
    if length < _ND_MIN or len(message) != length:
        return None
    kind, code, _ = _ICMPV6.unpack_from(message)
    if (
        kind != NEIGHBOR_ADVERTISEMENT
        or code != 0
        or _ones_complement_sum(_pseudo(src, dst, message)) != 0xFFFF
    ):
        return None
    target = IPv6Address(_ND_BODY.unpack_from(message, _ICMPV6.size)[0])
    options = _options(message[_ND_MIN:])
    if target.is_multicast or options is None:
        return None
    lladdr = options.get(OPTION_TARGET_LLADDR)
    return Advertisement(frame[6:12], target, lladdr[:6] if lladdr else None)


def _ethertype(frame: bytes) -> int:
    return int(_ETHERNET.unpack_from(frame)[2])


def _pseudo(src: bytes, dst: bytes, message: bytes) -> bytes:
    """The IPv6 pseudo-header (RFC 8200 §8.1) followed by the message."""
    return src + dst + struct.pack("!I3xB", len(message), IPPROTO_ICMPV6) + message


def _ones_complement_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _options(data: bytes) -> dict[int, bytes] | None:
    """NDP options by type (first of each kind); None if malformed, as RFC 4861 §4.6 asks."""
    found: dict[int, bytes] = {}
    while data:
        if len(data) < 2:
            return None
        kind, units = data[0], data[1]
        if units == 0 or units * 8 > len(data):
            return None
        found.setdefault(kind, data[2 : units * 8])
        data = data[units * 8 :]
    return found
