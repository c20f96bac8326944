"""Per-node combining through the frozen binary against the real apiserver (docs/ipam.md,
"Combining"), with each of its kill points.

The test holds the node's lock on the pool itself, so that every ADD it starts queues
its request (``<lock_dir>/<pool>.queue``); once all are queued it lets the lock go, and
one of them becomes the holder of the others. The execs carry a failpoint
(spidernet/ipam/failpoints.py) that SIGKILLs them at one point of the protocol:

| kill point                    | who dies                             | then                     |
|-------------------------------|--------------------------------------|--------------------------|
| none                          | nobody: one pool write serves all    | each its own address     |
| combine-holder-before-write   | each holder with a queue, before PUT | the last decides alone;  |
|                               |                                      | the retries succeed      |
| combine-holder-before-answers | each holder with a queue, after PUT  | the next holder reuses   |
|                               |                                      | the records written      |
| combine-waiter-queued         | every waiter but one, once queued    | the one left drops their |
|                               |                                      | requests unanswered      |
| combine-waiter-answered       | every waiter the holder answered     | the retries reuse their  |
|                               |                                      | records (ADD idempotent) |

After each: I1-I6 read back from the API (tools/testbed/invariants.py), one record per
pod, nothing left in the queue; then every pod's DEL, and the pool is empty.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.integration.ipam_exec import Outcome, Runtime
from tools.testbed import cni, invariants
from tools.testbed.cluster import Cluster, NodeConfig

pytestmark = [pytest.mark.apiserver]
PODS = 4


def queued(lock_dir: Path, pool: str) -> int:
    q = lock_dir / f"{pool}.queue"
    return sum(1 for n in os.listdir(q) if n.endswith(".req")) if q.is_dir() else 0


def pool_writes(node: NodeConfig) -> int:
    """Pool writes, summed over the node's plugin log (the debug line of every exec)."""
    text = (node.dir / "spiderpool.log").read_text()
    return sum(int(w) for w in re.findall(r"writes=(\d+) conflicts=", text))


def run_queued(
    verb: Callable[..., Outcome],
    lock_dir: Path,
    pool: str,
    refs: list[cni.PodRef],
    points: list[str],
) -> list[Outcome]:
    """``verb`` (an ADD or a DEL) for every pod while the test holds the pool lock; the lock
    goes once all have queued."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / f"{pool}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    with ThreadPoolExecutor(len(refs)) as ex:
        try:
            futures = [
                ex.submit(verb, ref, ref.container_id, failpoint=point)
                for ref, point in zip(refs, points, strict=True)
            ]
            deadline = time.monotonic() + 120
            while queued(lock_dir, pool) < len(refs):
                assert time.monotonic() < deadline, "the ADDs did not all queue"
                time.sleep(0.02)
        finally:
            os.close(fd)
        return [f.result() for f in futures]


@pytest.mark.parametrize(
    "point",
    [
        "",
        "combine-holder-before-write",
        "combine-holder-before-answers",
        "combine-waiter-queued",
        "combine-waiter-answered",
    ],
)
def test_adds_queued_on_one_node_get_one_address_each_whoever_is_killed_in_the_protocol(
    cluster: Cluster, tmp_path: Path, bundle_bin: Path, point: str
) -> None:
    ns = f"c{os.urandom(3).hex()}"
    cluster.namespace(ns)
    pool = f"{ns}-p"
    cluster.pool(pool, "10.210.0.0/24", ["10.210.0.10-10.210.0.30"])
    cluster.node(f"{ns}-node0")
    node = NodeConfig.create(cluster.cp, f"{ns}-node0", tmp_path)
    rt = Runtime(node, ipam={"default_ipv4_ippool": [pool]})
    refs = []
    for i in range(PODS):
        obj = cluster.pod(ns, f"p{i}", node.name)
        refs.append(cni.PodRef(ns, f"p{i}", obj["metadata"]["uid"], f"c-p{i}"))
    # combine-waiter-queued: all but the last die in the queue, so someone is left to hold.
    points = [point] * PODS if point != "combine-waiter-queued" else [point] * (PODS - 1) + [""]
    lock_dir = Path(node.paths()["lock_dir"])
    first = run_queued(rt.add, lock_dir, pool, refs, points)
    killed = [ref for ref, out in zip(refs, first, strict=True) if out.killed]
    print(f"kill point {point or 'none'}: {len(killed)} of {PODS} ADDs killed")
    assert all(out.ok or out.killed for out in first), [o.result for o in first]
    if point:
        assert killed, "nobody reached the kill point"
    else:
        assert pool_writes(node) == 1  # the holder's one compare-and-swap served all
    retried = [rt.add(ref, ref.container_id) for ref in killed]  # the kubelet's retry
    assert all(out.ok for out in retried), [o.result for o in retried]
    snap = invariants.snapshot(cluster.cp, [pool], ns)
    assert snap.violations() == []
    holders = snap.holders()
    assert sorted(holders.values()) == sorted(r.uid for r in refs)  # one record per pod
    assert queued(lock_dir, pool) == 0
    writes = pool_writes(node)
    for ref in refs:
        cluster.delete_pod(ns, ref.name)
    dels = run_queued(rt.delete, lock_dir, pool, refs, [""] * PODS)  # releases combine too
    assert all(out.ok for out in dels), [o.result for o in dels]
    assert pool_writes(node) == writes + 1
    assert invariants.snapshot(cluster.cp, [pool], ns).holders() == {}
