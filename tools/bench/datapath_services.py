"""ClusterIP services as kube-proxy's iptables mode lays them out, in a node netns. Does I/O.

kube-proxy (iptables mode) jumps from ``PREROUTING`` (traffic forwarded for pods) and
``OUTPUT`` (the node's own) to ``KUBE-SERVICES``; a service's rule DNATs to an endpoint;
traffic from outside the cluster's pod CIDR (``--cluster-cidr``) is marked and
masqueraded on its way out. Underlay pods have addresses outside that CIDR, so their
service traffic is masqueraded to the node's address: the answer comes back to the
node, which un-NATs it and hands it to the pod through the coordinator's veth (table
500). Overlay pods are inside the CIDR: no masquerade; the answer comes back through
the client's node because the client's pod CIDR is routed to it.

One endpoint per service (no load-balancing ``statistic`` rules): the benchmark measures
one path at a time. ``rules`` is the pure part; ``install`` feeds it to
``iptables-restore`` (``iptables-legacy-restore`` where the kernel has no nf_tables for
IPv4, as in the user-mode Linux kernel).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from tools.testbed.netns import Netns

MASQ_MARK = "0x4000/0x4000"  # kube-proxy's KUBE-MARK-MASQ bit


@dataclass(frozen=True)
class Service:
    name: str
    cluster_ip: str
    endpoint: str  # the backend pod's (or node's) address
    ports: tuple[int, ...]

    @property
    def chain(self) -> str:
        return f"KUBE-SVC-{self.name.upper()}"[:28]  # iptables allows 28 characters


def rules(services: Sequence[Service], cluster_cidr: str) -> str:
    """The ``*nat`` table for ``iptables-restore --noflush``."""
    out = [
        "*nat",
        ":KUBE-SERVICES - [0:0]",
        ":KUBE-MARK-MASQ - [0:0]",
        ":KUBE-POSTROUTING - [0:0]",
        "-A PREROUTING -m comment --comment kube-services -j KUBE-SERVICES",
        "-A OUTPUT -m comment --comment kube-services -j KUBE-SERVICES",
        "-A POSTROUTING -m comment --comment kube-postrouting -j KUBE-POSTROUTING",
        f"-A KUBE-MARK-MASQ -j MARK --set-xmark {MASQ_MARK}",
        f"-A KUBE-POSTROUTING -m mark --mark {MASQ_MARK} -j MASQUERADE",
    ]
    for svc in services:
        chain = svc.chain
        out.insert(1, f":{chain} - [0:0]")
        for port in svc.ports:
            match = f"-d {svc.cluster_ip}/32 -p tcp -m tcp --dport {port}"
            out.append(f"-A KUBE-SERVICES {match} -j {chain}")
            out.append(f"-A {chain} ! -s {cluster_cidr} {match} -j KUBE-MARK-MASQ")
            out.append(f"-A {chain} {match} -j DNAT --to-destination {svc.endpoint}:{port}")
    out.append("COMMIT")
    return "\n".join(out) + "\n"


def restore_command(node: Netns) -> str:
    """``iptables-restore`` if the kernel has nf_tables for IPv4, else the legacy one.

    Probed inside ``node``: listing a table can create it, and the machine's own
    namespace is never touched.
    """
    probe = node.run("iptables", "-t", "nat", "-S", check=False)
    legacy = shutil.which("iptables-legacy-restore")
    return legacy if probe.returncode != 0 and legacy else "iptables-restore"


def install(node: Netns, services: Sequence[Service], cluster_cidr: str) -> None:
    text = rules(services, cluster_cidr)
    tool = restore_command(node)
    done = subprocess.run(
        ["ip", "netns", "exec", node.name, tool, "--noflush"],
        input=text,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{tool} in {node.name} failed: {done.stderr.strip()}\n{text}")
