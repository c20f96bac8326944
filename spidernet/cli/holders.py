"""Who holds an address: the pool's record, the pod's SpiderEndpoint, the pod. No I/O.

A pool record says which pod UID holds an address (``{pod, podUid}``, kept that small
so pool writes stay fast: docs/ipam.md); the pod's SpiderEndpoint says on which node,
interface and sandbox, and since when (the endpoint's creation: records carry no time);
the pod object says whether the holder is still alive. This module joins the three.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from spidernet.alloc import choosing
from spidernet.alloc.pools import Pool, Record
from spidernet.ipam import endpoints, pods

IN_USE, COOLING, GONE, TERMINATING, FINISHED, REPLACED = (
    "in use",
    "cooling",
    "pod gone",
    "pod terminating",
    "pod finished",
    "pod re-created",
)


@dataclass(frozen=True)
class Holding:
    ip: str  # canonical text
    key: str  # the record's key in status.allocatedIPs, as written
    pool: str
    pod: str  # "<namespace>/<name>"
    pod_uid: str
    status: str
    detail: str = ""  # more about the status: the new UID, the cool-down's end
    node: str = ""
    interface: str = ""
    container_id: str = ""
    endpoint: str = ""  # the SpiderEndpoint naming the address, "<namespace>/<name>"
    since: str = ""  # that endpoint's creationTimestamp
    strikes: int = 0

    @property
    def alive(self) -> bool:
        return self.status == IN_USE

    def to_json(self) -> dict[str, Any]:
        return {
            "ip": self.ip,
            "pool": self.pool,
            "pod": self.pod,
            "podUid": self.pod_uid,
            "status": self.status,
            "detail": self.detail or None,
            "node": self.node or None,
            "interface": self.interface or None,
            "containerID": self.container_id or None,
            "spiderEndpoint": self.endpoint or None,
            "since": self.since or None,
        }


def records(pool_objs: Iterable[Mapping[str, Any]]) -> Iterable[tuple[Pool, str, Record]]:
    """(pool, key, record) of every readable pool's records."""
    for obj in pool_objs:
        pool = Pool.parse(obj)
        for key, record in pool.records.items():
            yield pool, key, record


def holding(
    pool: str,
    key: str,
    record: Record,
    endpoint: Mapping[str, Any] | None,
    pod: Mapping[str, Any] | None,
) -> Holding:
    ip = choosing.canonical(key)
    status, detail = _status(record, pod)
    where = _detail_naming(endpoint, ip)
    meta = (endpoint or {}).get("metadata") or {}
    node = endpoints.current(dict(endpoint)).get("node", "") if endpoint and where else ""
    if not node and pod:
        node = (pod.get("spec") or {}).get("nodeName", "")
    return Holding(
        ip=ip,
        key=key,
        pool=pool,
        pod=record.pod,
        pod_uid=record.pod_uid,
        status=status,
        detail=detail,
        node=str(node),
        interface=str((where or {}).get("interface", "")),
        container_id=str((where or {}).get("containerID", "")),
        endpoint=f"{meta.get('namespace')}/{meta.get('name')}" if where else "",
        since=str(meta.get("creationTimestamp", "")) if where else "",
        strikes=record.strikes,
    )


def _status(record: Record, pod: Mapping[str, Any] | None) -> tuple[str, str]:
    if record.cooling:
        return COOLING, f"until {record.cooldown_until} (failed ADDs in a row: {record.strikes})"
    if pod is None:
        return GONE, ""
    info = pods.info(pod)
    if info.uid != record.pod_uid:
        return REPLACED, f"the pod of that name now has UID {info.uid}"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return TERMINATING, f"deletionTimestamp {pod['metadata']['deletionTimestamp']}"
    if not info.alive:
        return FINISHED, f"phase {(pod.get('status') or {}).get('phase')}"
    return IN_USE, ""


def _detail_naming(endpoint: Mapping[str, Any] | None, ip: str) -> dict[str, Any] | None:
    for d in endpoints.details(dict(endpoint) if endpoint else None):
        if any(choosing.canonical(addr) == ip for _, addr in endpoints.addresses(d)):
            return d
    return None


def without_address(endpoint: Mapping[str, Any], ip: str) -> dict[str, Any] | None:
    """The endpoint without ``ip``: its family leaves the interface's detail, a detail left
    with no address leaves the endpoint, and an endpoint left with none goes (None)."""
    out = copy.deepcopy(dict(endpoint))
    cur = out.setdefault("status", {}).setdefault("current", {})
    kept = []
    for d in endpoints.details(out):
        for family in ("ipv4", "ipv6"):
            if d.get(family) and choosing.canonical(str(d[family]).split("/")[0]) == ip:
                for suffix in ("", "Pool", "Gateway"):
                    d.pop(f"{family}{suffix}", None)
        if d.get("ipv4") or d.get("ipv6"):
            kept.append(d)
    cur["ips"] = kept
    return out if kept else None


def refusal(h: Holding, *, statefulset_keeps: str, successor_alive: bool, force: bool) -> str:
    """Why ``ip release`` must not release ``h`` ("" when it may).

    Never while its pod is alive with the record's UID, nor while a live successor's
    endpoint names the address (I1): that would hand one address to two pods. With
    ``--force``: also while the pod is terminating, while the address cools down, and
    while a StatefulSet keeps it for the next pod of that name (``statefulset_keeps``
    names that StatefulSet)."""
    if h.status == IN_USE:
        return (
            f"pod {h.pod} (UID {h.pod_uid}) is alive and holds {h.ip}: releasing it would hand "
            "the address to a second pod. Delete the pod: its CNI DEL releases the address"
        )
    if successor_alive:
        return (
            f"the SpiderEndpoint {h.endpoint} of a live pod of that name names {h.ip}: "
            "it is in use (the pod's next ADD moves the record to its UID)"
        )
    if force:
        return ""
    if h.status == TERMINATING:
        return (
            f"pod {h.pod} is terminating ({h.detail}): its CNI DEL releases {h.ip}, or the GC "
            "after the grace period; --force releases it now (only once its sandbox is gone)"
        )
    if h.status == COOLING:
        return (
            f"{h.ip} is cooling down after a failed ADD, {h.detail}: it is free again then; "
            "--force frees it now"
        )
    if statefulset_keeps:
        return (
            f"StatefulSet {statefulset_keeps} keeps {h.ip} for its pod {h.pod} (the next pod "
            "of that name gets it again); --force releases it, and that pod gets a new address"
        )
    return ""
