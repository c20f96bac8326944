"""The seed's create phase under real kubelets, ours vs Debian's host-local. Does I/O.

    tools/bench/kube_create.sh [--pods 100] [--per-deployment 10] [--rounds 2] [--out DIR]

One local cluster (tools/testbed/kubecluster.py: two nodes, each with kubelet and
containerd, our suite installed by ``kubectl apply -k``) runs the seed's create phase,
scaled to what this machine holds: ``--pods`` pods in Deployments of
``--per-deployment`` replicas, all created at once, timed from the first create
request to every pod Running (each pod's moment is when a poll first saw it Running,
polls every 0.5 s). The nodes' pod network is the same chain for both IPAMs, written to
every node's /etc/cni/net.d between runs:

    macvlan (ens1) -> <ipam> -> coordinator

- ``spiderpool``: our IPAM, one pool with exactly as many addresses as pods (IPs = pods);
- ``host-local``: Debian's reference IPAM, the floor: no API call, a file lock on the node.
  It cannot share one range between nodes, so each node gets its own range as large as
  the whole run (addresses to spare).

Rounds alternate the two (host-local first), so both meet the same machine; each run
has its own namespace, and after it everything is deleted and, for ours, the pool must
be empty again (a leak fails the run). Besides the times (all Running, pods/s, p50, p99)
a run counts what failed on the way: kubelet's FailedCreatePodSandBox Events (each a
retry some 10 s later) and our plugins' failed ADDs by CNI code, from the outcome
records on the nodes (docs/metrics.md). Prints a table; writes ``results.json`` (after
every run) and ``create.png`` (pods Running over time) into ``--out``.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from tools.testbed import kubecluster, workloads
from tools.testbed.kubecluster import LocalCluster

POOL = "bench-v4"


def address_range(first: str, count: int) -> str:
    """``first-last`` covering ``count`` addresses."""
    return f"{first}-{ipaddress.ip_address(first) + count - 1}"


def host_local(index: int, pods: int) -> dict[str, Any]:
    """Node ``index``'s own range of ``pods`` addresses, from 10.6.<16 + 4 * index>.1 on."""
    start, end = address_range(f"10.6.{16 + 4 * index}.1", pods).split("-")
    return {
        "type": "host-local",
        "ranges": [[{"subnet": kubecluster.SUBNET, "rangeStart": start, "rangeEnd": end}]],
    }


def run_once(cluster: LocalCluster, ipam: str, pods: int, per: int, ns: str) -> dict[str, Any]:
    """One create phase in namespace ``ns``: every Deployment at once, until every pod
    Running; then delete."""
    if ipam == "host-local":
        order = {n.name: i for i, n in enumerate(cluster.nodes)}
        cluster.write_conflist(lambda node: host_local(order[node.name], pods))
    else:
        cluster.write_conflist(kubecluster.spiderpool_ipam())
    time.sleep(5)  # containerd reloads the CNI configuration on a file event
    cluster.namespace(ns)
    load = os.getloadavg()[0]
    deployments = [
        workloads.deployment(
            f"d{i}",
            ns,
            replicas=per,
            image=kubecluster.BUSYBOX,
            pool=POOL if ipam == "spiderpool" else None,
        )
        for i in range(pods // per)
    ]
    since = time.time()
    start = time.monotonic()
    for d in deployments:
        cluster.create(d)
    times = sorted(_wait_running(cluster, ns, ipam, pods, start))
    figures = {"load_at_end": round(os.getloadavg()[0], 1), **_failures(cluster, ns, since)}
    _delete_all(cluster, ns, ipam)
    return {
        "ipam": ipam,
        "pods": pods,
        "all_running_s": round(times[-1], 1),
        "pods_per_s": round(pods / times[-1], 2),
        "p50_s": round(statistics.median(times), 1),
        "p99_s": round(times[math.ceil(0.99 * len(times)) - 1], 1),
        "load_at_start": round(load, 1),
        **figures,
        "running_at": [round(t, 2) for t in times],
    }


def _wait_running(
    cluster: LocalCluster, ns: str, ipam: str, pods: int, start: float
) -> list[float]:
    """Each pod's seconds from ``start`` to the first poll that saw it Running."""
    running_at: dict[str, float] = {}
    while len(running_at) < pods:
        now = time.monotonic() - start
        try:
            pods_now = cluster.pods(ns)
        except OSError:  # an API server too busy to answer this poll: poll again
            pods_now = []
        for pod in pods_now:
            if pod["metadata"]["uid"] not in running_at and workloads.running(pod):
                running_at[pod["metadata"]["uid"]] = now
        if now > 1800:
            raise TimeoutError(f"{ipam}: {len(running_at)} of {pods} Running after 1800 s")
        time.sleep(0.5)
    return list(running_at.values())


def _failures(cluster: LocalCluster, ns: str, since: float) -> dict[str, Any]:
    """What failed on the way: kubelet's sandbox failures (Events, any IPAM) and our plugins'
    ADDs, the failed ones by CNI code (their outcome records on the nodes, docs/metrics.md)."""
    status, reply = cluster.api.request("GET", f"/api/v1/namespaces/{ns}/events")
    events = reply.get("items", []) if status == 200 else []
    sandbox = sum(e.get("count") or 1 for e in events if e["reason"] == "FailedCreatePodSandBox")
    adds: dict[str, int] = {}
    failed: dict[str, int] = {}
    for node in cluster.nodes:
        for line in node.outcomes():
            if line.get("verb") != "ADD" or float(line.get("t", 0)) < since:
                continue
            plugin = str(line.get("plugin"))
            adds[plugin] = adds.get(plugin, 0) + 1
            if line.get("code"):
                key = f"{plugin} code {line['code']}"
                failed[key] = failed.get(key, 0) + 1
    return {"sandbox_failures": sandbox, "our_adds": adds, "failed_adds": failed}


def _delete_all(cluster: LocalCluster, ns: str, ipam: str) -> None:
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    status, reply = cluster.api.request("DELETE", f"{path}?propagationPolicy=Foreground")
    if status not in (200, 202):
        raise RuntimeError(f"delete deployments: HTTP {status}: {reply}")
    cluster.wait_for(lambda: not cluster.pods(ns), "every bench pod gone", 900, every=2)
    if ipam == "spiderpool":
        cluster.wait_for(
            lambda: not cluster.objects().holders(POOL), "the pool empty (no leak)", 120, every=2
        )


def table(results: list[dict[str, Any]]) -> str:
    # The floor of each round is that round's host-local run (rounds alternate the two,
    # host-local first), so each ratio compares runs that met the same machine.
    floor = {i // 2: r["all_running_s"] for i, r in enumerate(results) if r["ipam"] == "host-local"}
    lines = [
        "| round | IPAM | pods | all Running | pods/s | p50 | p99 | vs host-local "
        "| sandbox failures | our failed ADDs | load start-end |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(results):
        ratio = r["all_running_s"] / floor[i // 2] if floor.get(i // 2) else float("nan")
        failed = ", ".join(f"{n} x {k}" for k, n in sorted(r["failed_adds"].items())) or "0"
        lines.append(
            f"| {i // 2 + 1} | {r['ipam']} | {r['pods']} | {r['all_running_s']} s "
            f"| {r['pods_per_s']} | {r['p50_s']} s | {r['p99_s']} s | {ratio:.2f}x "
            f"| {r['sandbox_failures']} | {failed} | {r['load_at_start']}-{r['load_at_end']} |"
        )
    return "\n".join(lines)


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3), dpi=80)
    for i, r in enumerate(results):
        xs = [0.0, *r["running_at"]]
        ys = list(range(len(xs)))
        style = "-" if r["ipam"] == "spiderpool" else "--"
        ax.step(xs, ys, where="post", linestyle=style, label=f"{r['ipam']} (round {i // 2 + 1})")
    ax.set_xlabel("s since the first create", fontsize=8)
    ax.set_ylabel("pods Running", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="tools/bench/kube_create.sh", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--per-deployment", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("kube-create-results"))
    args = ap.parse_args(argv)
    image = os.environ.get("SPIDERNET_IMAGE", "")
    if not image:
        ap.error("SPIDERNET_IMAGE is not set: run through tools/bench/kube_create.sh")
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    with LocalCluster(image=Path(image)) as cluster:
        cluster.write_conflist(kubecluster.spiderpool_ipam())
        cluster.install()
        cluster.objects().pool(POOL, kubecluster.SUBNET, [address_range("10.6.32.1", args.pods)])
        for round_ in range(args.rounds):
            for ipam in ("host-local", "spiderpool"):
                print(
                    f"round {round_ + 1}: {ipam}, {args.pods} pods ...", file=sys.stderr, flush=True
                )
                ns = f"bench-{round_ + 1}-{ipam}"
                results.append(run_once(cluster, ipam, args.pods, args.per_deployment, ns))
                r = results[-1]
                print(
                    f"  all Running after {r['all_running_s']} s; sandbox failures "
                    f"{r['sandbox_failures']}, our failed ADDs {r['failed_adds'] or 0}",
                    file=sys.stderr,
                    flush=True,
                )
                (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    plot(results, args.out / "create.png")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
