"""A phase's records turned into the table's figures, ratios to the floor, and the text tables. No
I/O.

Definitions (docs/benchmark.md repeats them):
- wall: phase start (first API call or exec) to its last job done, GC pass included;
- ADD/s: the phase's target pods that got their address, per second of wall
  (delete: pods whose DEL completed);
- latency p50/p90/p99: per pod, from the moment the kubelet had its job (the pod
  was bound to the node) to its address, retries and their backoff included;
- ADD execs / retried: every ADD exec, and those that failed and were retried
  (the runtime's DEL of the failed sandbox is counted in DEL execs);
- CAS lost/write: the plugin's own count of 409 Conflicts per pool or endpoint write
  (its debug line), over all its execs in the phase;
- CPU ms/ADD, ms/DEL: user+system of the exec and everything it ran (wait4), mean
  per exec; server CPU: kube-apiserver + etcd over the phase, and per ADD exec;
- RSS: the largest peak resident set of any exec in the phase (wait4's ru_maxrss);
- dups / I1 / leaks: read back from the API after the phase (tools/testbed/invariants.py);
- failures: pods that never got an address within the give-up time, DELs given up.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from tools.bench.runner import PhaseLog


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def summarise(log: PhaseLog) -> dict[str, Any]:
    adds = [a for a in log.attempts if a.verb == "ADD"]
    dels = [a for a in log.attempts if a.verb == "DEL"]
    writes = sum(line.writes for line in log.api)
    conflicts = sum(line.conflicts for line in log.api)
    server = sum(log.server_cpu.values())
    fig: dict[str, Any] = {
        "phase": log.phase,
        "plugin": log.plugin,
        "target": log.target,
        "skipped": log.skipped,
        "wall_s": log.wall,
        "done": len(log.done_at),
        "per_s": len(log.done_at) / log.wall if log.wall else math.nan,
        "p50_s": percentile(log.latency, 50),
        "p90_s": percentile(log.latency, 90),
        "p99_s": percentile(log.latency, 99),
        "add_execs": len(adds),
        "add_failed": sum(1 for a in adds if not a.ok),
        "add_fail_codes": dict(Counter(a.code for a in adds if not a.ok)),
        "del_execs": len(dels),
        "del_failed": sum(1 for a in dels if not a.ok),
        "del_fail_codes": dict(Counter(a.code for a in dels if not a.ok)),
        "exec_wall_p50_s": percentile([a.wall for a in adds], 50),
        "exec_wall_p99_s": percentile([a.wall for a in adds], 99),
        "cpu_ms_add": _mean([a.cpu for a in adds]) * 1000,
        "cpu_ms_del": _mean([a.cpu for a in dels]) * 1000,
        "plugin_cpu_s": sum(a.cpu for a in log.attempts),
        "server_cpu_s": server,
        "server_cpu": log.server_cpu,
        "server_ms_add": server / len(adds) * 1000 if adds else math.nan,
        "rss_mb_max": max((a.rss_kb for a in log.attempts), default=0) / 1024,
        "rss_mb_p50": percentile([a.rss_kb / 1024 for a in log.attempts], 50),
        "writes": writes,
        "conflicts": conflicts,
        "cas_lost_per_write": conflicts / writes if writes else math.nan,
        "lock_wait_p99_s": percentile([line.lock_wait for line in log.api], 99),
        "requests_per_add": _mean([line.requests for line in log.api if line.command == "ADD"]),
        "failures": len(log.failures),
        "failure_examples": log.failures[:5],
        "checks": log.checks,
        "gc": log.gc,
        "notes": log.notes[:10],
        "load": log.load,
    }
    return fig


def ratios(figs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each plugin's figures over the floor's, phase by phase (the floor's own row omitted)."""
    floor = {f["phase"]: f for f in figs if f["plugin"] == "floor" and not f["skipped"]}
    keys = (
        "wall_s",
        "per_s",
        "p50_s",
        "p99_s",
        "cpu_ms_add",
        "cpu_ms_del",
        "server_ms_add",
        "rss_mb_max",
    )
    out = []
    for f in figs:
        base = floor.get(f["phase"])
        if f["plugin"] == "floor" or base is None or f["skipped"]:
            continue
        out.append(
            {
                "phase": f["phase"],
                "plugin": f["plugin"],
                **{
                    k: f[k] / base[k] if base[k] and not math.isnan(base[k]) else math.nan
                    for k in keys
                },
            }
        )
    return out


# ---------------------------------------------------------------- text


def _num(v: Any, digits: int = 1) -> str:
    if isinstance(v, float):
        return "–" if math.isnan(v) else f"{v:.{digits}f}"
    return str(v)


def _dash(v: Any) -> str:
    return "–" if v is None else str(v)


def speed_rows(figs: list[dict[str, Any]]) -> list[list[str]]:
    head = [
        "phase",
        "plugin",
        "pods",
        "wall s",
        "/s",
        "p50 s",
        "p90 s",
        "p99 s",
        "ADD execs (retried)",
        "DEL execs (retried)",
        "CAS lost/write",
        "CPU ms/ADD",
        "CPU ms/DEL",
        "server CPU s",
        "server ms/ADD",
        "RSS MB",
    ]
    rows = [head]
    for f in figs:
        if f["skipped"]:
            rows.append(
                [f["phase"], f["plugin"], str(f["target"]), "skipped"] + ["–"] * (len(head) - 4)
            )
            continue
        rows.append(
            [
                f["phase"],
                f["plugin"],
                f"{f['done']}/{f['target']}",
                _num(f["wall_s"]),
                _num(f["per_s"]),
                _num(f["p50_s"], 2),
                _num(f["p90_s"], 2),
                _num(f["p99_s"], 2),
                f"{f['add_execs']} ({f['add_failed']})",
                f"{f['del_execs']} ({f['del_failed']})",
                _num(f["cas_lost_per_write"], 2),
                _num(f["cpu_ms_add"], 0),
                _num(f["cpu_ms_del"], 0),
                _num(f["server_cpu_s"]),
                _num(f["server_ms_add"], 0),
                _num(f["rss_mb_max"]),
            ]
        )
    return rows


def accuracy_rows(figs: list[dict[str, Any]]) -> list[list[str]]:
    head = [
        "phase",
        "plugin",
        "duplicates",
        "I1 violations",
        "leaks",
        "failures",
        "failed ADD codes",
        "failed DEL codes",
        "GC pass",
        "notes",
    ]
    rows = [head]
    for f in figs:
        if f["skipped"]:
            rows.append(
                [f["phase"], f["plugin"]] + ["–"] * (len(head) - 3) + ["skipped: " + f["skipped"]]
            )
            continue
        c, gc = f["checks"], f["gc"]
        gc_text = (
            f"{gc['released']}/{gc['expected']} released, {gc['wall']:.1f} s, {gc['cpu']:.1f} CPU-s"
            if gc
            else ""
        )
        dups = c.get("duplicates", c.get("duplicates (results)"))
        rows.append(
            [
                f["phase"],
                f["plugin"],
                _dash(dups),
                _dash(c.get("I1 violations", "n/a")),
                _dash(c.get("leaks", "n/a")),
                str(f["failures"]),
                _codes(f["add_fail_codes"]),
                _codes(f["del_fail_codes"]),
                gc_text,
                _notes(f),
            ]
        )
    return rows


def _codes(codes: dict[int, int]) -> str:
    return ", ".join(f"{n}x code {c}" for c, n in sorted(codes.items())) or "–"


def _notes(f: dict[str, Any]) -> str:
    c = f["checks"]
    parts = []
    if "addresses changed" in c:
        parts.append(f"{c['addresses changed']} pods changed address")
    if c.get("cooling"):
        parts.append(f"{c['cooling']} cooling records")
    if c.get("endpoints left"):
        parts.append(f"{c['endpoints left']} endpoints left")
    return "; ".join(parts)


def ratio_rows(rats: list[dict[str, Any]]) -> list[list[str]]:
    head = [
        "phase",
        "plugin",
        "wall",
        "/s",
        "p50",
        "p99",
        "CPU/ADD",
        "CPU/DEL",
        "server/ADD",
        "RSS",
    ]
    rows = [head]
    keys = (
        "wall_s",
        "per_s",
        "p50_s",
        "p99_s",
        "cpu_ms_add",
        "cpu_ms_del",
        "server_ms_add",
        "rss_mb_max",
    )
    for r in rats:
        rows.append(
            [
                r["phase"],
                r["plugin"],
                *[_num(r[k], 2) + "x" if not math.isnan(r[k]) else "–" for k in keys],
            ]
        )
    return rows


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in rows
    )


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)
