"""A Deployment on a pool of exactly its size, through real kubelets (the seed's "IPs = pods").

- 20 replicas on a pool of 20, spread on the two nodes (a topology spread constraint:
  the scheduler's scores alone put every replica on one node here): all Running, one
  address each, every address from the pool, pods on both nodes;
- the underlay: a pod pings a pod on the other node, and back;
- ``kubectl rollout restart``: the rollout ends, every pod is new and Running, the pool
  holds exactly the new pods' UIDs (no leak);
- scale to 0: the pool holds nothing, no SpiderEndpoint is left.
"""

from __future__ import annotations

import ipaddress

import pytest

from tools.testbed import kubecluster, workloads
from tools.testbed.kubecluster import LocalCluster

pytestmark = pytest.mark.cluster

NS, POOL, REPLICAS = "deploy", "deploy-v4", 20


def running_pods(kube: LocalCluster) -> list[dict]:
    return [p for p in kube.pods(NS, "app=web") if workloads.running(p)]


def pod_ip(pod: dict) -> str:
    return pod["status"]["podIP"]


def holders_are_exactly(kube: LocalCluster, pods: list[dict]) -> bool:
    held = kube.objects().holders(POOL)
    return {r["podUid"] for r in held.values()} == {p["metadata"]["uid"] for p in pods} and len(
        held
    ) == len(pods)


def test_twenty_replicas_on_a_pool_of_twenty_run_restart_and_scale_to_zero(kube: LocalCluster):
    kube.namespace(NS)
    kube.objects().pool(POOL, kubecluster.SUBNET, ["10.6.1.1-10.6.1.20"])
    kube.create(
        workloads.deployment(
            "web", NS, replicas=REPLICAS, image=kubecluster.BUSYBOX, pool=POOL, spread=True
        )
    )
    took = kube.wait_for(lambda: len(running_pods(kube)) == REPLICAS, "20 pods Running", 300)
    pods = running_pods(kube)
    print(f"20 replicas Running after {took:.1f} s")
    addresses = {pod_ip(p) for p in pods}
    assert len(addresses) == REPLICAS
    pool_range = ipaddress.ip_network("10.6.1.0/27")
    assert all(ipaddress.ip_address(a) in pool_range for a in addresses)
    assert holders_are_exactly(kube, pods)
    by_node: dict[str, list[dict]] = {}
    for p in pods:
        by_node.setdefault(p["spec"]["nodeName"], []).append(p)
    assert len(by_node) == 2, f"pods on {sorted(by_node)} only"
    first, second = (group[0] for group in by_node.values())
    assert kube.ping(first, pod_ip(second)), f"{pod_ip(first)} cannot ping {pod_ip(second)}"
    assert kube.ping(second, pod_ip(first))

    old_uids = {p["metadata"]["uid"] for p in pods}
    done = kube.kubectl("-n", NS, "rollout", "restart", "deployment/web")
    assert done.returncode == 0, done.stderr
    status = kube.kubectl(
        "-n", NS, "rollout", "status", "deployment/web", "--timeout=600s", timeout=660
    )
    assert status.returncode == 0, status.stdout + status.stderr
    took = kube.wait_for(
        lambda: len(kube.pods(NS, "app=web")) == REPLICAS == len(running_pods(kube)),
        "the old pods gone, the new ones Running",
        300,
    )
    pods = running_pods(kube)
    assert not old_uids & {p["metadata"]["uid"] for p in pods}
    kube.wait_for(
        lambda: holders_are_exactly(kube, running_pods(kube)),
        "the pool holds the new pods only",
        60,
    )
    print(f"rollout restart done; old pods gone {took:.1f} s after the rollout ended")

    kube.scale("Deployment", NS, "web", 0)
    kube.wait_for(lambda: not kube.pods(NS, "app=web"), "every pod gone", 300)
    kube.wait_for(lambda: not kube.objects().holders(POOL), "the pool empty", 60)
    assert kube.objects().endpoints(NS) == []
