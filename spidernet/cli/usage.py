"""A pool's figures as ``spiderpoolctl pools`` shows them. No I/O.

    ALLOCATED  records that hold an address for a pod (cooling ones hold it for nobody)
    TOTAL      addresses in ips - excludeIPs (what status.totalIPCount says)
    FREE       what an ADD could still get now: total - reserved - allocated - cooling
    COOLING    addresses released after a failed ADD, not handed out before their time

All from the pool's own records (``spidernet.alloc``: the same parsing and free-address
maths as the IPAM), never from the status counts, which a crashed writer may have left
stale. A pool the IPAM would refuse shows its reason and no figures it cannot know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spidernet.alloc import choosing
from spidernet.alloc.pools import Pool
from spidernet.ipmath.ranges import RangeSet


@dataclass(frozen=True)
class PoolUsage:
    name: str
    version: int
    subnet: str
    allocated: int | None
    total: int | None
    free: int | None
    cooling: int | None
    default: bool
    disabled: bool
    terminating: bool
    created: str
    gateway: str
    node_name: tuple[str, ...]
    multus_name: tuple[str, ...]
    namespace_name: tuple[str, ...]
    problem: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ipVersion": self.version or None,
            "subnet": self.subnet,
            "allocated": self.allocated,
            "total": self.total,
            "free": self.free,
            "cooling": self.cooling,
            "default": self.default,
            "disabled": self.disabled,
            "terminating": self.terminating,
            "creationTimestamp": self.created,
            "gateway": self.gateway or None,
            "nodeName": list(self.node_name),
            "multusName": list(self.multus_name),
            "namespaceName": list(self.namespace_name),
            "problem": self.problem or None,
        }


def of(obj: Mapping[str, Any], reserved: Mapping[int, RangeSet], now: float) -> PoolUsage:
    pool = Pool.parse(obj)
    spec, meta = obj.get("spec") or {}, obj.get("metadata") or {}
    known = not pool.broken
    return PoolUsage(
        name=pool.name,
        version=pool.family if known else int(spec.get("ipVersion") or 0),
        subnet=str(spec.get("subnet", "")),
        allocated=sum(1 for r in pool.records.values() if not r.cooling) if known else None,
        total=pool.usable.count() if known else None,
        free=choosing.free_count(pool, reserved.get(pool.family, RangeSet(pool.family)), now)
        if known
        else None,
        cooling=len(choosing.cooling(pool, now)) if known else None,
        default=pool.default,
        disabled=pool.disable,
        terminating=pool.terminating,
        created=str(meta.get("creationTimestamp", "")),
        gateway=pool.gateway,
        node_name=pool.node_name,
        multus_name=pool.multus_name,
        namespace_name=pool.namespace_name,
        problem=pool.broken,
    )
