"""The installer copies the token kubelet rotates, and pods keep starting with it.

The overlay gives the installer's projected token the shortest life the API server
allows (600 s): kubelet replaces it after 80% of that, the installer copies each new one
to the node within its poll. Runs late in the session so that the wait overlaps the
other tests.

- wait for each node's token file to change (up to 15 min): a newer token (later
  ``iat``) of the same installer pod;
- pods started afterwards: Running, their ADD authenticated with the rotated token.
"""

from __future__ import annotations

import time

import pytest

from tools.testbed import kubecluster, workloads
from tools.testbed.kubecluster import LocalCluster

pytestmark = pytest.mark.cluster

NS, POOL = "rotation", "rotation-v4"


def test_a_token_rotated_by_kubelet_reaches_the_node_and_new_pods_start_with_it(
    kube: LocalCluster,
):
    pods = kube.installer_pods()
    first: dict[str, dict] = {}
    for node in kube.nodes:
        claims = kube.node_token_claims(node)
        first[node.name] = claims
        started = time.time() - claims["iat"]
        left = claims["exp"] - time.time()
        print(f"{node.name}: token issued {started:.0f} s ago, expires in {left:.0f} s")

    def rotated(node_name: str) -> bool:
        return kube.node_token_claims(kube.node(node_name))["iat"] > first[node_name]["iat"]

    for node in kube.nodes:
        took = kube.wait_for(
            lambda n=node.name: rotated(n), f"{node.name}'s token rotated", 900, every=5
        )
        claims = kube.node_token_claims(node)
        assert claims["kubernetes.io"]["pod"]["uid"] == pods[node.name]["metadata"]["uid"]
        print(f"{node.name}: rotated token copied (waited {took:.0f} s)")

    kube.namespace(NS)
    kube.objects().pool(POOL, kubecluster.SUBNET, ["10.6.6.1-10.6.6.2"])
    kube.create(workloads.deployment("after", NS, replicas=2, image=kubecluster.BUSYBOX, pool=POOL))
    kube.wait_for(
        lambda: sum(workloads.running(p) for p in kube.pods(NS, "app=after")) == 2,
        "2 pods Running after the rotation",
        300,
    )
