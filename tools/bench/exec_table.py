"""Rows of the per-exec benchmark (tools/bench/exec_cost.py) and their text table. No I/O
but reading /proc/cpuinfo for the header.

A row is every exec of one thing (a plugin's verb, the chain, the floor) for one bundle;
its figures are medians over the execs after the first (a warm-up), and its CPU is also
given over the floor's ADD CPU of the same run, the reference every target is set in.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.bench import execs


@dataclass(frozen=True)
class Bundle:
    label: str
    dir: Path

    def exe(self, plugin: str) -> Path:
        return self.dir / plugin / plugin

    @property
    def bin(self) -> Path:
        return self.dir / "bin"


@dataclass
class Row:
    """One line of the table: every exec of one thing, one verb, one bundle."""

    section: str
    what: str
    bundle: str
    runs: list[execs.Exec] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)

    def add(self, run: execs.Exec) -> execs.Exec:
        if run.returncode != 0:
            raise RuntimeError(
                f"{self.what} ({self.bundle}) failed: {run.stdout.decode()[-400:]} "
                f"{run.stderr.decode()[-400:]}"
            )
        self.runs.append(run)
        return run

    def medians(self) -> tuple[float, float, float]:
        """(wall ms, CPU ms, RSS MB) over the counted runs (the first was a warm-up)."""
        counted = self.runs[1:] or self.runs
        return (
            statistics.median(r.wall for r in counted) * 1000,
            statistics.median(r.cpu for r in counted) * 1000,
            statistics.median(r.maxrss_kb for r in counted) / 1024,
        )


@dataclass
class Bench:
    bundles: list[Bundle]
    runs: int
    rows: dict[tuple[str, str, str], Row] = field(default_factory=dict)

    def row(self, section: str, what: str, bundle: str) -> Row:
        key = (section, what, bundle)
        if key not in self.rows:
            self.rows[key] = Row(section, what, bundle)
        return self.rows[key]


def floor_cpu(bench: Bench) -> float:
    row = bench.rows.get(("ipam", "ADD", "floor"))
    return row.medians()[1] if row and row.runs else float("nan")


def table(bench: Bench) -> list[str]:
    floor = floor_cpu(bench)
    lines = [
        f"{'section':<12} {'what':<20} {'bundle':<10} {'wall ms':>8} {'CPU ms':>8} "
        f"{'RSS MB':>7} {'CPU/floor':>9}  API requests"
    ]
    for row in bench.rows.values():
        if not row.runs:
            continue
        wall, cpu, rss = row.medians()
        requests = ", ".join(
            f"{what} {count / len(row.runs):.3g}" for what, count in sorted(row.requests.items())
        )
        ratio = f"{cpu / floor:8.2f}x" if floor == floor else f"{'-':>9}"  # NaN: no floor ADD run
        lines.append(
            f"{row.section:<12} {row.what:<20} {row.bundle:<10} {wall:8.1f} {cpu:8.1f} "
            f"{rss:7.1f} {ratio}  {requests}"
        )
    return lines


def header(bench: Bench, load_start: float) -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    return [
        f"exec cost, {time.strftime('%Y-%m-%d %H:%M')}, {platform.node()}: {os.cpu_count()} "
        f"CPUs ({cpu}), "
        f"kernel {platform.release()}",
        f"load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
        f"medians of {bench.runs} execs each after one warm-up, bundles interleaved",
        *(f"bundle {b.label}: {b.dir}" for b in bench.bundles),
        f"CPU/floor: CPU over the floor's ADD CPU in this run ({floor_cpu(bench):.1f} ms)",
    ]


def to_json(bench: Bench) -> list[dict[str, Any]]:
    out = []
    for row in bench.rows.values():
        if row.runs:
            wall, cpu, rss = row.medians()
            out.append(
                {
                    "section": row.section,
                    "what": row.what,
                    "bundle": row.bundle,
                    "wall_ms": wall,
                    "cpu_ms": cpu,
                    "rss_mb": rss,
                    "requests": dict(row.requests),
                }
            )
    return out
