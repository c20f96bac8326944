"""Which address a pod gets from one pool, and the records after a change. No I/O.

Rule one (STYLE "Allocation shape"): a record already held by this pod UID, and not
claimed by another of the pod's interfaces (known from its SpiderEndpoint), is
returned again, so a retried ADD after a crash reuses its IP instead of leaking one.
Otherwise the lowest address of ``usable - reserved - taken``. Upstream allows one
IP per pod UID per pool (its quirk 3); the ``claimed`` set lets two NICs of one pod
draw two addresses from the same pool.

Cool-down (invariant I5, docs/ipam.md): an address released after a failed ADD keeps a *cooling*
record until ``cooldownUntil``. It is taken for everyone meanwhile (the failing pod's
retry gets another address: rotation), and free again afterwards; the strike count
travels with the address, and each consecutive failure doubles the cool-down up to
``COOLDOWN_CAP`` times the base. So an address that some host outside the cluster
holds costs one failed ADD per cool-down, never a pod that fails forever.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping, Set

from spidernet.alloc.pools import Pool, Record
from spidernet.ipmath.ranges import RangeSet, format_ip
from spidernet.types.record import record

COOLDOWN_CAP = 20  # the longest cool-down, in multiples of the base (30 s -> 10 min)


@record
class Choice:
    ip: str  # canonical text, no prefix length
    reused: bool
    strikes: int = 0  # carried over from an expired cooling record of this address


def choose(
    pool: Pool,
    *,
    pod_uid: str,
    reserved: RangeSet,
    claimed: Set[str] = frozenset(),
    now: float = 0.0,
) -> Choice | None:
    """The address for ``pod_uid`` in ``pool``, or None when nothing is free."""
    for ip in sorted(pool.records, key=_int):
        if pool.records[ip].holds_for(pod_uid) and ip not in claimed:
            return Choice(ip, reused=True)
    taken = sorted(_int(ip) for ip, r in pool.records.items() if not expired(r, now))
    free = pool.usable.subtract(reserved).lowest_not_in(taken)
    if free is None:
        return None
    ip = format_ip(pool.family, free)
    old = _record_at(pool.records, ip)
    return Choice(ip, reused=False, strikes=old.strikes if old else 0)


def free_count(pool: Pool, reserved: RangeSet, now: float = 0.0) -> int:
    available = pool.usable.subtract(reserved)
    # a set: two spellings of one address count once
    taken = {_int(ip) for ip, r in pool.records.items() if not expired(r, now)}
    return available.count() - sum(1 for value in taken if value in available)


def cooling(pool: Pool, now: float) -> dict[str, str]:
    """The addresses still cooling down: ip -> until (for exhaustion messages)."""
    return {
        ip: r.cooldown_until for ip, r in pool.records.items() if r.cooling and not expired(r, now)
    }


def with_record(records: Mapping[str, Record], ip: str, record: Record) -> dict[str, Record]:
    """``records`` with ``ip`` given to ``record`` (an expired cooling record of the address
    goes)."""
    out = {k: r for k, r in records.items() if not (k != ip and _int(k) == _int(ip))}
    out[ip] = record
    return out


def without_uid(
    records: Mapping[str, Record], pod_uid: str, ips: Set[str] | None = None
) -> dict[str, Record]:
    """Drop the records held by ``pod_uid`` (only those in ``ips`` when given): compare-and-delete
    on UID."""
    return {
        ip: r
        for ip, r in records.items()
        if not (r.holds_for(pod_uid) and (ips is None or ip in ips))
    }


def cooled(
    records: Mapping[str, Record], pod_uid: str, ips: Set[str], *, now: float, base: float
) -> dict[str, Record]:
    """Release ``pod_uid``'s records of ``ips`` into cool-down (I5): each gets one more strike."""
    out = dict(records)
    for ip in ips:
        r = records.get(ip)
        if r is None or not r.holds_for(pod_uid):
            continue
        if base <= 0:
            del out[ip]
            continue
        strikes = r.strikes + 1
        seconds = min(base * 2 ** (strikes - 1), base * COOLDOWN_CAP)
        out[ip] = Record(r.pod, r.pod_uid, rfc3339(now + seconds), strikes)
    return out


def expired(record: Record, now: float) -> bool:
    """A cooling record whose time has come: its address is free (its strikes still count)."""
    return record.cooling and parse_time(record.cooldown_until) <= now


def rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(ts)))


def parse_time(text: str) -> float:
    """RFC 3339 -> epoch seconds; unreadable counts as already past (never blocks an address).
    Only cooling records carry a time: ``datetime`` is imported for them alone."""
    import datetime

    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def canonical(ip: str) -> str:
    return str(ipaddress.ip_address(ip))


def _record_at(records: Mapping[str, Record], ip: str) -> Record | None:
    value = _int(ip)
    return next((r for k, r in records.items() if _int(k) == value), None)


def _int(ip: str) -> int:
    return int(ipaddress.ip_address(ip))
