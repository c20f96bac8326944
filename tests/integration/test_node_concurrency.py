"""Many execs of one node failing and being DEL'd at once (docs/ipam.md, "The node's
notes"), through libcni, Debian's macvlan and the frozen IPAM against the apiserver.

One node, a pool of ``ADDRESSES`` addresses, ``PODS`` pods started ``WORKERS`` at a
time in a random order: most ADDs fail (the pool is full) and are DEL'd at once, as a
runtime tears a failed sandbox down; then every pod is deleted and DEL'd, again
``WORKERS`` at a time. The node's state directory starts with ``OLD_MARKERS`` failure
markers more than a day old, which every failing ADD sweeps: the execs race each other
on the same directory entries. Oracles:

| what                                        | expected                                      |
|---------------------------------------------|-----------------------------------------------|
| every reply of a failed ADD                 | code 100 (pool full) or 11 (busy machine),    |
|                                             | never 999                                     |
| every DEL                                   | success                                       |
| afterwards, in the API                      | no record in the pool, no endpoint            |
| afterwards, in the node's state directory   | no note, no temporary file, no day-old marker |

The seed, the number of execs and how each verb ended are printed (``-s``).
"""

from __future__ import annotations

import collections
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.integration.ipam_scenarios import Scenario
from tools.testbed import cni, netns
from tools.testbed.cluster import Cluster

pytestmark = [pytest.mark.apiserver, pytest.mark.netns]

PODS, ADDRESSES, WORKERS, OLD_MARKERS = 16, 3, 6, 300


def seed_old_markers(state: Path, count: int) -> None:
    """Failure markers of sandboxes gone for two days: the sweep's work."""
    state.mkdir(parents=True, exist_ok=True)
    old = time.time() - 2 * 86400
    for i in range(count):
        marker = state / f"gone-{i:04d}.failed"
        marker.write_text("")
        os.utime(marker, (old, old))


def test_failing_adds_and_their_dels_racing_on_one_node_answer_no_999_and_leave_nothing(
    cluster: Cluster, control_plane: object, tmp_path: Path, bundle_bin: Path
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    with netns.Underlay(api_port=cluster.cp.port) as underlay:
        sc = Scenario(cluster, underlay, tmp_path)
        pool = sc.name("tight")
        cluster.pool(pool, "10.111.0.0/24", [f"10.111.0.1-10.111.0.{ADDRESSES}"])
        node = sc.node(0)
        state = node.config.dir / "state"
        seed_old_markers(state, OLD_MARKERS)
        runtime = node.runtime(default_ipv4_ippool=[pool])
        pods = [sc.pod(f"p{i}", node) for i in range(PODS)]
        rng.shuffle(pods)
        outcomes: collections.Counter[str] = collections.Counter()

        def start(pod: tuple[cni.PodRef, netns.Netns]) -> bool:
            ref, ns = pod
            try:
                runtime.add(ref.container_id, ns.path, pod=ref)
            except cni.CniFailure as e:
                outcomes[f"ADD -> {e.code}"] += 1
                assert e.code in (100, 11), f"{ref.name}: {e.error}"
                runtime.delete(ref.container_id, ns.path, pod=ref)  # the runtime's teardown
                outcomes["DEL after a failed ADD -> ok"] += 1
                return False
            outcomes["ADD -> ok"] += 1
            return True

        with ThreadPoolExecutor(WORKERS) as ex:
            started = list(ex.map(start, pods))
        assert sum(started) <= ADDRESSES

        def stop(pod: tuple[cni.PodRef, netns.Netns]) -> None:
            ref, ns = pod
            cluster.delete_pod(sc.ns, ref.name)
            runtime.delete(ref.container_id, ns.path, pod=ref)
            outcomes["DEL of a deleted pod -> ok"] += 1

        with ThreadPoolExecutor(WORKERS) as ex:
            list(ex.map(stop, pods))

        assert cluster.records(pool) == {}
        assert cluster.endpoints(sc.ns) == []
        left = sorted(p.name for p in state.iterdir())
        assert [n for n in left if n.endswith((".json", ".tmp")) or n.startswith("gone-")] == []
        print(
            f"\nseed {seed}: {sum(outcomes.values())} verbs on one node, {WORKERS} at a time, "
            f"{OLD_MARKERS} day-old markers swept: {dict(sorted(outcomes.items()))}"
        )
