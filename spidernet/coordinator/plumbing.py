"""The coordinator's building blocks in the pod and host namespaces. Does I/O (netlink, sysctl,
iptables).

Each function does one step of upstream's ADD (docs/coordinator.md, "Upstream's ADD, step
by step"; the numbers in the docstrings) on
``routing.Handle``s and is idempotent, so a retried ADD converges. Functions that add
host state return what they added, so that ``adding`` can take it back when a later
step fails.
"""

from __future__ import annotations

import errno
import ipaddress
import os
from collections.abc import Sequence

from spidernet.coordinator import failures, modes
from spidernet.coordinator.config import CoordinatorConf
from spidernet.netlink import namespaces, routing
from spidernet.netlink.routing import Handle, Link, Route, Rule
from spidernet.protocol import logs
from spidernet.types.record import record

Address = modes.Address
Interface = modes.Interface
log = logs.LOG

MARK = 0x1
RULE_PRIORITY = 1000  # host "from all lookup <hostRuleTable>" and pod fwmark rule (upstream's)
NIC_RULE_PRIORITY = 1001  # pod "from <ip> lookup 10x": after the fwmark rule, so a connection
# that came in through veth0 is answered through veth0 whatever its local address
_HOST_SCOPE = 0  # RT_SCOPE_UNIVERSE: global addresses only


def host_len(ip: Address) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(f"{ip}/{ip.max_prefixlen}")


def usable_addresses(handle: Handle, index: int) -> list[Interface]:
    return [a for _, a, _ in handle.addresses(index) if modes.usable(a)]


# ---------------------------------------------------------------- facts (steps 4, 7, 8)


def host_ips(host: Handle, pod_ips: Sequence[Address], wanted: frozenset[int]) -> list[Address]:
    """Step 8: host sources towards the pod's IPs, then every address of real host NICs."""
    names = {link.index: link.name for link in host.links()}
    nic_ips = [
        a.ip
        for index, a, scope in host.addresses()
        if scope == _HOST_SCOPE and modes.is_host_nic(names.get(index, "lo")) and modes.usable(a)
    ]
    return modes.host_addresses((host.route_source(ip) for ip in pod_ips), nic_ips, wanted)


def tables_in_use(
    pod: Handle,
) -> tuple[set[int], dict[ipaddress.IPv4Network | ipaddress.IPv6Network, int]]:
    """Tables any pod rule or route uses, and the table of each ``from <net>`` rule."""
    used: set[int] = set()
    by_source = {}
    for family in (4, 6):
        for rule in pod.rules(family):
            used.add(rule.table)
            if rule.src is not None:
                by_source[rule.src] = rule.table
    used.update(r.table for r in pod.all_routes())
    return used, by_source


# ---------------------------------------------------------------- veth (underlay, first NIC)


@record
class Veth:
    host: Link
    pod: Link
    created: bool


def ensure_veth(host: Handle, pod: Handle, host_name: str, conf: CoordinatorConf, v4: bool) -> Veth:
    """Underlay devices: pod ``veth0`` <-> host ``veth<cid[:11]>``, both up, random MACs."""
    pod_end, host_end = pod.link(modes.POD_VETH), host.link(host_name)
    created = False
    if pod_end is None or host_end is None:
        if host_end is not None:
            host.delete_link(host_name)  # left by an earlier sandbox with this container ID
        host.add_veth(host_name, modes.POD_VETH, pod.path, peer_mtu=conf.veth_mtu)
        created = True
    veth = _finish_veth(host, pod, host_name, fresh=created)
    if v4 and conf.veth_link_address is not None:
        pod.add_address(veth.pod.index, ipaddress.ip_interface(f"{conf.veth_link_address}/32"))
    return Veth(veth.host, veth.pod, created)


def _finish_veth(host: Handle, pod: Handle, host_name: str, *, fresh: bool) -> Veth:
    host_end, pod_end = host.link(host_name), pod.link(modes.POD_VETH)
    assert host_end is not None and pod_end is not None
    if fresh:
        host.set_link(host_end.index, mac=modes.random_mac(os.urandom(5)))
        pod.set_link(pod_end.index, mac=modes.random_mac(os.urandom(5)))
    host.set_link(host_end.index, up=True)
    pod.set_link(pod_end.index, up=True)
    host_end, pod_end = host.link(host_name), pod.link(modes.POD_VETH)
    assert host_end is not None and pod_end is not None
    return Veth(host_end, pod_end, fresh)


# ---------------------------------------------------------------- pod NIC (steps 10-12)


def rewrite_mac(
    pod: Handle, link: Link, prefix: bytes, first: Address, fams: frozenset[int]
) -> str:
    """Step 10: prefix + the last 4 bytes of the NIC's first address.

    Neighbours learnt the old MAC (the main plugin's DAD, our probes): with arp_notify
    and ndisc_notify on, the kernel itself sends a gratuitous ARP / unsolicited NA for
    every address when the MAC changes, so we need no raw socket for the announcement.
    """
    mac = modes.mac_with_prefix(prefix, first)
    if link.mac.lower() == mac:
        return mac
    if 4 in fams:
        namespaces.write_sysctl(pod.path, f"net/ipv4/conf/{link.name}/arp_notify", 1)
    if 6 in fams:
        namespaces.write_sysctl(pod.path, f"net/ipv6/conf/{link.name}/ndisc_notify", 1)
    try:
        pod.set_link(link.index, mac=mac)
    except routing.NetlinkFailure as e:
        if e.code != errno.EBUSY:
            raise
        pod.set_link(link.index, up=False)  # drivers without live MAC change
        pod.set_link(link.index, mac=mac)
        pod.set_link(link.index, up=True)
    return mac


def pod_sysctls(netns: str, fams: frozenset[int], rp_filter: int) -> None:
    """Step 12, written from inside the pod (reference's [QUIRK] of step 11 is the txqueuelen
    one)."""
    if 6 in fams:
        namespaces.write_sysctl(netns, "net.ipv6.conf.all.disable_ipv6", 0)
    if rp_filter >= 0:
        namespaces.write_sysctl(netns, "net.ipv4.conf.all.rp_filter", rp_filter)


# ---------------------------------------------------------------- neighbours (step 13)


def host_neighbours(
    host: Handle, host_veth: Link, pod_ips: Sequence[Address], pod_veth_mac: str
) -> list[Address]:
    """Drop stale host entries for the pod's IPs (a previous owner's), then pin them to the veth.

    Returns the IPs whose entry on the veth this call made: not those a previous ADD of
    the same sandbox had already pinned, so that undoing a failed re-ADD keeps them.
    """
    wanted = set(pod_ips)
    pinned = set()
    for index, ip, mac, state in host.neighbours():
        if ip in wanted and index != host_veth.index:
            host.delete_neighbour(index, ip)
        elif ip in wanted and mac.lower() == pod_veth_mac.lower() and state & routing.NUD_PERMANENT:
            pinned.add(ip)
    for ip in pod_ips:
        host.set_neighbour(host_veth.index, ip, pod_veth_mac)
    return [ip for ip in pod_ips if ip not in pinned]


def pod_neighbours(pod: Handle, pod_veth: Link, ips: Sequence[Address], host_veth_mac: str) -> None:
    for ip in ips:
        pod.set_neighbour(pod_veth.index, ip, host_veth_mac)


# ---------------------------------------------------------------- routes (steps 15, 17, 20)


def pod_host_routes(
    pod: Handle,
    pod_veth: Link,
    ips: Sequence[Address],
    tables: Sequence[int],
    src_v4: Address | None,
) -> None:
    for table in tables:
        for ip in ips:
            src = (
                src_v4 if ip.version == 4 else None
            )  # v6: no src (upstream's kernel-bug workaround)
            pod.add_route(
                Route(host_len(ip), table, oif=pod_veth.index, scope=routing.SCOPE_LINK, src=src)
            )


def host_routes(
    host: Handle, host_veth: Link, pod_ips: Sequence[Address], table: int
) -> list[Route]:
    """``from all lookup <table>`` per family, and ``<podIP>/32|128 dev <host veth>`` in it.

    Returns the routes this call added, not those it found in place (a previous ADD of
    the same sandbox made them): a failed re-ADD must undo only its own work.
    """
    for family in sorted({ip.version for ip in pod_ips}):
        host.add_rule(Rule(family, RULE_PRIORITY, table))
    added = []
    for ip in pod_ips:
        dst, present = host_len(ip), False
        for route in host.routes(table=table, family=ip.version):
            if route.dst == dst and route.oif != host_veth.index:
                host.delete_route(route)  # a previous owner of this IP
            elif route.dst == dst:
                present = True
        if not present:
            route = Route(dst, table, oif=host_veth.index, scope=routing.SCOPE_LINK)
            host.add_route(route)
            added.append(route)
    return added


def hijack_routes(
    pod: Handle,
    pod_veth: Link,
    cidrs: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
    gateways: dict[int, Address],
    table: int,
    src_v4: Address | None,
) -> None:
    for cidr in cidrs:
        gw = gateways.get(cidr.version)
        if gw is None:
            log.warning("hijack route %s skipped: no host address of its family", cidr)
            continue
        pod.add_route(
            Route(
                cidr,
                table,
                oif=pod_veth.index,
                gateway=gw,
                src=src_v4 if cidr.version == 4 else None,
            )
        )


def policy_routes(
    pod: Handle, link: Link, conf: CoordinatorConf, fams: frozenset[int], table: int
) -> None:
    for i, pr in enumerate(conf.policy_routes):
        if pr.dst.version in fams:
            try:
                pod.add_route(Route(pr.dst, table, oif=link.index, gateway=pr.gw))
            except routing.NetlinkFailure as e:
                # The entry is the config's own: the kernel refusing it (ENETUNREACH: the
                # gateway is on no link of the pod; EINVAL) is the config's error, named.
                if e.code not in (errno.ENETUNREACH, errno.EINVAL):
                    raise
                why = f"the kernel refused {pr.dst} via {pr.gw} on {link.name} ({e})"
                raise failures.RouteRefused(
                    f"policyRoutes[{i}]", f"{why}: is the gateway on the pod's subnet?"
                ) from e


# ---------------------------------------------------------------- reply path (step 18)


def _mangle_rules(ifname: str) -> str:
    return (
        "*mangle\n"
        f"-A PREROUTING -i {ifname} -m conntrack --ctstate NEW -j MARK --set-xmark "
        f"{MARK:#x}/0xffffffff\n"
        f"-A PREROUTING -m mark --mark {MARK:#x} -j CONNMARK --save-mark\n"
        "-A OUTPUT -j CONNMARK --restore-mark\n"
        "COMMIT\n"
    )


# A kernel without nf_tables for this family (the UML test kernel; hosts built without
# CONFIG_NF_TABLES_IPV4) refuses iptables-nft's table with these words; the pod netns is
# fresh and ours alone, so the legacy x_tables backend is a safe second choice there.
_NO_NFT = ("Operation not supported", "Failed to initialize nft", "Protocol not supported")


def _iptables(
    netns: str, family: int, args: Sequence[str], stdin: str = "", *, restore: bool = False
) -> None:
    base = "iptables" if family == 4 else "ip6tables"
    tools = [base + "-restore", base + "-legacy-restore"] if restore else [base, base + "-legacy"]
    try:
        namespaces.run(netns, [tools[0], *args], stdin=stdin)
    except OSError as e:
        if not any(words in str(e) for words in _NO_NFT):
            raise
        log.info("nf_tables refused in the pod (%s); using %s", e, tools[1])
        namespaces.run(netns, [tools[1], *args], stdin=stdin)


def _mangle_present(netns: str, family: int) -> bool:
    try:
        _iptables(
            netns,
            family,
            ["-w", "5", "-t", "mangle", "-C", "OUTPUT", "-j", "CONNMARK", "--restore-mark"],
        )
    except OSError:
        return False
    return True


def reply_path(
    pod: Handle, netns: str, pod_veth: Link, gateways: dict[int, Address], src_v4: Address | None
) -> None:
    """Connections that came in through veth0 are answered through veth0 (fwmark -> table 100)."""
    for family, gw in sorted(gateways.items()):
        if not _mangle_present(netns, family):
            _iptables(
                netns, family, ["-w", "5", "--noflush"], _mangle_rules(pod_veth.name), restore=True
            )
        pod.add_rule(Rule(family, RULE_PRIORITY, modes.FWMARK_TABLE, fwmark=MARK))
        src = src_v4 if family == 4 else None
        pod.add_route(
            Route(
                host_len(gw),
                modes.FWMARK_TABLE,
                oif=pod_veth.index,
                scope=routing.SCOPE_LINK,
                src=src,
            )
        )
        default = ipaddress.ip_network("0.0.0.0/0" if family == 4 else "::/0")
        pod.add_route(Route(default, modes.FWMARK_TABLE, oif=pod_veth.index, gateway=gw, src=src))
