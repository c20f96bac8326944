"""DEL and the spec-1.1 GC verb of the spiderpool IPAM (docs/ipam.md). Does I/O via Store.

DEL, for one interface, under the pod's node lock: gather the facts (the node's note
on this attachment, the pod, its SpiderEndpoint), let ``verdicts.decide`` say what to
do, then do it. A release takes this interface only (I3): its detail leaves the
endpoint first (the endpoint goes with its last interface), then its records leave
their pools by compare-and-swap on the pod UID (into cool-down after a failed ADD,
I5), then the note goes. In that order an address an endpoint names is always still
recorded (I1), and a DEL interrupted anywhere is finished by the next one: the note
still names what is left. If the endpoint changes under the DEL (409), the facts are
read again and the verdict taken again. A DEL for a sandbox we know nothing of, a
missing pool or netns is a success: runtimes call DEL after failed ADDs too.
"""

from __future__ import annotations

import time
from collections.abc import Set

from spidernet.alloc import multus, verdicts
from spidernet.alloc.failures import BadInput, Contended, IpamFailure, Unfinished
from spidernet.alloc.verdicts import Action, Facts, Verdict
from spidernet.ipam import endpoints, pods
from spidernet.ipam.attachments import Attachment, Notes
from spidernet.ipam.config import IpamConf
from spidernet.ipam.failpoints import failpoint
from spidernet.ipam.recording import release_uid
from spidernet.ipam.store import Store
from spidernet.k8s import errors as kerr
from spidernet.k8s.backoff import Backoff
from spidernet.protocol import logs
from spidernet.protocol.env import CmdArgs
from spidernet.types.netconf import NetConf

TYPE_CHECKING = False  # the typed shapes are for the type checker: not imported on an exec
if TYPE_CHECKING:
    from typing import Any

    from spidernet.ipam.objects import EndpointObject

log = logs.LOG
GC_LOCK_WAIT = 2.0  # s: the GC verb gives up on a pod whose lock another verb holds this long


def delete(cmd: CmdArgs, conf: IpamConf, store: Store, *, sent_prev: bool, spec_040: bool) -> None:
    who = pods.identity(cmd.args)
    if who is None:
        return  # not a Kubernetes sandbox: we never allocated for it
    with store.pod_lock(who.namespace, who.name):
        settle(
            store, conf, who, cmd.container_id, cmd.ifname, sent_prev=sent_prev, spec_040=spec_040
        )


def settle(
    store: Store,
    conf: IpamConf,
    who: pods.Identity,
    container_id: str,
    ifname: str,
    *,
    sent_prev: bool,
    spec_040: bool,
    collecting: bool = False,
) -> Verdict:
    """One interface's DEL (the caller holds the pod lock); re-decided when the endpoint changes
    under it."""
    notes = Notes(conf.state_dir)
    backoff = Backoff.conflicts(store.deadline)
    while True:
        note = notes.read(container_id, ifname)
        pod_obj = store.pod(who.namespace, who.name)
        pod = pods.info(pod_obj) if pod_obj else None
        ep = store.endpoint(who.namespace, who.name)
        detail = endpoints.detail_for(ep, ifname)
        facts = Facts(
            container_id=container_id,
            uid_arg=who.uid,
            note_uid=note.uid if note else "",
            note_state=note.state if note else "",
            note_since=note.since if note else 0.0,
            note_has_addresses=bool(note and (note.ips or note.pools)),
            endpoint_uid=endpoints.uid(ep) if ep else "",
            detail_container=endpoints.container_of(detail),
            pod_uid=pod.uid if pod else "",
            pod_alive=bool(pod and pod.alive),
            interface_requested=multus.still_requested(
                pod.annotations if pod else {}, ifname, who.namespace, conf.multus
            ),
            stateful_place=_stateful_place(store, ep, pod),
            stateful=endpoints.stateful(ep),
            sandbox_failed=notes.failed(container_id),
            sent_prev_result=sent_prev,
            spec_040=spec_040,
            collecting=collecting,
            now=time.time(),
        )
        verdict = verdicts.decide(facts)
        log.debug("DEL facts %s", facts)
        log.info(
            "DEL %s %s %s: %s, %s",
            who.key,
            container_id,
            ifname,
            verdict.action.value,
            verdict.reason,
        )
        try:
            _carry_out(store, conf, notes, verdict, note, ep, (who, container_id, ifname))
            return verdict
        except kerr.Conflict:
            if not backoff.again():
                raise Contended(f"endpoint {who.key} kept changing under this DEL") from None
            log.info("the endpoint of %s changed under this DEL: deciding again", who.key)


def _stateful_place(
    store: Store, ep: EndpointObject | None, pod: pods.PodInfo | None
) -> str | None:
    """For a StatefulSet endpoint whose pod is not alive under its UID: "" if the StatefulSet
    still has a place for that ordinal, else why not. None for any other endpoint (no read)."""
    if (
        ep is None
        or not endpoints.stateful(ep)
        or (pod and pod.alive and pod.uid == endpoints.uid(ep))
    ):
        return None
    meta = ep["metadata"]
    return pods.stateful_place(
        meta["name"], store.statefulset(meta["namespace"], endpoints.owner_name(ep))
    )


def _carry_out(
    store: Store,
    conf: IpamConf,
    notes: Notes,
    v: Verdict,
    note: Attachment | None,
    ep: EndpointObject | None,
    where: tuple[pods.Identity, str, str],
) -> None:
    who, container_id, ifname = where
    if v.action is Action.NOTHING:
        if v.forget_note and note is not None:
            notes.remove(container_id, ifname)
    elif v.action is Action.KEEP:
        held = endpoints.detail_for(ep, ifname) or {}
        ips = dict(endpoints.addresses(held))
        kept = note or Attachment(
            container_id,
            ifname,
            str(held.get("network", "")),
            who.key,
            v.uid,
            "kept",
            pools=tuple(ips),
            ips=ips,
        )
        notes.write(kept.moved("kept"))
    else:
        if v.cooldown:  # the sandbox's other NICs release too (all-or-nothing)
            notes.mark_failed(container_id, "chain")
        released = _release(store, conf, v, note, ep, ifname)
        notes.remove(container_id, ifname)
        log.info("released %s of %s %s (%s)", released, who.key, ifname, v.reason)


def _release(
    store: Store,
    conf: IpamConf,
    v: Verdict,
    note: Attachment | None,
    ep: EndpointObject | None,
    ifname: str,
) -> list[str]:
    """Endpoint detail first, then the records it and the note name (I1 order); returns the
    addresses.

    What the pod's endpoint still names (another NIC, or a newer sandbox that reused a
    crashed ADD's record by rule one) is never released, whatever the note says (I1).
    """
    detail = endpoints.detail_for(ep, ifname) if v.use_detail else None
    remaining = _drop_detail(store, ep, ifname) if detail is not None else ep
    failpoint("after-endpoint-release")
    # Whatever UID the endpoint of this name has now: a StatefulSet successor names its
    # predecessor's addresses until its ADDs move the records to its own UID.
    named = endpoints.named(remaining)
    cooldown = conf.failed_add_cooldown if v.cooldown else None
    targets = endpoints.by_pool([detail]) if detail is not None else {}
    for pool, ip in (note.ips if note else {}).items():
        targets.setdefault(pool, set()).add(ip)
    for pool, ips in targets.items():
        release_uid(store, pool, v.uid, ips, keep=named, cooldown=cooldown)
    if note is not None and note.state == "adding":
        # The ADD died between a pool write and its note update: its record there is the
        # pod's one that the endpoint does not name.
        for pool in set(note.pools) - set(targets):
            release_uid(store, pool, v.uid, keep=named, cooldown=cooldown)
    return sorted(ip for ips in targets.values() for ip in ips if ip not in named)


def _drop_detail(store: Store, ep: EndpointObject | None, ifname: str) -> EndpointObject | None:
    """The interface's detail leaves the endpoint first (CAS: Conflict if it changed); the last
    takes the endpoint."""
    if ep is None:
        return None
    rest = endpoints.without_interface(ep, ifname)
    if rest is None:
        store.delete_endpoint(ep)
        return None
    try:
        return store.replace_endpoint(rest)
    except kerr.NotFound:
        return None


# ------------------------------------------------------------------ GC verb (spec 1.1)


def _valid_attachments(netconf: NetConf) -> set[tuple[str, str]]:
    raw: Any = netconf.raw.get("cni.dev/valid-attachments", netconf.raw.get("cni.dev/attachments"))
    if not isinstance(raw, list):
        raise BadInput("cni.dev/valid-attachments", "GC needs the list of valid attachments")
    return {
        (str(a.get("containerID", "")), str(a.get("ifname", "")))
        for a in raw
        if isinstance(a, dict)
    }


def gc(conf: IpamConf, netconf: NetConf, store: Store) -> None:
    """Settle this node's attachments of this network that the runtime no longer knows.

    Each is released as its DEL would have been, without cool-down (the runtime says
    the sandbox is gone; the pod's next sandbox, if any, is in the valid list). Errors
    are collected, the rest goes on, and all are reported at the end (docs/ipam.md, GC).
    """
    valid = _valid_attachments(netconf)
    failures: list[str] = []
    for who, cid, ifname in _stale(conf, store, valid):
        try:
            with store.pod_lock(who.namespace, who.name, wait=GC_LOCK_WAIT):
                settle(
                    store, conf, who, cid, ifname, sent_prev=True, spec_040=True, collecting=True
                )
        except (IpamFailure, kerr.ApiError) as e:
            failures.append(f"{who.key} {cid} {ifname}: {e}")
    if failures:
        raise Unfinished(f"GC left {len(failures)} attachment(s): {'; '.join(failures)}")


def _stale(
    conf: IpamConf, store: Store, valid: Set[tuple[str, str]]
) -> list[tuple[pods.Identity, str, str]]:
    """This node's attachments of this network missing from ``valid``: the notes, then the
    endpoints."""
    out: dict[tuple[str, str], tuple[pods.Identity, str, str]] = {}
    for note in Notes(conf.state_dir).all():
        if note.network == conf.network and (note.container_id, note.ifname) not in valid:
            ns, _, name = note.pod.partition("/")
            out[(note.container_id, note.ifname)] = (
                pods.Identity(ns, name, note.uid),
                note.container_id,
                note.ifname,
            )
    node = pods.local_node_name(conf.kubeconfig)
    for ep in store.endpoints_on(node):
        meta = ep["metadata"]
        for d in endpoints.details(ep):
            if endpoints.inherited_from(d):
                continue  # taken over, held by no sandbox yet: its NIC's ADD decides
            key = (endpoints.container_of(d) or "", str(d.get("interface", "")))
            if d.get("network") == conf.network and key not in valid and key not in out:
                out[key] = (pods.Identity(meta["namespace"], meta["name"], endpoints.uid(ep)), *key)
    return list(out.values())
