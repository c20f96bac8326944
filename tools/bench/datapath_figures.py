"""The datapath benchmark's figures: parse the tools' output, summarise runs, format tables. No I/O.

What each tool reports and what we keep of it (docs/datapath.md):

- ``sockperf ping-pong`` (TCP, 100-byte messages, one in flight): latency percentiles in
  microseconds as sockperf states them (half the round trip, its default), and the
  request/response rate, received messages / valid run time: netperf TCP_RR's figure;
- ``iperf3 -J``: received bits per second summed over the streams, and the CPU the two
  endpoint processes were charged (``cpu_utilization_percent``), as CPU-seconds per Gbit;
- ``redis-benchmark --csv``: requests per second per test (GET, SET).

The runner adds the CPU both ends used per round trip or request (``per_op_us``): the
path's cost in CPU, which other work on the machine disturbs far less than the rates.

A metric's runs become a ``Summary``: the median, the smallest and largest run, and the
spread, half the range over the median (a "±" figure).
"""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PERCENTILE = re.compile(r"---> percentile (\d+\.\d+) =\s*([0-9.]+)")
TOTAL = re.compile(r"\[Total Run\] RunTime=[0-9.]+ sec;.* ReceivedMessages=(\d+)")
VALID = re.compile(
    r"\[Valid Duration\] RunTime=([0-9.]+) sec; SentMessages=(\d+); ReceivedMessages=(\d+)"
)


class ParseError(ValueError):
    """A tool's output lacked a figure we read; the message quotes what was there."""


def _tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def sockperf(text: str) -> dict[str, float]:
    """``p50``, ``p99``, ``p99.9`` (microseconds), ``rr`` (round trips per second) and
    ``exchanged``, the round trips of the whole run (warm-up included: what its CPU paid for)."""
    found = {float(p): float(v) for p, v in PERCENTILE.findall(text)}
    valid = VALID.search(text)
    if not valid or not {50.0, 99.0, 99.9} <= found.keys():
        raise ParseError(f"sockperf printed no percentiles or valid run time:\n{_tail(text)}")
    seconds, received = float(valid.group(1)), int(valid.group(3))
    if seconds <= 0 or received == 0:
        raise ParseError(f"sockperf measured nothing:\n{_tail(text)}")
    total = TOTAL.search(text)
    return {
        "p50": found[50.0],
        "p99": found[99.0],
        "p99.9": found[99.9],
        "rr": received / seconds,
        "exchanged": float(total.group(1)) if total else float(received),  # warm-up included
    }


def iperf3(text: str) -> dict[str, float]:
    """``gbit`` (received, all streams) and ``cpu_per_gbit`` (CPU-seconds per Gbit, both ends)."""
    try:
        end = json.loads(text)["end"]
        gbit = float(end["sum_received"]["bits_per_second"]) / 1e9
        cpu = end["cpu_utilization_percent"]
        cores = (float(cpu["host_total"]) + float(cpu["remote_total"])) / 100
    except (ValueError, KeyError, TypeError) as e:
        raise ParseError(f"iperf3 -J output without end figures ({e}):\n{_tail(text)}") from None
    if gbit <= 0:
        raise ParseError(f"iperf3 moved no data:\n{_tail(text)}")
    return {"gbit": gbit, "cpu_per_gbit": cores / gbit}


def redis_benchmark(text: str) -> dict[str, float]:
    """Requests per second by test, lower-cased: ``{"get": ..., "set": ...}``."""
    rows = [r for r in csv.reader(io.StringIO(text)) if len(r) >= 2 and r[0] != "test"]
    try:
        found = {r[0].lower(): float(r[1]) for r in rows}
    except ValueError:
        raise ParseError(f"redis-benchmark --csv rows without a number:\n{_tail(text)}") from None
    if not {"get", "set"} <= found.keys():
        raise ParseError(f"redis-benchmark printed no GET and SET rows:\n{_tail(text)}")
    return {"get": found["get"], "set": found["set"]}


# ------------------------------------------------------------------ runs -> summaries


@dataclass(frozen=True)
class Summary:
    median: float
    low: float
    high: float
    runs: int

    @property
    def spread(self) -> float:
        """Half the range, as a fraction of the median (0.05 reads "±5%")."""
        return (self.high - self.low) / 2 / self.median if self.median else 0.0


def summarise(values: Sequence[float]) -> Summary | None:
    if not values:
        return None
    return Summary(statistics.median(values), min(values), max(values), len(values))


def summaries(samples: Iterable[dict[str, float]]) -> dict[str, Summary]:
    """Per metric over the runs: ``[{"p50": 1, ...}, {"p50": 2, ...}]`` -> ``{"p50": Summary}``."""
    by_metric: dict[str, list[float]] = {}
    for sample in samples:
        for metric, value in sample.items():
            by_metric.setdefault(metric, []).append(value)
    return {m: s for m, v in by_metric.items() if (s := summarise(v)) is not None}


# ------------------------------------------------------------------ tables


@dataclass(frozen=True)
class Column:
    key: str  # "<tool>.<metric>", e.g. "iperf3-1.gbit"
    title: str
    digits: int = 1


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[Column, ...]
    ratios: tuple[Column, ...]  # also shown as a ratio to the ceiling row


TABLES = (
    Table(
        "Latency, sockperf ping-pong TCP 100 B (usec, half round trip; lower is better)",
        (
            Column("sockperf.p50", "p50"),
            Column("sockperf.p99", "p99"),
            Column("sockperf.p99.9", "p99.9"),
        ),
        (Column("sockperf.p50", "p50 / node"),),
    ),
    Table(
        "Request/response, one TCP transaction of 100 B in flight (netperf TCP_RR's figure);"
        " CPU of both ends per transaction",
        (Column("sockperf.rr", "rr/s", 0), Column("sockperf.cpu_us", "CPU us/rr")),
        (Column("sockperf.rr", "rr/s vs node"), Column("sockperf.cpu_us", "CPU vs node")),
    ),
    Table(
        "Throughput, iperf3 (Gbit/s received; CPU-s per Gbit of both ends at 1 stream)",
        (
            Column("iperf3-1.gbit", "1 stream", 2),
            Column("iperf3-2.gbit", "2 streams", 2),
            Column("iperf3-4.gbit", "4 streams", 2),
            Column("iperf3-1.cpu_per_gbit", "CPU-s/Gbit", 3),
        ),
        (
            Column("iperf3-1.gbit", "1 stream vs node"),
            Column("iperf3-1.cpu_per_gbit", "CPU vs node"),
        ),
    ),
    Table(
        "redis-benchmark -d 1000 (requests/s; CPU of server and benchmark per request)",
        (
            Column("redis.get", "GET", 0),
            Column("redis.set", "SET", 0),
            Column("redis.cpu_us", "CPU us/req"),
        ),
        (Column("redis.get", "GET vs node"), Column("redis.cpu_us", "CPU vs node")),
    ),
)


def per_op_us(cpu_seconds: float, ops: float) -> float:
    """CPU microseconds per operation (0 when nothing was done)."""
    return cpu_seconds / ops * 1e6 if ops else 0.0


def cell(summary: Summary | None, digits: int) -> str:
    if summary is None:
        return "–"
    spread = f" ±{summary.spread * 100:.0f}%" if summary.runs > 1 else ""
    return f"{summary.median:,.{digits}f}{spread}"


def ratio(value: Summary | None, ceiling: Summary | None) -> str:
    if value is None or ceiling is None or not ceiling.median:
        return "–"
    return f"{value.median / ceiling.median:.2f}x"


@dataclass(frozen=True)
class Row:
    label: str
    figures: dict[str, Summary]
    ceiling: bool = False  # the node-to-node row the ratios are taken to


def render(table: Table, rows: Sequence[Row], *, markdown: bool = False) -> str:
    """One table: a row per path, ``median ±spread`` cells, and ratios to the ceiling row."""
    top = next((r.figures for r in rows if r.ceiling), {})
    header = ["path", *(c.title for c in table.columns), *(c.title for c in table.ratios)]
    body = [
        [
            r.label,
            *(cell(r.figures.get(c.key), c.digits) for c in table.columns),
            *(ratio(r.figures.get(c.key), top.get(c.key)) for c in table.ratios),
        ]
        for r in rows
        if any(c.key in r.figures for c in table.columns)
    ]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(b) + " |" for b in body])
    widths = [max(len(x[i]) for x in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:]))])

    return "\n".join([line(header), *(line(b) for b in body)])


def flatten(results: dict[str, list[dict[str, float]]]) -> dict[str, Summary]:
    """``{"sockperf": [run, run], "iperf3-1": [...]}`` -> ``{"sockperf.p50": Summary, ...}``."""
    return {
        f"{tool}.{metric}": s
        for tool, runs in results.items()
        for metric, s in summaries(runs).items()
    }
