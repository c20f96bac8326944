"""coordinator DEL and CHECK (reference §4.3, SPEC §4). Does I/O (host and pod netns).

DEL takes away what ADD added on the host; pod-side state dies with the pod's netns:
- the pod's first NIC, or a pod whose netns is gone: delete host ``veth<cid[:11]>``;
  the kernel then drops the host routes and neighbour entries that used it;
- a later NIC (or overlay): delete its ``/32|/128`` routes in ``hostRuleTable`` and its
  neighbour entries, only those on our device (a newer pod may hold the same IP by now);
- kept: the shared ``from all lookup <hostRuleTable>`` rule. Every pod of the node uses
  it, and removing it when "the last pod" goes would race a concurrent ADD that just
  checked it exists. It costs one rule per family and sends lookups to a table that is
  empty when no pod is left.
A missing netns, device or route is success (DEL must be idempotent, CNI spec §DEL).

CHECK (underlay): veth0 in the pod, its host peer, and the host routes to the NIC's
addresses in ``hostRuleTable`` with the ``from all`` rule; anything missing is code 113.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from spidernet.coordinator import modes, plumbing
from spidernet.coordinator.config import CoordinatorConf
from spidernet.netlink import namespaces, routing
from spidernet.netlink.routing import Handle, Link
from spidernet.protocol import logs
from spidernet.protocol.env import CmdArgs
from spidernet.types.results import Result

Address = modes.Address
log = logs.LOG


class CheckFailed(Exception):
    """CHECK found state that ADD should have left (code 113 at the boundary)."""


def prev_ips(prev: Result | None, ifname: str) -> list[Address]:
    """prevResult's addresses of ``ifname`` (all of them when no interface index says otherwise)."""
    if prev is None:
        return []
    names = [i.name for i in prev.interfaces]
    return [ipaddress.ip_interface(ip.address).ip for ip in prev.ips
            if ip.interface is None or (ip.interface < len(names) and names[ip.interface] == ifname)]  # fmt: skip


def _pod_state(cmd: CmdArgs, conf: CoordinatorConf) -> tuple[bool, list[Address], int]:
    """(pod has veth0, usable addresses of ifname, host-side peer index of the pod's first NIC).

    (False, [], 0) when the netns is gone.
    """
    if not namespaces.exists(cmd.netns):
        return False, [], 0
    try:
        with routing.open_handle(cmd.netns) as pod:
            nic, first = pod.link(cmd.ifname), pod.link(conf.pod_default_cni_nic)
            ips = [a.ip for a in plumbing.usable_addresses(pod, nic.index)] if nic else []
            return pod.link(modes.POD_VETH) is not None, ips, first.peer_index if first else 0
    except FileNotFoundError:
        return False, [], 0  # gone between the check and the open


def _forget_nic(host: Handle, host_end: Link, ips: Sequence[Address], table: int) -> None:
    for ip in ips:
        for route in host.routes(table=table, family=ip.version):
            if route.dst == plumbing.host_len(ip) and route.oif == host_end.index:
                host.delete_route(route)
        host.delete_neighbour(host_end.index, ip)


def delete(cmd: CmdArgs, conf: CoordinatorConf, prev: Result | None, host: Handle) -> None:
    if conf.mode == "disable":
        return
    name = modes.host_veth_name(cmd.container_id)
    has_veth0, pod_ips, peer_index = _pod_state(cmd, conf)
    if cmd.ifname == conf.pod_default_cni_nic or not namespaces.exists(cmd.netns):
        if host.delete_link(name):
            log.info("deleted host veth %s", name)
        return
    # A later underlay NIC routes through our veth; an overlay NIC through the main CNI's.
    host_end = host.link(name) if has_veth0 else host.link_by_index(peer_index) if peer_index else None
    if host_end is None:
        return  # the first NIC's DEL ran already, or ADD never got this far
    ips = prev_ips(prev, cmd.ifname) or pod_ips
    _forget_nic(host, host_end, ips, conf.host_rule_table)
    log.info("removed host routes and neighbours of %s via %s", [str(ip) for ip in ips], host_end.name)


def check(cmd: CmdArgs, conf: CoordinatorConf, host: Handle) -> None:
    if conf.mode == "disable":
        return
    has_veth0, ips, _ = _pod_state(cmd, conf)
    if not has_veth0:
        if conf.mode == "underlay" or cmd.ifname == conf.pod_default_cni_nic:
            raise CheckFailed(f"pod has no {modes.POD_VETH}")
        return  # overlay NIC: the host end belongs to the main CNI
    name = modes.host_veth_name(cmd.container_id)
    host_end = host.link(name)
    if host_end is None:
        raise CheckFailed(f"host veth {name} is missing")
    for ip in ips:
        routes = host.routes(table=conf.host_rule_table, family=ip.version)
        if not any(r.dst == plumbing.host_len(ip) and r.oif == host_end.index for r in routes):
            raise CheckFailed(f"host route {ip} dev {name} table {conf.host_rule_table} is missing")
        rules = host.rules(ip.version)
        if not any(r.table == conf.host_rule_table and r.src is None and not r.fwmark for r in rules):
            raise CheckFailed(f"host rule 'from all lookup {conf.host_rule_table}' is missing")
