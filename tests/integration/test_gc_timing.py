"""The GC's clocks and timing against the real apiserver and the frozen IPAM: when a zombie may
go, by whose clock, and what a full pool of cooling addresses gets.

| case                 | scenario                               | expected                         |
|----------------------|----------------------------------------|----------------------------------|
| skewed clock, grace  | a pod terminating with 30 s of grace;  | kept "terminating-within-grace": |
|                      | a pass on a machine whose clock is an  | the API server's clock decides   |
|                      | hour ahead                             |                                  |
| skewed clock, min-   | a gone pod's first sighting by a pass  | kept "min-age": both sightings   |
| age                  | an hour behind; the next pass on time, | are the API server's times       |
|                      | min-age 120                            |                                  |
| an ADD in flight     | an ADD stalled after its pool write;   | the record kept until the budget |
|                      | its pod force-deleted; a --min-age 0   | (3 s + 1) has passed; the        |
|                      | pass (budget 3 s)                      | resumed ADD answers code 11,     |
|                      |                                        | never the address; the next pod  |
|                      |                                        | gets it, alone                   |
| NotReady, node gone  | a terminating pod past its deadline on | kept "node-not-gone" while the   |
|                      | a NotReady node, --not-ready-requires- | Node exists; released once it is |
|                      | node-gone                              | deleted                          |
| cooling, full pool   | a pool of two addresses both cooling   | both freed ("cooling-blocks-     |
|                      | after failed ADDs: a third pod gets    | full-pool", strikes kept); the   |
|                      | code 100                               | third pod's ADD then succeeds    |
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pytest

from spidernet.gc import collecting, command
from spidernet.gc.report import Report
from spidernet.k8s.client import Deadline
from spidernet.k8s.official import OfficialClient
from tests.integration.gc_scenarios import GcEnv, gc_cluster, quick_budget  # noqa: F401
from tests.integration.ipam_exec import Stalled, exec_ipam
from tools.testbed.cluster import Cluster, NodeConfig

pytestmark = [pytest.mark.apiserver]
HOUR = 3600.0


@pytest.fixture
def env(gc_cluster: Cluster, tmp_path: Path, bundle_bin: Path) -> GcEnv:  # noqa: F811
    return GcEnv(gc_cluster, tmp_path)


def skewed_pass(env: GcEnv, skew: float, *args: str) -> Report:
    """One pass in this process on a machine whose clock is ``skew`` seconds off."""
    argv = ["--state-namespace", env.ns, "--ipam-config", quick_budget(env.base), *args]
    opts = command.options(command.parser().parse_args(argv))
    transport = OfficialClient.connect(str(env.cp.kubeconfig), Deadline(120), retry_for=10)
    try:
        return collecting.run(
            transport, opts, lock_dir=tempfile.mkdtemp(), clock=lambda: time.time() + skew
        )
    finally:
        transport.close()


def about(report: Report, pool: str, ip: str) -> dict[str, list[str]]:
    items = {"released": report.released, "kept": report.kept}
    return {
        key: [i["reason"] for i in found if i["pool"] == pool and i["ip"] == ip]
        for key, found in items.items()
        if any(i["pool"] == pool and i["ip"] == ip for i in found)
    }


def setup_pool(env: GcEnv, third: int, size: int = 10) -> str:
    pool = env.name("pool")
    env.cluster.pool(pool, f"10.247.{third}.0/24", [f"10.247.{third}.10-10.247.{third}.{9 + size}"])
    return pool


def test_a_gc_clock_an_hour_ahead_never_releases_a_pod_within_its_grace(env: GcEnv) -> None:
    pool = setup_pool(env, 0)
    node = env.node("n1", pool=pool).name
    ref, ip = env.running_pod("dying", node)
    env.delete_pod(ref, grace=30)  # Terminating; its grace ends 30 s from now (server time)
    report = skewed_pass(env, +HOUR, "--min-age", "0")
    assert about(report, pool, ip) == {"kept": ["terminating-within-grace"]}, report.to_json()
    assert report.server_time and ip in env.holders(pool)
    env.delete_pod(ref, grace=0)


def test_first_sightings_are_the_api_servers_times_whatever_the_gc_machines_clocks(
    env: GcEnv,
) -> None:
    pool = setup_pool(env, 1)
    node = env.node("n1", pool=pool).name
    ref, ip = env.running_pod("gone", node)
    env.delete_pod(ref)  # no DEL follows: a zombie
    first = skewed_pass(env, -HOUR, "--min-age", "120")  # a CronJob run on a node behind
    assert about(first, pool, ip) == {"kept": ["min-age"]}
    second = skewed_pass(env, 0.0, "--min-age", "120")  # the next run, on a node on time
    assert about(second, pool, ip) == {"kept": ["min-age"]}, second.to_json()
    assert ip in env.holders(pool)


def test_a_zombie_whose_add_may_still_run_waits_out_the_budget_and_that_add_never_answers(
    env: GcEnv,
) -> None:
    pool = setup_pool(env, 2)
    name = env.name("n1")
    env.cluster.node(name)
    env.set_ready(name, True)
    node = NodeConfig.create(env.cp, name, env.base, max_allocation_timeout=3)
    ipam = {"default_ipv4_ippool": [pool], "allocation_timeout": 3}
    ref = env.pod("late", name)
    stalled = Stalled(node, "ADD", ref, ref.container_id, at="after-pool-write", ipam=ipam)
    [ip] = env.holders(pool)  # the record is written; the endpoint and the answer are not
    env.delete_pod(ref)
    budget = env.base / "budget-3.json"
    budget.write_text(json.dumps({"max_allocation_timeout": 3}))
    started = time.monotonic()
    report = env.gc("--ipam-config", str(budget))
    assert report.about(pool, ip) == {"released": ["pod-gone-no-endpoint"]}, report.report
    assert report.report["waited"] > 0 and time.monotonic() - started >= 3
    answer = stalled.resume()
    assert answer.code == 11 and "budget spent" in str(answer.result), answer
    other = env.pod("next", name)
    got = exec_ipam(node, "ADD", other, other.container_id, ipam=ipam)
    assert got.ips() == [ip] and env.holders(pool) == {ip: other.uid}


def test_a_terminating_pod_on_a_not_ready_node_can_wait_for_the_node_to_be_deleted(
    env: GcEnv,
) -> None:
    pool = setup_pool(env, 3)
    node = env.node("n1", pool=pool).name
    ref, ip = env.running_pod("evicted", node, hold=True)
    env.set_ready(node, False)
    env.delete_pod(ref, grace=0)  # held by a finalizer: Terminating, past its deadline
    strict = ("--not-ready-requires-node-gone",)
    assert env.gc(*strict).about(pool, ip) == {"kept": ["node-not-gone"]}
    env.cp.request("DELETE", f"/api/v1/nodes/{node}")
    assert env.gc(*strict).about(pool, ip) == {"released": ["pod-terminating-node-not-ready"]}
    env.release_hold(ref)


def test_cooling_addresses_that_fill_a_pool_are_made_free_by_the_gc(env: GcEnv) -> None:
    pool = setup_pool(env, 4, size=2)
    # An ADD's budget shorter than the cool-down (30 s): the pool is simply full for it, so it
    # fails at once rather than wait for the cooling to end (docs/ipam.md, "A full pool").
    node = env.node("n1", pool=pool, allocation_timeout=10).name
    cooled = []
    for name in ("a", "b"):  # each ADD "failed later in the chain": a DEL without prevResult
        ref = env.pod(name, node)
        cooled += env.add(ref, node).ips()
        env.runtimes[node].cache.clear()
        assert env.runtimes[node].delete(ref, ref.container_id).ok
    assert env.holders(pool) == {} and len(env.cluster.records(pool)) == 2
    third = env.pod("c", node)
    assert env.runtimes[node].add(third, third.container_id).code == 100  # all cooling
    result = env.gc()
    freed = {i["ip"]: i["reason"] for i in result.report["coolingReclaimed"] if i["pool"] == pool}
    assert freed == dict.fromkeys(cooled, "cooling-blocks-full-pool")
    assert {r["strikes"] for r in env.cluster.records(pool).values()} == {1}  # strikes kept
    assert env.runtimes[node].add(third, third.container_id).ok
