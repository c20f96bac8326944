"""A StatefulSet pod keeps its address across deletions, through the real StatefulSet controller.

- 2 replicas on a pool of 2: both Running;
- ``db-0`` deleted, 5 times in a row: each time the controller re-creates it (a new UID),
  it runs with the same address, the pool's record follows the new UID, and the other
  pod keeps its own address.
"""

from __future__ import annotations

import pytest

from tools.testbed import kubecluster, workloads
from tools.testbed.kubecluster import LocalCluster

pytestmark = pytest.mark.cluster

NS, POOL = "stateful", "stateful-v4"


def pod(kube: LocalCluster, name: str) -> dict | None:
    found = [p for p in kube.pods(NS, "app=db") if p["metadata"]["name"] == name]
    return found[0] if found else None


def running_with_new_uid(kube: LocalCluster, name: str, old_uid: str) -> bool:
    p = pod(kube, name)
    return p is not None and p["metadata"]["uid"] != old_uid and workloads.running(p)


def test_a_statefulset_pod_deleted_five_times_comes_back_with_its_address(kube: LocalCluster):
    kube.namespace(NS)
    kube.objects().pool(POOL, kubecluster.SUBNET, ["10.6.4.1-10.6.4.2"])
    kube.create(workloads.statefulset("db", NS, replicas=2, image=kubecluster.BUSYBOX, pool=POOL))
    kube.wait_for(
        lambda: sum(workloads.running(p) for p in kube.pods(NS, "app=db")) == 2,
        "db-0, db-1 Running",
        300,
    )
    first, other = pod(kube, "db-0"), pod(kube, "db-1")
    address, other_address = first["status"]["podIP"], other["status"]["podIP"]
    for round_ in range(1, 6):
        uid = first["metadata"]["uid"]
        kube.delete_pod(NS, "db-0")
        took = kube.wait_for(
            lambda uid=uid: running_with_new_uid(kube, "db-0", uid), "db-0 back", 300
        )
        first = pod(kube, "db-0")
        print(f"round {round_}: db-0 back after {took:.1f} s on {first['spec']['nodeName']}")
        assert first["status"]["podIP"] == address, f"round {round_}"
        held = kube.objects().holders(POOL)
        assert held[address]["podUid"] == first["metadata"]["uid"], f"round {round_}"
        assert held[other_address]["podUid"] == other["metadata"]["uid"]
    assert pod(kube, "db-1")["status"]["podIP"] == other_address
