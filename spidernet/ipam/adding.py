"""ADD: give a pod's interface its addresses (docs/ipam.md). Does I/O via Store.

Under the pod's node lock (locking: no DEL or ADD of the same pod interleaves):
1. The pod must exist, be alive, have the UID in K8S_POD_UID, and, when the runtime
   sent no UID, be bound to this node (I4: a late ADD on an old node is refused).
2. A same-name endpoint of another UID is a predecessor's only if the API's live pod,
   read after it, is still this ADD's; then it goes first, then its records (the
   order every release keeps, I1), or a StatefulSet pod takes it over; otherwise the
   ADD is late and refused (succession).
3. The endpoint already holds this interface: its addresses are confirmed in their
   pools under the pool lock (re-recorded if a record went missing and the address is
   free; moved from the predecessor a take-over named, once this NIC's own config
   still allows them) before the ADD answers from it (I1); an address someone else
   holds by now is dropped and a new one allocated.
4. Otherwise: candidate pools by the selection rules, filtered with reasons and
   ordered; the node's note on the attachment (attachments) names them *before* the
   first pool write; per family the first pool with a free address wins (one CAS).
   All-or-nothing: if a family fails, the records already written are released.
5. The endpoint is written; the note says "attached"; the result is derived from the
   endpoint's detail, so a repeated ADD answers exactly what this one did.
Pool records are always written before an endpoint names them, and an endpoint stops
naming them before they go: so at every moment an address an endpoint names is
recorded for its pod (I1). A crash after a pool write leaves a record the note names:
the retried ADD reuses it (choosing rule one), the runtime's DEL releases it.
"""

from __future__ import annotations

import ipaddress
import time

from spidernet.alloc import choosing, combined, selection
from spidernet.alloc.ceiling import PoolTooLarge
from spidernet.alloc.failures import (
    BadArgs,
    BadInput,
    Contended,
    Exhausted,
    IpamFailure,
    NotFound,
    PodUnknown,
    Refused,
)
from spidernet.alloc.pools import Pool, Record
from spidernet.ipam import endpoints, planning, pods, succession, waiting
from spidernet.ipam.attachments import Attachment, Notes
from spidernet.ipam.config import IpamConf
from spidernet.ipam.failpoints import failpoint
from spidernet.ipam.recording import release_uid, reserved_ranges
from spidernet.ipam.store import Store
from spidernet.ipmath import addresses
from spidernet.ipmath.ranges import RangeSet, parse_ip
from spidernet.k8s import errors as kerr
from spidernet.k8s.backoff import Backoff
from spidernet.protocol import logs
from spidernet.protocol.env import CmdArgs
from spidernet.types import bounds
from spidernet.types.record import record, replace
from spidernet.types.results import Result

TYPE_CHECKING = False  # the typed shapes are for the type checker: not imported on an exec
if TYPE_CHECKING:
    from spidernet.ipam.attachments import State
    from spidernet.ipam.objects import EndpointObject, PoolObject

log = logs.LOG


@record
class Allocation:
    family: int
    pool: Pool
    ip: str
    reused: bool


# ------------------------------------------------------------------ entry


def add(cmd: CmdArgs, conf: IpamConf, store: Store) -> Result:
    who = pods.identity(cmd.args)
    if who is None:
        raise BadArgs("CNI_ARGS must carry K8S_POD_NAMESPACE and K8S_POD_NAME")
    with store.pod_lock(who.namespace, who.name):
        try:
            result = _add(cmd, conf, store, who)
        except (IpamFailure, kerr.ApiError):
            # The runtime tears this sandbox down now, every NIC: mark it, so that the DELs
            # of its NICs that did succeed release them too (attachments; all-or-nothing),
            # at once: a failure here implicates none of their addresses.
            Notes(conf.state_dir).mark_failed(cmd.container_id, "ipam")
            raise
        Notes(conf.state_dir).succeeded(cmd.container_id)
        return result


def _add(cmd: CmdArgs, conf: IpamConf, store: Store, who: pods.Identity) -> Result:
    """decide -> write pool -> write endpoint -> answer (the module docstring's steps)."""
    pod, node = require_pod(who, store, conf)
    failpoint("after-pod-read")
    ctx = planning.Context(cmd, conf, store, pod, node, Notes(conf.state_dir))
    existing = succession.current_endpoint(ctx)
    held = endpoints.detail_for(existing, cmd.ifname)
    if held is not None and endpoints.inherited_from(held):
        existing, held = succession.revalidate(ctx, existing, held)
    ctx.claimed = endpoints.claimed_elsewhere(existing, cmd.ifname)
    if held is not None and _still_recorded(ctx, held):
        return _answer_again(ctx, held, existing)
    allocations, clean_gateway = allocate_all(ctx)
    detail = _detail(ctx, allocations, clean_gateway)
    _write_endpoint(
        ctx, detail, existing
    )  # on failure the records stay: the note names them for DEL
    failpoint("after-endpoint-write")
    _note(ctx, "attached", detail)
    log.info("allocated %s to %s/%s", [a.ip for a in allocations], pod.key, cmd.ifname)
    return endpoints.result(detail)


def require_pod(who: pods.Identity, store: Store, conf: IpamConf) -> tuple[pods.PodInfo, str]:
    """The live pod this ADD is for, and the node it runs on."""
    obj = store.pod(who.namespace, who.name)
    if obj is None:
        raise PodUnknown(f"pod {who.key} not found")
    pod = pods.info(obj)
    if who.uid and who.uid != pod.uid:
        raise PodUnknown(f"pod {who.key} has UID {pod.uid}, the sandbox is for {who.uid}")
    if not pod.alive:
        raise PodUnknown(f"pod {who.key} is terminating or finished: no address for it")
    here = pods.local_node_name(conf.kubeconfig)
    if not who.uid and pod.node and pod.node != here:
        # I4: without a UID we cannot tell this pod from a same-name successor bound elsewhere.
        raise PodUnknown(
            f"pod {who.key} is bound to node {pod.node!r}, not to this node {here!r}, and "
            "CNI_ARGS carry no "
            "K8S_POD_UID: refused, it may be a re-created pod of the same name"
        )
    return pod, pod.node or here


# ------------------------------------------------------------------ answering again


def _still_recorded(ctx: planning.Context, detail: endpoints.Detail) -> bool:
    """I1 before answering from the endpoint: every address it names is recorded for this pod
    (an inherited detail's records move from the predecessor it names)."""
    predecessor = endpoints.inherited_from(detail)
    for pool_name, ip in endpoints.addresses(detail):
        if not _confirm(ctx, pool_name, ip, predecessor):
            log.error(
                "%s of %s %s: its pool %s no longer records it for this pod; allocating anew",
                ip,
                ctx.pod.key,
                ctx.cmd.ifname,
                pool_name,
            )
            return False
    return True


def _confirm(ctx: planning.Context, pool_name: str, ip: str, predecessor: str) -> bool:
    """The record of ``ip`` holds it for the pod: moved from ``predecessor`` (a StatefulSet
    take-over), or re-written if it went missing while still free."""
    now = time.time()
    reserved = _reserved(ctx)

    def decide(pool: Pool) -> tuple[dict[str, Record] | None, bool]:
        record = pool.records.get(ip)
        if record is not None and record.holds_for(ctx.pod.uid):
            return None, True
        if predecessor and record is not None and record.holds_for(predecessor):
            # Exactly the UID the take-over named, never "any other UID of this name": a
            # record of a successor's is not this pod's to take (succession).
            log.info(
                "%s in %s moves from uid %s to %s (StatefulSet)",
                ip,
                pool_name,
                record.pod_uid,
                ctx.pod.uid,
            )
            return choosing.with_record(
                pool.records, ip, Record(ctx.pod.key, ctx.pod.uid, strikes=record.strikes)
            ), True
        value = parse_ip(ip)[1]
        free = (record is None or choosing.expired(record, now)) and value in pool.usable
        if not free or value in reserved[pool.family] or pool.broken or pool.terminating:
            return None, False
        log.warning("re-recording %s in %s for %s: the record had gone", ip, pool_name, ctx.pod.key)
        return choosing.with_record(pool.records, ip, Record(ctx.pod.key, ctx.pod.uid)), True

    try:
        return ctx.store.update_pool(pool_name, decide)
    except NotFound:
        return False


def _answer_again(
    ctx: planning.Context, detail: endpoints.Detail, existing: EndpointObject | None
) -> Result:
    if endpoints.container_of(detail) != ctx.cmd.container_id or endpoints.inherited_from(detail):
        detail = endpoints.claimed(detail, ctx.cmd.container_id)  # this sandbox holds it now
        _write_endpoint(ctx, detail, existing)
    _note(ctx, "attached", detail)
    return endpoints.result(detail)


# ------------------------------------------------------------------ allocating


def allocate_all(ctx: planning.Context) -> tuple[list[Allocation], bool]:
    cands = planning.candidates(ctx, ctx.cmd.ifname)
    plans = [planning.plan(ctx, fam, cands.names(fam)) for fam in (4, 6) if cands.names(fam)]
    note = _note(ctx, "adding", pools=tuple(p.name for plan in plans for p, _ in plan.pools))
    done: list[Allocation] = []
    try:
        for plan in plans:
            done.append(_allocate_family(ctx, plan))
            note = replace(note, ips={**note.ips, done[-1].pool.name: done[-1].ip})
            ctx.notes.write(note)
    except BaseException as e:
        # A refusal or a conflict wrote nothing; any other failure (an API error, a lost
        # answer) may have cut a pool write that did apply: then the note keeps naming
        # its pool, for the runtime's DEL, or this pod's retry, which reuses the record.
        # A request that gave up waiting for the node's lock holder is in doubt too.
        _rollback(ctx, done, forget_note=isinstance(e, IpamFailure) and e.wrote_nothing)
        raise
    clean = cands.clean_gateway if cands.clean_gateway is not None else ctx.conf.clean_gateway
    return done, clean


def _allocate_family(ctx: planning.Context, plan: planning.Plan) -> Allocation:
    """The first of the plan's pools with an address; while the exhausted ones have
    releases due, again after a wait (waiting: "A full pool" in docs/ipam.md)."""
    wait = waiting.FullPool(ctx.store, ctx.pod.uid)
    while True:
        reasons = dict(plan.reasons)
        for pool, obj in plan.pools:
            fresh = obj if not wait.rounds else None  # the plan's copy serves the first try
            got = _try_pool(ctx, pool, fresh, plan.family, plan.view)
            if isinstance(got, Allocation):
                if wait.rounds:
                    log.info(
                        "%s: an address after %.1fs waiting for releases",
                        ctx.pod.key,
                        wait.waited(),
                    )
                return got
            reasons[pool.name] = got
        full = [n for n, r in reasons.items() if r.startswith("exhausted") and n in plan.names()]
        why = wait.worth_waiting(full) if full else ""
        if not why:
            break
        log.info("%s: pools full, waiting for a release (%s)", ctx.pod.key, why)
    exhausted = any(r.startswith("exhausted") for r in reasons.values())
    detail = "; ".join(f"{n}: {r}" for n, r in reasons.items())
    if wait.rounds:
        detail += f"; waited {wait.waited():.1f}s for releases"
    what = "all candidate pools are exhausted" if exhausted else "no candidate pool can serve it"
    failure = Exhausted if exhausted else Refused
    raise failure(
        f"no IPv{plan.family} address for {ctx.pod.key} {ctx.cmd.ifname}: {what} ({detail})",
        reasons,
    )


def _try_pool(
    ctx: planning.Context,
    parsed: Pool,
    snapshot: PoolObject | None,
    family: int,
    view: selection.PodView,
) -> Allocation | str:
    """Allocate from one pool under CAS (maybe written with others of the node's requests:
    docs/ipam.md, "Combining"); returns the Allocation or the reason it failed."""
    request = combined.Take(
        ctx.pod.key, ctx.pod.uid, family, view, _reserved(ctx)[family], frozenset(ctx.claimed)
    )
    try:
        got = ctx.store.combine(
            parsed.name, request, snapshot=snapshot, parsed=parsed if snapshot else None
        )
    except NotFound:
        return "not found"
    except PoolTooLarge as e:  # full for practical purposes: the next candidate may serve
        return e.reason
    if isinstance(got, choosing.Choice):
        return Allocation(family, parsed, got.ip, got.reused)
    return str(got)


def _reserved(ctx: planning.Context) -> dict[int, RangeSet]:
    if ctx.reserved is None:
        ctx.reserved = reserved_ranges(ctx.store)
    return ctx.reserved


def _rollback(ctx: planning.Context, done: list[Allocation], *, forget_note: bool) -> None:
    """Nothing names these records yet (the endpoint is written last): release them, and
    forget the note when no pool write is in doubt."""
    try:
        for a in done:
            release_uid(ctx.store, a.pool.name, ctx.pod.uid, {a.ip})
        if forget_note:
            ctx.notes.remove(ctx.cmd.container_id, ctx.cmd.ifname)
    except Exception:  # the note keeps naming them: the runtime's DEL releases them
        log.exception("rollback of %s failed", [a.ip for a in done])


def _note(
    ctx: planning.Context,
    state: State,
    detail: endpoints.Detail | None = None,
    *,
    pools: tuple[str, ...] = (),
) -> Attachment:
    ips = dict(endpoints.addresses(detail)) if detail else {}
    note = Attachment(
        container_id=ctx.cmd.container_id,
        ifname=ctx.cmd.ifname,
        network=ctx.conf.network,
        pod=ctx.pod.key,
        uid=ctx.pod.uid,
        state=state,
        since=time.time(),
        pools=tuple(ips) or pools,
        ips=ips,
    )
    ctx.notes.write(note)
    return note


# ------------------------------------------------------------------ endpoint


def _annotation_routes(ctx: planning.Context) -> list[dict[str, str]]:
    raw = ctx.pod.annotations.get(selection.ANNO_ROUTES)
    if not raw:
        return []
    where = f"pod annotation {selection.ANNO_ROUTES}"
    try:
        routes = bounds.json_document(raw)
        parsed = [
            (addresses.network(r["dst"], strict=False), addresses.address(r["gw"])) for r in routes
        ]
    except (ValueError, KeyError, TypeError) as e:  # BadJson is a ValueError
        raise BadInput(where, f'want [{{"dst": CIDR, "gw": IP}}]: {e}') from None
    return [{"dst": str(dst), "gw": str(gw)} for dst, gw in parsed]


def _detail(
    ctx: planning.Context, allocations: list[Allocation], clean_gateway: bool
) -> endpoints.Detail:
    detail: endpoints.Detail = {
        "interface": ctx.cmd.ifname,
        "containerID": ctx.cmd.container_id,
        "network": ctx.conf.network,
        "vlan": 0,
        "cleanGateway": clean_gateway,
        "routes": [],
    }
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


def _write_endpoint(
    ctx: planning.Context, detail: endpoints.Detail, existing: EndpointObject | None
) -> None:
    """Create or update (CAS) the pod's endpoint with this interface's detail."""
    pod = ctx.pod
    backoff = Backoff.conflicts(ctx.store.deadline)
    while True:
        obj = endpoints.build(pod, ctx.node, detail, existing)
        try:
            if existing is None:
                ctx.store.create_endpoint(obj)
            else:
                ctx.store.replace_endpoint(obj)
            return
        except (kerr.Conflict, kerr.AlreadyExists, kerr.NotFound):
            existing = ctx.store.endpoint(pod.namespace, pod.name)
            if existing is not None and endpoints.uid(existing) != pod.uid:
                raise Contended(f"endpoint {pod.key} belongs to another pod UID") from None
            if not backoff.again():
                raise Contended(f"endpoint {pod.key}: kept conflicting") from None
