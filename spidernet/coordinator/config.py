"""The coordinator's network config (docs/coordinator.md, "Configuration"). No I/O.

Keys and defaults are upstream's CNI keys; the coordinator reads nothing else (no
SpiderCoordinator CR, no agent: docs/coordinator.md "Decisions"), so the upstream
"CR value" fallbacks collapse to the hard defaults below:

    mode               auto | underlay | overlay | disable | disabled   (auto)
    podDefaultCniNic   name of the pod's first NIC                     (eth0)
    overlayPodCIDR, serviceCIDR, hijackCIDR   CIDR lists, routed via the host
    policyRoutes       [{dst, gw}], dst an IP or CIDR, gw an IP of the same family
    tunePodRoutes      bool                                            (true)
    podDefaultRouteNic NIC that keeps the main default route            ("" = keep)
    hostRuleTable      host table of the /32 and /128 routes to pods   (500)
    podRPFilter        0, 1, 2, or negative = leave as is              (-1)
    txQueueLen         >0 sets the pod NIC's queue length              (0 = leave)
    podMACPrefix       "xx:xx" (or "xx-xx"), a unicast prefix          ("" = keep MAC)
    vethLinkAddress    IPv4 address put on veth0 as /32                ("")
    vethMTU            MTU of veth0, >0                                (1500)
    detectIPConflict, detectGateway   ARP/NDP probes before set-up   (false)
    detectOptions      {retries, timeout, interval}: per address, up to ``retries``
                       probes, each answered within ``timeout``, then ``interval``
                       more listening before the next (3, "100ms", "0s")
    logOptions         {logLevel, logFile, logMaxSize, logMaxAge, logMaxCount}
    hostRPFilter, multusNicPrefix     accepted and ignored (unused upstream too)

Every bad value is ``InvalidConfig`` (code 7) naming the key. Durations are Go's
``time.ParseDuration`` strings ("100ms", "1.5s", "1m"), as upstream decodes them.
"""

from __future__ import annotations

import ipaddress
import re

from spidernet.ipmath import addresses
from spidernet.protocol import errors, logs
from spidernet.types import netconf
from spidernet.types.netconf import SPEC_KEYS, Fields, NetConf
from spidernet.types.record import record

TYPE_CHECKING = False  # typing is not imported at run time (docs/performance.md)
if TYPE_CHECKING:
    from typing import Literal

    Mode = Literal["auto", "underlay", "overlay", "disable"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

MODES = ("auto", "underlay", "overlay", "disable", "disabled")
DEFAULT_LOG = "/var/log/spidernet/coordinator.log"
_DEFAULT_LOG_OPTIONS = logs.LogOptions(
    path=DEFAULT_LOG, level="debug"
)  # frozen: one shared default
DEFAULT_HOST_RULE_TABLE = 500
DEFAULT_VETH_MTU = 1500
_MAC_PREFIX = re.compile(r"^([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})$")


@record
class PolicyRoute:
    dst: Network
    gw: Address


@record
class DetectOptions:
    """Probe timing (seconds). Defaults: 3 tries of ~100 ms, which is also what
    upstream's newest probes do, back to back (docs/coordinator.md)."""

    retries: int = 3
    timeout: float = 0.1
    interval: float = 0.0


@record
class CoordinatorConf:
    mode: Mode = "auto"
    pod_default_cni_nic: str = "eth0"
    overlay_pod_cidr: tuple[Network, ...] = ()
    service_cidr: tuple[Network, ...] = ()
    hijack_cidr: tuple[Network, ...] = ()
    policy_routes: tuple[PolicyRoute, ...] = ()
    tune_pod_routes: bool = True
    pod_default_route_nic: str = ""
    host_rule_table: int = DEFAULT_HOST_RULE_TABLE
    pod_rp_filter: int = -1
    tx_queue_len: int = 0
    pod_mac_prefix: bytes = b""
    veth_link_address: ipaddress.IPv4Address | None = None
    veth_mtu: int = DEFAULT_VETH_MTU
    detect_ip_conflict: bool = False
    detect_gateway: bool = False
    detect_options: DetectOptions = DetectOptions()
    log: logs.LogOptions = _DEFAULT_LOG_OPTIONS

    @property
    def hijack_routes(self) -> tuple[Network, ...]:
        """Every CIDR the pod reaches through the host (upstream's step 3, docs/coordinator.md)."""
        return self.overlay_pod_cidr + self.service_cidr + self.hijack_cidr


def _cidrs(f: Fields, key: str) -> tuple[Network, ...]:
    out = []
    for i, text in enumerate(f.strs(key)):
        try:
            out.append(addresses.network(text, strict=False))
        except ValueError as e:
            raise errors.InvalidConfig(f"{f.path(key)}[{i}]", f"{text!r} is not a CIDR: {e}") from e
    return tuple(out)


def _policy_route(r: Fields) -> PolicyRoute:
    dst_text, gw_text = r.str("dst", required=True), r.str("gw", required=True)
    try:
        dst = addresses.network(dst_text, strict=False)  # a bare IP reads as /32 or /128
    except ValueError as e:
        raise errors.InvalidConfig(r.path("dst"), f"{dst_text!r} is not an IP or CIDR: {e}") from e
    try:
        gw = addresses.address(gw_text)
    except ValueError as e:
        raise errors.InvalidConfig(r.path("gw"), f"{gw_text!r} is not an IP address: {e}") from e
    if dst.version != gw.version:
        raise errors.InvalidConfig(r.prefix, f"dst {dst} and gw {gw} are of different IP families")
    return PolicyRoute(dst, gw)


def _policy_routes(f: Fields) -> tuple[PolicyRoute, ...]:
    return tuple(_policy_route(item) for item in f.objects("policyRoutes"))


def _mac_prefix(f: Fields) -> bytes:
    text = f.str("podMACPrefix")
    if not text:
        return b""
    m = _MAC_PREFIX.fullmatch(text)
    if not m:
        raise errors.InvalidConfig("podMACPrefix", f"{text!r} must be two hex bytes, e.g. '0a:1b'")
    prefix = bytes(int(g, 16) for g in m.groups())
    # Bit 0 of the first octet marks a group address: no NIC may carry it as its own MAC.
    if prefix[0] & 0x01:
        raise errors.InvalidConfig(
            "podMACPrefix", f"{text!r} has the multicast bit set in its first byte"
        )
    return prefix


def _veth_link_address(f: Fields) -> ipaddress.IPv4Address | None:
    text = f.str("vethLinkAddress")
    if not text:
        return None
    try:
        return ipaddress.IPv4Address(text)
    except ValueError as e:
        raise errors.InvalidConfig("vethLinkAddress", f"{text!r} is not an IPv4 address") from e


def _veth_mtu(f: Fields) -> int:
    # The kernel's bounds for a veth (ETH_MIN_MTU, ETH_MAX_MTU): outside them it answers
    # EINVAL when the veth is made, half way through an ADD.
    return f.int("vethMTU", DEFAULT_VETH_MTU, lo=68, hi=65535)


def _host_rule_table(f: Fields) -> int:
    table = f.int("hostRuleTable", 0, lo=0, hi=2**32 - 1) or DEFAULT_HOST_RULE_TABLE
    # 253-255 are the kernel's default, main and local tables: pod routes must not land there.
    if table in (253, 254, 255):
        raise errors.InvalidConfig(
            "hostRuleTable", f"{table} is a reserved kernel table (default, main, local)"
        )
    return table


def _mode(f: Fields) -> Mode:
    mode = f.str("mode") or "auto"  # an empty mode reads as absent, as upstream's
    if mode not in MODES:
        raise errors.InvalidConfig("mode", f"{mode!r} is not one of {list(MODES)}")
    # Upstream's code spells it "disable", its CRD "disabled": accept both.
    return "disable" if mode == "disabled" else mode  # type: ignore[return-value]


_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,
    "\u03bcs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION = re.compile(r"^[-+]?((\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$")
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
MAX_PROBE_WAIT = 10.0  # s: a longer timeout or interval would hold up every pod start for nothing
MAX_PROBE_RETRIES = 10


def parse_duration(text: str) -> float | None:
    """Go's ``time.ParseDuration`` ("100ms", "1.5s", "1m30s", "0") in seconds; None if malformed."""
    if text in ("0", "+0", "-0"):
        return 0.0
    if not _DURATION.fullmatch(text):
        return None
    seconds = sum(
        float(number) * _DURATION_UNITS[unit] for number, unit in _DURATION_PART.findall(text)
    )
    return -seconds if text.startswith("-") else seconds


def _duration(f: Fields, key: str, default: float, *, zero_ok: bool) -> float:
    text = f.str(key)
    if not text:  # upstream: an empty string takes the default
        return default
    seconds = parse_duration(text)
    if seconds is None:
        raise errors.InvalidConfig(
            f.path(key), f'{text!r} is not a duration such as "100ms" or "1s"'
        )
    if seconds < 0 or (seconds == 0 and not zero_ok) or seconds > MAX_PROBE_WAIT:
        low = "0" if zero_ok else "more than 0"
        raise errors.InvalidConfig(
            f.path(key), f"{text!r} must be {low} and at most {MAX_PROBE_WAIT:g}s"
        )
    return seconds


def _detect_options(f: Fields) -> DetectOptions:
    d = f.sub("detectOptions")
    # 0 reads as absent: upstream's Go struct cannot tell them apart, and defaults both to 3.
    retries = d.int("retries", 0, lo=0, hi=MAX_PROBE_RETRIES) or DetectOptions.retries
    # A zero timeout would never hear an answer: a probe that cannot fail, so refused.
    timeout = _duration(d, "timeout", DetectOptions.timeout, zero_ok=False)
    return DetectOptions(
        retries, timeout, _duration(d, "interval", DetectOptions.interval, zero_ok=True)
    )


def _log_options(f: Fields) -> logs.LogOptions:
    sub = f.sub("logOptions")
    sub.int("logMaxAge", 0, lo=0, numeric_string=True)  # rotation is by size only
    options = logs.LogOptions.from_fields(sub, DEFAULT_LOG, keys=logs.LOG_OPTIONS_KEYS)
    if sub.data.get("logLevel") is None:  # upstream's coordinator logs at debug unless told
        options = logs.LogOptions(options.path, "debug", options.max_size_mb, options.max_count)
    return options


def parse(conf: NetConf) -> CoordinatorConf:
    f = conf.fields()
    f.int("hostRPFilter", 0)
    f.str("multusNicPrefix")
    return CoordinatorConf(
        mode=_mode(f),
        pod_default_cni_nic=f.str("podDefaultCniNic", "eth0") or "eth0",
        overlay_pod_cidr=_cidrs(f, "overlayPodCIDR"),
        service_cidr=_cidrs(f, "serviceCIDR"),
        hijack_cidr=_cidrs(f, "hijackCIDR"),
        policy_routes=_policy_routes(f),
        tune_pod_routes=f.bool("tunePodRoutes", True),
        pod_default_route_nic=f.str("podDefaultRouteNic"),
        host_rule_table=_host_rule_table(f),
        pod_rp_filter=f.int("podRPFilter", -1, lo=-(2**31), hi=2),
        tx_queue_len=f.int("txQueueLen", 0, lo=0, hi=2**32 - 1),  # the kernel's u32
        pod_mac_prefix=_mac_prefix(f),
        veth_link_address=_veth_link_address(f),
        veth_mtu=_veth_mtu(f),
        detect_ip_conflict=f.bool("detectIPConflict"),
        detect_gateway=f.bool("detectGateway"),
        detect_options=_detect_options(f),
        log=_log_options(f),
    )


def parse_for_delete(conf: NetConf) -> tuple[CoordinatorConf, list[str]]:
    """The config a DEL works with: ``parse``, but a top-level key that does not parse
    takes its default instead of failing the DEL; returns the problems, one per key.

    A DEL must undo what an ADD did, and a runtime stops a chain's DEL at the first
    plugin that fails, so the IPAM's release behind us would never run: a value refused
    at ADD (say a ``vethMTU`` the kernel would not take, refused before any work) must
    not also leak the pod's address at DEL. What DEL needs (the host veth, named after
    the container ID) does not depend on the keys that can fail this way."""
    try:
        return parse(conf), []
    except errors.InvalidConfig as first:
        problem = first
    raw, problems = dict(conf.raw), []
    while True:
        key = re.split(r"[.\[]", problem.field)[0]
        if key not in raw or key in SPEC_KEYS:
            raise problem
        del raw[key]
        problems.append(problem.msg)
        attempt = netconf.parse(raw, conf.cni_version, tolerate_bad_prev_result=True)
        try:
            c = parse(attempt)
        except errors.InvalidConfig as e:
            problem = e
            continue
        conf.reads.objects[:] = attempt.reads.objects  # unknown keys: of the config used
        return c, problems
