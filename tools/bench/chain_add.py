"""What each plugin of the chain adds to a pod's start: ADD and DEL through libcni. Does I/O.

One simulated node (a netns on the underlay bridge) and an idle local apiserver. For
each chain below, pods are added one after the other (a new pod object each time, as
kubelet would), then deleted; every call is the libcni driver exec'ing the frozen
plugins, so the figures are whole-process figures of the runtime call:

    macvlan -> spiderpool                     the IPAM alone
    macvlan -> spiderpool -> coordinator      + veth0, host routes, rules, neighbours

Wall time per call, and CPU per call from the kernel's accounting of all child
processes (RUSAGE_CHILDREN: libcni driver, macvlan, our plugins, iptables). ``ifacer``
is not in the list: the host kernel has no VLAN driver (docs/testbed.md).

    python -m tools.bench.chain_add [--pods 15]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tools.testbed import cni, netns
from tools.testbed.cluster import Cluster, NodeConfig
from tools.testbed.controlplane import ControlPlane


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(call: Callable[[], object]) -> tuple[float, float]:
    cpu, wall = children_cpu(), time.perf_counter()
    call()
    return time.perf_counter() - wall, children_cpu() - cpu


def conflist(node: NodeConfig, pool: str, coordinator: bool) -> dict[str, Any]:
    plugins: list[dict[str, Any]] = [
        {
            "type": "macvlan",
            "master": "ens1",
            "mode": "bridge",
            "ipam": node.ipam(default_ipv4_ippool=[pool], log_level="info"),
        }
    ]
    if coordinator:
        plugins.append(
            {
                "type": "coordinator",
                "mode": "underlay",
                "logOptions": {"logLevel": "info", "logFile": str(node.dir / "coordinator.log")},
            }
        )
    return {"cniVersion": "1.0.0", "name": "bench", "plugins": plugins}


def run_chain(
    cluster: Cluster,
    underlay: netns.Underlay,
    node: NodeConfig,
    label: str,
    pods: int,
    coordinator: bool,
) -> None:
    pool = f"bench-{label}"
    cluster.pool(pool, "10.201.0.0/16", ["10.201.0.1-10.201.0.250"])
    rt = cni.Runtime(conflist(node, pool, coordinator), node=underlay.nodes[0])
    refs = []
    adds, dels = [], []
    for i in range(pods + 1):  # the first pod warms page caches and is not counted
        obj = cluster.pod("bench", f"{label}-{i}", node.name)
        ref = cni.PodRef(
            "bench", f"{label}-{i}", uid=obj["metadata"]["uid"], container_id=f"{label}-{i:04d}-cid"
        )
        pod = underlay.add_pod(f"{label}{i}")
        adds.append(timed(lambda ref=ref, pod=pod: rt.add(ref.container_id, pod.path, pod=ref)))
        refs.append((ref, pod))
    for ref, pod in refs:
        cluster.delete_pod("bench", ref.name)
        dels.append(timed(lambda ref=ref, pod=pod: rt.delete(ref.container_id, pod.path, pod=ref)))
        pod.delete()
    underlay.pods.clear()
    cluster.delete_pool(pool)
    for verb, figures in (("ADD", adds[1:]), ("DEL", dels[1:])):
        walls, cpus = [w * 1000 for w, _ in figures], [c * 1000 for _, c in figures]
        print(
            f"{label:<12} {verb}  wall median {statistics.median(walls):6.1f} ms (min {min(walls):.1f}, "
            f"max {max(walls):.1f})   CPU median {statistics.median(cpus):6.1f} ms   n={len(figures)}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=15)
    args = parser.parse_args()
    with ControlPlane() as cp:
        cluster = Cluster(cp)
        cluster.install_crds()
        cluster.namespace("bench")
        cluster.node("bench-node")
        node = NodeConfig.create(cp, "bench-node", Path(tempfile.mkdtemp()))
        with netns.Underlay(api_port=cp.port) as underlay:
            underlay.add_node(host_addresses=("192.168.60.2/24",))
            run_chain(cluster, underlay, node, "ipam", args.pods, coordinator=False)
            run_chain(cluster, underlay, node, "coordinator", args.pods, coordinator=True)


if __name__ == "__main__":
    main()
