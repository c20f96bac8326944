"""A node, pools and pods for coordinator scenarios: macvlan + spiderpool + coordinator via libcni.
Does I/O.

One ``CoordinatorEnv`` per test: its own Kubernetes namespace and pool names on the
shared control plane, one simulated node (netns) whose NIC ``ens1`` carries the host
addresses given, and helpers that read the kernel state the assertions need
(``ip -j`` inside the namespaces; never in the machine's own namespace).

IPv6 DAD is switched off in the pods and on the node's addresses: a tentative address
cannot be a source for a second or two, which would make pings flaky, and DAD is not
what these tests are about.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.testbed import cni, netns
from tools.testbed.cluster import Cluster, NodeConfig


@dataclass
class CoordinatorEnv:
    cluster: Cluster
    underlay: netns.Underlay
    base: Path
    host_addresses: tuple[str, ...] = ()
    ns: str = field(default_factory=lambda: f"c{secrets.token_hex(3)}")

    def __post_init__(self) -> None:
        self.cluster.namespace(self.ns)
        self.node = self.underlay.add_node()
        for cidr in self.host_addresses:
            netns.ip(
                "addr",
                "add",
                cidr,
                "dev",
                "ens1",
                *(("nodad",) if ":" in cidr else ()),
                netns=self.node.name,
            )
        self.node_name = f"{self.ns}-node"
        self.cluster.node(self.node_name)
        self.config = NodeConfig.create(self.cluster.cp, self.node_name, self.base)

    def name(self, what: str) -> str:
        return f"{self.ns}-{what}"

    def pool(self, what: str, subnet: str, ips: list[str], **spec: Any) -> str:
        name = self.name(what)
        self.cluster.pool(name, subnet, ips, **spec)
        return name

    def conflist(
        self,
        pools: list[str],
        *,
        coordinator: dict[str, Any] | None = None,
        version: str = "1.0.0",
        network: str = "macvlan-ens1",
        **ipam: Any,
    ) -> dict[str, Any]:
        v4 = [p for p in pools if self.cluster.get_pool(p)["spec"]["ipVersion"] == 4]
        v6 = [p for p in pools if p not in v4]
        coord = {
            "type": "coordinator",
            "logOptions": {"logFile": str(self.config.dir / "coordinator.log")},
            **(coordinator or {}),
        }
        main = {
            "type": "macvlan",
            "master": "ens1",
            "mode": "bridge",
            "ipam": self.config.ipam(default_ipv4_ippool=v4, default_ipv6_ippool=v6, **ipam),
        }
        return {"cniVersion": version, "name": network, "plugins": [main, coord]}

    def runtime(self, conflist: dict[str, Any]) -> cni.Runtime:
        return cni.Runtime(conflist, node=self.node, extra_env=self.config.env)

    def pod(self, name: str) -> tuple[cni.PodRef, netns.Netns]:
        obj = self.cluster.pod(self.ns, name, self.node_name)
        ref = cni.PodRef(
            self.ns, name, uid=obj["metadata"]["uid"], container_id=f"{secrets.token_hex(8)}{name}"
        )
        pod = self.underlay.add_pod(f"{self.ns[-4:]}{name}")
        pod.run(
            "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0"
        )
        return ref, pod


# ------------------------------------------------------------------ kernel state, read with ip -j


def routes(ns: netns.Netns, table: str = "main", family: str = "-4") -> list[dict[str, Any]]:
    return netns.ip_json(family, "route", "show", "table", table, netns=ns.name)


def rules(ns: netns.Netns, family: str = "-4") -> list[dict[str, Any]]:
    return netns.ip_json(family, "rule", "show", netns=ns.name)


def neighbours(ns: netns.Netns, dev: str) -> list[dict[str, Any]]:
    return netns.ip_json("neigh", "show", "dev", dev, netns=ns.name)


def link(ns: netns.Netns, name: str) -> dict[str, Any]:
    found = netns.ip_json("-s", "link", "show", "dev", name, netns=ns.name)
    return found[0] if found else {}


def tx_packets(ns: netns.Netns, name: str) -> int:
    stats = link(ns, name)["stats64"]["tx"]
    return int(stats["packets"])


def route_get(ns: netns.Netns, dst: str, src: str = "") -> dict[str, Any]:
    args = ["route", "get", dst, *(("from", src) if src else ())]
    return netns.ip_json(*args, netns=ns.name)[0]


def _per_link_ipv6(route: dict[str, Any]) -> bool:
    """A route the kernel adds to every IPv6 link by itself (fe80::/64, its link-local
    address, ff00::/8): it comes a moment after the link does, so a snapshot taken just
    after an ADD made a veth may or may not have it yet. Never the coordinator's doing."""
    dst = str(route.get("dst", ""))
    return route.get("protocol") == "kernel" and (dst.startswith("fe80:") or dst == "ff00::/8")


def host_state(node: netns.Netns, *, shared_rule_table: str = "") -> str:
    """What the coordinator may change on a node: links, rules and routes of every table
    (but the kernel's own per-link IPv6 routes, see ``_per_link_ipv6``).

    ``shared_rule_table``: leave out rules to that table (the shared rule ADD may keep).
    """
    links = sorted(x["ifname"] for x in netns.ip_json("link", "show", netns=node.name))
    state: dict[str, Any] = {"links": links}
    for fam in ("-4", "-6"):
        rules = netns.ip_json(fam, "rule", "show", netns=node.name)
        state[f"rules{fam}"] = [
            r for r in rules if not shared_rule_table or r.get("table") != shared_rule_table
        ]
        routes = netns.ip_json(fam, "route", "show", "table", "all", netns=node.name)
        state[f"routes{fam}"] = [r for r in routes if not _per_link_ipv6(r)]
    return json.dumps(state, sort_keys=True)
