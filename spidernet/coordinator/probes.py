"""IP-conflict and gateway-reachability probes for the coordinator (docs/coordinator.md). Does I/O.

``probe`` runs on one interface of a pod netns: for each address family present,
first a conflict check of the pod's addresses, then a reachability check of the
gateways, raising ``IPConflict`` or ``GatewayUnreachable`` (both ``ProbeFailure``s;
any socket or netns error is a plain ``ProbeFailure``, never a conflict).

How:
- Frames are built and parsed by ``frames`` and sent whole on AF_PACKET sockets bound
  to the interface. No socket is bound to an IP address, so a pod address (or
  link-local) still in the kernel's DAD "tentative" state never makes us fail or wait
  (upstream waits up to 10 s for its link-local before probing IPv6).
- Netns: a socket stays in the netns it was created in, so a short-lived thread enters
  the pod netns (setns(2) affects only the calling thread), opens the sockets and
  exits. The caller's thread never changes netns, so there is nothing to restore
  even when something fails. Everything after that goes through the sockets.
- IPv4 conflict: RFC 5227 probe (sender 0.0.0.0, target = our IP, broadcast). Any ARP
  whose sender IP is ours and whose sender MAC is not is a conflict; RFC 5227 §2.1.1
  counts requests as well as replies, upstream only replies.
- IPv6 conflict: a DAD Neighbour Solicitation (RFC 4862 §5.4.2: unspecified source,
  no link-layer option) to the address's solicited-node group. An owner answers with
  an NA to all-nodes, which we read. The unspecified source also keeps the probe from
  writing our MAC into anyone's neighbour cache for an address that may be someone
  else's.
- Gateways: an ARP request / NS with one of our addresses as source (one on the
  gateway's subnet if any; the unspecified address if we have none of its family),
  so the gateway answers us unicast; any ARP from the gateway's IP, or NA for it,
  proves it reachable. It runs only after the family's conflict check: it tells the
  gateway "our IP is at our MAC", which would divert the rightful owner's traffic
  if the IP were a duplicate (upstream issue #4475). (A gateway that itself holds
  our IP stays silent: Linux drops an ARP request from its own address as martian.)
- Timing (``detectOptions``): each try sends one frame and reads for ``timeout``, then,
  unless it was the last try, keeps reading for ``interval`` before the next send (an
  answer that comes in the pause still counts). A conflict check uses all ``tries``
  before declaring "no conflict" (a single lost frame must not hide a duplicate;
  upstream stops at the first timeout), a gateway check stops at the first answer.
  IPv4 and IPv6 run in parallel, as upstream does, so a silent check costs
  ``tries * timeout + (tries - 1) * interval`` (300 ms by default), not twice that.
- Our own frames: the socket also sees what the pod's kernel sends, so outgoing
  frames and frames from our own MAC are ignored. Limitation: ipvlan siblings share
  our MAC, so a conflict with another ipvlan pod on the same master goes unseen; the
  IPAM already keeps those apart.
"""

from __future__ import annotations

import errno
import fcntl
import socket
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv6Address,
    IPv6Interface,
    ip_address,
    ip_interface,
)

from spidernet.coordinator import frames
from spidernet.coordinator.failures import GatewayUnreachable, IPConflict, ProbeFailure
from spidernet.netlink import namespaces
from spidernet.types.record import record

Address = IPv4Address | IPv6Address
Interface = IPv4Interface | IPv6Interface

_SIOCGIFFLAGS, _SIOCSIFFLAGS = 0x8913, 0x8914
_IFF_UP = 0x1
_IFNAMSIZ = 16
_IFREQ_FLAGS = struct.Struct(
    "16sH22x"
)  # struct ifreq: name, then a 24-byte union led by short flags
_ARPHRD_ETHER = 1


@record
class _Family:
    """What differs between ARP and NDP: the ethertype, a solicitation and a claim."""

    ethertype: int
    unspecified: Address
    solicit: Callable[[bytes, Address, Address], bytes]  # (our MAC, source, target) -> frame
    claim: Callable[
        [bytes], tuple[Address, bytes] | None
    ]  # frame -> (address claimed, claimant's MAC)


def _arp_claim(frame: bytes) -> tuple[Address, bytes] | None:
    arp = frames.parse_arp(frame)
    return (arp.sender_ip, arp.sender_mac) if arp else None


def _ndp_claim(frame: bytes) -> tuple[Address, bytes] | None:
    na = frames.parse_advertisement(frame)
    return (na.target, na.target_mac or na.source_mac) if na else None


# The ignores: frames' builders take the family's own address type, _Family any address.
_ARP = _Family(frames.ETH_P_ARP, frames.UNSPECIFIED_V4, frames.arp_request, _arp_claim)  # type: ignore[arg-type]
_NDP = _Family(
    frames.ETH_P_IPV6,
    frames.UNSPECIFIED_V6,
    frames.neighbor_solicitation,  # type: ignore[arg-type]
    _ndp_claim,
)


@record
class _Link:
    sock: socket.socket
    ifname: str
    mac: bytes


def probe(
    netns_path: str,
    ifname: str,
    addresses: list[str],
    gateways: list[str],
    *,
    conflict: bool,
    gateway: bool,
    tries: int = 3,
    timeout: float = 0.1,
    interval: float = 0.0,
) -> None:
    """Probe ``ifname`` in ``netns_path``; raise a ``ProbeFailure`` on a conflict, an unreachable
    gateway or an error.

    ``addresses`` are the pod's addresses on ``ifname`` (``10.6.0.5/24`` or bare); an
    unparsable one is a caller bug and raises ValueError.
    """
    if tries < 1 or timeout <= 0 or interval < 0:
        raise ValueError(
            f"tries must be >= 1, timeout > 0 and interval >= 0, got {tries}, {timeout}, {interval}"
        )
    ours = [ip_interface(a) for a in addresses]
    plans = _plan(ours, [ip_address(g) for g in gateways] if gateway else [], conflict=conflict)
    if not plans:
        return
    sockets = _open_in_netns(netns_path, ifname, [plan.family.ethertype for plan in plans])
    try:
        mac = _link_mac(sockets[0], ifname)
        timing = _Timing(tries, timeout, interval)
        _run_all(
            [_job(_Link(sock, ifname, mac), plan, timing) for sock, plan in zip(sockets, plans)]
        )
    finally:
        for sock in sockets:
            sock.close()


@record
class _Timing:
    tries: int
    timeout: float
    interval: float

    def wait_after(self, attempt: int) -> float:
        """How long to read after send number ``attempt`` (0-based): no pause after the last."""
        return self.timeout + (self.interval if attempt < self.tries - 1 else 0.0)


@record
class _Plan:
    """One family's work: addresses to check for conflicts, then (gateway, our source) pairs."""

    family: _Family
    checks: list[Address]
    gateways: list[tuple[Address, Address]]


def _plan(ours: list[Interface], gateways: list[Address], *, conflict: bool) -> list[_Plan]:
    plans = []
    for family, version in ((_ARP, 4), (_NDP, 6)):
        checks = [i.ip for i in ours if i.version == version] if conflict else []
        pairs = [(g, _source_for(g, ours, family)) for g in gateways if g.version == version]
        if checks or pairs:
            plans.append(_Plan(family, checks, pairs))
    return plans


def _source_for(gateway: Address, ours: list[Interface], family: _Family) -> Address:
    """Our address to ask from: one on the gateway's subnet, else any of its family, else
    unspecified."""
    same = [i for i in ours if i.version == gateway.version]
    chosen = [i for i in same if gateway in i.network] or same
    return chosen[0].ip if chosen else family.unspecified


def _job(link: _Link, plan: _Plan, timing: _Timing) -> Callable[[], None]:
    family = plan.family

    def run() -> None:
        for (
            ip
        ) in plan.checks:  # every conflict check before any gateway probe: see the module docstring
            mac = _exchange(
                link, family, family.solicit(link.mac, family.unspecified, ip), ip, timing
            )
            if mac is not None:
                raise IPConflict(str(ip), frames.format_mac(mac), link.ifname)
        for gw, source in plan.gateways:
            if _exchange(link, family, family.solicit(link.mac, source, gw), gw, timing) is None:
                raise GatewayUnreachable(
                    str(gw), link.ifname, tries=timing.tries, timeout=timing.timeout
                )

    return run


def _run_all(jobs: list[Callable[[], None]]) -> None:
    """Run the families' jobs in parallel; raise the most serious failure (a conflict first, IPv4
    first)."""
    if len(jobs) == 1:
        jobs[0]()
        return
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="probe") as pool:
        futures = [pool.submit(job) for job in jobs]
    failures = [e for e in (f.exception() for f in futures) if e is not None]
    if failures:
        raise min(
            failures,
            key=lambda e: (
                0 if isinstance(e, IPConflict) else 1 if isinstance(e, ProbeFailure) else 2
            ),
        )


def _exchange(
    link: _Link, family: _Family, request: bytes, wanted: Address, timing: _Timing
) -> bytes | None:
    """Send ``request`` up to ``tries`` times; return the MAC of the first frame claiming
    ``wanted``."""
    for attempt in range(timing.tries):
        try:
            link.sock.send(request)
        except OSError as e:
            raise ProbeFailure(
                f"cannot send a probe for {wanted} on {link.ifname}: {e.strerror or e}"
            ) from e
        mac = _await_claim(link, family, wanted, timing.wait_after(attempt))
        if mac is not None:
            return mac
    return None


def _await_claim(link: _Link, family: _Family, wanted: Address, timeout: float) -> bytes | None:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        link.sock.settimeout(left)
        try:
            frame, (_, _, pkttype, _, _) = link.sock.recvfrom(65535)
        except TimeoutError:
            return None
        except OSError as e:
            raise ProbeFailure(
                f"cannot read probe answers on {link.ifname}: {e.strerror or e}"
            ) from e
        # The pod's kernel talks on this link too (its own DAD, ARP): never evidence.
        if pkttype == socket.PACKET_OUTGOING or frame[6:12] == link.mac:
            continue
        claim = family.claim(frame)
        if claim is not None and claim[0] == wanted and claim[1] != link.mac:
            return claim[1]
    return None


def _open_in_netns(netns_path: str, ifname: str, ethertypes: list[int]) -> list[socket.socket]:
    """Open one AF_PACKET socket per ethertype on ``ifname`` inside the netns, from a throwaway
    thread."""
    opened: list[socket.socket] = []
    errors: list[BaseException] = []

    def enter_and_open() -> None:
        try:
            namespaces.enter(netns_path)
            # Protocol 0: a socket receives nothing until bind() names the link and ethertype,
            # rather than every interface's frames in between.
            opened.extend(socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0) for _ in ethertypes)
            # Up before bind: binding to a down link leaves ENETDOWN pending on the socket,
            # which the first send() would then report.
            _bring_up(opened[0], ifname)
            for sock, ethertype in zip(opened, ethertypes):
                sock.bind((ifname, ethertype))
        except BaseException as e:  # handed to the caller's thread below
            errors.append(e)

    worker = threading.Thread(target=enter_and_open, name=f"probe-netns-{ifname}")
    worker.start()
    worker.join()
    if errors:
        for sock in opened:
            sock.close()
        raise _as_failure(errors[0], netns_path, ifname)
    return opened


def _as_failure(error: BaseException, netns_path: str, ifname: str) -> BaseException:
    if not isinstance(error, OSError):
        return error
    failure = ProbeFailure(f"cannot open {ifname} in netns {netns_path}: {error.strerror or error}")
    failure.__cause__ = error
    return failure


def _bring_up(sock: socket.socket, ifname: str) -> None:
    """Set IFF_UP if the runtime left the link down (upstream does the same)."""
    if (
        len(ifname.encode()) >= _IFNAMSIZ
    ):  # the kernel would truncate it, maybe to another link's name
        raise OSError(errno.EINVAL, f"interface name longer than {_IFNAMSIZ - 1} bytes")
    request = _IFREQ_FLAGS.pack(ifname.encode(), 0)
    name, flags = _IFREQ_FLAGS.unpack(fcntl.ioctl(sock, _SIOCGIFFLAGS, request))
    if not flags & _IFF_UP:
        fcntl.ioctl(sock, _SIOCSIFFLAGS, _IFREQ_FLAGS.pack(name, flags | _IFF_UP))


def _link_mac(sock: socket.socket, ifname: str) -> bytes:
    """The bound link's MAC, refusing links that are not Ethernet (ARP/NDP framing assumes it)."""
    _, _, _, hatype, mac = sock.getsockname()
    if hatype != _ARPHRD_ETHER:
        raise ProbeFailure(
            f"{ifname} is not an Ethernet link (ARPHRD {hatype}): ARP/NDP probes need one"
        )
    return bytes(mac)
