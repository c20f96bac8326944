"""The pools' finalizer, kept by each GC pass: on a pool in use, off a terminating one once empty.
Does I/O (a PUT of the pool, carrying the resourceVersion read).

The admission webhook adds ``spiderpool.spidernet.io`` to every pool it admits, as
upstream's does (docs/ipam.md, "Deleting a pool"); where the webhook is installed, the
pass adds it to a pool that holds addresses and lacks it (one made before the webhook),
and takes it off a pool that is being deleted and holds no address any more (records in
cool-down hold nothing), so ``kubectl delete`` of a pool in use returns once its last
pod has released, within a pass. A pool whose records cannot be read keeps it: they may
hold addresses. A terminating pool is read again first: this very pass may have emptied it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spidernet.alloc.pools import parse_records
from spidernet.gc.census import Census
from spidernet.gc.report import Report
from spidernet.guard.admission import FINALIZER
from spidernet.ipam.store import GROUP
from spidernet.k8s import errors as kerr
from spidernet.k8s.transport import Transport

MUTATING = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/spidernet"


def decide(obj: Mapping[str, Any], *, backfill: bool = True) -> str:
    """What to do with one pool's finalizer: "add", "remove", or "" for nothing."""
    meta = obj.get("metadata") or {}
    has = FINALIZER in (meta.get("finalizers") or [])
    try:
        records = parse_records((obj.get("status") or {}).get("allocatedIPs"))
    except ValueError:
        return ""  # unreadable: it may hold addresses, and it is not ours to judge
    holds = any(not r.cooling for r in records.values())
    if not meta.get("deletionTimestamp"):
        return "add" if backfill and holds and not has else ""
    return "remove" if has and not holds else ""


def guarded(transport: Transport) -> bool:
    """Are the guardrails installed (the mutating webhook that adds the finalizer)? Only then
    does the pass add it to pools in use that lack it: without them, deleting a pool keeps
    the meaning it had (docs/ipam.md, "Deleting a pool")."""
    try:
        transport.get(MUTATING)
    except kerr.ApiError:
        return False
    return True


def settle(transport: Transport, census: Census, report: Report, *, dry_run: bool) -> None:
    backfill = guarded(transport)
    for name, state in sorted(census.pools.items()):
        obj: dict[str, Any] | None = state.obj
        if state.obj["metadata"].get("deletionTimestamp"):
            obj = _fresh(transport, name)
        action = decide(obj, backfill=backfill) if obj is not None else ""
        if not action:
            continue
        item = {"pool": name, "action": action if not dry_run else f"would {action}"}
        try:
            if not dry_run and obj is not None:
                _write(transport, obj, action)
        except kerr.ApiError as e:
            report.error(f"SpiderIPPool/{name}", f"finalizer not {action}ed ({e}): next pass")
            continue
        report.finalizers.append(item)


def _fresh(transport: Transport, name: str) -> dict[str, Any] | None:
    try:
        return dict(transport.get(f"{GROUP}/spiderippools/{name}"))
    except kerr.NotFound:
        return None


def _write(transport: Transport, obj: dict[str, Any], action: str) -> None:
    meta = dict(obj["metadata"])
    kept = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
    meta["finalizers"] = kept + [FINALIZER] if action == "add" else kept
    transport.request("PUT", f"{GROUP}/spiderippools/{meta['name']}", {**obj, "metadata": meta})
