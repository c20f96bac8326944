"""alloc.choosing properties on random pools and operation sequences (hypothesis).

Case matrix:

    generated   v4 subnet 10.0.0.0/26../30; inside it 1-4 random ips ranges and 0-3
                short excludeIPs ranges (so most pools have room, some none);
                0-6 reserved addresses, some outside the subnet; 0-N records
                anywhere in the subnet (also on excluded or reserved addresses, as left
                behind when a pool is edited) held by 4 pod UIDs; a claimed subset of them
    choose      == the model: the lowest record held by the UID and not claimed (reused),
                else the lowest of usable - reserved - recorded, else None; so it never
                hands out an address recorded for another UID, and a new address is never
                outside ips - excludeIPs - reserved
    free_count  == |usable - reserved - recorded|
    sequences   4-40 steps, 3 UIDs, of ADD (choose + with_record), second-NIC ADD (the UID's
                records claimed), release of a UID (without_uid) and release of one of its
                addresses (without_uid with ips), from an empty pool: never two records on
                one address, every record inside ips - excludeIPs - reserved, re-ADD gives
                the held address back without a new record, ADD fails only when the pool is
                full, free_count + records == usable - reserved; releasing every UID
                empties the pool
    without_uid drops exactly the UID's records within ``ips`` (all when None), nothing else
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from spidernet.alloc import choosing
from spidernet.alloc.choosing import Choice
from spidernet.alloc.pools import Pool, Record
from spidernet.ipmath.ranges import RangeSet
from spidernet.types import record

PROFILE = settings(max_examples=120, deadline=None)

BASE = int(ipaddress.IPv4Address("10.0.0.0"))
UIDS = ("uid-a", "uid-b", "uid-c", "uid-d")


def ip(offset: int) -> str:
    return str(ipaddress.IPv4Address(BASE + offset))


def off(text: str) -> int:
    return int(ipaddress.IPv4Address(text)) - BASE


def range_texts(spans: list[list[int]]) -> list[str]:
    return [ip(a) if a == b else f"{ip(a)}-{ip(b)}" for a, b in spans]


def span_model(spans: list[list[int]]) -> set[int]:
    return {o for a, b in spans for o in range(a, b + 1)}


@dataclasses.dataclass
class Scenario:
    pool: Pool
    reserved: RangeSet
    available: set[int]  # model of ips - excludeIPs - reserved, as offsets


@st.composite
def scenarios(draw: st.DrawFn, *, with_records: bool = True) -> Scenario:
    prefix = draw(st.integers(min_value=26, max_value=30))
    size = 2 ** (32 - prefix)
    offsets = st.integers(min_value=0, max_value=size - 1)
    spans = st.tuples(offsets, offsets).map(sorted)
    ips = draw(st.lists(spans, min_size=1, max_size=4))
    short = spans.map(lambda ab: ab if ab[1] - ab[0] <= size // 4 else [ab[1], ab[1]])
    excludes = draw(st.lists(short, max_size=3))
    reserved = draw(st.lists(st.integers(min_value=-4, max_value=size + 4), max_size=6))
    records = (
        draw(st.dictionaries(offsets, st.sampled_from(UIDS), max_size=size)) if with_records else {}
    )
    allocated = {ip(o): {"pod": f"ns/{uid}", "podUid": uid} for o, uid in records.items()}
    pool = Pool.parse(
        {
            "metadata": {"name": "p"},
            "spec": {
                "ipVersion": 4,
                "subnet": f"{ip(0)}/{prefix}",
                "ips": range_texts(ips),
                "excludeIPs": range_texts(excludes),
            },
            "status": {"allocatedIPs": json.dumps(allocated) if allocated else None},
        }
    )
    assert pool.broken == ""
    available = span_model(ips) - span_model(excludes) - set(reserved)
    return Scenario(pool, RangeSet.of(4, (BASE + o for o in reserved)), available)


def holders(records: Mapping[str, Record]) -> dict[int, str]:
    """{offset: pod UID} of the records."""
    return {off(k): r.pod_uid for k, r in records.items()}


@PROFILE
@given(scenarios(), st.sampled_from((*UIDS, "uid-new")), st.data())
def test_choose_agrees_with_the_model(sc: Scenario, uid: str, data: st.DataObject) -> None:
    recorded = holders(sc.pool.records)
    claimed = (
        data.draw(st.sets(st.sampled_from(sorted(sc.pool.records)))) if sc.pool.records else set()
    )
    got = choosing.choose(sc.pool, pod_uid=uid, reserved=sc.reserved, claimed=claimed)

    held = sorted(o for o, u in recorded.items() if u == uid and ip(o) not in claimed)
    free = sc.available - set(recorded)
    if held:
        assert got == Choice(ip(held[0]), reused=True)
    elif free:
        assert got == Choice(ip(min(free)), reused=False)
    else:
        assert got is None
    if got is not None:  # the invariants the model implies, spelt out
        assert recorded.get(off(got.ip), uid) == uid
        assert got.reused or (off(got.ip) in sc.available and off(got.ip) not in recorded)


@PROFILE
@given(scenarios())
def test_free_count_agrees_with_the_model(sc: Scenario) -> None:
    assert choosing.free_count(sc.pool, sc.reserved) == len(
        sc.available - set(holders(sc.pool.records))
    )


steps = st.lists(
    st.tuples(
        st.sampled_from(("add", "add-second-nic", "release", "release-one")),
        st.sampled_from(UIDS[:3]),
    ),
    min_size=4,
    max_size=40,
)


def _add(sc: Scenario, records: dict[str, Record], uid: str, *, second: bool) -> dict[str, Record]:
    held = {k for k, r in records.items() if r.pod_uid == uid}
    pool = record.replace(sc.pool, records=records)
    got = choosing.choose(
        pool, pod_uid=uid, reserved=sc.reserved, claimed=held if second else frozenset()
    )
    if held and not second:  # re-ADD: the held address again, no new record
        assert got is not None and got.reused and got.ip == min(held, key=off)
        return records
    if got is None:
        assert not sc.available - set(holders(records)), "ADD failed while an address was free"
        return records
    assert not got.reused and got.ip not in records
    return choosing.with_record(records, got.ip, Record(f"ns/{uid}", uid))


def _check(sc: Scenario, records: dict[str, Record]) -> None:
    recorded = holders(records)
    assert len(recorded) == len(records), "two records on one address"
    assert set(recorded) <= sc.available, "a record outside ips - excludeIPs - reserved"
    pool = record.replace(sc.pool, records=records)
    assert choosing.free_count(pool, sc.reserved) + len(records) == len(sc.available)


@PROFILE
@given(scenarios(with_records=False), steps)
def test_add_and_release_sequences_keep_the_pool_consistent(
    sc: Scenario, ops: list[tuple[str, str]]
) -> None:
    records: dict[str, Record] = {}
    for op, uid in ops:
        if op in ("add", "add-second-nic"):
            records = _add(sc, records, uid, second=op == "add-second-nic")
        elif op == "release":
            records = choosing.without_uid(records, uid)
            assert all(r.pod_uid != uid for r in records.values())
        else:
            mine = sorted((k for k, r in records.items() if r.pod_uid == uid), key=off)
            after = choosing.without_uid(records, uid, set(mine[:1]))
            assert set(records) - set(after) == set(mine[:1])
            records = after
        _check(sc, records)
    for uid in UIDS:
        records = choosing.without_uid(records, uid)
    assert records == {}


@PROFILE
@given(
    st.dictionaries(
        st.integers(min_value=0, max_value=31).map(ip), st.sampled_from(UIDS), max_size=16
    ),
    st.sampled_from(UIDS),
    st.one_of(st.none(), st.sets(st.integers(min_value=0, max_value=31).map(ip))),
)
def test_without_uid_drops_exactly_the_uids_records_within_ips(
    owners: dict[str, str], uid: str, ips: set[str] | None
) -> None:
    records = {k: Record(f"ns/{u}", u) for k, u in owners.items()}
    after = choosing.without_uid(records, uid, ips)
    assert after == {
        k: r for k, r in records.items() if r.pod_uid != uid or (ips is not None and k not in ips)
    }
