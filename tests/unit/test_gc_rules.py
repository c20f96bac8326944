"""The GC's zombie verdict (spidernet.gc.rules), rule by rule and as properties.

Case matrix (rule numbers as in the module docstring; "h" = the holder's UID):
| rule | pod of the name (endpoint)         | StatefulSet         | verdict                        |
|------|------------------------------------|---------------------|--------------------------------|
| 6    | alive, UID h (Pending, Running,    | -                   | kept, not suspicious           |
|      | Unknown); with an endpoint         |                     |                                |
| 6    | alive, UID h; no endpoint          | -                   | kept: ADD in flight            |
|      |                                    |                     | (suspicious)                   |
| 2    | none; with / without an endpoint   | -                   | pod-gone /                     |
|      |                                    |                     | pod-gone-no-endpoint           |
| 3    | another UID (also Pending)         | -                   | pod-uid-differs                |
| 4    | Succeeded / Failed                 | -                   | pod-succeeded / pod-failed     |
| 5    | terminating, before / after the    | -                   | kept / pod-terminating         |
|      | deadline                           |                     |                                |
| 5    | terminating on a NotReady / gone   | -                   | pod-terminating-node-not-ready |
|      | node                               |                     |                                |
| 5    | the node's own delay counts, not   | -                   | kept until it passes           |
|      | the other                          |                     |                                |
| 5    | a rule switched off; node state    | -                   | kept                           |
|      | unknown                            |                     |                                |
| 5    | NotReady node / node gone, the     | -                   | node-not-gone (kept) /         |
|      | Node must be gone                  |                     | pod-terminating-node-not-ready |
| 1    | none / another UID / terminating   | has a place         | statefulset-in-range (kept)    |
| 1    | none / another UID                 | gone / out of range | statefulset-gone /             |
|      |                                    |                     | -out-of-range                  |
| 1    | alive, UID h                       | gone                | kept (an orphaned pod still    |
|      |                                    |                     | runs)                          |
| 1    | terminating with UID h, within     | gone                | kept (its grace counts)        |
|      | grace                              |                     |                                |
| 1    | none                               | unknown             | kept                           |
Properties: a pod alive with the holder's UID is never a zombie, whatever else holds;
nothing unreadable (node or StatefulSet state unknown) ever makes a zombie.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spidernet.gc import rules
from spidernet.gc.rules import Holder, Knobs, NodeState, Pod

NOW = 10_000.0
UID = "u-1"


def pod(**kw: object) -> Pod:
    return dataclasses.replace(Pod(uid=UID, phase="Running", node="n1"), **kw)  # type: ignore[arg-type]


def holder(p: Pod | None, **kw: object) -> Holder:
    return dataclasses.replace(Holder(key="ns/web-1", uid=UID, pod=p, has_endpoint=True), **kw)  # type: ignore[arg-type]


TERMINATING = {
    "deleting_at": NOW - 40,
    "grace": 30.0,
}  # deadline NOW - 10: past, with no extra delay
STS = {"statefulset": "web"}


@pytest.mark.parametrize(
    ("h", "knobs", "zombie", "reason"),
    [
        (holder(pod(phase="Pending")), Knobs(), False, "pod-alive"),
        (holder(pod()), Knobs(), False, "pod-alive"),
        (holder(pod(phase="Unknown")), Knobs(), False, "pod-alive"),
        (holder(pod(), has_endpoint=False), Knobs(), False, "pod-alive-no-endpoint"),
        (holder(None), Knobs(), True, "pod-gone"),
        (holder(None, has_endpoint=False), Knobs(), True, "pod-gone-no-endpoint"),
        (holder(pod(uid="u-2")), Knobs(), True, "pod-uid-differs"),
        (holder(pod(uid="u-2", phase="Pending")), Knobs(), True, "pod-uid-differs"),
        (holder(pod(phase="Succeeded")), Knobs(), True, "pod-succeeded"),
        (holder(pod(phase="Failed")), Knobs(), True, "pod-failed"),
        (holder(pod(deleting_at=NOW - 5, grace=30.0)), Knobs(), False, "terminating-within-grace"),
        (holder(pod(**TERMINATING)), Knobs(), True, "pod-terminating"),
        (
            holder(pod(**TERMINATING)),
            Knobs(terminating_delay=60),
            False,
            "terminating-within-grace",
        ),
        (holder(pod(**TERMINATING)), Knobs(not_ready_delay=60), True, "pod-terminating"),
        (
            holder(pod(**TERMINATING, node_state=NodeState.NOT_READY)),
            Knobs(),
            True,
            "pod-terminating-node-not-ready",
        ),
        (
            holder(pod(**TERMINATING, node_state=NodeState.GONE)),
            Knobs(),
            True,
            "pod-terminating-node-not-ready",
        ),
        (
            holder(pod(**TERMINATING, node_state=NodeState.NOT_READY)),
            Knobs(not_ready_delay=60),
            False,
            "terminating-within-grace",
        ),
        (
            holder(pod(**TERMINATING, node_state=NodeState.NOT_READY)),
            Knobs(terminating_delay=60),
            True,
            "pod-terminating-node-not-ready",
        ),
        (
            holder(pod(**TERMINATING)),
            Knobs(terminating_on_ready=False),
            False,
            "terminating-rule-off",
        ),
        (
            holder(pod(**TERMINATING, node_state=NodeState.NOT_READY)),
            Knobs(terminating_on_not_ready=False),
            False,
            "terminating-rule-off",
        ),
        (holder(pod(**TERMINATING, node_state=NodeState.UNKNOWN)), Knobs(), False, "node-unknown"),
        (
            holder(pod(**TERMINATING, node_state=NodeState.NOT_READY)),
            Knobs(not_ready_needs_node_gone=True),
            False,
            "node-not-gone",
        ),
        (
            holder(pod(**TERMINATING, node_state=NodeState.GONE)),
            Knobs(not_ready_needs_node_gone=True),
            True,
            "pod-terminating-node-not-ready",
        ),
        (holder(None, **STS), Knobs(), False, "statefulset-in-range"),
        (holder(pod(uid="u-2"), **STS), Knobs(), False, "statefulset-in-range"),
        (holder(pod(**TERMINATING), **STS), Knobs(), False, "statefulset-in-range"),
        (holder(pod(phase="Failed"), **STS), Knobs(), False, "statefulset-in-range"),
        (
            holder(None, **STS, sts_state="gone", sts_detail="its StatefulSet is gone"),
            Knobs(),
            True,
            "statefulset-gone",
        ),
        (
            holder(
                pod(uid="u-2"),
                **STS,
                sts_state="out-of-range",
                sts_detail="ordinal 1 is outside [0, 1)",
            ),
            Knobs(),
            True,
            "statefulset-out-of-range",
        ),
        (holder(pod(), **STS, sts_state="gone"), Knobs(), False, "pod-alive"),
        (
            holder(pod(deleting_at=NOW - 5, grace=30.0), **STS, sts_state="gone"),
            Knobs(),
            False,
            "terminating-within-grace",
        ),
        (
            holder(pod(**TERMINATING), **STS, sts_state="out-of-range"),
            Knobs(),
            True,
            "pod-terminating",
        ),
        (holder(None, **STS, sts_state="unknown"), Knobs(), False, "statefulset-unknown"),
    ],
)
def test_each_rule_gives_its_verdict_and_reason(
    h: Holder, knobs: Knobs, zombie: bool, reason: str
) -> None:
    v = rules.decide(h, knobs, NOW)
    assert (v.zombie, v.reason) == (zombie, reason), v.detail
    assert v.detail


def test_only_a_live_pod_with_its_endpoint_is_not_even_suspicious() -> None:
    assert not rules.decide(holder(pod()), Knobs(), NOW).suspicious
    assert rules.decide(holder(pod(), has_endpoint=False), Knobs(), NOW).suspicious
    assert rules.decide(holder(pod(deleting_at=NOW, grace=30.0)), Knobs(), NOW).suspicious


phases = st.sampled_from(["", "Pending", "Running", "Unknown", "Succeeded", "Failed"])
states = st.sampled_from(list(NodeState))
sts_states = st.sampled_from(["in-range", "gone", "out-of-range", "unknown"])
times = st.none() | st.floats(min_value=0, max_value=2 * NOW)


@given(
    phase=phases,
    deleting=times,
    grace=st.floats(0, 100),
    node=states,
    sts=st.booleans(),
    sts_state=sts_states,
    endpoint=st.booleans(),
    uid=st.sampled_from([UID, "u-2"]),
    gone=st.booleans(),
)
def test_a_pod_alive_with_the_holders_uid_is_never_a_zombie(
    phase: str,
    deleting: float | None,
    grace: float,
    node: NodeState,
    sts: bool,
    sts_state: rules.StsState,
    endpoint: bool,
    uid: str,
    gone: bool,
) -> None:
    p = (
        None
        if gone
        else pod(uid=uid, phase=phase, deleting_at=deleting, grace=grace, node_state=node)
    )
    h = holder(p, has_endpoint=endpoint, statefulset="web" if sts else "", sts_state=sts_state)
    v = rules.decide(h, Knobs(), NOW)
    if p is not None and p.uid == UID and rules.alive(p):
        assert not v.zombie
    if v.zombie and sts:
        assert sts_state in ("gone", "out-of-range")
    if (
        v.zombie
        and p is not None
        and p.uid == UID
        and p.deleting_at is not None
        and phase not in rules.FINISHED
    ):
        assert node is not NodeState.UNKNOWN and p.deleting_at + p.grace <= NOW
