"""A tiny datapath benchmark run for tests: shapes built, a short run per path, the evidence.

Shared by tests/integration/test_datapath.py (the host kernel's shapes) and
tests/uml_guest/test_datapath_shapes.py (ipvlan, IP-in-IP, VLAN in user-mode Linux).
Besides the tools' figures it keeps what shows that each path is the one it claims to
be, read before the namespaces go: the packets each ClusterIP's DNAT chain counted in
the client's node, and the device each client would send a ClusterIP packet through.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.bench import datapath
from tools.bench import datapath_services as services
from tools.bench import datapath_shapes as shapes
from tools.bench import datapath_tools as tools
from tools.testbed import netns
from tools.testbed.cluster import Cluster

TINY = tools.Settings(seconds=1, requests=500, streams=(1,))


@dataclass(frozen=True)
class TinyRun:
    doc: dict[str, Any]  # as datapath.run_here returns it
    dnat_packets: dict[str, int]  # shape -> packets its ClusterIP's DNAT rules counted
    service_device: dict[str, str]  # shape -> device the client routes its ClusterIP through

    def path(self, shape: str, target: str) -> dict[str, Any]:
        found = [p for p in self.doc["paths"] if (p["shape"], p["target"]) == (shape, target)]
        assert found, f"no {target} path for {shape}: {[p['label'] for p in self.doc['paths']]}"
        return dict(found[0])


def _dnat_packets(network: shapes.Network) -> dict[str, int]:
    """Packets each service's DNAT rules counted, by shape (the first packet of each connection)."""
    counted: dict[str, int] = {}
    for node in network.nodes:
        tool = services.restore_command(node.ns).replace("-restore", "")
        for svc in node.services:
            listing = node.ns.run(tool, "-t", "nat", "-L", svc.chain, "-v", "-x", "-n").stdout
            rules = [line.split() for line in listing.splitlines()[2:]]
            counted[svc.name] = sum(int(r[0]) for r in rules if len(r) > 2 and r[2] == "DNAT")
    return counted


def _service_devices(network: shapes.Network) -> dict[str, str]:
    devices = {}
    for p in network.paths:
        if p.target == "service":
            route = netns.ip_json("route", "get", p.address, netns=p.client.name)[0]
            devices[p.shape.key] = str(route.get("dev"))
    return devices


@contextmanager
def tiny_run(cluster: Cluster, work: Path, keys: Sequence[str]) -> Iterator[TinyRun]:
    network = shapes.Network(cluster, work, tag=f"dp{secrets.token_hex(3)}")
    try:
        skipped = datapath.build(network, list(keys), with_service=True)
        failures: list[str] = []
        results = datapath.measure(network, TINY, 1, work, failures=failures)
        doc = {
            "kernel": "test",
            "release": "",
            "machine": "",
            "date": "",
            "settings": {"runs": 1, "seconds": TINY.seconds, "requests": TINY.requests},
            "load": {"before": [0.0], "after": [0.0]},
            "skipped": skipped,
            "failures": failures,
            "paths": results,
        }
        yield TinyRun(doc, _dnat_packets(network), _service_devices(network))
    finally:
        network.close()


def assert_every_tool_answered(path: dict[str, Any]) -> None:
    """Each tool moved data on the path: positive figures, nothing about speed."""
    samples = path["samples"]
    assert samples["sockperf"][0]["rr"] > 0, path["label"]
    assert samples["sockperf"][0]["cpu_us"] > 0, path["label"]
    assert samples["iperf3-1"][0]["gbit"] > 0, path["label"]
    assert min(samples["redis"][0].values()) > 0, path["label"]
