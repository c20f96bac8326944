"""From API objects to a GC plan (spidernet.gc.census, .plan, .suspects), without a server.

Case matrix:
| part     | input                                                       | expected               |
|----------|-------------------------------------------------------------|------------------------|
| census   | records in two pools, an endpoint for one UID               | one holder per (pod,   |
|          |                                                             | UID), endpoint joined  |
| census   | record without podUid / pod not ns/name                     | a problem naming the   |
|          |                                                             | pool and address       |
| census   | status.allocatedIPs not JSON / spec broken                  | unreadable (not        |
|          |                                                             | judged) / not writable |
| census   | one address held in two pools; endpoint naming an address   | inconsistencies, one   |
|          | recorded for another UID, or cooling, or in no pool         | per kind               |
| census   | an endpoint without status.current.uid                      | a problem naming it,   |
|          |                                                             | not judged             |
| census   | a StatefulSet pod's facts: controller, endpoint type,       | in range / out of      |
|          | ordinal                                                     | range / gone / unknown |
| plan     | zombie first seen now, min-age 120                          | kept "min-age",        |
|          |                                                             | remembered             |
| plan     | zombie seen 200 s ago; min-age 0                            | released               |
| plan     | zombie's address named by another UID's endpoint            | that record kept, the  |
|          |                                                             | rest released          |
| plan     | zombie with records in a broken pool                        | those kept             |
|          |                                                             | "pool-broken"          |
| plan     | cooling record expired 2 h ago / 10 min ago / not yet       | dropped / kept / kept  |
| plan     | zombie gone, nothing says since when / re-created 10 s ago  | kept                   |
|          | / first seen 20 s ago; budget 61 s, min-age 0               | "allocation-budget",   |
|          |                                                             | wait 61 / 51 / 41 s    |
|          |                                                             | (the longest of all)   |
| plan     | zombie re-created 62 s ago (the successor's                 | released at once       |
|          | creationTimestamp)                                          |                        |
| plan     | cooling record in a pool with no free address, seen so now  | kept "min-age" /       |
|          | / 30 s ago (min-age 20); reserved IPs unreadable            | reclaimed, strikes     |
|          |                                                             | kept / never           |
| suspects | encode, decode; garbage; more than MAX_ENTRIES              | round trip;            |
|          |                                                             | ValueError; the oldest |
|          |                                                             | kept                   |
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from spidernet.gc import census, plan, rules, suspects
from spidernet.gc.census import World

NOW = 1_000_000.0


def pool_obj(
    name: str,
    records: dict[str, dict[str, Any]] | str,
    subnet: str = "10.1.0.0/24",
    ips: tuple[str, ...] = ("10.1.0.10-10.1.0.50",),
) -> dict[str, Any]:
    raw = records if isinstance(records, str) else json.dumps(records)
    return {
        "metadata": {"name": name, "uid": f"pool-{name}", "resourceVersion": "1"},
        "spec": {"ipVersion": 4, "subnet": subnet, "ips": list(ips)},
        "status": {"allocatedIPs": raw},
    }


def rec(pod: str, uid: str, **extra: Any) -> dict[str, Any]:
    return {"pod": pod, "podUid": uid, **extra}


def endpoint(key: str, uid: str, *addresses: tuple[str, str], sts: str = "") -> dict[str, Any]:
    ns, name = key.split("/")
    ips = [
        {"interface": f"eth{i}", "ipv4": f"{ip}/24", "ipv4Pool": p}
        for i, (p, ip) in enumerate(addresses)
    ]
    status: dict[str, Any] = {"current": {"uid": uid, "node": "n1", "ips": ips}}
    if sts:
        status.update(ownerControllerType="StatefulSet", ownerControllerName=sts)
    return {
        "metadata": {"namespace": ns, "name": name, "uid": f"ep-{uid}", "resourceVersion": "5"},
        "status": status,
    }


def pod_obj(key: str, uid: str, *, owner: str = "", **status: Any) -> dict[str, Any]:
    ns, name = key.split("/")
    refs = [{"kind": "StatefulSet", "name": owner, "controller": True}] if owner else []
    return {
        "metadata": {"namespace": ns, "name": name, "uid": uid, "ownerReferences": refs},
        "spec": {"nodeName": "n1"},
        "status": status,
    }


def node_obj(name: str, ready: bool = True) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": str(ready)}]},
    }


def sts_obj(key: str, replicas: int) -> dict[str, Any]:
    ns, name = key.split("/")
    return {"metadata": {"namespace": ns, "name": name}, "spec": {"replicas": replicas}}


# ------------------------------------------------------------------ census


def test_records_and_endpoints_join_into_one_holder_per_pod_uid() -> None:
    c = census.take(
        [
            pool_obj("a", {"10.1.0.10": rec("ns/p", "u1"), "10.1.0.11": rec("ns/q", "u2")}),
            pool_obj("b", {"10.1.0.12": rec("ns/p", "u1")}),
        ],
        [endpoint("ns/p", "u1", ("a", "10.1.0.10"), ("b", "10.1.0.12")), endpoint("ns/r", "u3")],
    )
    assert sorted(c.holders) == [("ns/p", "u1"), ("ns/q", "u2"), ("ns/r", "u3")]
    p = c.holders[("ns/p", "u1")]
    assert sorted((e.pool, e.ip) for e in p.entries) == [("a", "10.1.0.10"), ("b", "10.1.0.12")]
    assert p.endpoint is not None and c.holders[("ns/q", "u2")].endpoint is None
    assert (c.records, c.endpoints, c.problems, c.inconsistencies) == (3, 2, [], [])


def test_a_record_without_pod_uid_or_pod_name_is_a_problem_naming_pool_and_address() -> None:
    c = census.take(
        [pool_obj("a", {"10.1.0.10": rec("ns/p", ""), "10.1.0.11": rec("nonamespace", "u2")})], []
    )
    assert sorted((p.object, p.ip) for p in c.problems) == [
        ("SpiderIPPool/a", "10.1.0.10"),
        ("SpiderIPPool/a", "10.1.0.11"),
    ]
    assert c.holders == {}


def test_an_unreadable_status_is_not_judged_and_a_broken_spec_is_not_written() -> None:
    c = census.take(
        [
            pool_obj("bad", "{not json"),
            pool_obj("spec", {"10.1.0.10": rec("ns/p", "u1")}, ips=("10.2.0.1",)),
        ],
        [endpoint("ns/e", "u9", ("bad", "10.1.0.12"))],
    )
    assert not c.pools["bad"].readable and not c.pools["spec"].writable and c.pools["spec"].readable
    assert [p.object for p in c.problems] == ["SpiderIPPool/bad", "SpiderIPPool/spec"]
    assert list(c.holders) == [("ns/p", "u1"), ("ns/e", "u9")]
    assert (
        c.inconsistencies == []
    )  # an endpoint naming an unreadable pool is not called inconsistent


def test_each_inconsistency_is_reported_with_its_kind() -> None:
    c = census.take(
        [
            pool_obj(
                "a",
                {
                    "10.1.0.10": rec("ns/p", "u1"),
                    "10.1.0.11": rec("ns/q", "u2"),
                    "10.1.0.12": rec("ns/r", "u3", cooldownUntil="2026-01-01T00:00:00Z"),
                },
            ),
            pool_obj("b", {"10.1.0.10": rec("ns/s", "u4")}),
        ],
        [
            endpoint("ns/x", "u5", ("a", "10.1.0.11")),
            endpoint("ns/y", "u6", ("a", "10.1.0.12")),
            endpoint("ns/z", "u7", ("gone", "10.1.0.13")),
            endpoint("ns/q", "u2", ("a", "10.1.0.11")),
        ],
    )
    kinds = sorted((i["kind"], i["ip"]) for i in c.inconsistencies)
    assert kinds == [
        ("endpoint-not-recorded", "10.1.0.11"),
        ("endpoint-not-recorded", "10.1.0.12"),
        ("endpoint-not-recorded", "10.1.0.13"),
        ("ip-in-two-pools", "10.1.0.10"),
        ("ip-named-by-two-endpoints", "10.1.0.11"),
    ]


@pytest.mark.parametrize(
    ("pod", "ep_sts", "sets", "state"),
    [
        (pod_obj("ns/web-1", "u1", owner="web"), "", [sts_obj("ns/web", 2)], "in-range"),
        (None, "web", [sts_obj("ns/web", 2)], "in-range"),
        (None, "web", [sts_obj("ns/web", 1)], "out-of-range"),
        (None, "web", [], "gone"),
        (pod_obj("ns/web-1", "u1", owner="web"), "", [sts_obj("ns/web", 1)], "out-of-range"),
        (None, "web", None, "unknown"),
    ],
)
def test_a_statefulset_holder_is_told_whether_its_set_has_a_place(
    pod: dict[str, Any] | None, ep_sts: str, sets: list[dict[str, Any]] | None, state: str
) -> None:
    c = census.take(
        [pool_obj("a", {"10.1.0.10": rec("ns/web-1", "u1")})],
        [endpoint("ns/web-1", "u1", ("a", "10.1.0.10"), sts=ep_sts)] if ep_sts else [],
    )
    world = World.of([pod] if pod else [], [node_obj("n1")], sets)
    f = census.facts(world, c.holders[("ns/web-1", "u1")])
    assert (f.statefulset, f.sts_state) == ("web", state)


def test_node_state_reads_the_ready_condition() -> None:
    world = World.of(
        [], [node_obj("up"), node_obj("down", ready=False), {"metadata": {"name": "new"}}], []
    )
    got = [census.node_state(world, n) for n in ("up", "down", "new", "gone", "")]
    assert got == [
        rules.NodeState.READY,
        rules.NodeState.NOT_READY,
        rules.NodeState.NOT_READY,
        rules.NodeState.GONE,
        rules.NodeState.READY,
    ]
    assert census.node_state(World.of([], None, []), "up") is rules.NodeState.UNKNOWN


# ------------------------------------------------------------------ plan


def zombie_census() -> census.Census:
    return census.take(
        [pool_obj("a", {"10.1.0.10": rec("ns/p", "u1"), "10.1.0.11": rec("ns/p", "u1")})],
        [endpoint("ns/p", "u1", ("a", "10.1.0.10"))],
    )


EMPTY = World.of([], [], [])


def test_a_zombie_first_seen_now_is_kept_and_remembered_until_min_age() -> None:
    p = plan.make(zombie_census(), EMPTY, suspects.Suspects(), rules.Knobs(min_age=120), NOW)
    assert p.releases == [] and {k["reason"] for k in p.kept} == {"min-age"} and len(p.kept) == 2
    assert p.endpoints_kept[0]["reason"] == "min-age"
    assert p.suspects.since == {"u1": NOW}


@pytest.mark.parametrize(
    ("seen", "min_age", "budget"), [(NOW - 200, 120.0, 61.0), (None, 0.0, 0.0)]
)
def test_a_confirmed_zombie_is_released_endpoint_first(
    seen: float | None, min_age: float, budget: float
) -> None:
    memory = suspects.Suspects({"u1": seen} if seen else {})
    knobs = rules.Knobs(min_age=min_age, allocation_budget=budget)
    p = plan.make(zombie_census(), EMPTY, memory, knobs, NOW)
    [release] = p.releases
    assert release.verdict.reason == "pod-gone" and release.holder.endpoint is not None
    assert sorted(e.ip for e in release.entries) == ["10.1.0.10", "10.1.0.11"] and p.kept == []


def successor(created_ago: float) -> dict[str, Any]:
    """The pod of the zombie's name, re-created (another UID) ``created_ago`` s before NOW."""
    obj = pod_obj("ns/p", "u2", phase="Running")
    obj["metadata"]["creationTimestamp"] = census_time(NOW - created_ago)
    return obj


def census_time(t: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("world", "memory", "waits"),
    [
        (EMPTY, {}, 61.0),  # gone, nothing tells since when: the whole budget from now
        (World.of([successor(10)], [], []), {}, 51.0),  # re-created 10 s ago
        (EMPTY, {"u1": NOW - 20}, 41.0),  # first seen dead 20 s ago (an earlier pass)
    ],
)
def test_a_zombie_dead_for_less_than_the_allocation_budget_is_kept_and_waited_for(
    world: World, memory: dict[str, float], waits: float
) -> None:
    knobs = rules.Knobs(min_age=0, allocation_budget=61.0)
    p = plan.make(zombie_census(), world, suspects.Suspects(memory), knobs, NOW)
    assert p.releases == [] and {k["reason"] for k in p.kept} == {"allocation-budget"}
    assert p.wait == pytest.approx(waits) and p.suspects.since == {"u1": memory.get("u1", NOW)}


def test_a_zombie_the_api_shows_dead_for_longer_than_the_budget_goes_at_once() -> None:
    knobs = rules.Knobs(min_age=0, allocation_budget=61.0)
    world = World.of([successor(62)], [], [])
    p = plan.make(zombie_census(), world, suspects.Suspects(), knobs, NOW)
    assert [r.verdict.reason for r in p.releases] == ["pod-uid-differs"] and p.wait is None


def test_an_address_another_uids_endpoint_names_is_kept_the_rest_released() -> None:
    c = census.take(
        [pool_obj("a", {"10.1.0.10": rec("ns/p", "u1"), "10.1.0.11": rec("ns/p", "u1")})],
        [endpoint("ns/other", "u9", ("a", "10.1.0.11"))],
    )
    world = World.of([pod_obj("ns/other", "u9", phase="Running")], [node_obj("n1")], [])
    p = plan.make(c, world, suspects.Suspects(), rules.Knobs(min_age=0, allocation_budget=0), NOW)
    assert [e.ip for e in p.releases[0].entries] == ["10.1.0.10"]
    assert [(k["ip"], k["reason"]) for k in p.kept] == [("10.1.0.11", "named-by-another-endpoint")]


def test_records_in_a_broken_pool_are_kept() -> None:
    c = census.take([pool_obj("spec", {"10.1.0.10": rec("ns/p", "u1")}, ips=("10.2.0.1",))], [])
    p = plan.make(c, EMPTY, suspects.Suspects(), rules.Knobs(min_age=0, allocation_budget=0), NOW)
    assert p.releases[0].entries == () and [k["reason"] for k in p.kept] == ["pool-broken"]


def test_a_cooling_record_is_dropped_only_long_after_its_cool_down() -> None:
    def at(seconds_ago: float) -> str:
        import datetime

        return datetime.datetime.fromtimestamp(NOW - seconds_ago, datetime.UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )

    records = {
        "10.1.0.10": rec("ns/p", "u1", cooldownUntil=at(7200), strikes=1),
        "10.1.0.11": rec("ns/p", "u1", cooldownUntil=at(600), strikes=1),
        "10.1.0.12": rec("ns/p", "u1", cooldownUntil=at(-30), strikes=1),
    }
    p = plan.make(
        census.take([pool_obj("a", records)], []), EMPTY, suspects.Suspects(), rules.Knobs(), NOW
    )
    assert [e.ip for e in p.expired] == ["10.1.0.10"] and p.releases == [] and p.kept == []


@pytest.mark.parametrize(("seen", "reclaimed"), [(None, False), (NOW - 30, True)])
def test_a_cooling_record_in_a_full_pool_is_freed_once_seen_so_for_min_age(
    seen: float | None, reclaimed: bool
) -> None:
    until = census_time(NOW + 500)
    full = pool_obj(
        "a",
        {"10.1.0.10": rec("ns/p", "u1"), "10.1.0.11": rec("ns/q", "u2", cooldownUntil=until)},
        ips=("10.1.0.10-10.1.0.11",),
    )
    c = census.take([full], [endpoint("ns/p", "u1", ("a", "10.1.0.10"))], [])
    world = World.of([pod_obj("ns/p", "u1", phase="Running")], [node_obj("n1")], [])
    key = f"cooling/a/10.1.0.11/{until}"
    memory = suspects.Suspects({key: seen} if seen else {})
    p = plan.make(c, world, memory, rules.Knobs(min_age=20), NOW)
    assert [e.ip for e in p.reclaimed] == (["10.1.0.11"] if reclaimed else [])
    assert p.suspects.since[key] == (seen or NOW)
    if reclaimed:
        [(entry, after)] = p.cooling_changes()
        assert after is not None and after.cooldown_until == census_time(NOW)
        assert after.strikes == entry.record.strikes
    c.reserved = None  # the reserved IPs could not be read: fullness cannot be told
    assert plan.make(c, world, memory, rules.Knobs(min_age=20), NOW).reclaimed == []


def test_a_live_pod_and_its_endpoint_leave_no_trace_in_the_plan() -> None:
    c = census.take(
        [pool_obj("a", {"10.1.0.10": rec("ns/p", "u1")})],
        [endpoint("ns/p", "u1", ("a", "10.1.0.10"))],
    )
    world = World.of([pod_obj("ns/p", "u1", phase="Running")], [node_obj("n1")], [])
    p = plan.make(c, world, suspects.Suspects({"u1": NOW - 999}), rules.Knobs(), NOW)
    assert (p.releases, p.kept, p.endpoints_kept, p.suspects.since) == ([], [], [], {})


# ------------------------------------------------------------------ suspects


def test_suspects_round_trip_and_refuse_garbage() -> None:
    s = suspects.Suspects({"u1": 100.0, "u2": 200.0})
    data, dropped = s.encode()
    assert suspects.decode(data).since == {"u1": 100.0, "u2": 200.0} and dropped == 0
    assert suspects.decode(None).since == {}
    for bad in ("[1]", '{"u1": "yesterday"}', "{"):
        with pytest.raises(ValueError):
            suspects.decode({suspects.KEY: bad})


def test_past_max_entries_the_oldest_suspects_are_kept() -> None:
    s = suspects.Suspects({f"u{i}": float(i) for i in range(suspects.MAX_ENTRIES + 5)})
    data, dropped = s.encode()
    kept = suspects.decode(data).since
    assert (
        dropped == 5
        and len(kept) == suspects.MAX_ENTRIES
        and max(kept.values()) == suspects.MAX_ENTRIES - 1
    )
    assert len(data[suspects.KEY]) < 900_000  # a ConfigMap holds 1 MiB


def test_an_endpoint_without_a_uid_is_a_problem_and_not_judged() -> None:
    ep = endpoint("ns/p", "u1", ("a", "10.1.0.10"))
    ep["status"]["current"]["uid"] = ""
    c = census.take([pool_obj("a", {})], [ep])
    assert [p.object for p in c.problems] == ["SpiderEndpoint/ns/p"] and c.holders == {}
