"""coordinator DEL and CHECK (docs/coordinator.md, "DEL and CHECK"). Does I/O (host and pod netns).

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
So is a ``CNI_NETNS`` that names something other than a netns (a plain file left where
a runtime unmounted the namespace but kept the path, a directory): no pod
state of ours can be in it, and failing would stop libcni's DEL before the IPAM's, so
the address would leak. A netns that exists but cannot be opened for another reason
(say EMFILE) is ``NetnsUnusable`` (code 8): a later NIC's DEL must not guess.

CHECK (underlay): veth0 in the pod, its host peer, and the host routes to the NIC's
addresses in ``hostRuleTable`` with the ``from all`` rule; anything missing is code 113,
a netns that is gone or is no netns is ``NetnsUnusable``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from spidernet.coordinator import modes, plumbing
from spidernet.coordinator.config import CoordinatorConf
from spidernet.coordinator.failures import CheckFailed, NetnsUnusable
from spidernet.netlink import namespaces, routing
from spidernet.netlink.routing import Handle, Link
from spidernet.protocol import logs
from spidernet.protocol.env import CmdArgs
from spidernet.types.record import record
from spidernet.types.results import Result

Address = modes.Address
log = logs.LOG


@record
class PodState:
    has_veth0: bool
    ips: list[Address]  # usable addresses of the NIC being deleted or checked
    first_peer: int  # host-side peer index of the pod's first NIC (an overlay's veth), 0 if none


def prev_ips(prev: Result | None, ifname: str) -> list[Address]:
    """prevResult's addresses of ``ifname`` (all of them when no interface index says otherwise)."""
    if prev is None:
        return []
    names = [i.name for i in prev.interfaces]
    return [
        ipaddress.ip_interface(ip.address).ip
        for ip in prev.ips
        if ip.interface is None or (ip.interface < len(names) and names[ip.interface] == ifname)
    ]


def _pod_state(cmd: CmdArgs, conf: CoordinatorConf) -> PodState | None:
    """What the pod has, or None when its netns is gone (or never was one: see above)."""
    if not cmd.netns:  # DEL may come without one; "" would open our own namespace
        return None
    try:
        with routing.open_handle(cmd.netns) as pod:
            nic, first = pod.link(cmd.ifname), pod.link(conf.pod_default_cni_nic)
            ips = [a.ip for a in plumbing.usable_addresses(pod, nic.index)] if nic else []
            return PodState(
                pod.link(modes.POD_VETH) is not None, ips, first.peer_index if first else 0
            )
    except (FileNotFoundError, NotADirectoryError, namespaces.NotANetns) as e:
        log.info("pod netns %s is gone: %s", cmd.netns, e.strerror or e)
        return None
    except OSError as e:
        raise NetnsUnusable(f"cannot open the pod's netns {cmd.netns}: {e.strerror or e}") from e


def _delete_host_veth(host: Handle, container_id: str) -> None:
    name = modes.host_veth_name(container_id)
    if host.delete_link(name):
        log.info("deleted host veth %s", name)


def _forget_nic(host: Handle, host_end: Link, ips: Sequence[Address], table: int) -> None:
    for ip in ips:
        for route in host.routes(table=table, family=ip.version):
            if route.dst == plumbing.host_len(ip) and route.oif == host_end.index:
                host.delete_route(route)
        host.delete_neighbour(host_end.index, ip)


def delete(cmd: CmdArgs, conf: CoordinatorConf, prev: Result | None, host: Handle) -> None:
    if conf.mode == "disable":
        return
    if cmd.ifname == conf.pod_default_cni_nic:  # the host veth is named by the container ID alone
        _delete_host_veth(host, cmd.container_id)
        return
    state = _pod_state(cmd, conf)
    if state is None:
        _delete_host_veth(host, cmd.container_id)
        return
    # A later underlay NIC routes through our veth; an overlay NIC through the main CNI's.
    name = modes.host_veth_name(cmd.container_id)
    host_end = (
        host.link(name)
        if state.has_veth0
        else host.link_by_index(state.first_peer)
        if state.first_peer
        else None
    )
    if host_end is None:
        return  # the first NIC's DEL ran already, or ADD never got this far
    ips = prev_ips(prev, cmd.ifname) or state.ips
    _forget_nic(host, host_end, ips, conf.host_rule_table)
    log.info(
        "removed host routes and neighbours of %s via %s", [str(ip) for ip in ips], host_end.name
    )


def check(cmd: CmdArgs, conf: CoordinatorConf, host: Handle) -> None:
    if conf.mode == "disable":
        return
    state = _pod_state(cmd, conf)
    if state is None:
        raise NetnsUnusable(
            f"the pod's netns {cmd.netns} does not exist or is not a network namespace"
        )
    has_veth0, ips = state.has_veth0, state.ips
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
        if not any(
            r.table == conf.host_rule_table and r.src is None and not r.fwmark for r in rules
        ):
            raise CheckFailed(f"host rule 'from all lookup {conf.host_rule_table}' is missing")
