"""Network namespaces as simulated nodes and pods, wired by an underlay bridge. Does I/O.

Nothing here touches the machine's own network namespace (docs/testbed.md, "Simulated
nodes"): every link is created inside a namespace of ours. The layout:

    fabric netns:  br0 ── <tag>n<i> ─┐            (the "switch" of the underlay)
    node netns:                      └── ens1     (the node's NIC: macvlan master)
    pod netns:     created empty; the CNI chain puts eth0 in it

Names carry the creating process's pid and a random tag so that concurrent runs (a
developer's suite, CI, a demo) do not collide, and ``cleanup_stale`` removes only the
leftovers of runs whose process is gone.

With ``api_port`` set, every node gets an ``apiproxy`` so that plugins running in the
node reach the control plane at the same ``https://127.0.0.1:<port>``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NETNS_DIR = Path("/var/run/netns")
PREFIX = "sn"  # every netns we create starts with this
TAG = f"{os.getpid()}x{secrets.token_hex(2)}"


def ip(
    *args: str, netns: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    argv = ["ip", *(("-n", netns) if netns else ()), *args]
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def ip_json(*args: str, netns: str) -> list[dict[str, Any]]:
    out = ip("-j", *args, netns=netns).stdout
    return json.loads(out) if out.strip() else []


@dataclass
class Netns:
    name: str

    @property
    def path(self) -> str:
        return str(NETNS_DIR / self.name)

    @classmethod
    def create(cls, role: str) -> Netns:
        ns = cls(f"{PREFIX}{TAG}-{role}")
        subprocess.run(["ip", "netns", "add", ns.name], check=True, capture_output=True)
        ip("link", "set", "lo", "up", netns=ns.name)
        return ns

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True)

    def run(
        self, *argv: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.name, *argv],
            check=check,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def addresses(self, ifname: str) -> list[str]:
        """CIDR addresses of ``ifname`` with global scope."""
        links = (
            ip_json("addr", "show", "dev", ifname, netns=self.name) if self.has_link(ifname) else []
        )
        return [
            f"{a['local']}/{a['prefixlen']}"
            for link in links
            for a in link.get("addr_info", [])
            if a.get("scope") == "global"
        ]

    def has_link(self, ifname: str) -> bool:
        return ip("link", "show", "dev", ifname, netns=self.name, check=False).returncode == 0

    def ping(self, address: str, count: int = 1, timeout: int = 2) -> bool:
        flag = "-6" if ":" in address else "-4"
        return (
            self.run(
                "ping", flag, "-c", str(count), "-W", str(timeout), address, check=False
            ).returncode
            == 0
        )


@dataclass
class Underlay:
    """A fabric bridge plus nodes, each with NIC ``ens1`` on the bridge."""

    fabric: Netns = field(default_factory=lambda: Netns.create("fabric"))
    nodes: list[Netns] = field(default_factory=list)
    pods: list[Netns] = field(default_factory=list)
    nic: str = "ens1"
    api_port: int = 0
    proxies: list[subprocess.Popen[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        ip("link", "add", "br0", "type", "bridge", netns=self.fabric.name)
        ip("link", "set", "br0", "up", netns=self.fabric.name)

    def add_node(self, host_addresses: tuple[str, ...] = ()) -> Netns:
        index = len(self.nodes)
        node = Netns.create(f"node{index}")
        port = f"p{TAG}n{index}"
        ip("link", "add", self.nic, "type", "veth", "peer", "name", port, netns=node.name)
        ip("link", "set", port, "netns", self.fabric.name, netns=node.name)
        ip("link", "set", port, "master", "br0", "up", netns=self.fabric.name)
        ip("link", "set", self.nic, "up", netns=node.name)
        for cidr in host_addresses:
            ip("addr", "add", cidr, "dev", self.nic, netns=node.name)
        self.nodes.append(node)
        if self.api_port:
            self._proxy(node)
        return node

    def _proxy(self, node: Netns) -> None:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tools.testbed.apiproxy", node.path, str(self.api_port)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=str(Path(__file__).resolve().parents[2]),
        )
        self.proxies.append(proc)
        if proc.stdout is None or proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"apiproxy for {node.name} did not start")

    def add_peer(self, role: str, addresses: tuple[str, ...] = (), nic: str = "eth0") -> Netns:
        """A host on the fabric (a gateway, a router, an address squatter) with ``addresses`` on
        ``nic``."""
        peer = Netns.create(role)
        port = f"q{TAG}{len(self.pods)}"[-15:]
        ip("link", "add", nic, "type", "veth", "peer", "name", port, netns=peer.name)
        ip("link", "set", port, "netns", self.fabric.name, netns=peer.name)
        ip("link", "set", port, "master", "br0", "up", netns=self.fabric.name)
        ip("link", "set", nic, "up", netns=peer.name)
        for cidr in addresses:
            ip(
                "addr",
                "add",
                cidr,
                "dev",
                nic,
                *(("nodad",) if ":" in cidr else ()),
                netns=peer.name,
            )
        self.pods.append(peer)  # deleted with the pods
        return peer

    def add_pod(self, name: str) -> Netns:
        pod = Netns.create(f"pod-{name}")
        self.pods.append(pod)
        return pod

    def close(self) -> None:
        for proc in self.proxies:
            proc.kill()
            proc.wait()
            if proc.stdout:
                proc.stdout.close()
        for ns in [*self.pods, *self.nodes, self.fabric]:
            ns.delete()

    def __enter__(self) -> Underlay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cleanup_stale() -> None:
    """Remove namespaces left by earlier runs that were killed (ours only, by prefix)."""
    if not NETNS_DIR.exists():
        return
    for entry in NETNS_DIR.iterdir():
        pid = entry.name[len(PREFIX) :].split("x", 1)[0]
        if not entry.name.startswith(PREFIX) or not pid.isdigit() or os.path.exists(f"/proc/{pid}"):
            continue
        with contextlib.suppress(subprocess.SubprocessError):
            subprocess.run(["ip", "netns", "delete", entry.name], capture_output=True, timeout=10)
