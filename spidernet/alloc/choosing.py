"""Which address a pod gets from one pool, and the records after a change. No I/O.

Rule one (STYLE "Allocation shape"): a record already held by this pod UID, and not
claimed by another of the pod's interfaces (known from its SpiderEndpoint), is
returned again, so a retried ADD after a crash reuses its IP instead of leaking one.
Otherwise the lowest address of ``usable - reserved - allocated``. Upstream allows one
IP per pod UID per pool (its quirk 3); the ``claimed`` set lets two NICs of one pod
draw two addresses from the same pool.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Set
from dataclasses import dataclass

from spidernet.alloc.pools import Pool, Record
from spidernet.ipmath.ranges import RangeSet, format_ip


@dataclass(frozen=True)
class Choice:
    ip: str  # canonical text, no prefix length
    reused: bool


def choose(pool: Pool, *, pod_uid: str, reserved: RangeSet, claimed: Set[str] = frozenset()) -> Choice | None:
    """The address for ``pod_uid`` in ``pool``, or None when nothing is free."""
    for ip in sorted(pool.records, key=_int):
        if pool.records[ip].pod_uid == pod_uid and ip not in claimed:
            return Choice(ip, reused=True)
    taken = sorted(_int(ip) for ip in pool.records)
    free = pool.usable.subtract(reserved).lowest_not_in(taken)
    return None if free is None else Choice(format_ip(pool.family, free), reused=False)


def free_count(pool: Pool, reserved: RangeSet) -> int:
    available = pool.usable.subtract(reserved)
    taken = {_int(ip) for ip in pool.records}  # a set: two spellings of one address count once
    return available.count() - sum(1 for value in taken if value in available)


def with_record(records: Mapping[str, Record], ip: str, record: Record) -> dict[str, Record]:
    out = dict(records)
    out[ip] = record
    return out


def without_uid(records: Mapping[str, Record], pod_uid: str, ips: Set[str] | None = None) -> dict[str, Record]:
    """Drop the records held by ``pod_uid`` (only those in ``ips`` when given): compare-and-delete on UID."""
    return {
        ip: r for ip, r in records.items() if not (r.pod_uid == pod_uid and (ips is None or ip in ips))
    }


def canonical(ip: str) -> str:
    return str(ipaddress.ip_address(ip))


def _int(ip: str) -> int:
    return int(ipaddress.ip_address(ip))
