"""Is a holder of pool records a zombie? Facts in, one verdict with its reason out. No I/O.

A *holder* is one pod UID as the pools and endpoints know it: its records (all
pools) and its SpiderEndpoint, if one of that name carries that UID. The GC reads the
pod of that name, its node and its StatefulSet, and ``decide`` says, in order:

1. A StatefulSet pod (its controller is one, or its endpoint says so) whose
   StatefulSet still has a place for its name keeps its addresses whatever became of
   the pod: the next pod of that name takes them over (docs/ipam.md).
   No place (the StatefulSet is gone, the ordinal is out of range): released, unless
   the pod is alive with this UID (a pod orphaned by ``--cascade=orphan`` still runs).
2. The pod is gone: released (``pod-gone``; ``pod-gone-no-endpoint`` when no endpoint
   names the records: a crash between the pool and the endpoint write, or a DEL that
   never ran).
3. The pod has another UID (re-created under the same name): released.
4. The pod finished (phase Succeeded or Failed): released.
5. The pod is terminating and past ``deletionTimestamp + grace + delay``: released;
   on a NotReady (or deleted) node with its own delay ("the node broke down", docs/gc.md).
   Before that: kept. Each of the two can be switched off, and on a NotReady node the
   release can wait for the Node object to be deleted (``not_ready_needs_node_gone``: a
   partitioned node may still run the pod with its address on the wire).
6. Otherwise the pod is alive with this UID (Pending or Running): never released.
   Without an endpoint that is an ADD in flight (or a crashed one its retry reuses):
   kept, and reported as suspicious.
Facts the GC could not read (a node list or a StatefulSet list refused) never lead to
a release: the verdict is "kept, unknown".

A zombie is released only once it has been one for ``min_age`` (the GC's memory of
first sightings, ``suspects``) and its pod has been dead for longer than the IPAM's
allocation budget (``Holder.dead_since`` from the API's own timestamps, or the first
sighting): ``plan`` applies both, not this module.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

FINISHED = ("Succeeded", "Failed")
# Has the StatefulSet a place for this pod's name? "unknown": the StatefulSets were not readable.
StsState = Literal["in-range", "gone", "out-of-range", "unknown"]


class NodeState(enum.Enum):
    READY = "Ready"
    NOT_READY = "NotReady"  # condition Ready False or Unknown, or never reported
    GONE = "gone"  # no Node object of that name: nothing runs there
    UNKNOWN = "unknown"  # the node list could not be read: decide nothing on it


@dataclass(frozen=True)
class Knobs:
    """The GC's tunables (docs/gc.md, "Knobs"); seconds unless named otherwise."""

    min_age: float = 120.0
    terminating_delay: float = 0.0  # after deletionTimestamp + grace, node Ready
    not_ready_delay: float = 0.0  # after deletionTimestamp + grace, node NotReady or gone
    terminating_on_ready: bool = True
    terminating_on_not_ready: bool = True
    cooling_grace: float = (
        3600.0  # an expired cooling record is dropped this long after cooldownUntil
    )
    # The longest an IPAM ADD may run (the cluster IPAM config's max_allocation_timeout, plus
    # 1 s for the API's whole-second timestamps): no zombie dead for less is released.
    allocation_budget: float = 61.0
    not_ready_needs_node_gone: bool = False  # NotReady is not enough: the Node must be gone


@dataclass(frozen=True)
class Pod:
    """The pod of the holder's name, as read (any UID)."""

    uid: str
    phase: str
    deleting_at: float | None = None  # metadata.deletionTimestamp, epoch seconds
    grace: float = 0.0  # metadata.deletionGracePeriodSeconds
    node: str = ""
    node_state: NodeState = NodeState.READY


@dataclass(frozen=True)
class Holder:
    key: str  # "<namespace>/<name>"
    uid: str
    pod: Pod | None  # None: no pod of that name
    has_endpoint: bool  # an endpoint of that name carries this UID
    statefulset: str = ""  # the StatefulSet it belongs to ("" when it is not a StatefulSet pod)
    sts_state: StsState = "in-range"
    sts_detail: str = ""  # why it has no place, in words
    # The API server's time by which the pod was surely not alive (no ADD of this UID can start
    # after it): its successor's creationTimestamp, its deletion request; None: not known.
    dead_since: float | None = None


@dataclass(frozen=True)
class Verdict:
    zombie: bool
    reason: str  # a stable code (docs/gc.md, "Rules"), for scripts and tests
    detail: str  # the same in words, for people
    suspicious: bool = True  # reported in the kept list when not a zombie


def alive_verdict(h: Holder) -> Verdict:
    if h.has_endpoint:
        return Verdict(False, "pod-alive", "the pod is alive with this UID", suspicious=False)
    return Verdict(
        False,
        "pod-alive-no-endpoint",
        "the pod is alive with this UID but no endpoint names the records: an ADD in flight, or a "
        "crashed one whose retry reuses them",
    )


def decide(h: Holder, k: Knobs, now: float) -> Verdict:
    pod = h.pod
    same = pod is not None and pod.uid == h.uid
    if pod is not None and same and alive(pod):
        return alive_verdict(h)
    if h.statefulset:
        sts = _statefulset(h, same)
        if sts is not None:
            return sts
    if pod is None:
        if h.has_endpoint:
            return Verdict(True, "pod-gone", "no pod of this name exists")
        return Verdict(
            True,
            "pod-gone-no-endpoint",
            "no pod of this name exists, and no endpoint names the records",
        )
    if not same:
        return Verdict(True, "pod-uid-differs", f"the pod of this name now has UID {pod.uid}")
    if pod.phase in FINISHED:
        return Verdict(True, f"pod-{pod.phase.lower()}", f"the pod finished (phase {pod.phase})")
    return terminating(pod, k, now)


def alive(pod: Pod) -> bool:
    return pod.phase not in FINISHED and pod.deleting_at is None


def _statefulset(h: Holder, same: bool) -> Verdict | None:
    """Rule 1 for a holder whose pod is not alive with its UID; None: the stateless rules decide."""
    if h.sts_state == "unknown":
        return Verdict(
            False,
            "statefulset-unknown",
            f"StatefulSet {h.statefulset}: the StatefulSets could not be read",
        )
    if h.sts_state == "in-range":
        return Verdict(
            False,
            "statefulset-in-range",
            f"StatefulSet {h.statefulset} still has a place for it: the next pod of this "
            "name takes "
            "the addresses over",
        )
    if same:
        return None  # finished or terminating with this UID: its grace still counts, as for any pod
    return Verdict(
        True, f"statefulset-{h.sts_state}", f"StatefulSet {h.statefulset}: {h.sts_detail}"
    )


def terminating(pod: Pod, k: Knobs, now: float) -> Verdict:
    """Rule 5: past deletionTimestamp + grace + delay (as upstream counts it)."""
    assert pod.deleting_at is not None
    if pod.node_state is NodeState.UNKNOWN:
        return Verdict(
            False,
            "node-unknown",
            f"terminating on node {pod.node!r}, whose state could not be read",
        )
    ready = pod.node_state is NodeState.READY
    enabled, delay = (
        (k.terminating_on_ready, k.terminating_delay)
        if ready
        else (k.terminating_on_not_ready, k.not_ready_delay)
    )
    where = "" if ready else f" on a {pod.node_state.value} node {pod.node!r}"
    if not enabled:
        return Verdict(
            False, "terminating-rule-off", f"terminating{where}: this GC does not release such pods"
        )
    if pod.node_state is NodeState.NOT_READY and k.not_ready_needs_node_gone:
        return Verdict(
            False,
            "node-not-gone",
            f"terminating{where}: released once the Node object is deleted (a partitioned "
            "node may still run it)",
        )
    deadline = pod.deleting_at + pod.grace + delay
    if now < deadline:
        return Verdict(
            False,
            "terminating-within-grace",
            f"terminating{where}: released after {deadline - now:.0f} s more",
        )
    code = "pod-terminating" if ready else "pod-terminating-node-not-ready"
    return Verdict(
        True,
        code,
        f"terminating{where}, past deletionTimestamp + {pod.grace:.0f} s grace + {delay:.0f} s",
    )
