"""Fixtures shared by the integration tests of the coordinator and of the plugins' edges.

``make_env(*host_addresses)`` gives a ``CoordinatorEnv``: a simulated node (netns) on the
shared control plane with its own Kubernetes namespace and pools, where chains of
Debian's macvlan, our spiderpool and our coordinator run through libcni.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.coordinator_env import CoordinatorEnv
from tools.testbed import netns
from tools.testbed.cluster import Cluster


@pytest.fixture
def make_env(
    cluster: Cluster, api_underlay: netns.Underlay, tmp_path: Path, bundle_bin: Path
) -> Iterator[Callable[..., CoordinatorEnv]]:
    def make(*host_addresses: str) -> CoordinatorEnv:
        return CoordinatorEnv(cluster, api_underlay, tmp_path, host_addresses)

    yield make
