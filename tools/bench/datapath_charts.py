"""The datapath benchmark's PNG: a panel per tool, a bar per path. Does I/O (writes a file).

Panels: sockperf p50 and p99 latency (logarithmic: the tail is 10-100 times the median
on a loaded machine), request/response rate, iperf3 Gbit/s for each stream count,
redis-benchmark GET and SET, and the CPU both ends used per round trip and per redis
request (the figure other load on the machine disturbs least). Whiskers run from the
lowest to the highest run. Bars of pod IP paths are solid, those of ClusterIP paths
hatched, so the two targets of one shape read side by side. A small figure at a low
DPI keeps the committed PNGs small; matplotlib (a dev dependency) comes through
tools/bench/plots.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools.bench import plots
from tools.bench.datapath_figures import Row, Summary

PANELS = (  # title, (metric, legend) per bar, logarithmic axis
    (
        "latency, usec (log); lower is better",
        (("sockperf.p50", "p50"), ("sockperf.p99", "p99")),
        True,
    ),
    ("request/response per s", (("sockperf.rr", "rr/s"),), False),
    (
        "iperf3 Gbit/s",
        (("iperf3-1.gbit", "1 stream"), ("iperf3-2.gbit", "2"), ("iperf3-4.gbit", "4")),
        False,
    ),
    ("redis-benchmark requests/s", (("redis.get", "GET"), ("redis.set", "SET")), False),
    (
        "CPU-us of both ends; lower is better",
        (("sockperf.cpu_us", "per round trip"), ("redis.cpu_us", "per redis request")),
        False,
    ),
)


def _bars(ax: Any, rows: Sequence[Row], keys: tuple[tuple[str, str], ...]) -> None:
    height = 0.8 / len(keys)
    for k, (key, legend) in enumerate(keys):
        for i, row in enumerate(rows):
            s: Summary | None = row.figures.get(key)
            if s is None:
                continue
            y = i + (k - (len(keys) - 1) / 2) * height
            err = [[s.median - s.low], [s.high - s.median]]
            ax.barh(
                y,
                s.median,
                height=height,
                xerr=err,
                color=f"C{k}",
                hatch="//" if "ClusterIP" in row.label else None,
                edgecolor="white",
                error_kw={"elinewidth": 0.8, "capsize": 1.5},
                label=legend if i == 0 else None,
            )


def plot(rows: Sequence[Row], title: str, path: Path) -> Path:
    fig, axes = plots.pyplot().subplots(
        1,
        len(PANELS),
        figsize=(3.0 * len(PANELS) + 2.2, 0.32 * len(rows) + 1.4),
        dpi=80,
        sharey=True,
        squeeze=False,
    )
    for ax, (name, keys, log) in zip(axes[0], PANELS, strict=True):
        _bars(ax, rows, keys)
        if log:
            ax.set_xscale("log")
        if len(keys) > 1:
            ax.legend(fontsize=6, loc="lower right")
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(range(len(rows)), [r.label for r in rows], fontsize=7)
    axes[0][0].invert_yaxis()
    return plots.save(fig, title, path)
