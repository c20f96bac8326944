"""What carrying glibc costs per plugin exec: the launcher path against the bootloader run
directly on the host's glibc, interleaved so machine load hits both alike. Does I/O.

For each bundle given (a directory holding ``<plugin>/``), per round: one VERSION exec of
``<plugin>/<plugin>`` (the launcher: static exec, then the bundled loader and libc) and,
when present, one of ``<plugin>/<plugin>.bin`` (PyInstaller's bootloader under the
host's loader, as bundles were before they carried glibc); plus the static launcher
alone (a copy with no ``_internal/``, so it fails right after its exec). Wall from
``perf_counter``; CPU (user+sys) and peak RSS from the child's wait4 rusage.

    python -m tools.bench.exec_cost [--runs 300] [--plugin spiderpool] [BUNDLE_DIR...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from tools.testbed import paths

STDIN = b'{"cniVersion": "1.0.0"}'


def one(binary: Path) -> tuple[float, float, int]:
    """(wall ms, cpu ms, peak RSS KiB) of one VERSION exec."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(binary)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"CNI_COMMAND": "VERSION", "PATH": "/usr/bin:/bin"},
    )
    assert proc.stdin
    try:
        proc.stdin.write(STDIN)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # the bare launcher exits before it reads
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    wall = (time.perf_counter() - started) * 1000
    return wall, (usage.ru_utime + usage.ru_stime) * 1000, usage.ru_maxrss


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--plugin", default="spiderpool")
    ap.add_argument("bundles", nargs="*", type=Path, default=[paths.BUNDLE_BIN.parent])
    args = ap.parse_args()
    bare = Path(tempfile.mkdtemp(prefix="spidernet-bench-"))
    candidates: dict[str, Path] = {}
    for bundle in args.bundles:
        entry = bundle.resolve() / args.plugin / args.plugin
        candidates[f"{bundle.name}: {args.plugin}"] = entry
        if entry.with_name(f"{args.plugin}.bin").exists():
            candidates[f"{bundle.name}: {args.plugin}.bin (host glibc)"] = entry.with_name(
                f"{args.plugin}.bin"
            )
            shutil.copy(entry, bare / args.plugin)
            candidates["static launcher alone"] = bare / args.plugin
    samples: dict[str, list[tuple[float, float, int]]] = {name: [] for name in candidates}
    for _ in range(args.runs):
        for name, binary in candidates.items():
            samples[name].append(one(binary))
    print(f"{args.runs} VERSION execs each, interleaved; load average {os.getloadavg()[0]:.1f}")
    for name, runs in samples.items():
        walls, cpus, rss = zip(*runs)
        print(
            f"{name:60s} wall median {statistics.median(walls):6.1f} ms  p90 {statistics.quantiles(walls, n=10)[8]:6.1f}"
            f"  cpu median {statistics.median(cpus):6.1f} ms  peak RSS {statistics.median(rss) / 1024:5.1f} MiB"
        )
    shutil.rmtree(bare)


if __name__ == "__main__":
    main()
