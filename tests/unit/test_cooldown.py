"""Cool-down of addresses released after a failed ADD (I5, docs/ipam.md): alloc.choosing and the
record shape.

Case matrix:
    cooled      a held record becomes cooling with one more strike; base x 2^(strikes-1),
                capped at COOLDOWN_CAP x base; other UIDs', other IPs' and already cooling
                records untouched; base 0 deletes instead; input untouched
    choose      a cooling record is taken for everyone, the failing pod included (rotation);
                after its time the address is free again and the strikes travel with it;
                a held record of the UID is reused, a cooling one of the UID never is
    free_count  cooling addresses are not free until their time
    record json upstream's two keys for ordinary records; cooldownUntil/strikes round-trip;
                a wrong type for either makes the pool's records unreadable (broken pool)
    cooling     lists the addresses still cooling, with their time
"""

from __future__ import annotations

import json

import pytest

from spidernet.alloc import choosing, pools
from spidernet.alloc.choosing import COOLDOWN_CAP
from spidernet.alloc.pools import Pool, Record
from spidernet.ipmath.ranges import RangeSet

NOW = 1_800_000_000.0
NONE4 = RangeSet(4)
HELD = Record("ns/a", "a")


def pool_with(records: dict[str, Record]) -> Pool:
    return Pool.parse(
        {
            "metadata": {"name": "p"},
            "spec": {"subnet": "10.0.0.0/29", "ips": ["10.0.0.1-10.0.0.3"]},
            "status": {"allocatedIPs": pools.records_json(records)},
        }
    )


@pytest.mark.parametrize(
    ("strikes", "seconds"), [(0, 30), (1, 60), (2, 120), (4, 480), (30, 30 * COOLDOWN_CAP)]
)
def test_cooled_gives_one_more_strike_and_a_doubling_capped_time(
    strikes: int, seconds: int
) -> None:
    records = {"10.0.0.1": Record("ns/a", "a", strikes=strikes)}
    out = choosing.cooled(records, "a", {"10.0.0.1"}, now=NOW, base=30)
    r = out["10.0.0.1"]
    assert (r.pod_uid, r.strikes, choosing.parse_time(r.cooldown_until)) == (
        "a",
        strikes + 1,
        NOW + seconds,
    )
    assert records["10.0.0.1"].strikes == strikes  # input untouched


def test_cooled_touches_only_the_uids_held_records_of_those_ips() -> None:
    cool = Record("ns/a", "a", choosing.rfc3339(NOW + 5), 1)
    records = {"10.0.0.1": HELD, "10.0.0.2": Record("ns/b", "b"), "10.0.0.3": cool}
    out = choosing.cooled(records, "a", {"10.0.0.2", "10.0.0.3"}, now=NOW, base=30)
    assert out == records


def test_a_zero_base_releases_without_cool_down() -> None:
    assert choosing.cooled({"10.0.0.1": HELD}, "a", {"10.0.0.1"}, now=NOW, base=0) == {}


def test_a_cooling_address_is_taken_for_everyone_until_its_time_then_free_with_its_strikes() -> (
    None
):
    cool = Record("ns/a", "a", choosing.rfc3339(NOW + 30), 2)
    p = pool_with({"10.0.0.1": cool})
    assert choosing.choose(p, pod_uid="a", reserved=NONE4, now=NOW) == choosing.Choice(
        "10.0.0.2", reused=False
    )
    assert choosing.free_count(p, NONE4, NOW) == 2
    assert choosing.cooling(p, NOW) == {"10.0.0.1": cool.cooldown_until}
    later = NOW + 31
    assert choosing.choose(p, pod_uid="b", reserved=NONE4, now=later) == choosing.Choice(
        "10.0.0.1", False, strikes=2
    )
    assert choosing.free_count(p, NONE4, later) == 3
    given = choosing.with_record(p.records, "10.0.0.1", Record("ns/b", "b", strikes=2))
    assert given == {"10.0.0.1": Record("ns/b", "b", strikes=2)}


def test_rule_one_reuses_a_held_record_never_a_cooling_one() -> None:
    p = pool_with(
        {"10.0.0.1": Record("ns/a", "a", choosing.rfc3339(NOW + 30), 1), "10.0.0.3": HELD}
    )
    assert choosing.choose(p, pod_uid="a", reserved=NONE4, now=NOW) == choosing.Choice(
        "10.0.0.3", reused=True
    )
    assert choosing.without_uid(p.records, "a") == {"10.0.0.1": p.records["10.0.0.1"]}


def test_records_keep_upstreams_shape_and_round_trip_the_cool_down_keys() -> None:
    assert pools.records_json({"10.0.0.1": HELD}) == '{"10.0.0.1":{"pod":"ns/a","podUid":"a"}}'
    cool = Record("ns/a", "a", "2026-12-01T10:00:00Z", 3)
    assert pools.parse_records(pools.records_json({"10.0.0.1": cool})) == {"10.0.0.1": cool}


@pytest.mark.parametrize(
    "extra", [{"strikes": "2"}, {"strikes": -1}, {"strikes": True}, {"cooldownUntil": 5}]
)
def test_a_malformed_cool_down_key_makes_the_records_unreadable(extra: dict[str, object]) -> None:
    raw = {"10.0.0.1": {"pod": "ns/a", "podUid": "a", **extra}}
    p = Pool.parse(
        {
            "metadata": {"name": "p"},
            "spec": {"subnet": "10.0.0.0/29", "ips": ["10.0.0.1"]},
            "status": {"allocatedIPs": json.dumps(raw)},
        }
    )
    assert p.broken.startswith("status.allocatedIPs unreadable")
