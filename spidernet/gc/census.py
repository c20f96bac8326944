"""What one GC pass read, arranged for judging: holders, cooling records, problems. No I/O.

From the LISTs (pools, endpoints, pods, nodes, StatefulSets) this builds:
- per pool: its records, whether they could be read at all (a malformed
  ``status.allocatedIPs`` makes the pool unreadable: nothing in it is judged) and
  whether the Store can write it (a pool whose spec is broken is read and reported,
  never written: ``Pool.parse`` gives such a pool no records, so a compare-and-swap on
  it would decide on nothing);
- *holders*: one per (pod ``ns/name``, pod UID) that a record or an endpoint names,
  with its records in every pool and its endpoint when one of that name carries
  that UID; and ``facts`` turns one into ``rules.Holder`` with the pod, node and
  StatefulSet read;
- ``named``: every (pool, address) an endpoint names, by the holder naming it, so no
  record is released while another holder's endpoint names it (I1);
- problems (reported as errors: a record without ``podUid``, an unreadable pool) and
  inconsistencies (reported, never fixed: an address held in two pools, an endpoint
  naming an address its pool does not record for its UID, two endpoints naming one);
- the SpiderReservedIPs, so that a pool with no free address left (``full``: cooling
  records count as taken) is known for what it is.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spidernet.alloc import choosing
from spidernet.alloc.failures import BadInput
from spidernet.alloc.pools import Pool, Record, parse_records, reserved_ranges
from spidernet.gc import rules
from spidernet.ipam import endpoints, pods
from spidernet.ipmath.ranges import RangeSet

HolderId = tuple[str, str]  # (pod "ns/name", pod UID)


@dataclass(frozen=True)
class Entry:
    """One record of one pool."""

    pool: str
    ip: str  # the key in status.allocatedIPs, as written
    record: Record


@dataclass
class PoolState:
    name: str
    obj: dict[str, Any]
    pool: Pool
    records: dict[str, Record]  # empty when unreadable
    readable: bool = True
    writable: bool = True
    by_address: dict[str, Record] = field(default_factory=dict)  # canonical ip -> record

    def __post_init__(self) -> None:
        self.by_address = {canonical(ip): r for ip, r in self.records.items()}


@dataclass
class HolderRecords:
    key: str
    uid: str
    entries: list[Entry] = field(default_factory=list)
    endpoint: dict[str, Any] | None = None


@dataclass(frozen=True)
class Problem:
    object: str  # "SpiderIPPool/<name>", "SpiderEndpoint/<ns>/<name>", ...
    message: str
    ip: str = ""


@dataclass
class Census:
    pools: dict[str, PoolState] = field(default_factory=dict)
    holders: dict[HolderId, HolderRecords] = field(default_factory=dict)
    cooling: list[Entry] = field(default_factory=list)
    named: dict[tuple[str, str], set[HolderId]] = field(
        default_factory=dict
    )  # (pool, canonical ip) -> namers
    problems: list[Problem] = field(default_factory=list)
    inconsistencies: list[dict[str, Any]] = field(default_factory=list)
    records: int = 0
    endpoints: int = 0
    reserved: dict[int, RangeSet] | None = None  # None: not readable

    def holder(self, key: str, uid: str) -> HolderRecords:
        return self.holders.setdefault((key, uid), HolderRecords(key, uid))

    def full(self, pool: str, now: float) -> bool:
        """No address of the pool is free for an ADD now (False when that cannot be told)."""
        state = self.pools.get(pool)
        if state is None or not state.writable or self.reserved is None:
            return False
        p = state.pool
        return choosing.free_count(p, self.reserved[p.family], now) == 0


def canonical(ip: str) -> str:
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return ip


def take(
    pool_objs: list[dict[str, Any]],
    endpoint_objs: list[dict[str, Any]],
    reserved_objs: list[dict[str, Any]] | None = None,
) -> Census:
    c = Census()
    if reserved_objs is not None:
        try:
            c.reserved = reserved_ranges(reserved_objs)
        except BadInput as e:
            why = f"invalid config: {e}: no pool judged full"
            c.problems.append(Problem("SpiderReservedIPs", why))
    for obj in pool_objs:
        _add_pool(c, obj)
    for ep in endpoint_objs:
        _add_endpoint(c, ep)
    _check_two_pools(c)
    return c


def _add_pool(c: Census, obj: dict[str, Any]) -> None:
    pool = Pool.parse(obj)
    where = f"SpiderIPPool/{pool.name}"
    try:
        records = parse_records((obj.get("status") or {}).get("allocatedIPs"))
    except ValueError as e:
        c.problems.append(
            Problem(where, f"status.allocatedIPs unreadable ({e}): nothing in this pool was judged")
        )
        c.pools[pool.name] = PoolState(pool.name, obj, pool, {}, readable=False, writable=False)
        return
    state = c.pools[pool.name] = PoolState(pool.name, obj, pool, records, writable=not pool.broken)
    if pool.broken:
        c.problems.append(
            Problem(
                where, f"broken ({pool.broken}): its records are judged and reported, never written"
            )
        )
    for ip, record in records.items():
        _add_record(c, state, ip, record)


def _add_record(c: Census, state: PoolState, ip: str, record: Record) -> None:
    c.records += 1
    entry = Entry(state.name, ip, record)
    if record.cooling:
        c.cooling.append(entry)  # holds the address for nobody (I5): judged by its time alone
        return
    ns, _, name = record.pod.partition("/")
    if not record.pod_uid or not ns or not name:
        what = (
            "no podUid" if not record.pod_uid else f"pod {record.pod!r} is not <namespace>/<name>"
        )
        c.problems.append(
            Problem(f"SpiderIPPool/{state.name}", f"record of {ip} has {what}: not judged", ip)
        )
        return
    c.holder(record.pod, record.pod_uid).entries.append(entry)


def _add_endpoint(c: Census, ep: dict[str, Any]) -> None:
    c.endpoints += 1
    meta = ep.get("metadata") or {}
    key = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    uid = endpoints.uid(ep)
    if not uid:
        c.problems.append(
            Problem(f"SpiderEndpoint/{key}", "status.current.uid is empty: not judged")
        )
        return
    c.holder(key, uid).endpoint = ep
    for d in endpoints.details(ep):
        for pool, ip in endpoints.addresses(d):
            c.named.setdefault((pool, canonical(ip)), set()).add((key, uid))
            _check_recorded(c, key, uid, pool, ip, endpoints.inherited_from(d))


def _check_recorded(c: Census, key: str, uid: str, pool: str, ip: str, inherited: str) -> None:
    """I1 read back: the address an endpoint names is recorded in its pool for its UID (or, for
    a detail a StatefulSet successor took over and has not claimed, for the UID it names)."""
    state = c.pools.get(pool)
    if state is not None and not state.readable:
        return  # already reported as unreadable
    record = None if state is None else state.by_address.get(canonical(ip))
    if record is not None and record.holds_for(uid):
        return
    if record is not None and inherited and record.holds_for(inherited):
        return  # taken over: the record moves to the endpoint's UID at its NIC's ADD
    if state is None:
        why = f"its pool {pool} does not exist"
    elif record is None:
        why = f"pool {pool} has no record of it"
    elif record.cooling:
        why = f"pool {pool} has it cooling down until {record.cooldown_until}"
    else:
        why = f"pool {pool} records it for {record.pod} (UID {record.pod_uid})"
    c.inconsistencies.append(
        {
            "kind": "endpoint-not-recorded",
            "ip": ip,
            "pool": pool,
            "endpoint": key,
            "uid": uid,
            "detail": f"endpoint {key} (UID {uid}) names {ip}, but {why}",
        }
    )


def _check_two_pools(c: Census) -> None:
    held: dict[str, list[str]] = defaultdict(list)
    for state in c.pools.values():
        for ip, r in state.records.items():
            if not r.cooling:
                held[canonical(ip)].append(state.name)
    for ip, where in sorted(held.items()):
        if len(where) > 1:
            c.inconsistencies.append(
                {
                    "kind": "ip-in-two-pools",
                    "ip": ip,
                    "pools": sorted(where),
                    "detail": f"{ip} is held in {len(where)} pools: {', '.join(sorted(where))}",
                }
            )
    by_ip: dict[str, set[HolderId]] = defaultdict(set)
    for (_, ip), namers in c.named.items():
        by_ip[ip] |= namers
    for ip, namers in sorted(by_ip.items()):
        if len({uid for _, uid in namers}) > 1:
            names = sorted(f"{k} ({u})" for k, u in namers)
            c.inconsistencies.append(
                {
                    "kind": "ip-named-by-two-endpoints",
                    "ip": ip,
                    "endpoints": names,
                    "detail": f"{ip} is named by {len(names)} endpoints: {', '.join(names)}",
                }
            )


# ------------------------------------------------------------------ facts for the rules


@dataclass(frozen=True)
class World:
    """The pods, nodes and StatefulSets read after the pools and endpoints (None: not readable)."""

    pods: Mapping[str, dict[str, Any]]  # "ns/name" -> pod
    nodes: Mapping[str, dict[str, Any]] | None  # name -> node
    statefulsets: Mapping[str, dict[str, Any]] | None  # "ns/name" -> StatefulSet

    @classmethod
    def of(
        cls,
        pod_objs: list[dict[str, Any]],
        node_objs: list[dict[str, Any]] | None,
        sts_objs: list[dict[str, Any]] | None,
    ) -> World:
        return cls(
            {_key(p): p for p in pod_objs},
            None if node_objs is None else {n["metadata"]["name"]: n for n in node_objs},
            None if sts_objs is None else {_key(s): s for s in sts_objs},
        )


def _key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def node_state(world: World, name: str) -> rules.NodeState:
    if not name:
        return rules.NodeState.READY  # never scheduled: no node to fail
    if world.nodes is None:
        return rules.NodeState.UNKNOWN
    node = world.nodes.get(name)
    if node is None:
        return rules.NodeState.GONE
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return rules.NodeState.READY if ready else rules.NodeState.NOT_READY


def pod_facts(world: World, obj: Mapping[str, Any]) -> rules.Pod:
    meta = obj.get("metadata") or {}
    node = str((obj.get("spec") or {}).get("nodeName") or "")
    deleting = meta.get("deletionTimestamp")
    return rules.Pod(
        uid=str(meta.get("uid", "")),
        phase=str((obj.get("status") or {}).get("phase") or ""),
        deleting_at=choosing.parse_time(str(deleting)) if deleting else None,
        grace=float(meta.get("deletionGracePeriodSeconds") or 0),
        node=node,
        node_state=node_state(world, node),
    )


def statefulset_of(pod: Mapping[str, Any] | None, endpoint: Mapping[str, Any] | None) -> str:
    """The StatefulSet a holder belongs to: its pod's controller, else what its endpoint says."""
    for ref in ((pod or {}).get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == pods.STATEFULSET:
            return str(ref.get("name", ""))
    status = (endpoint or {}).get("status") or {}
    if status.get("ownerControllerType") == pods.STATEFULSET:
        return str(status.get("ownerControllerName", ""))
    return ""


def facts(world: World, h: HolderRecords) -> rules.Holder:
    pod_obj = world.pods.get(h.key)
    sts = statefulset_of(pod_obj, h.endpoint)
    state: rules.StsState = "in-range"
    detail = ""
    if sts:
        ns, _, name = h.key.partition("/")
        if world.statefulsets is None:
            state = "unknown"
        elif f"{ns}/{sts}" not in world.statefulsets:
            state, detail = "gone", f"StatefulSet {ns}/{sts} is gone"
        else:
            detail = pods.stateful_place(
                name, world.statefulsets[f"{ns}/{sts}"]
            )  # the IPAM's own rule
            state = "out-of-range" if detail else "in-range"
    return rules.Holder(
        key=h.key,
        uid=h.uid,
        pod=pod_facts(world, pod_obj) if pod_obj is not None else None,
        has_endpoint=h.endpoint is not None,
        statefulset=sts,
        sts_state=state,
        sts_detail=detail,
        dead_since=dead_since(pod_obj, h.uid),
    )


def dead_since(pod_obj: Mapping[str, Any] | None, uid: str) -> float | None:
    """By when the API says the pod of ``uid`` was no longer alive, so that no ADD for it
    could start after: a pod of its name with another UID was created after it was gone; a
    terminating one was asked to go at ``deletionTimestamp - deletionGracePeriodSeconds``.
    None when the objects do not tell (gone without a successor, finished)."""
    meta = (pod_obj or {}).get("metadata") or {}
    if not meta:
        return None
    if meta.get("uid") != uid:
        return timestamp(meta.get("creationTimestamp"))
    deleting = timestamp(meta.get("deletionTimestamp"))
    if deleting is None:
        return None
    return deleting - float(meta.get("deletionGracePeriodSeconds") or 0)


def timestamp(text: object) -> float | None:
    """An API server's RFC 3339 time, None when absent or unreadable (never taken as old)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
