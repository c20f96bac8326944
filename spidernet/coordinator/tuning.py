"""Route tuning for a pod's extra NICs (upstream's step 19, docs/coordinator.md). Does I/O (pod
netlink).

With several NICs the pod has one main-table default route; every other NIC answers
through its own table so that replies leave by the NIC they came in on:

- the NIC that keeps the main default is ``podDefaultRouteNic`` if set, else whichever
  NIC holds it now (the first one, normally);
- the NIC that loses: its main-table routes are copied into the NIC's table and its
  default routes moved there (deleted from main), and ``from <its addresses> lookup
  <table>`` rules send its traffic there;
- a ``podDefaultRouteNic`` that names no link of the pod is refused (``NotAPodNic``,
  code 7) before the coordinator changes anything; a NIC attached later cannot be named
  by an earlier NAD.
"""

from __future__ import annotations

import ipaddress

from spidernet.coordinator import modes, plumbing
from spidernet.coordinator.config import CoordinatorConf
from spidernet.coordinator.failures import NotAPodNic
from spidernet.netlink.routing import MAIN_TABLE, Handle, Link, Route, Rule

_LINK_LOCAL_V6 = ipaddress.ip_network("fe80::/64")


def check_default_nic(pod: Handle, conf: CoordinatorConf, ifname: str) -> None:
    """Refuse a ``podDefaultRouteNic`` that is not a link of the pod, before any change."""
    name = conf.pod_default_route_nic
    if name and name != ifname and pod.link(name) is None:
        raise NotAPodNic(name)


def _default_owner(pod: Handle, ifname: str) -> Link | None:
    """The first pod link (by index) other than ``ifname`` with a main-table default route."""
    owners: set[int] = set()
    for r in pod.routes(table=MAIN_TABLE):
        if r.is_default:
            owners.update([r.oif] if r.oif else [oif for oif, _ in r.hops])
    for link in sorted(pod.links(), key=lambda link: link.index):
        if link.index in owners and link.name not in ("lo", ifname):
            return link
    return None


def _move_routes(pod: Handle, link: Link, table: int) -> None:
    """Copy ``link``'s main routes into ``table``; its defaults leave main."""
    # Defaults last: their gateway must already be reachable through the copied subnet routes.
    for r in sorted(pod.routes(table=MAIN_TABLE), key=lambda r: r.is_default):
        if r.dst == _LINK_LOCAL_V6:
            continue
        if r.oif == link.index:
            pod.add_route(
                Route(r.dst, table, oif=r.oif, gateway=r.gateway, scope=r.scope, src=r.src)
            )
            if r.is_default:
                pod.delete_route(r)
        for oif, gw in r.hops if r.is_default else ():
            if oif == link.index:  # an ECMP default (IPv6 merges NICs' defaults): move our hop only
                pod.add_route(Route(r.dst, table, oif=oif, gateway=gw))
                pod.delete_route(Route(r.dst, MAIN_TABLE, oif=oif, gateway=gw))


def _source_rules(pod: Handle, link: Link, table: int) -> None:
    for address in plumbing.usable_addresses(pod, link.index):
        pod.add_rule(
            Rule(
                address.version,
                plumbing.NIC_RULE_PRIORITY,
                table,
                src=plumbing.host_len(address.ip),
            )
        )


def tune(pod: Handle, conf: CoordinatorConf, nic: Link, place: modes.Placement) -> None:
    """Step 19 for ``nic`` (not the first underlay NIC)."""
    old = _default_owner(pod, nic.name)
    if old is None:
        return  # nobody else has a default route: this NIC keeps whatever it has
    wanted = conf.pod_default_route_nic
    if not wanted or wanted == old.name:
        move, rules_for = nic, nic
    elif wanted == nic.name:
        move, rules_for = old, old  # this NIC takes the main default; the old owner moves out
    else:
        move, rules_for = old, nic  # upstream's choice when a third NIC is named
    _source_rules(pod, rules_for, place.table)
    if place.mode == "overlay" and place.first and move is nic:
        _overlay_default_copy(pod, old)
    _move_routes(pod, move, place.table)


def _overlay_default_copy(pod: Handle, eth0: Link) -> None:
    """Overlay: replies from eth0's addresses keep eth0's default (table 100; upstream #3683)."""
    for r in pod.routes(table=MAIN_TABLE):
        if r.is_default and r.oif == eth0.index:
            pod.add_route(Route(r.dst, modes.FWMARK_TABLE, oif=r.oif, gateway=r.gateway, src=r.src))
    _source_rules(pod, eth0, modes.FWMARK_TABLE)
