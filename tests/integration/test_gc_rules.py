"""The GC's zombie rules against a real apiserver, one table per rule (spidernet.gc, docs/gc.md).

Each row is a pod brought into one state with API objects (and an address from the
frozen IPAM); one GC pass (``--min-age 0``) runs; the row's address must be listed as
released or kept with the reason given, or not at all ("untouched"), and afterwards
the pool must (not) hold it for that UID, the endpoint be gone (or stay), the pool's
counts be right, and each release have its Event on the pool.

| rule              | rows                                                                         |
|-------------------|------------------------------------------------------------------------------|
| pod gone          | deleted (endpoint left) / crashed ADD then deleted (no endpoint) ->          |
|                   | released; Running, Pending -> untouched; crashed ADD of a live pod -> kept   |
| UID differs       | re-created under its name, no ADD yet -> released with its old endpoint;     |
|                   | re-created and ADDed -> the new record untouched                             |
| finished          | Succeeded / Failed -> released; Running -> untouched                         |
| terminating       | past its deadline (Ready node) -> released; within grace -> kept; on a       |
|                   | NotReady node -> released; with --not-ready-delay / the rule off -> kept     |
| orphaned endpoint | no records: pod gone / other UID -> deleted; live pod -> kept                |
| StatefulSet       | pod gone: ordinal in range -> kept, out of range / set gone -> released;     |
|                   | re-created with a new UID -> kept; alive with its set gone -> untouched (by  |
|                   | hand), and the same life through the frozen IPAM: kept while deleted, taken  |
|                   | over by the next pod, released once scaled down / its set deleted            |
| cooling, counts   | cooling expired 2 h ago -> dropped, 1 min ago -> stays; stale counts ->      |
|                   | rewritten                                                                    |
| inconsistencies   | an address in two pools, an endpoint naming an unrecorded address ->         |
|                   | reported                                                                     |
| min-age           | --min-age 2: kept "min-age" twice, released once 2 s passed; --dry-run       |
|                   | changes nothing                                                              |
| entry             | gc/main.py and python -m spidernet.gc as processes: JSON out, summary err,   |
|                   | exit 0                                                                       |
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.gc_scenarios import GcEnv, Pass, gc_cluster, quick_budget  # noqa: F401
from tools.testbed import paths
from tools.testbed.cluster import Cluster

pytestmark = [pytest.mark.apiserver]


@pytest.fixture
def env(gc_cluster: Cluster, tmp_path: Path, bundle_bin: Path) -> GcEnv:  # noqa: F811
    return GcEnv(gc_cluster, tmp_path)


@dataclass(frozen=True)
class Row:
    name: str
    make: Callable[[GcEnv, str, str], tuple[str, str]]  # (env, pod name, node) -> (ip, uid)
    outcome: str  # released | kept | untouched
    reason: str = ""


def run_rows(env: GcEnv, rows: list[Row], *gc_args: str, node_ready: bool = True) -> Pass:
    pool = env.name("pool")
    env.cluster.pool(pool, "10.240.0.0/24", ["10.240.0.10-10.240.0.60"])
    node = env.node("n1", ready=node_ready, pool=pool).name
    subjects = {row.name: row.make(env, row.name, node) for row in rows}
    before = env.endpoint_names()
    result = env.gc(*gc_args)
    assert result.rc == 0, result.report["errors"]
    holders, after = env.holders(pool), env.endpoint_names()
    for row in rows:
        ip, uid = subjects[row.name]
        listed = result.about(pool, ip)
        if row.outcome == "untouched":
            assert listed == {}, row.name
        else:
            assert listed == {row.outcome: [row.reason]}, row.name
        assert (holders.get(ip) == uid) == (row.outcome != "released"), row.name
        if row.outcome == "released":
            assert row.name not in after and result.endpoint(f"{env.ns}/{row.name}") in (
                {},
                {"endpointsDeleted": [row.reason]},
            ), row.name
        elif row.name in before:
            assert row.name in after, row.name
    assert env.counts_right(pool)
    released = {i["ip"] for i in result.report["released"] if i["pool"] == pool}
    assert released == events_for(env, pool)
    return result


def events_for(env: GcEnv, pool: str) -> set[str]:
    _, reply = env.cp.request("GET", "/api/v1/namespaces/default/events")
    return {
        e["message"].split()[1]
        for e in reply["items"]
        if e["involvedObject"]["name"] == pool and e["reason"] == "ZombieIPReleased"
    }


# ------------------------------------------------------------------ row makers


def running(env: GcEnv, name: str, node: str) -> tuple[str, str]:
    ref, ip = env.running_pod(name, node)
    return ip, ref.uid


def pending(env: GcEnv, name: str, node: str) -> tuple[str, str]:
    ref = env.pod(name, node)
    return env.add(ref, node).ips()[0], ref.uid


def crashed_add(env: GcEnv, name: str, node: str) -> tuple[str, str]:
    """SIGKILLed between the pool write and the endpoint write: a record no endpoint names."""
    ref = env.pod(name, node)
    assert env.add(ref, node, failpoint="after-pool-write").killed
    [(ip, uid)] = [(ip, u) for ip, u in env.holders(env.name("pool")).items() if u == ref.uid]
    return ip, uid


def deleted(env: GcEnv, name: str, node: str) -> tuple[str, str]:
    ip, uid = running(env, name, node)
    env.cluster.delete_pod(env.ns, name)  # no DEL follows: the node lost it
    return ip, uid


def crashed_then_deleted(env: GcEnv, name: str, node: str) -> tuple[str, str]:
    ip, uid = crashed_add(env, name, node)
    env.cluster.delete_pod(env.ns, name)
    return ip, uid


def recreated(env: GcEnv, name: str, node: str) -> tuple[str, str]:
    ip, uid = running(env, name, node)
    env.cluster.delete_pod(env.ns, name)
    env.pod(name, node)  # the same name, a new UID, not yet ADDed
    return ip, uid


def recreated_and_added(env: GcEnv, name: str, node: str) -> tuple[str, str]:
    running(env, name, node)
    env.cluster.delete_pod(env.ns, name)
    ref = env.pod(name, node)
    return env.add(ref, node).ips()[0], ref.uid  # the new pod's own record


def phase(value: str) -> Callable[[GcEnv, str, str], tuple[str, str]]:
    def make(env: GcEnv, name: str, node: str) -> tuple[str, str]:
        ref, ip = env.running_pod(name, node)
        env.set_phase(ref, value)
        return ip, ref.uid

    return make


def terminating(grace: int) -> Callable[[GcEnv, str, str], tuple[str, str]]:
    """grace 0 + a finalizer: Terminating and past its deadline at once; grace 3600: well within
    it."""

    def make(env: GcEnv, name: str, node: str) -> tuple[str, str]:
        ref, ip = env.running_pod(name, node, hold=grace == 0)
        env.delete_pod(ref, grace=grace)
        return ip, ref.uid

    return make


# ------------------------------------------------------------------ one test per rule


def test_the_records_of_pods_that_are_gone_are_released_and_live_ones_never(env: GcEnv) -> None:
    run_rows(
        env,
        [
            Row("deleted", deleted, "released", "pod-gone"),
            Row("crashed-deleted", crashed_then_deleted, "released", "pod-gone-no-endpoint"),
            Row("running", running, "untouched"),
            Row("pending", pending, "untouched"),
            Row("crashed-alive", crashed_add, "kept", "pod-alive-no-endpoint"),
        ],
    )


def test_a_record_of_an_older_pod_of_the_same_name_is_released_with_its_endpoint(
    env: GcEnv,
) -> None:
    result = run_rows(
        env,
        [
            Row("recreated", recreated, "released", "pod-uid-differs"),
            Row("recreated-added", recreated_and_added, "untouched"),
        ],
    )
    assert result.endpoint(f"{env.ns}/recreated") == {"endpointsDeleted": ["pod-uid-differs"]}


def test_the_records_of_finished_pods_are_released(env: GcEnv) -> None:
    run_rows(
        env,
        [
            Row("succeeded", phase("Succeeded"), "released", "pod-succeeded"),
            Row("failed", phase("Failed"), "released", "pod-failed"),
            Row("still-running", phase("Running"), "untouched"),
        ],
    )


def test_a_terminating_pod_is_released_only_past_its_grace_and_delay(env: GcEnv) -> None:
    run_rows(
        env,
        [
            Row("past", terminating(0), "released", "pod-terminating"),
            Row("within", terminating(3600), "kept", "terminating-within-grace"),
        ],
    )


def test_a_terminating_pod_with_the_extra_delay_still_to_run_is_kept(env: GcEnv) -> None:
    run_rows(
        env,
        [Row("past-delayed", terminating(0), "kept", "terminating-within-grace")],
        "--terminating-delay",
        "600",
    )


@pytest.mark.parametrize(
    ("args", "outcome", "reason"),
    [
        ((), "released", "pod-terminating-node-not-ready"),
        (("--not-ready-delay", "600"), "kept", "terminating-within-grace"),
        (("--terminating-delay", "600"), "released", "pod-terminating-node-not-ready"),
        (("--keep-terminating-on-not-ready",), "kept", "terminating-rule-off"),
    ],
)
def test_on_a_not_ready_node_a_terminating_pod_has_its_own_delay(
    env: GcEnv, args: tuple[str, ...], outcome: str, reason: str
) -> None:
    def broken_node(e: GcEnv, name: str, node: str) -> tuple[str, str]:
        ip, uid = terminating(0)(e, name, node)
        e.set_ready(node, False)  # the node "lost power": NotReady, its pod never confirmed gone
        return ip, uid

    run_rows(env, [Row("on-dead-node", broken_node, outcome, reason)], *args)


def test_orphaned_endpoints_are_deleted_and_a_live_pods_is_kept(env: GcEnv) -> None:
    pool = env.name("pool")
    env.cluster.pool(pool, "10.241.0.0/24", ["10.241.0.10-10.241.0.20"])
    node = env.node("n1").name
    live = env.pod("live", node)
    env.write_endpoint("gone", "uid-gone", node, pool, "10.241.0.10")
    env.pod("other", node)
    env.write_endpoint("other", "uid-older", node, pool, "10.241.0.11")
    env.write_endpoint("live", live.uid, node, pool, "10.241.0.12")
    result = env.gc()
    assert result.endpoint(f"{env.ns}/gone") == {"endpointsDeleted": ["pod-gone"]}
    assert result.endpoint(f"{env.ns}/other") == {"endpointsDeleted": ["pod-uid-differs"]}
    assert result.endpoint(f"{env.ns}/live") == {}
    assert env.endpoint_names() == {"live"}
    # none of them was recorded: each is reported, never "fixed" by writing a record
    unrecorded = {
        i["endpoint"]
        for i in result.report["inconsistencies"]
        if i["kind"] == "endpoint-not-recorded"
    }
    assert unrecorded == {f"{env.ns}/{n}" for n in ("gone", "other", "live")}
    assert env.holders(pool) == {}
    assert result.rc == 0


def test_statefulset_pods_keep_their_records_while_their_ordinal_has_a_place(env: GcEnv) -> None:
    """The IPAM's StatefulSet shape, written by hand: STS endpoints have no ownerReference and name
    the StatefulSet."""
    pool = env.name("pool")
    env.cluster.pool(pool, "10.242.0.0/24", ["10.242.0.10-10.242.0.30"])
    node = env.node("n1").name
    web, db = env.statefulset("web", replicas=3), env.statefulset("db", replicas=1)
    rows = {  # name: (ip, how, outcome, reason)
        "web-1": ("10.242.0.10", "gone", "kept", "statefulset-in-range"),
        "web-5": ("10.242.0.11", "gone", "released", "statefulset-out-of-range"),
        "web-2": ("10.242.0.12", "recreated", "kept", "statefulset-in-range"),
        "db-0": ("10.242.0.13", "gone", "released", "statefulset-gone"),
        "web-0": ("10.242.0.14", "alive", "untouched", ""),
    }
    records, uids = {}, {}
    for name, (ip, how, _, _) in rows.items():
        owner = db if name.startswith("db") else web
        uid = env.pod(name, node, owner=owner).uid if how == "alive" else f"old-{name}"
        if how == "recreated":
            env.pod(
                name, node, owner=owner
            )  # the StatefulSet's next pod of that name, not yet ADDed
        uids[name] = uid
        records[ip] = {"pod": f"{env.ns}/{name}", "podUid": uid}
        env.write_endpoint(name, uid, node, pool, ip, sts=owner["metadata"]["name"])
    env.write_records(pool, records)
    env.delete_statefulset("db")
    result = env.gc()
    assert result.rc == 0, result.report["errors"]
    holders, endpoints = env.holders(pool), env.endpoint_names()
    for name, (ip, _, outcome, reason) in rows.items():
        assert result.about(pool, ip) == ({} if outcome == "untouched" else {outcome: [reason]}), (
            name
        )
        assert (holders.get(ip) == uids[name]) == (outcome != "released"), name
        assert (name in endpoints) == (outcome != "released"), name
    assert env.counts_right(pool)


def test_a_statefulset_pods_addresses_through_the_ipam_wait_for_its_successor_until_scaled_down(
    env: GcEnv,
) -> None:
    pool = env.name("pool")
    env.cluster.pool(pool, "10.247.0.0/24", ["10.247.0.10-10.247.0.20"])
    node = env.node("n1", pool=pool).name
    web = env.statefulset("web", replicas=2)
    first = {n: env.running_pod(n, node, owner=web) for n in ("web-0", "web-1")}
    for ref, _ in first.values():
        env.delete_pod(ref)  # the node lost them; no DEL
    kept = env.gc()
    for name, (_ref, ip) in first.items():
        assert kept.about(pool, ip) == {"kept": ["statefulset-in-range"]}, name
    assert env.endpoint_names() == {"web-0", "web-1"}
    assert [i for i in kept.report["inconsistencies"] if i.get("pool") == pool] == []

    successor = env.pod(
        "web-0", node, owner=web
    )  # the StatefulSet re-creates web-0: it takes the address over
    assert env.add(successor, node).ips() == [first["web-0"][1]]
    assert env.gc().about(pool, first["web-0"][1]) == {}
    assert env.holders(pool)[first["web-0"][1]] == successor.uid

    status, reply = env.cp.request(
        "PATCH",
        f"/apis/apps/v1/namespaces/{env.ns}/statefulsets/web",
        {"spec": {"replicas": 1}},
        content_type="application/merge-patch+json",
    )
    assert status == 200, reply
    scaled = env.gc()
    assert scaled.about(pool, first["web-1"][1]) == {"released": ["statefulset-out-of-range"]}
    assert env.endpoint_names() == {"web-0"}

    env.delete_statefulset("web")
    env.delete_pod(successor)
    gone = env.gc()
    assert gone.about(pool, first["web-0"][1]) == {"released": ["statefulset-gone"]}
    assert env.holders(pool) == {} and env.endpoint_names() == set() and env.counts_right(pool)


def test_old_cooling_records_are_dropped_and_stale_counts_rewritten(env: GcEnv) -> None:
    pool, stale = env.name("pool"), env.name("stale")
    env.cluster.pool(pool, "10.243.0.0/24", ["10.243.0.10-10.243.0.20"])
    env.cluster.pool(stale, "10.243.1.0/24", ["10.243.1.10-10.243.1.20"])
    node = env.node("n1").name
    live = env.pod("live", node)
    old = {
        "pod": f"{env.ns}/x",
        "podUid": "u-x",
        "cooldownUntil": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 7200)),
        "strikes": 1,
    }
    recent = {
        **old,
        "cooldownUntil": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60)),
    }
    env.write_records(pool, {"10.243.0.10": old, "10.243.0.11": recent})
    env.write_records(
        stale,
        {"10.243.1.10": {"pod": f"{env.ns}/live", "podUid": live.uid}},
        allocatedIPCount=7,
        totalIPCount=99,
    )
    env.write_endpoint("live", live.uid, node, stale, "10.243.1.10")
    result = env.gc()
    assert result.about(pool, "10.243.0.10") == {"coolingDropped": ["cooling-expired"]}
    assert result.about(pool, "10.243.0.11") == {}
    assert set(env.cluster.records(pool)) == {"10.243.0.11"}
    assert [c for c in result.report["counts"] if c["pool"] == stale] == [
        {"pool": stale, "allocatedIPCount": [7, 1], "totalIPCount": [99, 11], "written": True}
    ]
    status = env.cluster.get_pool(stale)["status"]
    assert (status["allocatedIPCount"], status["totalIPCount"]) == (1, 11)
    assert env.holders(stale) == {"10.243.1.10": live.uid}
    assert env.gc().report["counts"] == []  # nothing stale any more: no write


def test_inconsistencies_are_reported_and_nothing_is_changed_for_them(env: GcEnv) -> None:
    a, b = env.name("a"), env.name("b")
    env.cluster.pool(a, "10.244.0.0/24", ["10.244.0.10-10.244.0.20"])
    env.cluster.pool(
        b, "10.244.0.0/24", ["10.244.0.10-10.244.0.20"]
    )  # overlapping pools: what admission is for
    node = env.node("n1").name
    p, q = env.pod("p", node), env.pod("q", node)
    env.write_records(a, {"10.244.0.10": {"pod": f"{env.ns}/p", "podUid": p.uid}})
    env.write_records(b, {"10.244.0.10": {"pod": f"{env.ns}/q", "podUid": q.uid}})
    env.write_endpoint("p", p.uid, node, a, "10.244.0.10")
    env.write_endpoint(
        "q", q.uid, node, a, "10.244.0.10"
    )  # names a's address, which a records for p
    result = env.gc()
    mine = [i for i in result.report["inconsistencies"] if i["ip"] == "10.244.0.10"]
    assert sorted(i["kind"] for i in mine) == [
        "endpoint-not-recorded",
        "ip-in-two-pools",
        "ip-named-by-two-endpoints",
    ]
    assert result.about(a, "10.244.0.10") == {} and result.about(b, "10.244.0.10") == {}
    assert env.holders(a) == {"10.244.0.10": p.uid} and env.holders(b) == {"10.244.0.10": q.uid}
    assert "inconsistency (ip-in-two-pools)" in result.err and result.rc == 0


def test_a_zombie_is_released_only_once_seen_for_min_age_and_a_dry_run_changes_nothing(
    env: GcEnv,
) -> None:
    pool = env.name("pool")
    env.cluster.pool(pool, "10.245.0.0/24", ["10.245.0.10-10.245.0.20"])
    node = env.node("n1", pool=pool).name
    ip, _ = deleted(env, "z", node)
    first = env.gc("--min-age", "2")
    assert first.about(pool, ip) == {"kept": ["min-age"]} and first.rc == 0
    state = env.cp.request("GET", f"/api/v1/namespaces/{env.ns}/configmaps/spidernet-gc-state")[1]
    assert list(json.loads(state["data"]["seen"])) != []
    assert env.gc("--min-age", "2").about(pool, ip) == {"kept": ["min-age"]}
    time.sleep(2.1)
    dry = env.gc("--min-age", "2", "--dry-run")
    assert dry.about(pool, ip) == {"wouldRelease": ["pod-gone"]} and dry.report["dryRun"]
    assert ip in env.holders(pool) and "z" in env.endpoint_names()
    assert (
        env.cp.request("GET", f"/api/v1/namespaces/{env.ns}/configmaps/spidernet-gc-state")[1]
        == state
    )
    final = env.gc("--min-age", "2")
    assert final.about(pool, ip) == {"released": ["pod-gone"]}
    assert ip not in env.holders(pool) and "z" not in env.endpoint_names()
    after = env.cp.request("GET", f"/api/v1/namespaces/{env.ns}/configmaps/spidernet-gc-state")[1]
    assert json.loads(after["data"]["seen"]) == {}  # forgotten once released


@pytest.mark.parametrize("entry", [["gc/main.py"], ["-m", "spidernet.gc"]])
def test_the_entry_runs_one_pass_as_a_process_json_on_stdout_summary_on_stderr(
    env: GcEnv, entry: list[str]
) -> None:
    pool = env.name("pool")
    env.cluster.pool(pool, "10.246.0.0/24", ["10.246.0.10-10.246.0.20"])
    node = env.node("n1", pool=pool).name
    ip, _ = deleted(env, "z", node)
    proc = subprocess.run(
        [
            sys.executable,
            *entry,
            "--kubeconfig",
            str(env.cp.kubeconfig),
            "--min-age",
            "0",
            "--once",
            "--ipam-config",
            quick_budget(env.base),
        ],
        cwd=paths.REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(paths.REPO)},
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert [(i["ip"], i["reason"]) for i in report["released"] if i["pool"] == pool] == [
        (ip, "pod-gone")
    ]
    assert "gc: released" in proc.stderr and "pod-gone" in proc.stderr
