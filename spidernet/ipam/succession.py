"""Whose is a pod name's endpoint: a predecessor's, the pod's own, a successor's. I/O via Store.

A pod deleted and re-created under its name (a plain pod by an operator, a StatefulSet
pod by its controller) has a new UID, and an ADD may run late: queued on a lock or a
stalled API, for a pod deleted while it waited. So an endpoint of another UID than the
ADD's may belong to the pod's predecessor, or to its successor, and "another UID" alone
tells neither: the API's live pod object decides (``require_live``). It is read *after*
the endpoint, so if that endpoint were a successor's, the successor's pod existed when
it was read, and the ADD's own pod, deleted before, cannot be the live one. Only then
does the ADD act on the endpoint, and only by compare-and-swap on what it read:

- a predecessor's endpoint of a plain pod is released (the endpoint first, then the
  records of the UIDs it answers for);
- a StatefulSet predecessor's is taken over (``take_over``): the endpoint passes to the
  pod's UID and node, every detail *inherited* (``endpoints.INHERITED``: no sandbox
  holds it, it names the UID its records are under), except the NICs the pod's Multus
  annotation no longer asks for, whose records are released;
- a successor's is never touched: the ADD is refused (code 3).

An inherited detail is judged by the ADD of *its own* NIC (``revalidate``), with that
NIC's network config and the pod as it is now (its node, labels, namespace): the
candidate pools and every pool filter, as a fresh allocation would be. Refused, it
leaves the endpoint and its records are released, and the NIC gets a new address;
allowed, its records move to the pod's UID (by CAS, from exactly the UID it names) and
the ADD claims it with its sandbox's containerID (``adding``).
"""

from __future__ import annotations

from spidernet.alloc import multus
from spidernet.alloc.failures import Contended, PodUnknown
from spidernet.alloc.pools import parse_records
from spidernet.ipam import endpoints, planning, pods
from spidernet.ipam.recording import release_uid
from spidernet.ipam.store import Store
from spidernet.k8s import errors as kerr
from spidernet.k8s.backoff import Backoff
from spidernet.protocol import logs

TYPE_CHECKING = False  # the typed shapes are for the type checker: not imported on an exec
if TYPE_CHECKING:
    from spidernet.ipam.objects import EndpointObject

log = logs.LOG


def current_endpoint(ctx: planning.Context) -> EndpointObject | None:
    """The pod's endpoint, once one of an older pod of its name is released or taken over."""
    store, pod = ctx.store, ctx.pod
    backoff = Backoff.conflicts(store.deadline)
    while True:
        existing = store.endpoint(pod.namespace, pod.name)
        if existing is None or endpoints.uid(existing) == pod.uid:
            return existing
        require_live(ctx, endpoints.uid(existing))
        try:
            if pod.stateful and endpoints.stateful(existing):
                return take_over(ctx, existing)
            log.info(
                "releasing the endpoint of %s's predecessor (uid %s)",
                pod.key,
                endpoints.uid(existing),
            )
            release_endpoint(store, existing)
        except kerr.Conflict:  # it changed meanwhile (its own pod's DEL elsewhere): look again
            if not backoff.again():
                raise Contended(f"endpoint {pod.key} of an older pod kept changing") from None


def require_live(ctx: planning.Context, other: str) -> None:
    """Code 3 unless the API's pod of this name, read now, is still this ADD's pod, alive."""
    pod = ctx.pod
    obj = ctx.store.pod(pod.namespace, pod.name)
    live = pods.info(obj) if obj is not None else None
    if live is not None and live.uid == pod.uid and live.alive:
        return
    now = (
        "no pod of that name"
        if live is None
        else f"UID {live.uid}"
        if live.uid != pod.uid
        else "terminating or finished"
    )
    raise PodUnknown(
        f"pod {pod.key} (UID {pod.uid}) is no longer the live pod of its name (the API: {now}): "
        f"this ADD came late, and the endpoint of UID {other} is not its to release or take over"
    )


def take_over(ctx: planning.Context, existing: EndpointObject) -> EndpointObject | None:
    """A StatefulSet pod's successor takes its predecessor's endpoint (the module docstring)."""
    old = endpoints.uid(existing)
    gone = [
        d
        for d in endpoints.details(existing)
        if not multus.still_requested(
            ctx.pod.annotations, str(d.get("interface", "")), ctx.pod.namespace, ctx.conf.multus
        )
    ]
    dropped = [str(d.get("interface", "")) for d in gone]
    log.info(
        "StatefulSet pod %s (uid %s) takes over the endpoint of uid %s%s",
        ctx.pod.key,
        ctx.pod.uid,
        old,
        f", without {dropped} (no longer asked for)" if dropped else "",
    )
    new = endpoints.taken_over(existing, ctx.pod, ctx.node, dropped)
    if new is None:
        ctx.store.delete_endpoint(existing)
    else:
        new = ctx.store.replace_endpoint(_pinned(ctx.store, new, old))
    release_details(ctx.store, gone, old)
    return new


def _pinned(store: Store, new: EndpointObject, old: str) -> EndpointObject:
    """``new`` with each detail inherited twice naming the UID that holds its records now.

    A detail ``old`` inherited and never claimed names an earlier predecessor, but its
    records are ``old``'s when ``old``'s ADD moved them and stopped before its claim (the
    state docs/ipam.md describes): the claim moves records from exactly the UID named, so
    it must be that one, or the pod would lose its address and ``old``'s record wait for
    the GC. One pool read per such detail, on this rare path only."""
    for d in endpoints.current(new)["ips"]:
        if endpoints.inherited_from(d) == old:
            continue
        for pool_name, ip in endpoints.addresses(d):
            pool = store.pool(pool_name)
            records = parse_records(((pool or {}).get("status") or {}).get("allocatedIPs"))
            if ip in records and records[ip].holds_for(old):
                d[endpoints.INHERITED] = old
    return new


def revalidate(
    ctx: planning.Context, existing: EndpointObject | None, detail: endpoints.Detail
) -> tuple[EndpointObject | None, endpoints.Detail | None]:
    """An inherited detail judged by this NIC's own config; refused, it leaves (endpoint first)."""
    why = refusal(ctx, detail)
    if not why or existing is None:
        return existing, detail
    log.info(
        "%s %s: the address it inherited is not for it any more (%s): a new one",
        ctx.pod.key,
        ctx.cmd.ifname,
        why,
    )
    rest = endpoints.without_interface(existing, ctx.cmd.ifname)
    try:
        if rest is None:
            ctx.store.delete_endpoint(existing)
        else:
            rest = ctx.store.replace_endpoint(rest)
    except kerr.Conflict:
        raise Contended(f"endpoint {ctx.pod.key} changed in its take-over") from None
    release_details(ctx.store, [detail], ctx.pod.uid)
    return rest, None


def refusal(ctx: planning.Context, detail: endpoints.Detail) -> str:
    """Why this NIC, allocated afresh where and as the pod is now, would not get these pools."""
    cands = planning.candidates(ctx, ctx.cmd.ifname)
    for family in (4, 6):
        pool = str(detail.get(f"ipv{family}Pool") or "")
        if not pool and not cands.names(family):
            continue
        plan = planning.plan(ctx, family, cands.names(family))
        if pool in plan.reasons:
            return f"{pool}: {plan.reasons[pool]}"
        if pool not in (p.name for p, _ in plan.pools):
            wanted = [p.name for p, _ in plan.pools]
            return f"IPv{family} pool {pool or '(none)'} is not among its candidates {wanted}"
    return ""


def release_endpoint(store: Store, obj: EndpointObject, *, cooldown: float | None = None) -> None:
    """The endpoint goes first (preconditions: Conflict if it changed), then its records."""
    store.delete_endpoint(obj)
    release_details(store, endpoints.details(obj), endpoints.uid(obj), cooldown=cooldown)


def release_details(
    store: Store, details: list[endpoints.Detail], uid: str, *, cooldown: float | None = None
) -> None:
    """These details' records (no endpoint names them now), of every UID they answer for."""
    for d in details:
        for pool, ips in endpoints.by_pool([d]).items():
            for owner in sorted(endpoints.owners(d, uid)):
                release_uid(store, pool, owner, ips, cooldown=cooldown)
