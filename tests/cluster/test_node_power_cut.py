"""A node loses power: its pods are force-deleted, the GC CronJob frees their addresses,
the replacements start on the other node; then the node comes back.

The pool has exactly as many addresses as replicas, so a replacement can only start
once the GC (the real CronJob from the manifests, its Jobs running as pods) has freed
an address of a dead pod: its IPAM DEL never ran.

- 4 replicas on a pool of 4, both nodes: Running;
- the node with most of them loses power (kubelet, containerd, shims, containers killed):
  the Node goes NotReady;
- its pods force-deleted (``kubectl delete --force --grace-period=0``, as an operator
  does): replacements are created on the live node and fail ADD at first (pool exhausted);
- GC CronJob passes: an Event ``released <ip> ...: pod-gone`` per dead pod's address,
  every replacement Running on the live node with a dead pod's address;
- power back on: the Node is Ready again; the stale sandboxes' teardown frees nothing,
  the pool holds exactly the running pods.
"""

from __future__ import annotations

import pytest

from tools.testbed import kubecluster, workloads
from tools.testbed.kubecluster import LocalCluster

pytestmark = pytest.mark.cluster

NS, POOL, REPLICAS = "powercut", "powercut-v4", 4


def ready(kube: LocalCluster, name: str) -> bool:
    node = next(n for n in kube.api_nodes() if n["metadata"]["name"] == name)
    conditions = node.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def running(kube: LocalCluster) -> list[dict]:
    return [p for p in kube.pods(NS, "app=app") if workloads.running(p)]


def gc_released(kube: LocalCluster) -> list[str]:
    """The messages of the GC's Events on the pool, one per released address
    (``released <ip> of <ns/pod> (UID <uid>): <reason>: ...``)."""
    query = f"?fieldSelector=involvedObject.name={POOL}"
    status, reply = kube.api.request("GET", f"/api/v1/events{query}")
    assert status == 200, reply
    return [
        e["message"]
        for e in reply["items"]
        if e.get("reason") == "Released" or "released" in e["message"]
    ]


def test_a_dead_nodes_pods_are_replaced_after_the_gc_cronjob_frees_their_addresses(
    kube: LocalCluster,
):
    kube.namespace(NS)
    kube.objects().pool(POOL, kubecluster.SUBNET, ["10.6.5.1-10.6.5.4"])
    kube.create(
        workloads.deployment("app", NS, replicas=REPLICAS, image=kubecluster.BUSYBOX, pool=POOL)
    )
    kube.wait_for(lambda: len(running(kube)) == REPLICAS, "4 pods Running", 300)
    pods = running(kube)
    counts: dict[str, int] = {}
    for p in pods:
        counts[p["spec"]["nodeName"]] = counts.get(p["spec"]["nodeName"], 0) + 1
    victim = max(counts, key=lambda n: counts[n])
    survivor = next(n.name for n in kube.nodes if n.name != victim)
    dead = [p for p in pods if p["spec"]["nodeName"] == victim]
    dead_addresses = {p["status"]["podIP"] for p in dead}
    print(f"{len(dead)} of {REPLICAS} pods on {victim}: {sorted(dead_addresses)}")

    kube.node(victim).power_off()
    took = kube.wait_for(lambda: not ready(kube, victim), f"{victim} NotReady", 180)
    print(f"{victim} NotReady {took:.1f} s after the power cut")
    for p in dead:
        done = kube.kubectl(
            "-n", NS, "delete", "pod", p["metadata"]["name"], "--force", "--grace-period=0"
        )
        assert done.returncode == 0, done.stderr

    took = kube.wait_for(
        lambda: len(running(kube)) == REPLICAS, "the replacements Running", 600, every=2
    )
    print(f"replacements Running {took:.1f} s after the force-deletion")
    pods = running(kube)
    replacements = [
        p for p in pods if p["metadata"]["uid"] not in {d["metadata"]["uid"] for d in dead}
    ]
    assert all(p["spec"]["nodeName"] == survivor for p in replacements)
    assert {p["status"]["podIP"] for p in pods} == {f"10.6.5.{i}" for i in range(1, 5)}
    messages = gc_released(kube)
    for address in dead_addresses:
        assert any(
            m.startswith(f"released {address} of {NS}/") and "pod-gone" in m for m in messages
        ), messages

    kube.node(victim).power_on()
    took = kube.wait_for(lambda: ready(kube, victim), f"{victim} Ready again", 300)
    print(f"{victim} Ready {took:.1f} s after power on")
    pod_dirs = kube.node(victim).host_path("/var/lib/kubelet/pods")
    kube.wait_for(
        lambda: not any((pod_dirs / p["metadata"]["uid"]).exists() for p in dead),
        f"{victim} has cleaned up the dead pods",
        300,
    )
    held = kube.objects().holders(POOL)
    assert {r["podUid"] for r in held.values()} == {p["metadata"]["uid"] for p in running(kube)}
    assert len(running(kube)) == REPLICAS
