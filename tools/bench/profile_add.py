"""Where the time of an ADD goes under load: py-spy samples of the frozen plugin inside a create
phase. Does I/O.

    tools/bench/seed.sh is the benchmark; this is its profiler:
    python -m tools.bench.profile_add [--pods 500] [--every 10] [--rate 1000]

Runs the benchmark's ``create`` phase of the frozen ``spiderpool`` (ipam mode, IPs =
pods, 10 nodes x 5 concurrent execs: the load the tables are taken under) and wraps
every ``--every``-th ADD in ``py-spy record --idle --nonblocking``: wall-clock samples
of the frozen bundle's Python stacks, blocked time included. Each sample is put in one
bucket by the first rule that matches its stack (``BUCKETS``), and the API requests by
the store method that sent them. What py-spy cannot see — the launcher's exec, the
loader, libpython's start, and py-spy's own attach — is the exec's wall minus its
sampled time, and is measured apart by VERSION execs under the same load (the same
process start with no ADD work). The plugin's own debug lines give the request list,
conflicts and lock waits of every ADD of the phase, not only of the sampled ones.
Prints the tables and writes ``--out``/profile.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from tools.bench import execs, figures, workload
from tools.bench.api import Api
from tools.bench.plugins import IpamRuntime
from tools.bench.runner import Settings
from tools.bench.seed import make_plugins, make_run
from tools.testbed.cluster import Cluster
from tools.testbed.controlplane import ControlPlane

# (bucket, any of these substrings in a frame): first match from the leaf up wins, so
# an import done while opening TLS counts as an import, a JSON parse of a response as JSON.
BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    ("PyInstaller bootstrap and runtime hooks", ("pyiboot01_bootstrap", "pyi_rth_")),
    ("imports", ("_find_and_load", "_handle_fromlist", "exec_module")),
    ("TLS handshake", ("do_handshake", "wrap_socket", "create_connection")),
    (
        "TLS context (CA file)",
        ("load_verify_locations", "create_default_context", "_ssl_context", "SSLContext"),
    ),
    ("waiting for the API server", ("readinto", "recv_into", "_read_response", "readline")),
    ("sending requests", ("sendall",)),
    ("lock wait", ("locking.py",)),
    ("conflict backoff sleep", ("sleep",)),
    ("JSON", ("json/",)),
    ("log writes", ("logs.py",)),
    ("pool choice and records (alloc/)", ("alloc/",)),
    ("kubeconfig and config parsing", ("kubeconfig.py", "config.py", "netconf.py")),
]
STORE_FRAME = "store.py"  # the Store method above Client.request names the request


def bucket(frames: list[str]) -> str:
    """``frames`` root first, as py-spy's raw format lists them."""
    for name, needles in BUCKETS:
        if any(n in f for f in reversed(frames) for n in needles):
            return name
    return "other Python"


def request_label(frames: list[str]) -> str:
    """The Store method (or, failing that, the module) that called the client, for a sample inside a
    request."""
    for f in reversed(frames):
        if STORE_FRAME in f or "endpoints.py" in f or "pods.py" in f or "attachments.py" in f:
            return f.split(" (")[0]
    return "?"


def read_samples(path: Path) -> list[tuple[list[str], int]]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            out.append((stack.split(";"), int(count)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tools.bench.profile_add", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--pods", type=int, default=500)
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--concurrency", type=int, default=5)
    ap.add_argument("--every", type=int, default=10, help="profile one ADD in this many")
    ap.add_argument("--rate", type=int, default=1000, help="py-spy samples per second")
    ap.add_argument("--versions", type=int, default=30, help="VERSION execs under the same load")
    ap.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="spidernet-profile-")))
    args = ap.parse_args(argv)
    spy = Path(sys.executable).with_name("py-spy")  # the venv's (a dev dependency)
    args.out.mkdir(parents=True, exist_ok=True)
    shape = workload.Shape.of(args.pods, args.nodes, "exact", "v4")
    work = Path(tempfile.mkdtemp(prefix="spidernet-profile-work-"))
    ns = argparse.Namespace(spiderpool=None, no_floor=True, compare=[], compare_conf=[])
    lock = threading.Lock()
    seen: dict[str, int] = {"n": 0}
    profiled: dict[str, Path] = {}

    def wrap(verb: str, cid: str) -> list[str]:
        with lock:
            seen["n"] += verb == "ADD"
            if verb != "ADD" or seen["n"] % args.every:
                return []
            profiled[cid] = args.out / f"spy-{cid[:12]}.txt"
        return [
            str(spy),
            "record",
            "--idle",
            "--nonblocking",
            "--rate",
            str(args.rate),
            "--format",
            "raw",
            "--output",
            str(profiled[cid]),
            "--",
        ]

    with ControlPlane() as cp:
        Cluster(cp).install_crds()
        api = Api(cp)
        (plugin,) = make_plugins(ns, shape, work)
        run = make_run(cp, api, plugin, shape, Settings(concurrency=args.concurrency), work, None)
        assert isinstance(run.runtime, IpamRuntime)
        run.runtime.wrap = wrap
        try:
            run.setup()
            versions: list[execs.Exec] = []
            stop = threading.Event()

            def version_probe() -> None:  # process start alone, under the same load
                while not stop.is_set() and len(versions) < args.versions:
                    versions.append(
                        execs.run(
                            [str(plugin.binary)],
                            b'{"cniVersion": "1.0.0"}',
                            {"CNI_COMMAND": "VERSION", "PATH": "/usr/bin:/bin"},
                        )
                    )
                    stop.wait(0.2)

            probe = threading.Thread(target=version_probe)
            probe.start()
            log = run.create()
            stop.set()
            probe.join()
        finally:
            run.close()
            api.close()
    report = analyse(log, profiled, versions, args.rate)
    (args.out / "profile.json").write_text(json.dumps(report, indent=1))
    print(render(report))
    print(f"profile: {args.out}/profile.json")
    return 0


def analyse(
    log: Any, profiled: dict[str, Path], versions: list[execs.Exec], rate: int
) -> dict[str, Any]:
    buckets: Counter[str] = Counter()
    requests: Counter[str] = Counter()
    sampled_ms: list[float] = []
    for path in profiled.values():
        samples = read_samples(path) if path.exists() else []
        total = sum(c for _, c in samples)
        if not total:
            continue  # the exec ended before py-spy attached
        sampled_ms.append(total / rate * 1000)
        for frames, count in samples:
            b = bucket(frames)
            buckets[b] += count
            if b in ("waiting for the API server", "sending requests", "TLS handshake"):
                requests[request_label(frames)] += count
    n = max(len(sampled_ms), 1)
    adds = [a for a in log.attempts if a.verb == "ADD"]
    lines = [line for line in log.api if line.command == "ADD"]
    mean = statistics.fmean
    return {
        "pods": log.target,
        "profiled": len(sampled_ms),
        "rate": rate,
        "add_wall_ms_mean": mean([a.wall for a in adds]) * 1000,
        "add_cpu_ms_mean": mean([a.cpu for a in adds]) * 1000,
        "sampled_ms_mean": mean(sampled_ms) if sampled_ms else 0.0,
        "version_wall_ms_median": statistics.median([v.wall for v in versions]) * 1000,
        "version_cpu_ms_median": statistics.median([v.cpu for v in versions]) * 1000,
        "buckets_ms_per_add": {k: v / rate * 1000 / n for k, v in buckets.most_common()},
        "requests_ms_per_add": {k: v / rate * 1000 / n for k, v in requests.most_common()},
        "requests_per_add": mean([line.requests for line in lines]),
        "writes_per_add": mean([line.writes for line in lines]),
        "conflicts_per_add": mean([line.conflicts for line in lines]),
        "lock_wait_ms_mean": mean([line.lock_wait for line in lines]) * 1000,
        "lock_wait_ms_p99": figures.percentile([line.lock_wait * 1000 for line in lines], 99),
        "request_kinds": dict(
            Counter(c.split(" ")[0] + " " + _kind(c) for line in lines for c in line.calls)
        ),
        "phase": figures.summarise(log),
    }


def _kind(call: str) -> str:
    path = call.split(" ", 1)[1].split("?")[0]
    for key in (
        "spiderippools",
        "spiderendpoints",
        "spiderreservedips",
        "pods",
        "namespaces",
        "nodes",
    ):
        if f"/{key}" in path:
            return (
                key
                + ("/status" if path.endswith("/status") else "")
                + (" (table)" if "(table)" in call else "")
            )
    return path


def render(r: dict[str, Any]) -> str:
    lines = [
        f"create phase of {r['pods']} pods; {r['profiled']} ADDs profiled at {r['rate']} Hz",
        f"ADD exec: mean wall {r['add_wall_ms_mean']:.0f} ms, CPU {r['add_cpu_ms_mean']:.0f} ms; "
        f"sampled by py-spy: {r['sampled_ms_mean']:.0f} ms of each",
        f"VERSION exec under the same load (process start, no ADD work): median wall "
        f"{r['version_wall_ms_median']:.0f} ms, CPU {r['version_cpu_ms_median']:.0f} ms",
        "",
        "where the sampled wall time of an ADD goes (ms per ADD):",
    ]
    lines += [f"  {v:7.1f}  {k}" for k, v in r["buckets_ms_per_add"].items()]
    lines += ["", "time in requests (TLS, send, wait), by the code that sent them (ms per ADD):"]
    lines += [f"  {v:7.1f}  {k}" for k, v in r["requests_ms_per_add"].items()]
    lines += [
        "",
        f"every ADD of the phase (plugin's debug lines): {r['requests_per_add']:.2f} requests, "
        f"{r['writes_per_add']:.2f} writes, {r['conflicts_per_add']:.2f} conflicts, lock wait mean "
        f"{r['lock_wait_ms_mean']:.1f} ms, p99 {r['lock_wait_ms_p99']:.0f} ms",
        "requests sent by all ADDs: "
        + ", ".join(f"{v} {k}" for k, v in sorted(r["request_kinds"].items())),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
