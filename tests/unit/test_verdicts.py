"""The DEL verdict (spidernet.alloc.verdicts), rule by rule and as properties.

Case matrix (rule numbers as in the module docstring):
| rule | facts                                                          | verdict                  |
|------|----------------------------------------------------------------|--------------------------|
| 1    | no K8S_POD_UID, no note, detail of another container / none    | nothing                  |
| 1    | no K8S_POD_UID, the note knows the UID / the detail is ours    | decided with that UID    |
| 2    | the detail names another sandbox                               | nothing, forget the note |
| 3    | no detail, no note                                             | nothing                  |
| 3    | GC: attachment not valid                                       | release, no cool-down    |
| 4    | pod gone / other UID / finished                                | release, no cool-down    |
| 4    | endpoint gone, note with addresses, pod gone                   | release (note only)      |
| 4    | StatefulSet endpoint, pod gone, its ordinal still has a place  | keep                     |
| 4    | StatefulSet endpoint, pod gone, scaled down / set gone         | release                  |
| 5    | pod alive, note "kept", no prevResult (re-sent DEL)            | keep                     |
| 6    | pod alive, prevResult, its annotation no longer lists the NIC  | release, no cool-down    |
| 7    | pod alive, note "adding" (this IPAM never answered), also when | release, no cool-down    |
|      | another NIC of the sandbox failed                              |                          |
| 8    | pod alive, prevResult, but another NIC's ADD of the sandbox    | release into cool-down   |
|      | failed after its IPAM answered                                 |                          |
| 8    | the same, but it failed in this IPAM (pool full, code 11)      | release at once          |
| 8    | the same, a StatefulSet pod's endpoint, either kind            | keep (fixed addresses)   |
| 8    | a StatefulSet pod, 0.4.0+, no prevResult (its own NIC failed)  | release into cool-down   |
| 8    | pod alive, 0.4.0+, no prevResult, no note                      | release into cool-down   |
| 8    | pod alive, 0.3.x, sandbox 5 s old / 10 min old                 | cool-down / keep         |
| 9    | pod alive, prevResult                                          | keep                     |
Properties: I2 — a DEL repeated after the first one was carried out never releases
what the first kept while the pod lives, and repeats a release as "nothing"; a verdict
never uses a detail that is not this container's; cool-down only for live pods.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from spidernet.alloc import verdicts
from spidernet.alloc.verdicts import Action, Facts
from spidernet.ipam import pods
from spidernet.types import record

UID, CID = "uid-1", "c1"
ALIVE = {"pod_uid": UID, "pod_alive": True}


def facts(**kw: object) -> Facts:
    base: dict[str, object] = {
        "container_id": CID,
        "uid_arg": UID,
        "endpoint_uid": UID,
        "detail_container": CID,
        "now": 1000.0,
    }
    return Facts(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "action", "cooldown"),
    [
        ({"uid_arg": "", "detail_container": "c0"}, Action.NOTHING, False),
        ({"uid_arg": "", "detail_container": None, "endpoint_uid": ""}, Action.NOTHING, False),
        (
            {
                "uid_arg": "",
                "note_uid": UID,
                "note_state": "attached",
                "note_has_addresses": True,
                "detail_container": None,
                "endpoint_uid": "",
            },
            Action.RELEASE,
            False,
        ),
        ({"uid_arg": "", **ALIVE, "sent_prev_result": True}, Action.KEEP, False),
        ({"detail_container": "c2", **ALIVE}, Action.NOTHING, False),
        ({"detail_container": "c2"}, Action.NOTHING, False),
        ({"detail_container": None}, Action.NOTHING, False),
        ({"collecting": True, **ALIVE, "sent_prev_result": True}, Action.RELEASE, False),
        ({}, Action.RELEASE, False),
        ({"pod_uid": "uid-2", "pod_alive": True}, Action.RELEASE, False),
        ({"pod_uid": UID, "pod_alive": False}, Action.RELEASE, False),
        ({"stateful_place": ""}, Action.KEEP, False),
        ({"pod_uid": "uid-2", "pod_alive": True, "stateful_place": ""}, Action.KEEP, False),
        ({"stateful_place": "ordinal 3 is outside [0, 2)"}, Action.RELEASE, False),
        (
            {
                "endpoint_uid": "",
                "detail_container": None,
                "note_uid": UID,
                "note_has_addresses": True,
            },
            Action.RELEASE,
            False,
        ),
        (
            {**ALIVE, "note_state": "kept", "note_uid": UID, "note_has_addresses": True},
            Action.KEEP,
            False,
        ),
        ({**ALIVE, "sent_prev_result": True, "interface_requested": False}, Action.RELEASE, False),
        (
            {**ALIVE, "note_state": "adding", "note_uid": UID, "sent_prev_result": True},
            Action.RELEASE,
            False,
        ),
        (
            {**ALIVE, "note_state": "adding", "note_uid": UID, "sandbox_failed": "chain"},
            Action.RELEASE,
            False,
        ),
        ({**ALIVE, "sent_prev_result": True, "sandbox_failed": "chain"}, Action.RELEASE, True),
        ({**ALIVE, "sent_prev_result": True, "sandbox_failed": "ipam"}, Action.RELEASE, False),
        (
            {**ALIVE, "sent_prev_result": True, "sandbox_failed": "ipam", "stateful": True},
            Action.KEEP,
            False,
        ),
        (
            {**ALIVE, "sent_prev_result": True, "sandbox_failed": "chain", "stateful": True},
            Action.KEEP,
            False,
        ),
        ({**ALIVE, "stateful": True}, Action.RELEASE, True),
        ({**ALIVE}, Action.RELEASE, True),
        (
            {**ALIVE, "spec_040": False, "note_state": "attached", "note_since": 995.0},
            Action.RELEASE,
            True,
        ),
        (
            {**ALIVE, "spec_040": False, "note_state": "attached", "note_since": 400.0},
            Action.KEEP,
            False,
        ),
        ({**ALIVE, "spec_040": False}, Action.KEEP, False),
        ({**ALIVE, "sent_prev_result": True}, Action.KEEP, False),
    ],
)
def test_each_rule_gives_its_verdict(kw: dict[str, object], action: Action, cooldown: bool) -> None:
    v = verdicts.decide(facts(**kw))
    assert (v.action, v.cooldown) == (action, cooldown), v.reason


def test_an_older_sandboxs_del_forgets_its_stale_note() -> None:
    v = verdicts.decide(
        facts(
            detail_container="c2", note_uid=UID, note_state="kept", note_has_addresses=True, **ALIVE
        )
    )
    assert (v.action, v.forget_note) == (Action.NOTHING, True)


# ---------------------------------------------------------------- properties

fact_strategy = st.builds(
    Facts,
    container_id=st.just(CID),
    uid_arg=st.sampled_from(["", UID, "uid-2"]),
    note_uid=st.sampled_from(["", UID]),
    note_state=st.sampled_from(["", "adding", "attached", "kept"]),
    note_since=st.sampled_from([0.0, 990.0]),
    note_has_addresses=st.booleans(),
    endpoint_uid=st.sampled_from(["", UID, "uid-2"]),
    detail_container=st.sampled_from([None, CID, "c2", ""]),
    pod_uid=st.sampled_from(["", UID, "uid-2"]),
    pod_alive=st.booleans(),
    sent_prev_result=st.booleans(),
    spec_040=st.booleans(),
    collecting=st.booleans(),
    interface_requested=st.booleans(),
    stateful_place=st.sampled_from([None, "", "its StatefulSet is gone"]),
    sandbox_failed=st.sampled_from(["", "ipam", "chain"]),
    stateful=st.booleans(),
    now=st.just(1000.0),
)


def after(f: Facts, v: verdicts.Verdict) -> Facts:
    """The facts a re-sent DEL sees once the first verdict was carried out (libcni: no
    prevResult)."""
    f = record.replace(f, sent_prev_result=False, collecting=False)
    if v.action is Action.KEEP:
        return record.replace(f, note_uid=v.uid, note_state="kept", note_has_addresses=True)
    if v.action is Action.RELEASE:
        gone = {"detail_container": None} if v.use_detail else {}
        return record.replace(f, note_uid="", note_state="", note_has_addresses=False, **gone)  # type: ignore[arg-type]
    return f


@given(fact_strategy)
@example(
    Facts(
        container_id=CID,
        uid_arg="",
        note_uid=UID,
        note_has_addresses=True,
        endpoint_uid="uid-2",
        detail_container=CID,
        stateful_place="",
        spec_040=False,
        now=1000.0,
    )
)  # found by hypothesis
def test_a_re_sent_del_repeats_the_first_decision(f: Facts) -> None:
    """I2: kept stays kept while the pod lives; a release is not repeated on something else."""
    first = verdicts.decide(f)
    again = verdicts.decide(after(f, first))
    if first.action is Action.KEEP:
        assert again.action is Action.KEEP
    if first.action is Action.RELEASE:
        assert again.action is not Action.KEEP or again.uid == first.uid
        if first.use_detail:
            assert again.action is Action.NOTHING or not again.use_detail


@given(fact_strategy)
def test_a_verdict_never_takes_another_sandboxs_detail_and_cools_only_live_pods(f: Facts) -> None:
    v = verdicts.decide(f)
    if v.use_detail:
        assert f.detail_container == f.container_id and f.endpoint_uid == v.uid
    if v.cooldown:
        assert f.pod_alive and f.pod_uid == v.uid and not f.collecting
    if v.action is not Action.NOTHING:
        assert v.uid


@pytest.mark.parametrize(
    ("name", "sts", "reason"),
    [
        ("web-0", {"spec": {"replicas": 2}}, ""),
        ("web-1", {"spec": {"replicas": 2}}, ""),
        ("web-2", {"spec": {"replicas": 2}}, "ordinal 2 is outside [0, 2) of its StatefulSet"),
        ("web-0", {"spec": {}}, ""),
        ("web-1", {"spec": {}}, "ordinal 1 is outside [0, 1) of its StatefulSet"),
        ("web-4", {"spec": {"replicas": 2, "ordinals": {"start": 3}}}, ""),
        (
            "web-2",
            {"spec": {"replicas": 2, "ordinals": {"start": 3}}},
            "ordinal 2 is outside [3, 5) of its StatefulSet",
        ),
        ("web-0", {"spec": {"replicas": 0}}, "ordinal 0 is outside [0, 0) of its StatefulSet"),
        ("web", {"spec": {"replicas": 2}}, "'web' has no ordinal"),
        ("web-0", None, "its StatefulSet is gone"),
    ],
)
def test_a_statefulset_pod_keeps_its_place_while_its_ordinal_is_in_range(
    name: str, sts: dict[str, object] | None, reason: str
) -> None:
    assert pods.stateful_place(name, sts) == reason
