"""ADD: give a pod's interface its addresses (SPEC §2 "Allocation"). Does I/O via Store.

Flow:
1. The pod must exist, be alive, and (if the runtime sent one) have the UID in K8S_POD_UID.
2. Its SpiderEndpoint already holds this interface (same pod UID): answer from it, only
   recording the new containerID. A same-name endpoint of another UID is stale
   (the pod was re-created): release its addresses and drop it.
3. Candidate pools by the selection rules; per family, pools filtered with reasons and
   ordered; the first pool with a free address wins (store.update_pool, CAS).
4. All-or-nothing: if a family fails, what was allocated for the other is released.
5. The endpoint is written; the result is derived from it.
A crash between 3 and 5 leaves a pool record with the pod UID: the retried ADD reuses
it (choosing rule one), and DEL/GC release it by UID.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

from spidernet.alloc import choosing, selection
from spidernet.alloc.pools import Pool, Record
from spidernet.ipam import endpoints, pods
from spidernet.ipam.config import IpamConf
from spidernet.ipam.store import Store, release_endpoint, release_uid, reserved_ranges
from spidernet.ipmath.ranges import RangeSet
from spidernet.k8s import errors as kerr
from spidernet.protocol import errors, logs
from spidernet.protocol.env import CmdArgs
from spidernet.types.results import Result

log = logs.LOG

POOL_EXHAUSTED = 100  # every usable candidate pool is full
NO_MATCHING_POOL = 101  # no candidate pool may serve this pod (each refused with a reason)


@dataclass(frozen=True)
class Allocation:
    family: int
    pool: Pool
    ip: str
    reused: bool


@dataclass
class Context:
    """One ADD: the request, the pod, and what has been read so far."""

    cmd: CmdArgs
    conf: IpamConf
    store: Store
    pod: pods.PodInfo
    node: str
    claimed: set[str] = field(default_factory=set)
    _pool_list: list[dict[str, Any]] | None = None

    def pool_list(self) -> list[dict[str, Any]]:
        if self._pool_list is None:
            self._pool_list = self.store.pools()
        return self._pool_list


# ------------------------------------------------------------------ entry


def require_pod(cmd: CmdArgs, store: Store) -> pods.PodInfo:
    ns, name = cmd.args.get("K8S_POD_NAMESPACE", ""), cmd.args.get("K8S_POD_NAME", "")
    if not ns or not name:
        raise errors.InvalidEnv("CNI_ARGS must carry K8S_POD_NAMESPACE and K8S_POD_NAME")
    obj = store.pod(ns, name)
    if obj is None:
        raise errors.UnknownContainer(f"pod {ns}/{name} not found")
    pod = pods.info(obj)
    want_uid = cmd.args.get("K8S_POD_UID", "")
    if want_uid and want_uid != pod.uid:
        raise errors.UnknownContainer(f"pod {ns}/{name} has UID {pod.uid}, the sandbox is for {want_uid}")
    if not pod.alive:
        raise errors.UnknownContainer(f"pod {ns}/{name} is terminating or finished: no address for it")
    return pod


def add(cmd: CmdArgs, conf: IpamConf, store: Store) -> Result:
    pod = require_pod(cmd, store)
    node = pod.node or pods.local_node_name(conf.kubeconfig)
    existing = store.endpoint(pod.namespace, pod.name)
    if existing is not None and endpoints.uid(existing) != pod.uid:
        log.info("releasing stale endpoint of %s (uid %s)", pod.key, endpoints.uid(existing))
        release_endpoint(store, existing)
        existing = None
    detail = endpoints.detail_for(existing, cmd.ifname)
    if detail is not None:
        if endpoints.container_id(existing) != cmd.container_id:
            _write_endpoint(store, pod, node, cmd.container_id, detail, existing)
        return endpoints.result(detail)
    ctx = Context(cmd, conf, store, pod, node, claimed=endpoints.claimed_elsewhere(existing, cmd.ifname))
    allocations, clean_gateway = allocate_all(ctx)
    try:
        detail = _detail(ctx, allocations, clean_gateway)
        _write_endpoint(store, pod, node, cmd.container_id, detail, existing)
    except Exception:
        _rollback(store, pod.uid, allocations)
        raise
    log.info("allocated %s to %s/%s", [a.ip for a in allocations], pod.key, cmd.ifname)
    return endpoints.result(detail)


# ------------------------------------------------------------------ choosing pools


def _candidates(ctx: Context) -> selection.Candidates:
    ann, ifname = ctx.pod.annotations, ctx.cmd.ifname
    # Rules 1-2 (pod annotations) alone first: the namespace is read only when they yield nothing.
    found = selection.candidates(ifname=ifname, pod_annotations=ann, ns_annotations=None, conf_v4=(), conf_v6=())
    if found is None:
        ns_obj = ctx.store.namespace(ctx.pod.namespace) or {}
        found = selection.candidates(
            ifname=ifname, pod_annotations={}, ns_annotations=ns_obj.get("metadata", {}).get("annotations") or {},
            conf_v4=ctx.conf.default_v4, conf_v6=ctx.conf.default_v6,
        )  # fmt: skip
    if found is not None:
        return found
    defaults = [Pool.parse(p) for p in ctx.pool_list()]
    v4 = tuple(p.name for p in defaults if p.default and p.family == 4)
    v6 = tuple(p.name for p in defaults if p.default and p.family == 6)
    if not (v4 or v6):
        raise errors.PluginError(
            NO_MATCHING_POOL,
            "no pool for this pod: no ippool annotation, no namespace or CNI default pools, and no pool has spec.default",
        )
    return selection.Candidates("pools with spec.default", v4, v6)


def _load(ctx: Context, names: tuple[str, ...]) -> tuple[list[tuple[Pool, dict[str, Any]]], dict[str, str]]:
    """Fetch the named pools (globs expanded); returns (pools, reasons for missing names)."""
    if any(selection.is_glob(n) for n in names):
        by_name = {p["metadata"]["name"]: p for p in ctx.pool_list()}
        names = selection.expand(names, sorted(by_name))
        objs = {n: by_name.get(n) for n in names}
    else:
        objs = {n: ctx.store.pool(n) for n in names}
    found = [(Pool.parse(o), o) for o in objs.values() if o is not None]
    return found, {n: "not found" for n, o in objs.items() if o is None}


def _pod_view(ctx: Context, pools: list[Pool]) -> selection.PodView:
    need_node = any(not p.node_name and p.node_affinity is not None for p in pools)
    need_ns = any(not p.namespace_name and p.namespace_affinity is not None for p in pools)
    node_obj = ctx.store.node(ctx.node) if need_node else None
    ns_obj = ctx.store.namespace(ctx.pod.namespace) if need_ns else None
    return selection.PodView(
        namespace=ctx.pod.namespace,
        labels=ctx.pod.labels,
        node=ctx.node,
        node_labels=(node_obj or {}).get("metadata", {}).get("labels") or {},
        ns_labels=(ns_obj or {}).get("metadata", {}).get("labels") or {},
        network=selection.network_of(ctx.cmd.ifname, ctx.pod.annotations, ctx.pod.namespace, ctx.conf.network),
    )


# ------------------------------------------------------------------ allocating


def allocate_all(ctx: Context) -> tuple[list[Allocation], bool]:
    cands = _candidates(ctx)
    reserved = reserved_ranges(ctx.store)
    done: list[Allocation] = []
    try:
        for family in (4, 6):
            if cands.names(family):
                done.append(_allocate_family(ctx, family, cands.names(family), reserved[family]))
    except BaseException:
        _rollback(ctx.store, ctx.pod.uid, done)
        raise
    clean = cands.clean_gateway if cands.clean_gateway is not None else ctx.conf.clean_gateway
    return done, clean


def _allocate_family(ctx: Context, family: int, names: tuple[str, ...], reserved: RangeSet) -> Allocation:
    loaded, reasons = _load(ctx, names)
    view = _pod_view(ctx, [p for p, _ in loaded])
    usable = []
    for pool, obj in loaded:
        reason = selection.refusal(pool, family, view)
        if reason:
            reasons[pool.name] = reason
        else:
            usable.append((pool, obj))
    for pool, obj in sorted(usable, key=lambda po: selection.priority(po[0]), reverse=True):
        got = _try_pool(ctx, pool.name, obj, family, view, reserved)
        if isinstance(got, Allocation):
            return got
        reasons[pool.name] = got
    code = POOL_EXHAUSTED if any(r.startswith("exhausted") for r in reasons.values()) else NO_MATCHING_POOL
    detail = "; ".join(f"{n}: {r}" for n, r in reasons.items())
    what = "all candidate pools are exhausted" if code == POOL_EXHAUSTED else "no candidate pool can serve it"
    raise errors.PluginError(code, f"no IPv{family} address for {ctx.pod.key} {ctx.cmd.ifname}: {what} ({detail})")


def _try_pool(ctx: Context, name: str, snapshot: dict[str, Any], family: int, view: selection.PodView,
              reserved: RangeSet) -> Allocation | str:  # fmt: skip
    """Allocate from one pool under CAS; returns the Allocation or the reason it failed."""
    record = Record(ctx.pod.key, ctx.pod.uid)

    def decide(pool: Pool) -> tuple[dict[str, Record] | None, Allocation | str]:
        reason = selection.refusal(pool, family, view)  # re-checked on the fresh copy
        if reason:
            return None, reason
        choice = choosing.choose(pool, pod_uid=ctx.pod.uid, reserved=reserved, claimed=ctx.claimed)
        if choice is None:
            return None, f"exhausted ({pool.usable.count()} usable, {len(pool.records)} allocated)"
        alloc = Allocation(family, pool, choice.ip, choice.reused)
        return (None if choice.reused else choosing.with_record(pool.records, choice.ip, record)), alloc

    try:
        return ctx.store.update_pool(name, decide, snapshot=snapshot)
    except kerr.NotFound:
        return "not found"


def _rollback(store: Store, pod_uid: str, done: list[Allocation]) -> None:
    for a in done:
        try:
            release_uid(store, a.pool.name, pod_uid, {a.ip})
        except Exception:  # the pod UID is on the record: DEL or GC will release it
            log.exception("rollback of %s in %s failed", a.ip, a.pool.name)


# ------------------------------------------------------------------ endpoint


def _annotation_routes(ctx: Context) -> list[dict[str, str]]:
    raw = ctx.pod.annotations.get(selection.ANNO_ROUTES)
    if not raw:
        return []
    where = f"pod annotation {selection.ANNO_ROUTES}"
    try:
        routes = json.loads(raw)
        parsed = [(ipaddress.ip_network(r["dst"], strict=False), ipaddress.ip_address(r["gw"])) for r in routes]
    except (ValueError, KeyError, TypeError) as e:
        raise errors.InvalidConfig(where, f'want [{{"dst": CIDR, "gw": IP}}]: {e}') from None
    return [{"dst": str(dst), "gw": str(gw)} for dst, gw in parsed]


def _detail(ctx: Context, allocations: list[Allocation], clean_gateway: bool) -> endpoints.Detail:
    detail: endpoints.Detail = {"interface": ctx.cmd.ifname, "network": ctx.conf.network, "vlan": 0,
                                "cleanGateway": clean_gateway, "routes": []}  # fmt: skip
    subnets = []
    for a in allocations:
        fam = f"ipv{a.family}"
        detail[fam] = f"{a.ip}/{a.pool.prefix_len}"
        detail[f"{fam}Pool"] = a.pool.name
        if a.pool.gateway:
            detail[f"{fam}Gateway"] = a.pool.gateway
        detail["routes"] += [{"dst": r.dst, "gw": r.gw} for r in a.pool.routes]
        if a.pool.subnet is not None:
            subnets.append(a.pool.subnet)
    for route in _annotation_routes(ctx):
        if any(ipaddress.ip_address(route["gw"]) in s for s in subnets):
            detail["routes"].append(route)
        else:
            log.warning("route %s: gateway outside this interface's subnets, dropped", route)
    return detail


def _write_endpoint(store: Store, pod: pods.PodInfo, node: str, cid: str, detail: endpoints.Detail,
                    existing: dict[str, Any] | None) -> None:  # fmt: skip
    for _ in range(5):
        obj = endpoints.build(pod, node, cid, detail, existing)
        try:
            if existing is None:
                store.create_endpoint(obj)
            else:
                store.replace_endpoint(obj)
            return
        except (kerr.Conflict, kerr.AlreadyExists):
            existing = store.endpoint(pod.namespace, pod.name)
            if existing is not None and endpoints.uid(existing) != pod.uid:
                raise errors.TryAgainLater(f"endpoint {pod.key} belongs to another pod UID") from None
    raise errors.TryAgainLater(f"endpoint {pod.key}: kept conflicting")
