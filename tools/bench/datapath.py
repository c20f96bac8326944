"""The datapath benchmark: pod to pod and pod to ClusterIP, our underlay against overlays. Does I/O.

    tools/bench/datapath.sh [options]     (sets up tools, venv and bundles, then runs this)
    python -m tools.bench.datapath --help

Starts its own etcd + kube-apiserver, builds every shape this kernel can
(tools/bench/datapath_shapes.py), starts sockperf, iperf3 and redis servers on each
server end, then measures every path ``--runs`` times, round-robin (run 1 of every path,
then run 2, ...), so that a burst of load on the shared machine spreads over the paths
instead of landing on one. Prints one table per tool (median ±spread, ratio to node to
node) and writes ``results-<kernel>.json``, ``tables-<kernel>.md`` and
``datapath-<kernel>.png`` to ``--out``; ``--publish`` puts them in docs/datapath/ and
rewrites the results in docs/datapath.md.

``--kernel uml`` runs the same inside a user-mode Linux guest (control plane included),
where ipvlan, IP-in-IP and VLAN exist; its figures compare paths with each other and
with the guest's own node to node, never with the host kernel's (docs/datapath.md).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tools.bench import datapath_report as reporting
from tools.bench import datapath_shapes as shapes
from tools.bench import datapath_tools as tools
from tools.testbed import netns, paths, uml
from tools.testbed.cluster import Cluster
from tools.testbed.controlplane import ControlPlane

UML_MEM = "3G"


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="tools/bench/datapath.sh",
        description=__doc__.split("\n\n")[0].replace(" Does I/O.", ""),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = ap.add_argument
    add("--kernel", choices=("host", "uml", "both"), default="host", help="where to run")
    keys = ",".join(s.key for s in shapes.SHAPES)
    add("--shapes", default=keys, help="comma-separated; those the kernel lacks are skipped")
    add("--runs", type=int, default=3, help="runs of every tool on every path")
    add("--seconds", type=int, default=4, help="length of each sockperf and iperf3 run")
    add(
        "--requests",
        type=int,
        default=None,
        help="redis-benchmark requests per run (default 50000; 5000 in UML, ~20x slower)",
    )
    add("--streams", default="1,2,4", help="iperf3 parallel streams, comma-separated")
    add("--no-service", action="store_true", help="skip the ClusterIP paths")
    add("--quick", action="store_true", help="1 run of 1 s, 2000 requests: checks the wiring")
    add(
        "--out",
        type=Path,
        default=None,
        help="results directory (default: docs/datapath with --publish, else a new /tmp dir)",
    )
    add("--no-charts", action="store_true", help="skip the PNG (needs matplotlib)")
    add(
        "--publish",
        action="store_true",
        help="write to docs/datapath/ and rewrite the results in docs/datapath.md",
    )
    add("--guest", action="store_true", help=argparse.SUPPRESS)  # the run inside UML
    return ap


def settings(args: argparse.Namespace) -> tuple[tools.Settings, int]:
    streams = tuple(int(n) for n in args.streams.split(","))
    if args.quick:
        return tools.Settings(seconds=1, requests=2000, streams=streams), 1
    requests = args.requests or (5_000 if args.guest else 50_000)
    return tools.Settings(args.seconds, requests, streams), args.runs


PROGRESS_ENV = "SPIDERNET_DATAPATH_PROGRESS"  # a file the UML guest copies its progress to


def say(text: str) -> None:
    line = f"datapath: {text}"
    print(line, file=sys.stderr, flush=True)
    if progress := os.environ.get(PROGRESS_ENV):
        with open(progress, "a") as f:
            f.write(line + "\n")


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


# ------------------------------------------------------------------ one kernel


def build(network: shapes.Network, wanted: list[str], with_service: bool) -> list[str]:
    """Build the shapes; returns a line per shape skipped and why."""
    have = shapes.kernel_kinds(network.underlay.fabric)
    skipped = []
    for shape in shapes.SHAPES:
        if shape.key not in wanted:
            continue
        if shape.needs and shape.needs not in have:
            skipped.append(f"{shape.key}: this kernel has no {shape.needs} driver")
            continue
        started = time.monotonic()
        network.build(shape if with_service else _no_service(shape))
        say(f"built {shape.key} ({time.monotonic() - started:.1f} s)")
    network.install_services()
    return skipped


def _no_service(shape: shapes.Shape) -> shapes.Shape:
    return shapes.Shape(shape.key, shape.label, shape.needs, False, shape.underlay)


def check_paths(network: shapes.Network) -> None:
    """One TCP request/response on every path before measuring: ``redis-cli PING``."""
    for path in network.paths:
        argv = ["redis-cli", "-h", path.address, "-p", str(tools.REDIS_PORT), "ping"]
        for attempt in range(5):
            done = path.client.run(*argv, check=False, timeout=30)
            if done.stdout.strip() == "PONG":
                break
            time.sleep(0.5 * (attempt + 1))
        else:
            raise tools.ToolFailure(
                f"{path.label}: no PONG from {path.address}: {done.stdout}{done.stderr}"
            )


def measure(
    network: shapes.Network,
    s: tools.Settings,
    runs: int,
    work: Path,
    load_seen: list[float] | None = None,
    failures: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Every path ``runs`` times, round-robin; the raw samples per path and tool.

    ``load_seen`` gets the 1-minute load average as each path's run starts, ``failures``
    a line per tool run that failed (left out of the figures; the others go on).
    """
    failed = failures if failures is not None else []
    samples: list[dict[str, list[dict[str, float]]]] = [{} for _ in network.paths]
    with contextlib.ExitStack() as stack:
        servers = {
            p.shape.key: stack.enter_context(
                tools.Servers(p.server, p.server_address, work / "servers" / p.shape.key)
            )
            for p in network.paths
            if p.target == "pod"  # a shape's ClusterIP path reaches the same servers
        }
        check_paths(network)
        for run in range(1, runs + 1):
            for path, mine in zip(network.paths, samples):
                started = time.monotonic()
                if load_seen is not None:
                    load_seen.append(loadavg()[0])
                where = f"run {run}/{runs} {path.label}"
                once = tools.measure_once(
                    path.client,
                    path.address,
                    s,
                    servers[path.shape.key],
                    functools.partial(_failed, failed, where),
                )
                for tool, figure in once.items():
                    mine.setdefault(tool, []).append(figure)
                took = time.monotonic() - started
                say(f"run {run}/{runs} {path.label}: {_brief(once)} ({took:.0f} s)")
    return [
        {"shape": p.shape.key, "target": p.target, "label": p.label, "samples": mine}
        for p, mine in zip(network.paths, samples)
    ]


def _failed(failures: list[str], where: str, error: str) -> None:
    failures.append(f"{where}: {error}")
    say(f"FAILED {where}: {error.splitlines()[0]} (left out; the whole message is in the results)")


def _brief(once: dict[str, dict[str, float]]) -> str:
    sp, ip1, rd = (
        once.get("sockperf"),
        next((v for k, v in once.items() if k.startswith("iperf3")), None),
        once.get("redis"),
    )
    if sp is None or ip1 is None or rd is None:
        return f"only {', '.join(once) or 'nothing'}"
    return (
        f"p50 {sp['p50']:.1f} us, {sp['rr']:,.0f} rr/s at {sp['cpu_us']:.0f} CPU-us, "
        f"{ip1['gbit']:.2f} Gbit/s, "
        f"redis GET {rd['get']:,.0f}/s"
    )


def run_here(args: argparse.Namespace) -> dict[str, Any]:
    """Build and measure in this kernel; returns the results document."""
    s, runs = settings(args)
    netns.cleanup_stale()
    work = Path(tempfile.mkdtemp(prefix="spidernet-datapath-"))
    load_seen: list[float] = []
    failures: list[str] = []
    load_before, started = loadavg(), time.monotonic()
    with ControlPlane(workdir=work / "cp") as cp:
        cluster = Cluster(cp)
        cluster.install_crds()
        network = shapes.Network(cluster, work)
        try:
            skipped = build(network, args.shapes.split(","), not args.no_service)
            for line in skipped:
                say(f"skipped {line}")
            results = measure(network, s, runs, work, load_seen, failures)
        finally:
            network.close()
    shutil.rmtree(work, ignore_errors=True)  # kept after a failure: the servers' logs are there
    return {
        "kernel": "uml" if args.guest else "host",
        "release": platform.release(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs, {platform.machine()}",
        "command": command_line(),
        "settings": {"runs": runs, "seconds": s.seconds, "requests": s.requests},
        "load": {"before": load_before, "during": load_seen, "after": loadavg()},
        "wall_seconds": round(time.monotonic() - started),
        "skipped": skipped,
        "failures": failures,
        "paths": results,
    }


# ------------------------------------------------------------------ user-mode Linux


def run_in_uml(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The same benchmark inside one UML boot; the guest writes its results to ``out``."""
    reason = uml.available()
    if reason:
        raise SystemExit(f"datapath: cannot run --kernel uml: {reason}")
    argv = [sys.executable, "-m", "tools.bench.datapath", "--guest", "--out", str(out)]
    out.mkdir(parents=True, exist_ok=True)
    progress = Path(tempfile.mkdtemp(prefix="spidernet-datapath-uml-")) / "progress.log"
    progress.write_text("")
    env = {**uml.project_env(), PROGRESS_ENV: str(progress)}
    say("booting user-mode Linux; the control plane starts inside it (minutes on a busy machine)")
    host_before = loadavg()
    with _relaying(progress):
        result = uml.run(
            argv + _passed_on(args),
            timeout=3600,
            mem=UML_MEM,
            env=env,
            cwd=str(paths.REPO),
        )
    shutil.rmtree(progress.parent, ignore_errors=True)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-3000:]
        raise SystemExit(f"datapath: the UML run failed (exit {result.returncode}):\n{tail}")
    doc = dict(json.loads((out / "results-uml.json").read_text()))
    doc["command"] = command_line()
    # the guest's own load says nothing about the host's other work: keep the host's
    host_after = loadavg()
    during = [host_before[0], host_after[0]]
    doc["load"] = {
        "before": host_before,
        "during": during,
        "after": host_after,
        "guest": doc["load"],
    }
    return doc


@contextlib.contextmanager
def _relaying(progress: Path) -> Iterator[None]:
    """Copy the guest's progress lines to stderr while it runs (it has no console of ours)."""
    done = threading.Event()

    def relay() -> None:
        offset = 0
        while True:
            finished = done.wait(1.0)
            with open(progress, "rb") as f:
                f.seek(offset)
                chunk = f.read()
            offset += len(chunk)
            text = chunk.decode(errors="replace").replace("datapath: ", "datapath: [uml] ")
            sys.stderr.write(text)
            if finished:
                return

    thread = threading.Thread(target=relay, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _passed_on(args: argparse.Namespace) -> list[str]:
    argv = ["--shapes", args.shapes, "--runs", str(args.runs), "--seconds", str(args.seconds)]
    argv += ["--streams", args.streams]
    argv += ["--requests", str(args.requests)] if args.requests else []
    argv += ["--quick"] if args.quick else []
    return argv + (["--no-service"] if args.no_service else [])


def command_line() -> str:
    return " ".join(["tools/bench/datapath.sh", *sys.argv[1:]])


def finish(doc: dict[str, Any], out: Path, args: argparse.Namespace) -> None:
    reporting.report(doc, out, charts=not args.no_charts)
    if args.publish:
        reporting.publish(doc)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("datapath: run as root (network namespaces)")
    if missing := tools.missing_tools():
        need = " ".join(missing)
        raise SystemExit(f"datapath: missing {need}: apt-get install {need} (bootstrap.sh does)")
    if args.guest:
        reporting.report(run_here(args), args.out, charts=False)
        return 0
    out = args.out or (
        reporting.PUBLISHED
        if args.publish
        else Path(tempfile.mkdtemp(prefix="spidernet-datapath-out-"))
    )
    if args.kernel in ("host", "both"):
        finish(run_here(args), out, args)
    if args.kernel in ("uml", "both"):
        finish(run_in_uml(args, out), out, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
