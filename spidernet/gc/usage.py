"""Each pool's usage as one GC pass saw it, and the pass's outcome: what the installer's
exporter serves as pool gauges (docs/metrics.md, "Pool usage"). No I/O.

    {"time": 1796656429.1, "seconds": 0.4, "ok": true, "errors": 0, "released": 2,
     "poolsTime": 1796656429.1,
     "pools": {"macvlan-ens1-v4": {"total": 200, "allocated": 180, "cooling": 3}}}

``allocated`` counts the records that hold an address for a pod (the pool's
``allocatedIPCount``); ``cooling`` the records of addresses freed after a failed ADD and
not handed out again yet (I5): neither is free. A pool whose records could not be read
is left out rather than reported empty; a pass that could not read the pools at all
keeps the previous pass's figures and their ``poolsTime``, so the gauges go stale
(visibly) rather than to zero.
"""

from __future__ import annotations

from typing import Any

from spidernet.gc.census import Census
from spidernet.gc.report import Report

INT64_MAX = 2**63 - 1  # the CRD's integer (an IPv6 /64 pool saturates, as in its status)


def of(census: Census) -> dict[str, dict[str, int]]:
    usage = {}
    for name, state in sorted(census.pools.items()):
        if not state.readable:
            continue
        cooling = sum(1 for r in state.records.values() if r.cooling)
        usage[name] = {
            "total": min(state.pool.usable.count(), INT64_MAX),
            "allocated": len(state.records) - cooling,
            "cooling": cooling,
        }
    return usage


def document(report: Report, now: float, previous: dict[str, Any] | None) -> dict[str, Any]:
    measured = bool(report.usage) or report.ok  # an empty cluster is measured too
    old = previous or {}
    return {
        "time": round(now, 3),
        "seconds": round(report.seconds, 3),
        "ok": report.ok,
        "errors": len(report.errors),
        "released": len(report.released),
        "poolsTime": round(now, 3) if measured else old.get("poolsTime"),
        "pools": report.usage if measured else old.get("pools", {}),
    }
