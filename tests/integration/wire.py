"""A raw-socket host on a test link: counts the probes it sees, and can answer ARP late. Does I/O.

``Wire(ns)`` opens an AF_PACKET socket on ``eth0`` of a namespace of ours, from a thread
that entered it, and records every ARP and Neighbour Solicitation frame until the
``with`` block ends. With ``answer_for=ip, delay=s`` it plays a slow host that owns
``ip``: each ARP request for ``ip`` is answered ``s`` seconds later from a MAC of its own
(the namespace's kernel does not hold ``ip``, so nothing else answers). That turns probe
timing into counts: how many probes went out, and whether an answer that came after
``s`` seconds was heard, which a test can assert without a wall-clock threshold.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address

from spidernet.coordinator import frames
from spidernet.netlink import namespaces
from tools.testbed.netns import Netns

ETH_P_ALL = 0x0003
SLOW_HOST_MAC = bytes.fromhex("02aabbccdd01")
_ICMPV6_AT = 14 + 40  # Ethernet header + IPv6 header


@dataclass(frozen=True)
class Seen:
    kind: str  # "arp" or "ns"
    sender: str  # ARP sender IP, or the NS's IPv6 source
    target: str


def _solicitation(frame: bytes) -> Seen | None:
    if (
        len(frame) < _ICMPV6_AT + 24
        or frame[12:14] != b"\x86\xdd"
        or frame[20] != frames.IPPROTO_ICMPV6
    ):
        return None
    if frame[_ICMPV6_AT] != frames.NEIGHBOR_SOLICITATION:
        return None
    source, target = IPv6Address(frame[22:38]), IPv6Address(frame[_ICMPV6_AT + 8 : _ICMPV6_AT + 24])
    return Seen("ns", str(source), str(target))


def _arp_reply(request: frames.Arp, owned: IPv4Address) -> bytes:
    header = struct.pack("!6s6sH", request.sender_mac, SLOW_HOST_MAC, frames.ETH_P_ARP)
    body = struct.pack(
        "!HHBBH6s4s6s4s",
        1,
        0x0800,
        6,
        4,
        frames.ARP_REPLY,
        SLOW_HOST_MAC,
        owned.packed,
        request.sender_mac,
        request.sender_ip.packed,
    )
    return header + body


def _send(sock: socket.socket, frame: bytes) -> None:
    try:
        sock.send(frame)
    except OSError:
        pass  # the block ended and closed the socket as this answer came due


@dataclass
class Wire:
    ns: Netns
    answer_for: str = ""
    delay: float = 0.0
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._timers: list[threading.Timer] = []
        self._error: list[BaseException] = []
        self._thread = threading.Thread(target=self._listen, name=f"wire-{self.ns.name}")

    def __enter__(self) -> Wire:
        self._thread.start()
        self._ready.wait(10)
        if self._error:
            raise self._error[0]
        return self

    def __exit__(self, *exc: object) -> None:
        for timer in self._timers:
            timer.cancel()  # answers still pending must not leak into the next case
        self._stop.set()
        self._thread.join()
        for timer in self._timers:
            timer.join()

    def probes_for(self, ip: str) -> int:
        """Conflict probes for ``ip``: ARP from 0.0.0.0 (RFC 5227) or a DAD NS from ``::``."""
        return sum(1 for s in self.seen if s.target == ip and s.sender in ("0.0.0.0", "::"))

    def requests_for(self, ip: str) -> int:
        """Every ARP request or NS asking for ``ip``, whatever its source."""
        return sum(1 for s in self.seen if s.target == ip)

    def _listen(self) -> None:
        try:
            namespaces.enter(self.ns.path)  # this thread only, for good: it ends with the block
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            sock.bind(("eth0", ETH_P_ALL))
            sock.settimeout(0.05)
        except BaseException as e:
            self._error.append(e)
            self._ready.set()
            return
        self._ready.set()
        with sock:
            while not self._stop.is_set():
                try:
                    frame, (_, _, pkttype, _, _) = sock.recvfrom(65535)
                except TimeoutError:
                    continue
                if pkttype != socket.PACKET_OUTGOING:
                    self._record(sock, frame)

    def _record(self, sock: socket.socket, frame: bytes) -> None:
        arp = frames.parse_arp(frame)
        if arp is not None and arp.op == frames.ARP_REQUEST:
            self.seen.append(Seen("arp", str(arp.sender_ip), str(arp.target_ip)))
            if self.answer_for and arp.target_ip == ip_address(self.answer_for):
                timer = threading.Timer(self.delay, _send, [sock, _arp_reply(arp, arp.target_ip)])
                self._timers.append(timer)
                timer.start()
            return
        solicitation = _solicitation(frame)
        if solicitation is not None:
            self.seen.append(solicitation)
