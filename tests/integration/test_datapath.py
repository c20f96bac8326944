"""The datapath benchmark, tiny, on the host kernel: every shape wired, every path carries traffic.

One module-wide build (tests/integration/datapath_run.py) on the session's control
plane, then one 1-second run of every tool per path. Nothing here asserts a speed.

| shape          | built from                                  | pod IP | ClusterIP through        |
|----------------|---------------------------------------------|--------|--------------------------|
| node           | the nodes' own NICs                         | yes    | the node's DNAT (OUTPUT) |
| macvlan        | Debian macvlan + spiderpool + coordinator   | yes    | veth0, node DNAT + masq  |
| macvlan-cross  | the same, server in another subnet (router) | yes    | –                        |
| host-gw        | Debian bridge + host-local, routed nodes    | yes    | eth0, node DNAT          |
| vxlan          | the same over a flannel-like VXLAN          | yes    | eth0, node DNAT          |

ipvlan, ipip and macvlan-vlan are not in this kernel: named as skipped here, run in UML
by tests/uml_guest/test_datapath_shapes.py.

Per path: sockperf, iperf3 and redis-benchmark each report a positive figure. Per
ClusterIP path: the client node's DNAT rules counted its packets, and the client routes
the ClusterIP through veth0 (underlay: the coordinator's service route) or eth0
(overlay: its default route to the bridge). The printed tables have a row per path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration import datapath_run
from tests.integration.datapath_run import TinyRun
from tools.bench import datapath_figures, datapath_report
from tools.bench import datapath_shapes as shapes
from tools.bench import datapath_tools as tools
from tools.testbed.cluster import Cluster

pytestmark = [pytest.mark.apiserver, pytest.mark.netns]

HOST_SHAPES = [s for s in shapes.SHAPES if not s.needs]
UML_ONLY = [s.key for s in shapes.SHAPES if s.needs]
PATHS = [(s.key, "pod") for s in HOST_SHAPES] + [
    (s.key, "service") for s in HOST_SHAPES if s.service
]


@pytest.fixture(scope="module")
def run(
    cluster: Cluster, bundle_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TinyRun]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if missing := tools.missing_tools():
        pytest.fail(f"missing {missing}: tools/bootstrap.sh installs them")
    work = tmp_path_factory.mktemp("datapath")
    with datapath_run.tiny_run(cluster, work, [s.key for s in shapes.SHAPES]) as done:
        yield done


@pytest.mark.parametrize(("shape", "target"), PATHS)
def test_every_tool_gets_answers_through_the_path(run: TinyRun, shape: str, target: str) -> None:
    label = run.path(shape, target)["label"]
    assert [f for f in run.doc["failures"] if label + ":" in f] == []
    datapath_run.assert_every_tool_answered(run.path(shape, target))


@pytest.mark.parametrize("shape", [s.key for s in HOST_SHAPES if s.service])
def test_clusterip_traffic_is_dnatted_by_the_client_node(run: TinyRun, shape: str) -> None:
    assert run.dnat_packets[shape] > 0


def test_an_underlay_pod_sends_clusterip_traffic_through_veth0_and_an_overlay_pod_through_eth0(
    run: TinyRun,
) -> None:
    assert run.service_device == {
        "node": "ens1",
        "macvlan": "veth0",
        "host-gw": "eth0",
        "vxlan": "eth0",
    }


def test_shapes_this_kernel_lacks_are_named_with_the_missing_driver(run: TinyRun) -> None:
    assert [line.split(":")[0] for line in run.doc["skipped"]] == UML_ONLY
    assert all("no " in line and "driver" in line for line in run.doc["skipped"])


def test_the_tables_have_a_row_per_path_and_ratios_to_node_to_node(run: TinyRun) -> None:
    text = datapath_report.tables(run.doc)
    for p in run.doc["paths"]:
        assert p["label"] in text
    assert text.count("1.00x") >= len(datapath_figures.TABLES)
