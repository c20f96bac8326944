"""Several verbs' changes to one pool decided on one snapshot, for one compare-and-swap
(per-node combining, docs/ipam.md "Combining"). Pure, no I/O.

A request carries everything its decision needs, so the process that holds a node's
pool lock can decide it for another process without reading anything of that
process's pod: a ``Take`` (an ADD's address: the pod, its UID, the family, the pod's
view the pool filters judge, the reserved ranges and the addresses the pod's other
interfaces claim) or a ``Give`` (a release: compare-and-delete on the UID, into
cool-down or not). ``decide_all`` applies them in order, each on the records the
previous ones left, and returns the new records (None when nothing changes) and one
outcome per request, exactly what that request would have got deciding alone on the
same snapshot after the ones before it.

Requests and outcomes travel between processes as JSON (``encode`` / ``decode``,
``outcome_json`` / ``outcome_of``).
"""

from __future__ import annotations

from spidernet.alloc import choosing, selection
from spidernet.alloc.pools import Pool, Record
from spidernet.ipmath.ranges import RangeSet
from spidernet.types.record import record, replace

TYPE_CHECKING = False  # the typed shapes are for the type checker: not imported on an exec
if TYPE_CHECKING:
    from typing import Any


@record
class Take:
    """An ADD's request for one address of one family."""

    pod: str  # "<namespace>/<name>"
    pod_uid: str
    family: int
    view: selection.PodView
    reserved: RangeSet
    claimed: frozenset[str] = frozenset()


@record
class Give:
    """A release of ``pod_uid``'s records (only ``ips`` when given, never ``keep``)."""

    pod_uid: str
    ips: frozenset[str] | None = None
    keep: frozenset[str] = frozenset()
    cooldown: float | None = None  # the cool-down base (I5); None: freed at once


Request = Take | Give
Outcome = choosing.Choice | str | int  # Take: a Choice or why not; Give: records released


def decide(pool: Pool, req: Request, now: float) -> tuple[dict[str, Record] | None, Outcome]:
    """One request on ``pool``: (new records or None for no change, its outcome)."""
    if isinstance(req, Give):
        return _give(pool, req, now)
    reason = selection.refusal(pool, req.family, req.view)  # judged on this fresh copy
    if reason:
        return None, reason
    choice = choosing.choose(
        pool, pod_uid=req.pod_uid, reserved=req.reserved, claimed=req.claimed, now=now
    )
    if choice is None:
        return None, exhausted(pool, now)
    if choice.reused:
        return None, choice
    fresh = Record(req.pod, req.pod_uid, strikes=choice.strikes)
    return choosing.with_record(pool.records, choice.ip, fresh), choice


def decide_all(
    pool: Pool, requests: list[Request], now: float
) -> tuple[dict[str, Record] | None, list[Outcome]]:
    """Every request in order on one snapshot; the records after all of them (None: none
    changed anything) and each request's outcome."""
    outcomes: list[Outcome] = []
    changed = False
    for req in requests:
        records, outcome = decide(pool, req, now)
        outcomes.append(outcome)
        if records is not None:
            pool = replace(pool, records=records)
            changed = True
    return (dict(pool.records) if changed else None), outcomes


def _give(pool: Pool, req: Give, now: float) -> tuple[dict[str, Record] | None, int]:
    mine = {
        ip
        for ip, r in pool.records.items()
        if r.holds_for(req.pod_uid) and (req.ips is None or ip in req.ips) and ip not in req.keep
    }
    if not mine:
        return None, 0
    if req.cooldown is None:
        return choosing.without_uid(pool.records, req.pod_uid, mine), len(mine)
    return choosing.cooled(pool.records, req.pod_uid, mine, now=now, base=req.cooldown), len(mine)


def exhausted(pool: Pool, now: float) -> str:
    """Why ``pool`` has no address: its size, what holds it, what is cooling and until when."""
    cooling = choosing.cooling(pool, now)
    held = len(pool.records) - len(cooling)
    text = f"exhausted ({pool.usable.count()} usable, {held} allocated"
    if cooling:
        first = sorted(cooling.items(), key=lambda kv: kv[1])[:3]
        text += f", {len(cooling)} cooling down after failed ADDs: " + ", ".join(
            f"{ip} until {t}" for ip, t in first
        )
    return text + ")"


# ------------------------------------------------------------------ JSON between processes


def encode(req: Request) -> dict[str, Any]:
    if isinstance(req, Give):
        return {
            "give": req.pod_uid,
            "ips": None if req.ips is None else sorted(req.ips),
            "keep": sorted(req.keep),
            "cooldown": req.cooldown,
        }
    v = req.view
    return {
        "take": req.pod_uid,
        "pod": req.pod,
        "family": req.family,
        "reserved": [list(i) for i in req.reserved.intervals],
        "claimed": sorted(req.claimed),
        "view": {
            "namespace": v.namespace,
            "labels": dict(v.labels),
            "node": v.node,
            "node_labels": None if v.node_labels is None else dict(v.node_labels),
            "ns_labels": None if v.ns_labels is None else dict(v.ns_labels),
            "network": v.network,
            "multus_namespace": v.multus_namespace,
        },
    }


def decode(raw: dict[str, Any]) -> Request:
    """The request ``encode`` wrote; KeyError/TypeError/ValueError when it is not one."""
    if "give" in raw:
        ips = raw["ips"]
        return Give(
            str(raw["give"]),
            None if ips is None else frozenset(map(str, ips)),
            frozenset(map(str, raw["keep"])),
            None if raw["cooldown"] is None else float(raw["cooldown"]),
        )
    family = int(raw["family"])
    intervals = tuple((int(a), int(b)) for a, b in raw["reserved"])
    return Take(
        str(raw["pod"]),
        str(raw["take"]),
        family,
        selection.PodView(**raw["view"]),
        RangeSet(family, intervals),
        frozenset(map(str, raw["claimed"])),
    )


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    if isinstance(outcome, choosing.Choice):
        return {"ip": outcome.ip, "reused": outcome.reused, "strikes": outcome.strikes}
    if isinstance(outcome, str):
        return {"reason": outcome}
    return {"released": outcome}


def outcome_of(raw: dict[str, Any]) -> Outcome:
    if "ip" in raw:
        return choosing.Choice(str(raw["ip"]), bool(raw["reused"]), int(raw["strikes"]))
    if "reason" in raw:
        return str(raw["reason"])
    return int(raw["released"])
