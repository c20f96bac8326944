"""The seed benchmark: 1000 pods, one pool, create / rebuild / recovery / delete, per plugin. Does
I/O.

    tools/bench/seed.sh [options]        (sets up the venv and bundles, then runs this)
    python -m tools.bench.seed --help

Starts its own etcd + kube-apiserver, creates per plugin a namespace, ``--nodes`` Node
objects with their config dirs (kubeconfig, nodename, lock dir, state dir, log), the
pools and the pod objects (``--pods`` in groups of 10 owned by ReplicaSets), then runs
the phases (tools/bench/runner.py) one phase at a time for every plugin, so that the
plugins of one phase run minutes apart on the same machine. Plugins: the frozen
``spiderpool``, the ``floor`` (tools/bench/floor.py) and any ``--compare`` IPAM.
Writes ``results.json``, ``tables.md`` and one PNG per scenario to ``--out`` and prints
the tables; a progress line on stderr while it runs, and each phase's figures to
``results.jsonl`` as soon as it ends. Figures: tools/bench/figures.py.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tools.bench import figures, plots, workload
from tools.bench.api import Api
from tools.bench.plugins import ChainRuntime, IpamRuntime, Node, Plugin, floor_wrapper
from tools.bench.runner import PluginRun, Settings
from tools.testbed import netns, paths
from tools.testbed.cluster import Cluster, NodeConfig
from tools.testbed.controlplane import ControlPlane

PHASES = ("create", "rebuild", "recovery", "delete")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="tools/bench/seed.sh",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = ap.add_argument
    add(
        "--pods",
        type=int,
        default=1000,
        help="pod objects, in groups of 10 (Deployment-like ReplicaSets)",
    )
    add(
        "--nodes",
        type=int,
        default=10,
        help="simulated nodes (own node name, lock dir, state dir, log)",
    )
    add("--concurrency", type=int, default=5, help="CNI calls at once per node, like a kubelet's")
    add(
        "--mode",
        choices=("ipam", "chain"),
        default="ipam",
        help="ipam: the IPAM exec'd directly; chain: libcni -> macvlan -> IPAM -> coordinator in "
        "netns",
    )
    add(
        "--scenario",
        default="exact",
        help="exact (IPs = pods), sufficient (4 IPs a pod), or both, comma-separated",
    )
    add("--family", default="v4", help="v4, dual, or both, comma-separated")
    add(
        "--phases",
        default=",".join(PHASES),
        help="which phases, comma-separated (create always runs)",
    )
    add(
        "--down",
        type=int,
        help="nodes power-cycled, then lost, in the recovery phase (default: 3 of 10, scaled)",
    )
    add(
        "--backoff",
        type=float,
        default=10.0,
        help="the kubelet's retry period for a failed ADD or DEL (+0-50%% jitter)",
    )
    add(
        "--give-up",
        type=float,
        default=900.0,
        help="seconds into a phase after which a pod without an address fails",
    )
    add("--no-floor", action="store_true", help="leave out the floor process")
    add(
        "--compare",
        action="append",
        default=[],
        metavar="BIN",
        help="another CNI IPAM executable (repeatable)",
    )
    add(
        "--compare-conf",
        action="append",
        default=[],
        metavar="FILE",
        help="its ipam section as JSON; @V4_START@ @V4_END@ @V4_SUBNET@ @V4_GATEWAY@ (V6_ too), "
        "@NODE@, @NODE_DIR@, "
        "@STATE_DIR@ and @KUBECONFIG@ are filled in",
    )
    add(
        "--ipam-set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="a key of spiderpool's ipam section, e.g. release_timeout=30 (repeatable; A/B of a "
        "knob)",
    )
    add(
        "--spiderpool",
        type=Path,
        help="the spiderpool executable (default: the frozen bundle in $SPIDERNET_BUNDLE_BIN)",
    )
    add(
        "--out",
        type=Path,
        help="where results.json, tables.md and the PNGs go (default: a new temp dir)",
    )
    add("--no-plots", action="store_true", help="no PNGs (matplotlib not needed)")
    add("--seed", type=int, default=1, help="seed of names, node order jitter and backoff jitter")
    add("--quiet", action="store_true", help="no progress line")
    return ap


# ---------------------------------------------------------------- set-up


def make_plugins(args: argparse.Namespace, shape: workload.Shape, work: Path) -> list[Plugin]:
    # Resolved now: bundles/current is a symlink that a colleague's build may move mid-run.
    binary = Path(args.spiderpool or paths.BUNDLE_BIN / "spiderpool").resolve()
    out = [
        Plugin(
            "spiderpool",
            "spiderpool",
            binary,
            0,
            extra=ipam_settings(getattr(args, "ipam_set", [])),
        )
    ]
    if not args.no_floor:
        out.append(
            Plugin(
                "floor", "floor", floor_wrapper(work / "bin"), 1, lock_file=str(work / "floor.lock")
            )
        )
    for i, (b, conf) in enumerate(zip(args.compare, args.compare_conf, strict=True)):
        out.append(
            Plugin(
                Path(b).name, "compare", Path(b).resolve(), 2 + i, conf_text=Path(conf).read_text()
            )
        )
    for p in out:
        p.ranges = workload.ranges(p.slot, shape)
        if p.api_backed:
            p.pools = [f"{p.name}-v{r.family}" for r in p.ranges]
    return out


def ipam_settings(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser().error(f"--ipam-set {item!r}: give KEY=JSON")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value  # a bare string
    return out


def make_run(
    cp: ControlPlane,
    api: Api,
    plugin: Plugin,
    shape: workload.Shape,
    s: Settings,
    work: Path,
    chain: netns.Underlay | None,
) -> PluginRun:
    cluster = Cluster(cp)
    ns = f"bench-{plugin.name}".lower()[:40].rstrip("-")
    cluster.namespace(ns)
    for pool, r in zip(
        plugin.pools, plugin.ranges, strict=False
    ):  # pools only for API-backed plugins
        cluster.pool(pool, r.subnet, r.ips, gateway=r.gateway)
    nodes = []
    for i in range(shape.nodes):
        name = f"{ns}-n{i}"
        api.node(name)
        api.set_ready(name, True)
        nodes.append(
            Node(
                i,
                name,
                NodeConfig.create(cp, name, work / plugin.name),
                chain.nodes[i].name if chain else "",
            )
        )
    runtime: Any = IpamRuntime(plugin) if chain is None else ChainRuntime(plugin, work)
    return PluginRun(cp, api, plugin, runtime, nodes, shape, ns, s, chain=chain is not None)


@contextlib.contextmanager
def underlay(
    cp: ControlPlane, shape: workload.Shape, chain: bool
) -> Iterator[netns.Underlay | None]:
    if not chain:
        yield None
        return
    netns.cleanup_stale()
    with netns.Underlay(api_port=cp.port) as u:
        for i in range(shape.nodes):
            addrs = (f"192.168.60.{i + 2}/24",) + (
                (f"fd00:60::{i + 2}/64",) if shape.family == "dual" else ()
            )
            node = u.add_node()
            for a in addrs:
                netns.ip(
                    "addr",
                    "add",
                    a,
                    "dev",
                    "ens1",
                    *(("nodad",) if ":" in a else ()),
                    netns=node.name,
                )
        yield u


# ---------------------------------------------------------------- progress


class Progress:
    """One line on stderr: phase, plugin, pods done of target, execs and failures so far."""

    def __init__(self, runs: list[PluginRun], label: str, quiet: bool) -> None:
        self.runs, self.label, self.quiet = runs, label, quiet
        self.tty = sys.stderr.isatty()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Progress:
        if not self.quiet:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.tty and not self.quiet:
            print(file=sys.stderr)

    def line(self) -> str:
        for r in self.runs:
            log = r.current
            if log is not None:
                failed = sum(1 for a in list(log.attempts) if not a.ok)
                return (
                    f"bench [{self.label}] {log.phase:<9} {log.plugin:<12} "
                    f"{len(log.done_at):>5}/{log.target} done, "
                    f"{len(log.attempts)} execs ({failed} failed), {log.now():6.1f} s, load "
                    f"{os.getloadavg()[0]:.1f}"
                )
        return ""

    def _loop(self) -> None:
        every = 1.0 if self.tty else 10.0
        while not self._stop.wait(every):
            text = self.line()
            if text:
                print(
                    ("\r" + text.ljust(110)) if self.tty else text,
                    end="" if self.tty else "\n",
                    file=sys.stderr,
                    flush=True,
                )


# ---------------------------------------------------------------- one scenario


def stream(path: Path | None, label: str, log: Any) -> None:
    if path is not None:
        with open(path, "a") as f:
            f.write(json.dumps(_clean({"run": label, **figures.summarise(log)})) + "\n")


def run_scenario(
    args: argparse.Namespace, shape: workload.Shape, work: Path, stream_to: Path | None = None
) -> dict[str, Any]:
    s = Settings(
        concurrency=args.concurrency, backoff=args.backoff, give_up=args.give_up, seed=args.seed
    )
    wanted = set(args.phases.split(",")) | {"create"}
    label = f"{args.mode} {shape.label()}"
    with ControlPlane() as cp:
        Cluster(cp).install_crds()
        api = Api(cp)
        plugins = make_plugins(args, shape, work)
        with underlay(cp, shape, args.mode == "chain") as u:
            runs = [make_run(cp, api, p, shape, s, work, u) for p in plugins]
            for r in (
                runs
            ):  # each phase's figures as soon as it ends: a long run stopped halfway keeps them
                r.on_phase = lambda log: stream(stream_to, label, log)
            try:
                with Progress(runs, label, args.quiet):
                    for r in runs:
                        r.setup()
                    for phase in PHASES:
                        if phase in wanted:
                            for r in runs:
                                steps = (
                                    (r.reboot, r.node_loss)
                                    if phase == "recovery"
                                    else (getattr(r, phase),)
                                )
                                for step in steps:
                                    step()
            finally:
                for r in runs:
                    r.close()
                api.close()
    figs = [figures.summarise(log) for r in runs for log in r.logs]
    series: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        for log in r.logs:
            if not log.skipped:
                series.setdefault(log.phase, []).append(
                    {
                        "plugin": log.plugin,
                        "done_at": log.done_at,
                        "target": log.target,
                        "wall": log.wall,
                    }
                )
    return {
        "mode": args.mode,
        "scenario": shape.scenario,
        "family": shape.family,
        "pods": shape.pods,
        "nodes": shape.nodes,
        "concurrency": args.concurrency,
        "down": shape.down,
        "backoff_s": args.backoff,
        "plugins": {p.name: str(p.binary) for p in plugins},
        "ipam_set": plugins[0].extra,
        "figures": figs,
        "ratios": figures.ratios(figs),
        "series": series,
    }


# ---------------------------------------------------------------- output


def machine() -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": platform.node(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_at_start": os.getloadavg(),
    }


def render(result: dict[str, Any], fmt: str) -> str:
    table = figures.markdown_table if fmt == "md" else figures.text_table
    parts = []
    for run in result["runs"]:
        title = (
            f"{run['mode']} mode, "
            f"{'IPs = pods' if run['scenario'] == 'exact' else 'IPs sufficient'}, "
            f"{'IPv4' if run['family'] == 'v4' else 'dual-stack'}: {run['pods']} pods, "
            f"{run['nodes']} nodes, "
            f"{run['concurrency']} CNI calls at once per node"
            + "".join(
                f", spiderpool {k}={json.dumps(v)}" for k, v in run.get("ipam_set", {}).items()
            )
        )
        parts += [
            ("### " if fmt == "md" else "== ") + title,
            "",
            table(figures.speed_rows(run["figures"])),
            "",
            table(figures.accuracy_rows(run["figures"])),
            "",
        ]
        if run["ratios"]:
            parts += [
                "Ratios to the floor:",
                "",
                table(figures.ratio_rows(run["ratios"])),
                "",
            ]
    return "\n".join(parts)


def _clean(value: Any) -> Any:
    """JSON has no NaN: None instead."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_outputs(result: dict[str, Any], out: Path, with_plots: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(_clean(result), indent=1))
    (out / "tables.md").write_text(render(result, "md"))
    if with_plots:
        for run in result["runs"]:
            name = f"{run['mode']}-{run['scenario']}-{run['family']}.png"
            title = (
                f"{run['mode']}, {run['scenario']}, {run['family']}: {run['pods']} pods on "
                f"{run['nodes']} nodes"
            )
            plots.plot(run["series"], title, out / name)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if len(args.compare) != len(args.compare_conf):
        parser().error("give one --compare-conf per --compare")
    out = args.out or Path(tempfile.mkdtemp(prefix="spidernet-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="spidernet-bench-work-"))
    result: dict[str, Any] = {
        "command": " ".join(["tools/bench/seed.sh", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
        "runs": [],
    }
    started = time.monotonic()
    for scenario in args.scenario.split(","):
        for family in args.family.split(","):
            if scenario not in workload.SCENARIOS or family not in workload.FAMILIES:
                parser().error(f"unknown scenario {scenario!r} or family {family!r}")
            shape = workload.Shape.of(args.pods, args.nodes, scenario, family, args.down)
            result["runs"].append(
                run_scenario(args, shape, work / shape.label(), out / "results.jsonl")
            )
    result["machine"]["load_at_end"] = os.getloadavg()
    result["seconds"] = time.monotonic() - started
    write_outputs(result, out, not args.no_plots)
    print(render(result, "text"))
    print(f"results: {out}/results.json, tables.md" + ("" if args.no_plots else ", *.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
