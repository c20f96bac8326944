"""Wall time of GC passes over 10,000 records and 10,000 pods on a local apiserver. Does I/O.

Not a test: a figure for docs/gc.md. Set-up (not timed): a fresh control plane, 20
Ready nodes, ``--pools`` pools sharing ``--records`` records (their pods created as API
objects, each with its SpiderEndpoint, as the IPAM leaves them), then ``--zombies`` of
the pods force-deleted without a DEL. Timed, each a whole pass of the GC's own code
(``spidernet.gc.command.main``, in this process after a warm-up import):

    dry run     LISTs + judging, nothing written                (what every pass costs)
    releasing   the same, plus deleting the zombies' endpoints, one CAS per pool,
                an Event per release
    idle        the next pass, nothing left to do               (the steady state)
    process     ``python3 gc/main.py`` as the CronJob runs it: interpreter start,
                ``import kubernetes`` and an idle pass

    python -m tools.bench.gc_pass [--records 10000] [--pools 10] [--zombies 500]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from spidernet.gc import command
from tools.testbed import paths
from tools.testbed.cluster import Cluster
from tools.testbed.controlplane import ControlPlane

GROUP = "/apis/spiderpool.spidernet.io/v2beta1"
NS = "bench"


def pod_body(i: int, node: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"p{i}", "namespace": NS},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": False,
            "containers": [{"name": "c", "image": "pause"}],
        },
    }


def endpoint_body(i: int, uid: str, node: str, pool: str, ip: str) -> dict[str, Any]:
    detail = {
        "interface": "eth0",
        "containerID": f"c{i}",
        "network": "bench",
        "ipv4": f"{ip}/22",
        "ipv4Pool": pool,
        "vlan": 0,
        "cleanGateway": False,
        "routes": [],
    }
    return {
        "apiVersion": "spiderpool.spidernet.io/v2beta1",
        "kind": "SpiderEndpoint",
        "metadata": {
            "name": f"p{i}",
            "namespace": NS,
            "labels": {"spiderpool.spidernet.io/node": node},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": f"p{i}", "uid": uid}],
        },
        "status": {
            "current": {"uid": uid, "node": node, "ips": [detail]},
            "ownerControllerType": "Pod",
            "ownerControllerName": f"p{i}",
        },
    }


def address(pool_index: int, n: int) -> str:
    return f"10.{100 + pool_index}.{n // 250}.{n % 250 + 1}"


def build(cp: ControlPlane, records: int, pools: int) -> list[str]:
    """Nodes, pools, pods, records, endpoints; returns the pods' UIDs by index."""
    cluster = Cluster(cp)
    cluster.install_crds()
    cluster.namespace(NS)
    nodes = [f"node{i}" for i in range(20)]
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    for n in nodes:
        cluster.node(n)
        cp.request(
            "PATCH", f"/api/v1/nodes/{n}/status", ready, content_type="application/merge-patch+json"
        )
    per_pool = -(-records // pools)
    blocks = -(-per_pool // 250)
    for p in range(pools):
        cluster.pool(
            f"bench-{p}",
            f"10.{100 + p}.0.0/16",
            [f"10.{100 + p}.{b}.1-10.{100 + p}.{b}.250" for b in range(blocks)],
        )
    client = cp.client(keep_alive=True)  # 20,000 creates without a TLS handshake each
    started = time.monotonic()
    with ThreadPoolExecutor(12) as ex:
        made = list(
            ex.map(
                lambda i: client.ok(
                    "POST", f"/api/v1/namespaces/{NS}/pods", pod_body(i, nodes[i % 20])
                ),
                range(records),
            )
        )
    uids = [str(m["metadata"]["uid"]) for m in made]
    print(f"set-up: {records} pods in {time.monotonic() - started:.0f} s", file=sys.stderr)
    for p in range(pools):
        mine = range(p * per_pool, min(records, (p + 1) * per_pool))
        allocated = {
            address(p, i - p * per_pool): {"pod": f"{NS}/p{i}", "podUid": uids[i]} for i in mine
        }
        obj = cluster.get_pool(f"bench-{p}")
        obj["status"] = {
            "allocatedIPs": json.dumps(allocated, separators=(",", ":")),
            "allocatedIPCount": len(allocated),
            "totalIPCount": blocks * 250,
        }
        status, reply = cp.request("PUT", f"{GROUP}/spiderippools/bench-{p}/status", obj)
        assert status == 200, reply
    started = time.monotonic()
    with ThreadPoolExecutor(12) as ex:
        list(
            ex.map(
                lambda i: client.ok(
                    "POST",
                    f"{GROUP}/namespaces/{NS}/spiderendpoints",
                    endpoint_body(
                        i,
                        uids[i],
                        nodes[i % 20],
                        f"bench-{i // per_pool}",
                        address(i // per_pool, i % per_pool),
                    ),
                ),
                range(records),
            )
        )
    client.close()
    print(f"set-up: {records} endpoints in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return uids


def cpu_seconds(pid: int | None = None) -> float:
    """utime + stime of this process, or of ``pid`` (the kube-apiserver) from /proc."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Timed:
    wall: float
    cpu: float  # the GC's own
    server_cpu: float  # the kube-apiserver's, during the pass
    report: dict[str, Any]

    def line(self) -> str:
        return (
            f"{self.wall:.2f} s wall, {self.cpu:.2f} s GC CPU, {self.server_cpu:.2f} s apiserver "
            "CPU"
        )


def timed_pass(cp: ControlPlane, *args: str) -> Timed:
    out, err = io.StringIO(), io.StringIO()
    server = cp._procs[-1].pid
    cpu, server_cpu, started = cpu_seconds(), cpu_seconds(server), time.perf_counter()
    rc = command.main(
        ["--kubeconfig", str(cp.kubeconfig), "--min-age", "0", "--state-namespace", NS, *args],
        out,
        err,
    )
    timed = Timed(
        time.perf_counter() - started,
        cpu_seconds() - cpu,
        cpu_seconds(server) - server_cpu,
        json.loads(out.getvalue()),
    )
    assert rc == 0, timed.report["errors"]
    return timed


def process_pass(cp: ControlPlane) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "gc/main.py",
            "--kubeconfig",
            str(cp.kubeconfig),
            "--min-age",
            "0",
            "--state-namespace",
            NS,
        ],
        cwd=paths.REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(paths.REPO)},
    )
    assert proc.returncode == 0, proc.stderr
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--pools", type=int, default=10)
    ap.add_argument("--zombies", type=int, default=500)
    args = ap.parse_args()
    with ControlPlane() as cp:
        build(cp, args.records, args.pools)
        for i in range(0, args.records, max(1, args.records // args.zombies))[: args.zombies]:
            cp.request("DELETE", f"/api/v1/namespaces/{NS}/pods/p{i}", {"gracePeriodSeconds": 0})
        import kubernetes  # noqa: F401  (warm: the in-process figures are the pass, not the import)

        dry = timed_pass(cp, "--dry-run")
        releasing = timed_pass(cp)
        idle = timed_pass(cp)
        whole = process_pass(cp)
    scanned, report = dry.report["scanned"], releasing.report
    print(
        f"scanned: {scanned['pools']} pools, {scanned['records']} records, "
        f"{scanned['endpoints']} endpoints, "
        f"{scanned['pods']} pods, {scanned['nodes']} nodes; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"dry-run pass:   {dry.line()} ({len(dry.report['wouldRelease'])} would be released)")
    print(
        f"releasing pass: {releasing.line()} ({len(report['released'])} released, "
        f"{len(report['endpointsDeleted'])} endpoints deleted, {len(report['counts'])} count "
        "refreshes)"
    )
    print(f"idle pass:      {idle.line()} ({len(idle.report['released'])} released)")
    print(f"process (python3 gc/main.py, an idle pass): {whole:.2f} s wall")


if __name__ == "__main__":
    main()
