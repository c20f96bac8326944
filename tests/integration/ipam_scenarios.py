"""Shared set-up for the spiderpool IPAM tests: a node (netns + plugin config dir) and pods.

Not a test module: helpers the IPAM test modules import. Every scenario gets its own
namespace and pool names, so tests share one control plane without interfering.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.testbed import cni, netns
from tools.testbed.cluster import Cluster, NodeConfig, macvlan_conflist


@dataclass
class SimNode:
    netns: netns.Netns
    config: NodeConfig

    def runtime(self, **ipam: Any) -> cni.Runtime:
        version = ipam.pop("version", "1.0.0")
        env = ipam.pop("env", {})
        return cni.Runtime(
            macvlan_conflist(self.config, version=version, **ipam),
            node=self.netns,
            extra_env={**self.config.env, **env},
        )


@dataclass
class Scenario:
    cluster: Cluster
    underlay: netns.Underlay
    base: Path
    ns: str = field(default_factory=lambda: f"t{secrets.token_hex(3)}")

    def __post_init__(self) -> None:
        self.cluster.namespace(self.ns)

    def name(self, what: str) -> str:
        return f"{self.ns}-{what}"

    def node(self, index: int = 0) -> SimNode:
        while len(self.underlay.nodes) <= index:
            self.underlay.add_node()
        name = self.name(f"node{index}")
        self.cluster.node(name)
        return SimNode(
            self.underlay.nodes[index], NodeConfig.create(self.cluster.cp, name, self.base)
        )

    def pod(self, name: str, node: SimNode, **kw: Any) -> tuple[cni.PodRef, netns.Netns]:
        obj = self.cluster.pod(self.ns, name, node.config.name, **kw)
        ref = cni.PodRef(self.ns, name, uid=obj["metadata"]["uid"], container_id=f"c-{name}")
        return ref, self.underlay.add_pod(f"{self.ns[-4:]}{name}")
