"""200 pods start at once on 4 nodes, one pool of exactly 200 addresses (docs/performance.md).

Each simulated node has its own netns, node name and lock directory, so nodes meet only
at the apiserver's resourceVersion compare-and-swap, as in a cluster. Every ADD runs
the frozen plugin through libcni + macvlan. Oracles (whereabouts-style):
- every ADD succeeds, 200 distinct addresses, all inside the pool;
- a verb that answers code 11 (try again later: its time budget ran out while the 2-core
  machine was busy) is retried as kubelet retries it, and the retries are counted;
  any other failure fails the test;
- pool status (records, allocatedIPCount) and SpiderEndpoints agree address by address;
- after the pods are deleted and every DEL ran: no record, no endpoint.
The conflicts and retries it took are printed (run with -s to see them).
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.integration.ipam_scenarios import Scenario, SimNode
from tools.testbed import cni, netns
from tools.testbed.cluster import Cluster

pytestmark = [pytest.mark.apiserver, pytest.mark.netns]

PODS, NODES, WORKERS = 200, 4, 32
RETRIED: list[str] = []


def as_kubelet(call: Any, *args: Any, undo: Any = None, **kw: Any) -> Any:
    """Retry on code 11, as kubelet retries a sandbox and its teardown; a failed ADD is undone
    first (``undo``, its DEL), as the runtime tears a failed sandbox down: Debian's macvlan
    leaves its link in the pod's netns when its IPAM fails."""
    for attempt in range(5):
        try:
            return call(*args, **kw)
        except cni.CniFailure as e:
            if e.code != 11 or attempt == 4:
                raise
            RETRIED.append(e.msg)
            if undo is not None:
                as_kubelet(undo, *args, **kw)
            time.sleep(1 + attempt)


def conflicts_in(node: SimNode) -> tuple[int, int]:
    """(conflicts, writes) summed over the node's plugin log."""
    text = (node.config.dir / "spiderpool.log").read_text()
    pairs = re.findall(r"writes=(\d+) conflicts=(\d+)", text)
    return sum(int(c) for _, c in pairs), sum(int(w) for w, _ in pairs)


def test_200_concurrent_adds_from_4_nodes_on_a_200_address_pool(
    cluster: Cluster, control_plane: object, tmp_path: Path, bundle_bin: Path
) -> None:
    with netns.Underlay(api_port=cluster.cp.port) as underlay:
        sc = Scenario(cluster, underlay, tmp_path)
        pool = sc.name("big")
        cluster.pool(pool, "10.110.0.0/24", ["10.110.0.1-10.110.0.200"])
        nodes = [sc.node(i) for i in range(NODES)]
        runtimes = [n.runtime(default_ipv4_ippool=[pool]) for n in nodes]
        work = []
        for i in range(PODS):
            ref, pod = sc.pod(f"p{i}", nodes[i % NODES])
            work.append((runtimes[i % NODES], ref, pod))

        started = time.monotonic()
        with ThreadPoolExecutor(WORKERS) as ex:
            results = list(
                ex.map(
                    lambda w: as_kubelet(
                        w[0].add, w[1].container_id, w[2].path, pod=w[1], undo=w[0].delete
                    ),
                    work,
                )
            )
        add_wall = time.monotonic() - started

        ips = [r["ips"][0]["address"].split("/")[0] for r in results]
        assert len(set(ips)) == PODS
        records = cluster.records(pool)
        assert cluster.get_pool(pool)["status"]["allocatedIPCount"] == PODS
        assert {ip: r["podUid"] for ip, r in records.items()} == {
            ip: w[1].uid for ip, w in zip(ips, work)
        }
        endpoints = {
            e["metadata"]["name"]: e["status"]["current"] for e in cluster.endpoints(sc.ns)
        }
        assert {
            endpoints[w[1].name]["ips"][0]["ipv4"].split("/")[0]: endpoints[w[1].name]["uid"]
            for w in work
        } == {ip: r["podUid"] for ip, r in records.items()}

        for w in work:
            cluster.delete_pod(sc.ns, w[1].name)
        started = time.monotonic()
        with ThreadPoolExecutor(WORKERS) as ex:
            list(
                ex.map(
                    lambda w: as_kubelet(w[0].delete, w[1].container_id, w[2].path, pod=w[1]), work
                )
            )
        del_wall = time.monotonic() - started
        assert cluster.records(pool) == {}
        assert cluster.endpoints(sc.ns) == []

        conflicts = [conflicts_in(n) for n in nodes]
        print(
            f"\n200 ADDs: {add_wall:.1f}s ({PODS / add_wall:.1f}/s); 200 DELs: {del_wall:.1f}s; "
            f"conflicts per node {[c for c, _ in conflicts]}, pool writes "
            f"{sum(w for _, w in conflicts)}, "
            f"verbs retried after code 11: {len(RETRIED)} ({sorted(set(m[:60] for m in RETRIED))})"
        )
