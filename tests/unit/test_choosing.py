"""alloc.choosing by example: which address a pod gets, and the records after a change.

Case matrix (random pools and operation sequences are in test_choosing_properties.py):

    choose      empty pool -> lowest usable; skips excluded, reserved and allocated; a UID
                holding a record gets it back (reused), even when the pool is full and even
                if it is now excluded or reserved (rule one); the lowest of several; a
                claimed record is passed over for a new address (second NIC); None when
                nothing is free; reserved outside the pool is harmless; v6 /64 answer is
                canonical text; records spelt non-canonically still count as taken
                (regression), and records outside usable do not shrink it
    free_count  usable - reserved - allocated, records outside usable ignored, one address
                spelt twice counted once (regression)
    with_record new dict, input untouched, ip -> record
    without_uid all of a UID's records; only those in ``ips``; other UIDs untouched;
                ips the UID does not hold change nothing; input untouched
    canonical   v4 / v6 / upper-case v6 -> canonical text
"""

from __future__ import annotations

from typing import Any

import pytest

from spidernet.alloc import choosing, pools
from spidernet.alloc.choosing import Choice
from spidernet.alloc.pools import Pool, Record
from spidernet.ipmath.ranges import RangeSet

NONE4 = RangeSet(4)


def pool(records: dict[str, str] | None = None, **spec: Any) -> Pool:
    """A v4 pool 10.0.0.0/28, ips .1-.10, .5 excluded, with ``records`` {ip: uid}."""
    allocated = {ip: {"pod": f"ns/pod-{uid}", "podUid": uid} for ip, uid in (records or {}).items()}
    parsed = Pool.parse(
        {
            "metadata": {"name": "p"},
            "spec": {
                "subnet": "10.0.0.0/28",
                "ips": ["10.0.0.1-10.0.0.10"],
                "excludeIPs": ["10.0.0.5"],
                **spec,
            },
            "status": {"allocatedIPs": pools.records_json(pools.parse_records(allocated))},
        }
    )
    assert parsed.broken == ""
    return parsed


def reserved(*items: str) -> RangeSet:
    return RangeSet.parse(list(items), 4)


# ---------------------------------------------------------------- choose


@pytest.mark.parametrize(
    ("records", "reserve", "uid", "expected"),
    [
        ({}, [], "new", Choice("10.0.0.1", reused=False)),
        ({"10.0.0.1": "a", "10.0.0.2": "b"}, [], "new", Choice("10.0.0.3", reused=False)),
        ({"10.0.0.1": "a"}, ["10.0.0.2-10.0.0.4"], "new", Choice("10.0.0.6", reused=False)),
        ({"10.0.0.2": "a"}, ["10.0.0.1"], "new", Choice("10.0.0.3", reused=False)),
        ({}, ["10.0.0.0-10.0.0.255"], "new", None),
        ({}, ["192.168.0.1"], "new", Choice("10.0.0.1", reused=False)),
        ({"10.0.0.7": "a", "10.0.0.1": "b"}, [], "a", Choice("10.0.0.7", reused=True)),
        ({"10.0.0.9": "a", "10.0.0.3": "a"}, [], "a", Choice("10.0.0.3", reused=True)),
        ({"10.0.0.3": "a"}, ["10.0.0.3"], "a", Choice("10.0.0.3", reused=True)),
        ({"10.0.0.5": "a"}, [], "a", Choice("10.0.0.5", reused=True)),
        ({"10.0.0.5": "a"}, [], "new", Choice("10.0.0.1", reused=False)),
    ],
)
def test_choose_reuses_a_held_record_else_takes_the_lowest_free_address(
    records: dict[str, str], reserve: list[str], uid: str, expected: Choice | None
) -> None:
    assert choosing.choose(pool(records), pod_uid=uid, reserved=reserved(*reserve)) == expected


def full_pool() -> Pool:
    ips = [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
        "10.0.0.4",
        "10.0.0.6",
        "10.0.0.7",
        "10.0.0.8",
        "10.0.0.9",
        "10.0.0.10",
    ]
    return pool({ip: f"uid-{n}" for n, ip in enumerate(ips)})


def test_choose_returns_none_when_every_usable_address_is_allocated() -> None:
    assert choosing.choose(full_pool(), pod_uid="new", reserved=NONE4) is None


def test_choose_still_returns_a_held_record_when_the_pool_is_full() -> None:
    assert choosing.choose(full_pool(), pod_uid="uid-4", reserved=NONE4) == Choice(
        "10.0.0.6", reused=True
    )


@pytest.mark.parametrize(
    ("claimed", "expected"),
    [
        (set(), Choice("10.0.0.2", reused=True)),
        ({"10.0.0.2"}, Choice("10.0.0.4", reused=True)),
        ({"10.0.0.2", "10.0.0.4"}, Choice("10.0.0.3", reused=False)),
        ({"10.0.0.1"}, Choice("10.0.0.2", reused=True)),
    ],
)
def test_choose_passes_over_records_claimed_by_the_pods_other_interfaces(
    claimed: set[str], expected: Choice
) -> None:
    p = pool({"10.0.0.1": "other", "10.0.0.2": "pod", "10.0.0.4": "pod"})
    assert choosing.choose(p, pod_uid="pod", reserved=NONE4, claimed=claimed) == expected


def test_choose_returns_none_for_a_second_interface_when_only_its_own_records_are_left() -> None:
    p = pool({"10.0.0.1": "pod"}, ips=["10.0.0.1"], excludeIPs=[])
    assert choosing.choose(p, pod_uid="pod", reserved=NONE4, claimed={"10.0.0.1"}) is None


def test_choose_in_a_v6_slash_64_gives_canonical_text() -> None:
    p = Pool.parse(
        {
            "metadata": {"name": "v6"},
            "spec": {"subnet": "fd00:1::/64", "ips": ["fd00:1::1-fd00:1::ffff:ffff:ffff:ffff"]},
            "status": {"allocatedIPs": {"fd00:1::1": {"pod": "ns/a", "podUid": "a"}}},
        }
    )
    assert choosing.choose(p, pod_uid="b", reserved=RangeSet(6)) == Choice(
        "fd00:1::2", reused=False
    )


def test_records_spelt_non_canonically_still_count_as_taken() -> None:
    records = {"fd00::1": "a", "FD00:0::1": "b", "fd00::0002": "c"}  # one address twice, then ::2
    p = Pool.parse(
        {
            "metadata": {"name": "v6"},
            "spec": {"subnet": "fd00::/120", "ips": ["fd00::1-fd00::5"]},
            "status": {
                "allocatedIPs": {ip: {"pod": f"ns/{u}", "podUid": u} for ip, u in records.items()}
            },
        }
    )
    assert choosing.choose(p, pod_uid="new", reserved=RangeSet(6)) == Choice(
        "fd00::3", reused=False
    )
    assert choosing.free_count(p, RangeSet(6)) == 3


# ---------------------------------------------------------------- free_count


@pytest.mark.parametrize(
    ("records", "reserve", "expected"),
    [
        ({}, [], 9),
        ({"10.0.0.1": "a", "10.0.0.2": "b"}, [], 7),
        ({"10.0.0.1": "a"}, ["10.0.0.1-10.0.0.3"], 6),
        ({"10.0.0.5": "a", "10.0.0.14": "b"}, [], 9),  # excluded / outside ips: not usable anyway
        ({}, ["10.0.0.0-10.0.0.15"], 0),
    ],
)
def test_free_count_is_usable_minus_reserved_minus_allocated(
    records: dict[str, str], reserve: list[str], expected: int
) -> None:
    assert choosing.free_count(pool(records), reserved(*reserve)) == expected


# ---------------------------------------------------------------- record edits

R_A, R_B = Record("ns/a", "a"), Record("ns/b", "b")


def test_with_record_returns_a_new_mapping_and_leaves_the_input_alone() -> None:
    before = {"10.0.0.1": R_A}
    after = choosing.with_record(before, "10.0.0.2", R_B)
    assert after == {"10.0.0.1": R_A, "10.0.0.2": R_B}
    assert before == {"10.0.0.1": R_A}


@pytest.mark.parametrize(
    ("uid", "ips", "kept"),
    [
        ("a", None, ["10.0.0.2"]),
        ("b", None, ["10.0.0.1", "10.0.0.3"]),
        ("a", {"10.0.0.1"}, ["10.0.0.2", "10.0.0.3"]),
        ("a", {"10.0.0.1", "10.0.0.3"}, ["10.0.0.2"]),
        ("a", {"10.0.0.2"}, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
        ("a", set(), ["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
        ("nobody", None, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
    ],
)
def test_without_uid_drops_only_that_uids_records_limited_to_ips_when_given(
    uid: str, ips: set[str] | None, kept: list[str]
) -> None:
    records = {"10.0.0.1": R_A, "10.0.0.2": R_B, "10.0.0.3": R_A}
    snapshot = dict(records)
    assert sorted(choosing.without_uid(records, uid, ips)) == kept
    assert records == snapshot


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10.0.0.1", "10.0.0.1"), ("FD00:0:0::A", "fd00::a"), ("fd00::0001", "fd00::1")],
)
def test_canonical_gives_the_canonical_text(text: str, expected: str) -> None:
    assert choosing.canonical(text) == expected
