"""The datapath benchmark's network: every shape's pods on two nodes, wired for real. Does I/O.

Built on the testbed (docs/testbed.md): a fabric netns whose bridge is the switch,
node netns with NIC ``ens1`` on it, a router netns on the same bridge, the local
control plane and libcni running each pod's conflist inside its node. Nothing touches
the machine's own network namespace. Addresses (IPv4, as the published comparisons):

    underlay   10.6.0.0/24   nodes .2 .3 (.4 .5 for ipvlan), router .1, pool .10-.99
               10.7.0.0/24   router .1, pool .10-.99      (the server of "across subnets")
               10.8.0.0/24   VLAN 100, pool .10-.99        (ifacer's VLAN, UML only)
    overlay    10.244.N.0/24 host-gw, 10.245.N.0/24 VXLAN, 10.246.N.0/24 IP-in-IP (node N)
    services   10.96.0.0/12, kube-proxy-like DNAT in the client's node (datapath_services.py)

Shapes (``SHAPES``): the client is on the first node of the pair, the server on the
second, so every path crosses the fabric.

- ``node``: node to node on ``ens1``, the ceiling;
- ``macvlan`` / ``macvlan-cross`` / ``macvlan-vlan`` / ``ipvlan``: Debian's macvlan
  (bridge) or ipvlan (l2) + our spiderpool + our coordinator (underlay mode,
  ``serviceCIDR`` routed through veth0), same subnet, across subnets through the router,
  over ifacer's VLAN 100; the conflist is the README's;
- ``host-gw`` / ``vxlan`` / ``ipip``: Debian's bridge plugin (veth + Linux bridge,
  host-local IPAM) with the pod CIDRs routed between nodes, directly (flannel host-gw,
  Calico without tunnels), through a VXLAN device laid out as flannel does (``/32`` on
  the device, onlink routes, static neighbour and FDB entries), or through ``tunl0``
  as Calico's IPIP mode does.

ipvlan, IP-in-IP and VLAN need a kernel with those drivers (``KINDS``): the host kernel
here has none, the user-mode Linux kernel has all of them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.bench import datapath_services as services
from tools.bench import datapath_tools as tools
from tools.testbed import cni, netns
from tools.testbed.cluster import Cluster, NodeConfig

SERVICE_CIDR = "10.96.0.0/12"
CLUSTER_CIDR = "10.244.0.0/14"  # the overlay pods (kube-proxy's --cluster-cidr)
NODE_NET, OTHER_NET, VLAN_NET = "10.6.0", "10.7.0", "10.8.0"
VLAN_ID = 100


@dataclass(frozen=True)
class Shape:
    key: str
    label: str
    needs: str = ""  # a link kind the kernel must have ("ipvlan", "ipip", "vlan")
    service: bool = True  # also measured through a ClusterIP
    underlay: bool = False


SHAPES = (
    Shape("node", "node to node (ceiling)"),
    Shape("macvlan", "spidernet macvlan, same subnet", underlay=True),
    Shape("macvlan-cross", "spidernet macvlan, across subnets", service=False, underlay=True),
    Shape("macvlan-vlan", "spidernet macvlan on ifacer VLAN", "vlan", False, True),
    Shape("ipvlan", "spidernet ipvlan l2, same subnet", "ipvlan", underlay=True),
    Shape("host-gw", "veth + bridge, routed (host-gw)"),
    Shape("vxlan", "veth + bridge, VXLAN (flannel)"),
    Shape("ipip", "veth + bridge, IP-in-IP (Calico IPIP)", "ipip"),
)
OVERLAY = {"host-gw": ("10.244", 1500), "vxlan": ("10.245", 1450), "ipip": ("10.246", 1480)}


def kernel_kinds(probe: netns.Netns) -> set[str]:
    """Which of ipvlan, ipip, vlan this kernel can create (tried inside ``probe``)."""
    kinds = {"ipvlan": ("ipvlan", "mode", "l2"), "vlan": ("vlan", "id", "7"), "ipip": ("ipip",)}
    netns.ip(
        "link", "add", "dpprobe0", "type", "veth", "peer", "name", "dpprobe1", netns=probe.name
    )
    have = set()
    for kind, spec in kinds.items():
        args = ("link", "add", "link", "dpprobe0", "name", "dpprobe2", "type", *spec)
        if kind == "ipip":
            args = ("link", "add", "name", "dpprobe2", "type", "ipip", "local", "10.0.0.1")
        if netns.ip(*args, netns=probe.name, check=False).returncode == 0:
            have.add(kind)
            netns.ip("link", "del", "dpprobe2", netns=probe.name)
    netns.ip("link", "del", "dpprobe0", netns=probe.name)
    return have


@dataclass(frozen=True)
class DataPath:
    """One measured path: a client netns, a server netns and the address the client dials."""

    shape: Shape
    target: str  # "pod" (the server's own address) or "service" (a ClusterIP)
    client: netns.Netns
    server: netns.Netns
    server_address: str
    address: str  # what the client connects to

    @property
    def label(self) -> str:
        return self.shape.label + (" -> ClusterIP" if self.target == "service" else "")


@dataclass
class Node:
    ns: netns.Netns
    name: str
    address: str
    config: NodeConfig
    services: list[services.Service] = field(default_factory=list)


class Network:
    """Builds the shapes asked for; ``paths`` lists what to measure. ``close`` removes it all."""

    def __init__(self, cluster: Cluster, work: Path, tag: str = "dp") -> None:
        """``cluster`` has our CRDs; ``tag`` prefixes the API objects' names."""
        self.work, self.cluster, self.tag = work, cluster, tag
        self.namespace = tag
        cluster.namespace(tag)
        self.underlay = netns.Underlay(api_port=cluster.cp.port)
        self.nodes: list[Node] = []
        self.paths: list[DataPath] = []
        self.router = self.underlay.add_peer(
            "router", (f"{NODE_NET}.1/24", f"{OTHER_NET}.1/24"), nic="eth0"
        )
        self.router.run("sysctl", "-qw", "net.ipv4.ip_forward=1")
        # one-armed router: its redirects would teach the pods a shortcut around it
        for key in ("all", "default", "eth0"):
            self.router.run("sysctl", "-qw", f"net.ipv4.conf.{key}.send_redirects=0")
        for name, subnet, gateway in (
            ("a", NODE_NET, True),
            ("b", OTHER_NET, True),
            ("vlan", VLAN_NET, False),
        ):
            spec = {"gateway": f"{subnet}.1"} if gateway else {}
            self.cluster.pool(
                self.pool(name), f"{subnet}.0/24", [f"{subnet}.10-{subnet}.99"], **spec
            )

    def pool(self, name: str) -> str:
        return f"{self.tag}-{name}"

    # ------------------------------------------------------------------ nodes and pods

    def node(self, index: int) -> Node:
        while len(self.nodes) <= index:
            i = len(self.nodes)
            address = f"{NODE_NET}.{2 + i}"
            ns = self.underlay.add_node(host_addresses=(f"{address}/24",))
            ns.run("sysctl", "-qw", "net.ipv4.ip_forward=1")
            netns.ip("route", "add", "default", "via", f"{NODE_NET}.1", netns=ns.name)
            name = f"{self.tag}-node{i}"
            self.cluster.node(name)
            config = NodeConfig.create(self.cluster.cp, name, self.work / "nodes")
            self.nodes.append(Node(ns, name, address, config))
        return self.nodes[index]

    def _runtime(self, conflist: dict[str, Any], node: Node, name: str) -> cni.Runtime:
        workdir = self.work / "cni" / name
        workdir.mkdir(parents=True, exist_ok=True)
        return cni.Runtime(conflist, node=node.ns, workdir=workdir, extra_env=node.config.env)

    def _pod(self, node: Node, name: str, conflist: dict[str, Any]) -> tuple[netns.Netns, str]:
        obj = self.cluster.pod(self.namespace, name, node.name)
        ref = cni.PodRef(
            self.namespace, name, uid=obj["metadata"]["uid"], container_id=secrets.token_hex(16)
        )
        pod = self.underlay.add_pod(name)
        result = self._runtime(conflist, node, name).add(ref.container_id, pod.path, pod=ref)
        return pod, str(result["ips"][0]["address"]).split("/")[0]

    def underlay_pod(
        self, node: Node, name: str, pool: str, *, kind: str = "macvlan", vlan: bool = False
    ) -> tuple[netns.Netns, str]:
        main: dict[str, Any] = {
            "type": kind,
            "master": f"ens1.{VLAN_ID}" if vlan else "ens1",
            "ipam": node.config.ipam(default_ipv4_ippool=[pool], log_level="info"),
        }
        main.update({"mode": "l2"} if kind == "ipvlan" else {"mode": "bridge"})
        log_dir = node.config.dir
        plugins = [
            main,
            {
                "type": "coordinator",
                "mode": "underlay",
                "serviceCIDR": [SERVICE_CIDR],
                "logOptions": {"logLevel": "info", "logFile": str(log_dir / "coordinator.log")},
            },
        ]
        if vlan:
            ifacer = {"type": "ifacer", "interfaces": ["ens1"], "vlanID": VLAN_ID}
            plugins.insert(0, {**ifacer, "logOptions": {"logFile": str(log_dir / "ifacer.log")}})
        conflist = {"cniVersion": "1.0.0", "name": f"dp-{kind}", "plugins": plugins}
        return self._pod(node, name, conflist)

    def overlay_pod(self, node: Node, name: str, shape: str) -> tuple[netns.Netns, str]:
        prefix, mtu = OVERLAY[shape]
        index = self.nodes.index(node)
        plugin = {
            "type": "bridge",
            "bridge": f"cni-{shape}"[:15],
            "isGateway": True,
            "ipMasq": False,
            "mtu": mtu,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": f"{prefix}.{index}.0/24"}]],
                "routes": [{"dst": "0.0.0.0/0"}],
                "dataDir": str(self.work / "host-local"),
            },
        }
        conflist = {"cniVersion": "1.0.0", "name": f"dp-{shape}", "plugins": [plugin]}
        return self._pod(node, name, conflist)

    # ------------------------------------------------------------------ shapes

    def build(self, shape: Shape) -> None:
        pair = (2, 3) if shape.key == "ipvlan" else (0, 1)
        client_node, server_node = self.node(pair[0]), self.node(pair[1])
        client, server, address = getattr(self, "_" + shape.key.replace("-", "_"))(
            client_node, server_node
        )
        self.paths.append(DataPath(shape, "pod", client, server, address, address))
        if shape.service:
            cluster_ip = f"10.96.0.{10 + len(client_node.services)}"
            client_node.services.append(
                services.Service(shape.key, cluster_ip, address, tools.PORTS)
            )
            self.paths.append(DataPath(shape, "service", client, server, address, cluster_ip))

    def install_services(self) -> None:
        for node in self.nodes:
            if node.services:
                services.install(node.ns, node.services, CLUSTER_CIDR)

    def _node(self, a: Node, b: Node) -> tuple[netns.Netns, netns.Netns, str]:
        return a.ns, b.ns, b.address

    def _macvlan(self, a: Node, b: Node) -> tuple[netns.Netns, netns.Netns, str]:
        client, _ = self.underlay_pod(a, "mv-client", self.pool("a"))
        server, address = self.underlay_pod(b, "mv-server", self.pool("a"))
        return client, server, address

    def _macvlan_cross(self, a: Node, b: Node) -> tuple[netns.Netns, netns.Netns, str]:
        client, _ = self.underlay_pod(a, "mvx-client", self.pool("a"))
        server, address = self.underlay_pod(b, "mvx-server", self.pool("b"))
        return client, server, address

    def _macvlan_vlan(self, a: Node, b: Node) -> tuple[netns.Netns, netns.Netns, str]:
        client, _ = self.underlay_pod(a, "vl-client", self.pool("vlan"), vlan=True)
        server, address = self.underlay_pod(b, "vl-server", self.pool("vlan"), vlan=True)
        return client, server, address

    def _ipvlan(self, a: Node, b: Node) -> tuple[netns.Netns, netns.Netns, str]:
        client, _ = self.underlay_pod(a, "iv-client", self.pool("a"), kind="ipvlan")
        server, address = self.underlay_pod(b, "iv-server", self.pool("a"), kind="ipvlan")
        return client, server, address

    def _overlay(self, a: Node, b: Node, shape: str) -> tuple[netns.Netns, netns.Netns, str]:
        prefix, _ = OVERLAY[shape]
        client, _ = self.overlay_pod(a, f"{shape}-client", shape)
        server, address = self.overlay_pod(b, f"{shape}-server", shape)
        link_nodes = {"host-gw": _route_direct, "vxlan": _vxlan, "ipip": _ipip}[shape]
        link_nodes(a, b, prefix)
        return client, server, address

    def _host_gw(self, a: Node, b: Node) -> tuple[netns.Netns, netns.Netns, str]:
        return self._overlay(a, b, "host-gw")

    def _vxlan(self, a: Node, b: Node) -> tuple[netns.Netns, netns.Netns, str]:
        return self._overlay(a, b, "vxlan")

    def _ipip(self, a: Node, b: Node) -> tuple[netns.Netns, netns.Netns, str]:
        return self._overlay(a, b, "ipip")

    def close(self) -> None:
        self.underlay.close()


def _pod_net(prefix: str, node: Node, pair: tuple[Node, Node]) -> str:
    """The first three octets of ``node``'s pod CIDR: ``10.245.1`` for the second node."""
    return f"{prefix}.{pair.index(node)}"


def _route_direct(a: Node, b: Node, prefix: str) -> None:
    """host-gw: each node routes the other's pod CIDR to the other's address."""
    for src, dst in ((a, b), (b, a)):
        cidr = f"{_pod_net(prefix, dst, (a, b))}.0/24"
        netns.ip("route", "add", cidr, "via", dst.address, "dev", "ens1", netns=src.ns.name)


def _vxlan(a: Node, b: Node, prefix: str) -> None:
    """flannel's VXLAN layout: vx0 holds <pod net>.0/32; peers by static neighbour + FDB."""
    macs = {}
    for node in (a, b):
        ns = node.ns.name
        vxlan = ("type", "vxlan", "id", "1", "local", node.address, "dev", "ens1")
        netns.ip("link", "add", "vx0", *vxlan, "dstport", "4789", "nolearning", netns=ns)
        netns.ip("addr", "add", f"{_pod_net(prefix, node, (a, b))}.0/32", "dev", "vx0", netns=ns)
        netns.ip("link", "set", "vx0", "up", netns=ns)
        macs[node.name] = netns.ip_json("link", "show", "dev", "vx0", netns=ns)[0]["address"]
    for src, dst in ((a, b), (b, a)):
        ns, gw, mac = src.ns.name, f"{_pod_net(prefix, dst, (a, b))}.0", macs[dst.name]
        netns.ip("route", "add", f"{gw}/24", "via", gw, "dev", "vx0", "onlink", netns=ns)
        netns.ip("neigh", "add", gw, "lladdr", mac, "dev", "vx0", "nud", "permanent", netns=ns)
        src.ns.run("bridge", "fdb", "append", mac, "dev", "vx0", "dst", dst.address)


def _ipip(a: Node, b: Node, prefix: str) -> None:
    """Calico's IPIP layout: tunl0 holds <pod net>.0/32; pod CIDRs routed onlink via the peer."""
    for node in (a, b):
        ns = node.ns.name
        netns.ip("addr", "add", f"{_pod_net(prefix, node, (a, b))}.0/32", "dev", "tunl0", netns=ns)
        netns.ip("link", "set", "tunl0", "mtu", "1480", "up", netns=ns)
    for src, dst in ((a, b), (b, a)):
        cidr = f"{_pod_net(prefix, dst, (a, b))}.0/24"
        via = ("via", dst.address, "dev", "tunl0", "onlink")
        netns.ip("route", "add", cidr, *via, netns=src.ns.name)
