"""The datapath shapes that need the user-mode Linux kernel, tiny: every path carries traffic.

Runs inside the UML guest (tests/e2e/test_in_uml.py boots it), with the guest's own
control plane, through tests/integration/datapath_run.py as the host-kernel shapes do.
No speed is asserted (and UML speeds say nothing about the host's).

| shape         | built from                                           | pod IP | ClusterIP via |
|---------------|------------------------------------------------------|--------|---------------|
| macvlan-vlan  | ifacer VLAN 100 + Debian macvlan + spiderpool + coordinator | yes | –        |
| ipvlan        | Debian ipvlan l2 + spiderpool + coordinator          | yes    | veth0         |
| ipip          | Debian bridge + host-local, Calico-like tunl0 routes | yes    | eth0          |
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration import datapath_run
from tests.integration.datapath_run import TinyRun
from tools.testbed.cluster import Cluster

pytestmark = [pytest.mark.apiserver, pytest.mark.netns]

SHAPES = ("macvlan-vlan", "ipvlan", "ipip")


@pytest.fixture(scope="module")
def run(
    cluster: Cluster, bundle_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TinyRun]:
    with datapath_run.tiny_run(cluster, tmp_path_factory.mktemp("dp"), SHAPES) as done:
        yield done


def test_vlan_ipvlan_and_ipip_paths_carry_every_tool_s_traffic(run: TinyRun) -> None:
    assert (run.doc["skipped"], run.doc["failures"]) == ([], [])
    for shape in SHAPES:
        datapath_run.assert_every_tool_answered(run.path(shape, "pod"))
    for shape in ("ipvlan", "ipip"):
        datapath_run.assert_every_tool_answered(run.path(shape, "service"))
        assert run.dnat_packets[shape] > 0, shape
    assert run.service_device == {"ipvlan": "veth0", "ipip": "eth0"}
