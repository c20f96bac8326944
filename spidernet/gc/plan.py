"""What one GC pass will do, decided from what it read. No I/O.

For each holder (``census``) the rules give a verdict; a zombie is released only when
it has been one for ``min_age`` (``suspects``), and then only the parts that are safe:
- its endpoint, if it has one, goes first (the I1 order: an endpoint stops naming an
  address before the record goes), and if that delete fails nothing of it is released;
- each of its records goes by compare-and-swap on its pod UID, except a record that
  another holder's endpoint names (an inconsistency: releasing it would hand out an
  address a sandbox uses) or one in a pool the Store cannot write (a broken spec).
Cooling records (I5) hold their address for nobody until ``cooldownUntil``; one whose
time passed more than ``cooling_grace`` ago is dropped to keep the pool small (an ADD
treats it as free anyway; only its strike count is forgotten).
Every record or endpoint judged suspicious and not released is listed as kept, with
its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spidernet.alloc import choosing
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
    kept: list[dict[str, Any]] = field(default_factory=list)
    endpoints_kept: list[dict[str, Any]] = field(default_factory=list)
    suspects: Suspects = field(
        default_factory=Suspects
    )  # for the next pass (before this pass's releases)


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
    plan = Plan()
    for hid, h in sorted(census.holders.items()):
        verdict = rules.decide(facts(world, h), knobs, now)
        if verdict.zombie:
            _zombie(plan, census, hid, h, verdict, memory, knobs, now)
        elif verdict.suspicious:
            _keep(plan, h, verdict.reason, verdict.detail)
    for e in census.cooling:
        if (
            census.pools[e.pool].writable
            and choosing.parse_time(e.record.cooldown_until) + knobs.cooling_grace < now
        ):
            plan.expired.append(e)
    return plan


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
    hid: HolderId,
    h: HolderRecords,
    verdict: rules.Verdict,
    memory: Suspects,
    knobs: rules.Knobs,
    now: float,
) -> None:
    since = memory.first_seen(h.uid, now)
    if knobs.min_age > 0:
        plan.suspects.since[h.uid] = since
    if not memory.confirmed(h.uid, now, knobs.min_age):
        _keep(
            plan,
            h,
            "min-age",
            f"{verdict.reason}: {verdict.detail}; a zombie for {now - since:.0f} s, released "
            f"once it has been one for {knobs.min_age:.0f} s",
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
