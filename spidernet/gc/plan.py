"""What one GC pass will do, decided from what it read. No I/O.

For each holder (``census``) the rules give a verdict; a zombie is released only when
it has been one for ``min_age`` (``suspects``) and its pod has been dead for longer than
the IPAM's allocation budget (an ADD that read the pod alive may otherwise still be
writing the record and about to answer with it; "dead since" is the API's word:
``rules.Holder.dead_since``, or the first sighting), and then only the parts that are
safe:
- its endpoint, if it has one, goes first (the I1 order: an endpoint stops naming an
  address before the record goes), and if that delete fails nothing of it is released;
- each of its records goes by compare-and-swap on its pod UID, except a record that
  another holder's endpoint names (an inconsistency: releasing it would hand out an
  address a sandbox uses) or one in a pool the Store cannot write (a broken spec).
Cooling records (I5) hold their address for nobody until ``cooldownUntil``; one whose
time passed more than ``cooling_grace`` ago is dropped to keep the pool small (an ADD
treats it as free anyway; only its strike count is forgotten). One still cooling in a
pool with no free address left is *reclaimed* once seen so for ``min_age``: its
``cooldownUntil`` becomes now (its strikes stay), since a cooling address is held for
nobody, and a full pool means pods that cannot start meanwhile.
Every record or endpoint judged suspicious and not released is listed as kept, with
its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spidernet.alloc import choosing
from spidernet.alloc.pools import Record
from spidernet.gc import rules
from spidernet.gc.census import Census, Entry, HolderId, HolderRecords, World, canonical, facts
from spidernet.gc.suspects import Suspects


@dataclass(frozen=True)
class Release:
    """One confirmed zombie holder: its endpoint to delete first, then its records."""

    holder: HolderRecords
    verdict: rules.Verdict
    entries: tuple[Entry, ...]


@dataclass
class Plan:
    releases: list[Release] = field(default_factory=list)
    expired: list[Entry] = field(
        default_factory=list
    )  # cooling records past cooldownUntil + cooling_grace
    reclaimed: list[Entry] = field(default_factory=list)  # still cooling, in a full pool
    kept: list[dict[str, Any]] = field(default_factory=list)
    endpoints_kept: list[dict[str, Any]] = field(default_factory=list)
    suspects: Suspects = field(
        default_factory=Suspects
    )  # for the next pass (before this pass's releases)
    # seconds until every zombie kept for the allocation budget alone may go (at most the budget)
    wait: float | None = None
    now: float = 0.0  # the API server's time the plan was made at

    def cooling_changes(self) -> list[tuple[Entry, Record | None]]:
        """(a cooling record as read, what it becomes): None dropped, else reclaimed (it
        keeps its strikes, its cool-down ends now)."""
        until = choosing.rfc3339(self.now)
        return [(e, None) for e in self.expired] + [
            (e, Record(e.record.pod, e.record.pod_uid, until, e.record.strikes))
            for e in self.reclaimed
        ]


def entry_report(e: Entry, reason: str, detail: str) -> dict[str, Any]:
    return {
        "ip": e.ip,
        "pool": e.pool,
        "pod": e.record.pod,
        "uid": e.record.pod_uid,
        "reason": reason,
        "detail": detail,
    }


def make(census: Census, world: World, memory: Suspects, knobs: rules.Knobs, now: float) -> Plan:
    """``now`` and every time in ``memory`` are the API server's clock, never the GC's own."""
    plan = Plan(now=now)
    for hid, h in sorted(census.holders.items()):
        holder = facts(world, h)
        verdict = rules.decide(holder, knobs, now)
        if verdict.zombie:
            _zombie(plan, census, (hid, h, holder), verdict, memory, knobs, now)
        elif verdict.suspicious:
            _keep(plan, h, verdict.reason, verdict.detail)
    for e in census.cooling:
        _cooling(plan, census, e, memory, knobs, now)
    return plan


def _cooling(
    plan: Plan, census: Census, e: Entry, memory: Suspects, knobs: rules.Knobs, now: float
) -> None:
    """Drop it long after it cooled down; reclaim it when it keeps a full pool full."""
    if not census.pools[e.pool].writable:
        return
    until = choosing.parse_time(e.record.cooldown_until)
    if until + knobs.cooling_grace < now:
        plan.expired.append(e)
        return
    if until <= now or not census.full(e.pool, now):
        return
    key = f"cooling/{e.pool}/{e.ip}/{e.record.cooldown_until}"
    since = plan.suspects.since[key] = memory.first_seen(key, now)
    if memory.confirmed(key, now, knobs.min_age):
        plan.reclaimed.append(e)
        return
    detail = (
        f"cooling until {e.record.cooldown_until} in a full pool for {now - since:.0f} s: "
        f"made free once so for {knobs.min_age:.0f} s"
    )
    plan.kept.append(entry_report(e, "min-age", detail))


def _keep(
    plan: Plan, h: HolderRecords, reason: str, detail: str, entries: tuple[Entry, ...] | None = None
) -> None:
    for e in h.entries if entries is None else entries:
        plan.kept.append(entry_report(e, reason, detail))
    if h.endpoint is not None and entries is None:
        plan.endpoints_kept.append(
            {"endpoint": h.key, "uid": h.uid, "reason": reason, "detail": detail}
        )


def _zombie(
    plan: Plan,
    census: Census,
    holder: tuple[HolderId, HolderRecords, rules.Holder],
    verdict: rules.Verdict,
    memory: Suspects,
    knobs: rules.Knobs,
    now: float,
) -> None:
    hid, h, facts_ = holder
    since = plan.suspects.since[h.uid] = memory.first_seen(h.uid, now)
    if not memory.confirmed(h.uid, now, knobs.min_age):
        _keep(
            plan,
            h,
            "min-age",
            f"{verdict.reason}: {verdict.detail}; a zombie for {now - since:.0f} s, released "
            f"once it has been one for {knobs.min_age:.0f} s",
        )
        return
    seen = memory.since.get(h.uid)  # a first sighting of an earlier pass: dead since then
    dead = min((t for t in (facts_.dead_since, seen) if t is not None), default=now)
    if now - dead < knobs.allocation_budget:
        left = knobs.allocation_budget - (now - dead)
        plan.wait = left if plan.wait is None else max(plan.wait, left)
        _keep(
            plan,
            h,
            "allocation-budget",
            f"{verdict.reason}: {verdict.detail}; dead for {now - dead:.0f} s, released once "
            f"dead for {knobs.allocation_budget:.0f} s: an ADD that read the pod alive may "
            "still be writing its record",
        )
        return
    safe: list[Entry] = []
    blocked: list[Entry] = []
    for e in h.entries:
        (blocked if _blocked(census, hid, e) else safe).append(e)
    for e in blocked:
        why = _blocked(census, hid, e)
        plan.kept.append(
            entry_report(e, why, f"{verdict.reason}: {verdict.detail}; but {_words(why)}")
        )
    plan.releases.append(Release(h, verdict, tuple(safe)))


def _blocked(census: Census, hid: HolderId, e: Entry) -> str:
    if not census.pools[e.pool].writable:
        return "pool-broken"
    if census.named.get((e.pool, canonical(e.ip)), set()) - {hid}:
        return "named-by-another-endpoint"
    return ""


def _words(code: str) -> str:
    return {
        "pool-broken": "its pool's spec is broken: never written by the GC",
        "named-by-another-endpoint": "an endpoint of another UID names this address",
    }[code]
