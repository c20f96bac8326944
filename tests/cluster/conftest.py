"""The local cluster the tests marked ``cluster`` share (tools/test.sh --cluster).

One cluster per session (tools/testbed/kubecluster.py): control plane, controller-manager,
scheduler and two nodes with kubelet and containerd, our suite installed by
``kubectl apply -k`` of tools/testbed/overlay, every node's pod network our chain
(macvlan on ens1 -> spiderpool -> coordinator). Each test makes its own namespace and
pool.
The image is ``$SPIDERNET_IMAGE`` (tools/build_image.sh; tools/test.sh --cluster sets it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.testbed import kubecluster, kubenode, paths
from tools.testbed.kubecluster import LocalCluster


@pytest.fixture(scope="session")
def host_sysctls() -> dict[str, str]:
    """The machine's values of the sysctls kubelet sets, before any kubelet ran."""
    return kubenode.read_sysctls()


@pytest.fixture(scope="session")
def kube(host_sysctls: dict[str, str]) -> Iterator[LocalCluster]:
    if os.geteuid() != 0:
        pytest.skip("the local cluster needs root")
    image = os.environ.get("SPIDERNET_IMAGE", "")
    if not image or not Path(image).exists():
        pytest.fail(f"SPIDERNET_IMAGE={image!r} is no image: run through tools/test.sh --cluster")
    for binary in (paths.KUBELET, paths.KUBECTL):
        if not binary.exists():
            pytest.fail(f"{binary} is missing: run tools/bootstrap.sh --cluster")
    with LocalCluster(image=Path(image)) as cluster:
        cluster.write_conflist(kubecluster.spiderpool_ipam())
        cluster.install()
        yield cluster


# The order the modules run in: the token rotation waits for kubelet (about 8 min after
# the install), so it comes after the other workloads; the power cut changes a node's
# life, so it comes last.
ORDER = (
    "test_image",
    "test_installer_pod",
    "test_deployment",
    "test_statefulset",
    "test_token_rotation",
    "test_node_power_cut",
)


# Per test, the cluster's start included for the first: the suite's default (300 s) is
# for single components; a rollout on a busy 2-core machine takes minutes.
TIMEOUT = 1800


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        return ORDER.index(module) if module in ORDER else -1

    for item in items:
        if item.get_closest_marker("cluster"):
            item.add_marker(pytest.mark.timeout(TIMEOUT))
    items.sort(key=rank)
