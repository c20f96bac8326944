"""The seed benchmark's workload as data: groups, pods, nodes, pool sizes, address ranges. No I/O.

The seed benchmark (docs/benchmark.md): 100 Deployments x 10 replicas = 1000 pods on 10
nodes, one pool, IPv4 or dual-stack, with exactly as many addresses as pods ("IPs =
pods") or plenty ("IPs sufficient"). Here a group is a ReplicaSet-owned set of 10 pods
(``--pods`` not a multiple of 10 leaves a smaller last group); pod k of the run goes to
node k mod nodes, and its replacement (rebuild) to the next node, as a ReplicaSet's
new pod lands where the scheduler puts it, rarely where the old one ran.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

GROUP_SIZE = 10
SCENARIOS = ("exact", "sufficient")  # IPs = pods; IPs sufficient
FAMILIES = ("v4", "dual")
SUFFICIENT_FACTOR = 4  # "IPs sufficient": four addresses a pod


@dataclass(frozen=True)
class Shape:
    pods: int
    nodes: int
    scenario: str
    family: str
    down: int  # nodes power-cycled, then lost, in the recovery phase

    @classmethod
    def of(
        cls, pods: int, nodes: int, scenario: str, family: str, down: int | None = None
    ) -> Shape:
        """``down`` defaults to the seed's 3 of 10, scaled to the node count (at least one, never
        all)."""
        if down is None:
            down = max(1, round(nodes * 0.3))
        if not 0 < down < nodes:
            raise ValueError(f"--down {down}: want 1..{nodes - 1} of {nodes} nodes")
        return cls(pods, nodes, scenario, family, down)

    @property
    def pool_size(self) -> int:
        return self.pods if self.scenario == "exact" else self.pods * SUFFICIENT_FACTOR

    @property
    def groups(self) -> int:
        return math.ceil(self.pods / GROUP_SIZE)

    @property
    def families(self) -> tuple[int, ...]:
        return (4, 6) if self.family == "dual" else (4,)

    def group_of(self, k: int) -> int:
        return k // GROUP_SIZE

    def node_of(self, k: int, generation: int = 0) -> int:
        return (k + generation) % self.nodes

    def down_nodes(self) -> list[int]:
        return list(range(self.down))

    def label(self) -> str:
        return f"{self.scenario}-{self.family}"


@dataclass(frozen=True)
class Range:
    """One pool's addresses: ``size`` of them from the subnet's 10th address on; the gateway is the
    1st."""

    subnet: str
    size: int

    @property
    def family(self) -> int:
        return ipaddress.ip_network(self.subnet).version

    @property
    def first(self) -> str:
        return str(ipaddress.ip_network(self.subnet)[10])

    @property
    def last(self) -> str:
        return str(ipaddress.ip_network(self.subnet)[10 + self.size - 1])

    @property
    def gateway(self) -> str:
        return str(ipaddress.ip_network(self.subnet)[1])

    @property
    def ips(self) -> list[str]:
        return [f"{self.first}-{self.last}"]


def ranges(slot: int, shape: Shape) -> list[Range]:
    """The pools of one plugin (``slot`` keeps plugins in disjoint subnets): a /16 and a /64."""
    out = [Range(f"10.{200 + slot}.0.0/16", shape.pool_size)]
    if shape.family == "dual":
        out.append(Range(f"fd00:{200 + slot}::/64", shape.pool_size))
    if shape.pool_size > 65000:
        raise ValueError(f"{shape.pool_size} addresses do not fit the benchmark's /16")
    return out
