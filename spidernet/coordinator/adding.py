"""coordinator ADD: upstream's steps 1-21 with our fixes (docs/coordinator.md). Does I/O (pod and
host netns).

Order: read facts (no change yet) -> probes -> host-side devices, routes and neighbours
-> pod-side routes, rules and iptables. The result is prevResult, with the NIC's MAC
updated when ``podMACPrefix`` rewrote it (upstream's step 21, changed).

Rollback: if a step fails, what this ADD added on the host goes again (the host veth,
which takes its routes and neighbours with it, or for a later NIC its host routes).
Only what this exec added: a failed re-ADD of a sandbox whose earlier ADD succeeded
leaves that ADD's veth, routes and neighbour entries in place.
Pod-side leftovers die with the pod's netns, which the runtime tears down after a
failed ADD.
"""

from __future__ import annotations

from collections.abc import Callable

from spidernet.coordinator import modes, plumbing, tuning
from spidernet.coordinator.config import CoordinatorConf
from spidernet.coordinator.failures import PodStateError
from spidernet.netlink.routing import MAIN_TABLE, Handle, Link
from spidernet.protocol import logs
from spidernet.protocol.env import CmdArgs
from spidernet.types.record import field, record, replace
from spidernet.types.results import Result

Address = modes.Address
log = logs.LOG


@record
class Facts:
    """What ADD reads before changing anything."""

    nic: Link
    addresses: list[modes.Interface]
    families: frozenset[int]
    place: modes.Placement
    host_ips: list[Address]
    src_v4: Address | None  # the default NIC's first IPv4: source of routes via veth0 (step 14)

    @property
    def ips(self) -> list[Address]:
        return [a.ip for a in self.addresses]


@record
class Undo:
    steps: list[Callable[[], None]] = field(default_factory=list)

    def run(self) -> None:
        for step in reversed(self.steps):
            try:
                step()
            except Exception as e:  # the original failure is the one to report
                log.warning("rollback step failed: %s", e)


def _discard(_: object) -> None:
    """Undo steps return nothing; this drops a result the step does not need."""


def _each(step: Callable[..., None], calls: list[tuple[object, ...]]) -> None:
    for args in calls:
        step(*args)


def _nic(pod: Handle, ifname: str) -> Link:
    nic = pod.link(ifname)
    if nic is None:
        raise PodStateError(
            f"{ifname} does not exist in the pod: the main plugin must create it first"
        )
    return nic


def _placement(
    pod: Handle, conf: CoordinatorConf, ifname: str, addresses: list[modes.Interface]
) -> modes.Placement:
    used, by_source = plumbing.tables_in_use(pod)
    own = [
        by_source[src]
        for src in map(plumbing.host_len, (a.ip for a in addresses))
        if src in by_source
    ]
    table = modes.choose_table(used=used, own_rule_tables=own)
    has_veth0 = pod.link(modes.POD_VETH) is not None
    return modes.placement(
        conf.mode,
        ifname=ifname,
        default_nic=conf.pod_default_cni_nic,
        has_veth0=has_veth0,
        table=table,
    )


def _pod_ips(pod: Handle, fams: frozenset[int]) -> list[Address]:
    """Step 7: every usable pod address (all NICs but lo and veth0) of the NIC's families."""
    names = {link.index: link.name for link in pod.links()}
    return [
        a.ip
        for index, a, _ in pod.addresses()
        if names.get(index) not in ("lo", modes.POD_VETH) and modes.usable(a) and a.version in fams
    ]


def _src_v4(pod: Handle, conf: CoordinatorConf) -> Address | None:
    first = pod.link(conf.pod_default_cni_nic)
    v4 = (
        [a.ip for a in plumbing.usable_addresses(pod, first.index) if a.version == 4]
        if first
        else []
    )
    return v4[0] if v4 else None


def read_facts(host: Handle, pod: Handle, conf: CoordinatorConf, ifname: str) -> Facts:
    nic = _nic(pod, ifname)
    addresses = plumbing.usable_addresses(pod, nic.index)
    fams = modes.families(addresses)
    if not fams:
        raise PodStateError(f"{ifname} has no usable IP address in the pod")
    place = _placement(pod, conf, ifname, addresses)
    if conf.tune_pod_routes and (not place.first or place.mode == "overlay"):
        tuning.check_default_nic(pod, conf, ifname)
    host_ips = plumbing.host_ips(host, _pod_ips(pod, fams), fams)
    return Facts(nic, addresses, fams, place, host_ips, _src_v4(pod, conf))


# ---------------------------------------------------------------- the two veth ends


def _overlay_ends(host: Handle, pod: Handle, conf: CoordinatorConf) -> tuple[Link, Link]:
    """Overlay: the pod's first NIC is a veth whose peer lives on the host (e.g. cali*)."""
    pod_end = pod.link(conf.pod_default_cni_nic)
    host_end = host.link_by_index(pod_end.peer_index) if pod_end and pod_end.peer_index else None
    if pod_end is None or host_end is None:
        raise PodStateError(
            f"overlay mode: the host peer of the pod's {conf.pod_default_cni_nic} was not found"
        )
    return host_end, pod_end


def _underlay_ends(
    host: Handle, pod: Handle, cmd: CmdArgs, conf: CoordinatorConf, facts: Facts, undo: Undo
) -> tuple[Link, Link]:
    name = modes.host_veth_name(cmd.container_id)
    if facts.place.first:
        if (
            host.link(name) is None or pod.link(modes.POD_VETH) is None
        ):  # we create it: we take it back
            undo.steps.append(lambda: _discard(host.delete_link(name)))
        veth = plumbing.ensure_veth(host, pod, name, conf, v4=4 in facts.families)
        return veth.host, veth.pod
    host_end, pod_end = host.link(name), pod.link(modes.POD_VETH)
    if host_end is None or pod_end is None:
        raise PodStateError(
            f"host veth {name} or pod {modes.POD_VETH} missing: was the first NIC's ADD undone?"
        )
    return host_end, pod_end


# ---------------------------------------------------------------- steps


def _tune_nic(pod: Handle, cmd: CmdArgs, conf: CoordinatorConf, facts: Facts) -> str:
    """Steps 10-12 on the pod NIC; returns its MAC after any rewrite."""
    mac = facts.nic.mac
    if conf.pod_mac_prefix:
        mac = plumbing.rewrite_mac(
            pod, facts.nic, conf.pod_mac_prefix, facts.addresses[0].ip, facts.families
        )
    if conf.tx_queue_len > 0:
        pod.set_link(
            facts.nic.index, txqlen=conf.tx_queue_len
        )  # in the pod (upstream: host, [QUIRK])
    plumbing.pod_sysctls(cmd.netns, facts.families, conf.pod_rp_filter)
    return mac


def _host_side(
    host: Handle, conf: CoordinatorConf, facts: Facts, ends: tuple[Link, Link], undo: Undo
) -> None:
    host_end, pod_end = ends
    pinned = plumbing.host_neighbours(host, host_end, facts.ips, pod_end.mac)
    undo.steps.append(lambda: _each(host.delete_neighbour, [(host_end.index, ip) for ip in pinned]))
    added = plumbing.host_routes(host, host_end, facts.ips, conf.host_rule_table)
    undo.steps.append(lambda: _each(host.delete_route, [(r,) for r in added]))


def _pod_side(
    pod: Handle, cmd: CmdArgs, conf: CoordinatorConf, facts: Facts, ends: tuple[Link, Link]
) -> None:
    host_end, pod_end = ends
    place, first = facts.place, facts.place.first
    tables = (
        [MAIN_TABLE, place.table]
        if first and place.mode == "overlay"
        else [MAIN_TABLE if first else place.table]
    )
    if first:
        plumbing.pod_neighbours(pod, pod_end, facts.host_ips, host_end.mac)
    plumbing.pod_host_routes(pod, pod_end, facts.host_ips, tables, facts.src_v4)
    gateways = modes.gateways(facts.host_ips)
    plumbing.hijack_routes(
        pod,
        pod_end,
        conf.hijack_routes,
        gateways,
        tables[0] if first else place.table,
        facts.src_v4,
    )
    if place.mode == "underlay" and first:
        plumbing.reply_path(pod, cmd.netns, pod_end, gateways, facts.src_v4)
    if conf.tune_pod_routes and (not first or place.mode == "overlay"):
        tuning.tune(pod, conf, facts.nic, place)
    main_policy = place.mode == "underlay" and first
    plumbing.policy_routes(
        pod, facts.nic, conf, facts.families, MAIN_TABLE if main_policy else place.table
    )


def _with_mac(prev: Result, ifname: str, mac: str) -> Result:
    interfaces = tuple(
        replace(i, mac=mac) if i.name == ifname and i.sandbox else i for i in prev.interfaces
    )
    return replace(prev, interfaces=interfaces)


def add(
    cmd: CmdArgs, conf: CoordinatorConf, prev: Result, host: Handle, pod: Handle, facts: Facts
) -> Result:
    """Steps 5-21 once the facts are read and the probes passed."""
    pod.set_link(facts.nic.index, up=True)
    undo = Undo()
    try:
        if facts.place.mode == "underlay":
            ends = _underlay_ends(host, pod, cmd, conf, facts, undo)
        else:
            ends = _overlay_ends(host, pod, conf)
        mac = _tune_nic(pod, cmd, conf, facts)
        _host_side(host, conf, facts, ends, undo)
        _pod_side(pod, cmd, conf, facts, ends)
    except BaseException:
        undo.run()
        raise
    where = (
        "main table"
        if facts.place.mode == "underlay" and facts.place.first
        else f"table {facts.place.table}"
    )
    log.info(
        "%s: %s mode, routes in the %s, host addresses %s",
        cmd.ifname,
        facts.place.mode,
        where,
        [str(ip) for ip in facts.host_ips],
    )
    return _with_mac(prev, cmd.ifname, mac) if conf.pod_mac_prefix else prev
