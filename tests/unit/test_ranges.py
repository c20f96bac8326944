"""ipmath.ranges: parsing, set algebra and lowest-free search on interval sets, by example.

Case matrix (the random cross-check against a Python set model is test_ranges_properties.py):

    parse       v4 / v6 single IPs and "a-b" ranges; overlapping, adjacent and unsorted items
                merge; empty input; allow_cidr=True reads "net/len" (host bits allowed) as the
                whole network, v4 and v6
    errors      RangeError (a ValueError) carrying the item's index: start after end, wrong
                family (single, range end, CIDR), garbage, empty item, dangling "-", a range
                mixing families, a CIDR without allow_cidr
    helpers     parse_ip / format_ip; of(); network(); bool / len / count; contains at and
                around interval edges
    lowest      first interval, a later interval, None when full or empty, taken values
                outside the set, a repeated taken value (regression: two spellings of one
                address used to hand out a taken one)
    IPv6 /64    count is 2**64; contains the edges; subtract / intersect with a tail;
                lowest_not_in skips 5000 taken addresses without enumerating the pool; the
                whole v6 space (count 2**128)
    texts       single vs range forms, and parse(texts()) == the set, v4 and v6
"""

from __future__ import annotations

import ipaddress
import time

import pytest

from spidernet.ipmath import ranges
from spidernet.ipmath.ranges import RangeError, RangeSet


def v4(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def v6(text: str) -> int:
    return int(ipaddress.IPv6Address(text))


# ---------------------------------------------------------------- parse


@pytest.mark.parametrize(
    ("items", "family", "intervals"),
    [
        (["10.0.0.5"], 4, [("10.0.0.5", "10.0.0.5")]),
        (["10.0.0.5-10.0.0.9"], 4, [("10.0.0.5", "10.0.0.9")]),
        (["10.0.0.5-10.0.0.5"], 4, [("10.0.0.5", "10.0.0.5")]),
        (
            ["10.0.0.9", "10.0.0.1-10.0.0.3"],
            4,
            [("10.0.0.1", "10.0.0.3"), ("10.0.0.9", "10.0.0.9")],
        ),
        (["10.0.0.1-10.0.0.5", "10.0.0.3-10.0.0.8"], 4, [("10.0.0.1", "10.0.0.8")]),
        (["10.0.0.1-10.0.0.4", "10.0.0.5"], 4, [("10.0.0.1", "10.0.0.5")]),
        (["10.0.0.1", "10.0.0.1"], 4, [("10.0.0.1", "10.0.0.1")]),
        (["2001:db8::1"], 6, [("2001:db8::1", "2001:db8::1")]),
        (["2001:db8::10-2001:db8::ff"], 6, [("2001:db8::10", "2001:db8::ff")]),
        (["2001:db8::2", "2001:DB8:0::1"], 6, [("2001:db8::1", "2001:db8::2")]),
    ],
)
def test_parse_reads_single_ips_and_ranges_into_merged_sorted_intervals(
    items: list[str], family: int, intervals: list[tuple[str, str]]
) -> None:
    to_int = v4 if family == 4 else v6
    parsed = RangeSet.parse(items, family)
    assert parsed.family == family
    assert parsed.intervals == tuple((to_int(a), to_int(b)) for a, b in intervals)


def test_parse_of_no_items_is_the_empty_set() -> None:
    empty = RangeSet.parse([], 4)
    assert not empty and empty.count() == 0 and empty.intervals == ()


@pytest.mark.parametrize(
    ("item", "first", "last"),
    [
        ("10.0.0.0/30", "10.0.0.0", "10.0.0.3"),
        ("10.0.0.1/30", "10.0.0.0", "10.0.0.3"),
        ("10.0.0.7/32", "10.0.0.7", "10.0.0.7"),
        ("2001:db8::/126", "2001:db8::", "2001:db8::3"),
    ],
)
def test_parse_with_allow_cidr_reads_a_cidr_as_its_whole_network(
    item: str, first: str, last: str
) -> None:
    family = 4 if "." in item else 6
    to_int = v4 if family == 4 else v6
    assert RangeSet.parse([item], family, allow_cidr=True).intervals == (
        (to_int(first), to_int(last)),
    )


@pytest.mark.parametrize(
    ("items", "family", "index", "problem"),
    [
        (["10.0.0.9-10.0.0.1"], 4, 0, "range start is after its end"),
        (["10.0.0.1", "10.0.0.9-10.0.0.8"], 4, 1, "range start is after its end"),
        (["2001:db8::9-2001:db8::1"], 6, 0, "range start is after its end"),
        (["10.0.0.1", "2001:db8::1"], 4, 1, "not an IPv4 address"),
        (["2001:db8::1", "2001:db8::2", "10.0.0.1"], 6, 2, "not an IPv6 address"),
        (["10.0.0.1-2001:db8::1"], 4, 0, "not an IPv4 address"),
        (["10.0.0.1", "banana"], 4, 1, "does not appear to be an IPv4 or IPv6 address"),
        ([""], 4, 0, "does not appear to be"),
        (["10.0.0.1-"], 4, 0, "does not appear to be"),
        (["10.0.0.1-10.0.0.2-10.0.0.3"], 4, 0, "does not appear to be"),
        (["10.0.0.256"], 4, 0, "does not appear to be"),
        (["10.0.0.1", "10.0.0.0/24"], 4, 1, "a CIDR is not allowed here"),
        (["2001:db8::/64"], 6, 0, "a CIDR is not allowed here"),
    ],
)
def test_parse_errors_name_the_item_index_and_the_problem(
    items: list[str], family: int, index: int, problem: str
) -> None:
    with pytest.raises(RangeError) as exc:
        RangeSet.parse(items, family)
    assert isinstance(exc.value, ValueError)
    assert exc.value.index == index
    assert str(exc.value).startswith(f"[{index}] {items[index]!r}: ")
    assert problem in str(exc.value)


@pytest.mark.parametrize(
    ("item", "family"), [("2001:db8::/64", 4), ("10.0.0.0/24", 6), ("10.0.0.0/33", 4)]
)
def test_parse_with_allow_cidr_still_refuses_a_wrong_family_or_bad_cidr(
    item: str, family: int
) -> None:
    with pytest.raises(RangeError) as exc:
        RangeSet.parse(["10.0.0.1" if family == 4 else "::1", item], family, allow_cidr=True)
    assert exc.value.index == 1


# ---------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("text", "family"), [("10.1.2.3", 4), ("2001:db8::1", 6), ("::ffff:10.0.0.1", 6)]
)
def test_parse_ip_and_format_ip_round_trip_canonical_text(text: str, family: int) -> None:
    parsed_family, value = ranges.parse_ip(text)
    assert parsed_family == family
    assert ranges.format_ip(family, value) == str(ipaddress.ip_address(text))


def test_parse_ip_refuses_garbage_with_a_value_error() -> None:
    with pytest.raises(ValueError):
        ranges.parse_ip("10.0.0")


def test_of_builds_a_set_from_loose_values() -> None:
    assert RangeSet.of(4, [7, 3, 4, 5, 9, 3]).intervals == ((3, 5), (7, 7), (9, 9))


def test_network_covers_network_to_broadcast_address() -> None:
    net = RangeSet.network(ipaddress.ip_network("192.168.1.0/24"))
    assert net.family == 4
    assert net.intervals == ((v4("192.168.1.0"), v4("192.168.1.255")),)
    assert len(net) == net.count() == 256


@pytest.mark.parametrize(
    ("value", "inside"),
    [
        ("10.0.0.0", False),
        ("10.0.0.1", True),
        ("10.0.0.3", True),
        ("10.0.0.4", False),
        ("10.0.0.9", True),
        ("10.0.0.10", False),
        ("0.0.0.0", False),
        ("255.255.255.255", False),
    ],
)
def test_contains_is_exact_at_interval_edges(value: str, inside: bool) -> None:
    rs = RangeSet.parse(["10.0.0.1-10.0.0.3", "10.0.0.9"], 4)
    assert (v4(value) in rs) is inside


def test_an_empty_set_is_falsy_and_contains_nothing() -> None:
    assert not RangeSet(6)
    assert 0 not in RangeSet(6)


# ---------------------------------------------------------------- lowest_not_in


@pytest.mark.parametrize(
    ("items", "taken", "expected"),
    [
        (["10.0.0.1-10.0.0.5"], [], "10.0.0.1"),
        (["10.0.0.1-10.0.0.5"], ["10.0.0.1", "10.0.0.2"], "10.0.0.3"),
        (["10.0.0.1-10.0.0.5"], ["10.0.0.2"], "10.0.0.1"),
        (["10.0.0.1-10.0.0.2", "10.0.0.8-10.0.0.9"], ["10.0.0.1", "10.0.0.2"], "10.0.0.8"),
        (
            ["10.0.0.1-10.0.0.2", "10.0.0.8-10.0.0.9"],
            ["10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.8"],
            "10.0.0.9",
        ),
        (["10.0.0.5"], ["10.0.0.1", "10.0.0.9"], "10.0.0.5"),
        (["10.0.0.5-10.0.0.9"], ["10.0.0.5", "10.0.0.5", "10.0.0.6"], "10.0.0.7"),
        (["10.0.0.1-10.0.0.2"], ["10.0.0.1", "10.0.0.2"], None),
        (["10.0.0.1-10.0.0.2", "10.0.0.4"], ["10.0.0.1", "10.0.0.2", "10.0.0.4"], None),
        ([], [], None),
    ],
)
def test_lowest_not_in_returns_the_lowest_member_not_taken_or_none(
    items: list[str], taken: list[str], expected: str | None
) -> None:
    got = RangeSet.parse(items, 4).lowest_not_in(sorted(v4(t) for t in taken))
    assert got == (None if expected is None else v4(expected))


# ---------------------------------------------------------------- IPv6 /64

SLASH64 = ipaddress.ip_network("2001:db8:0:1::/64")


def test_a_v6_slash_64_counts_two_to_the_64_and_contains_its_edges() -> None:
    pool = RangeSet.parse(["2001:db8:0:1::-2001:db8:0:1:ffff:ffff:ffff:ffff"], 6)
    assert pool == RangeSet.network(SLASH64)
    assert pool.count() == 2**64
    assert int(SLASH64.network_address) in pool and int(SLASH64.broadcast_address) in pool
    assert (
        int(SLASH64.broadcast_address) + 1 not in pool
        and int(SLASH64.network_address) - 1 not in pool
    )


def test_lowest_not_in_a_v6_slash_64_skips_thousands_taken_without_enumerating() -> None:
    pool = RangeSet.network(SLASH64)
    start = int(SLASH64.network_address)
    taken = list(range(start, start + 5000))
    began = time.perf_counter()
    got = pool.lowest_not_in(taken)
    elapsed = time.perf_counter() - began
    assert got == start + 5000
    assert elapsed < 0.5  # linear in len(taken); enumerating 2**64 addresses would never return


def test_v6_set_algebra_on_a_slash_64_works_on_intervals() -> None:
    pool = RangeSet.network(SLASH64)
    tail = RangeSet.parse(["2001:db8:0:1:8000::-2001:db8:0:2::5"], 6)
    head = pool.subtract(tail)
    assert head.count() == 2**63
    assert head.union(pool.intersect(tail)) == pool
    assert pool.intersect(tail).count() == 2**63
    assert not pool.issubset(tail) and head.issubset(pool)


def test_the_whole_v6_space_counts_two_to_the_128() -> None:
    whole = RangeSet.network(ipaddress.ip_network("::/0"))
    assert whole.count() == 2**128
    assert (2**128 - 1) in whole
    assert whole.lowest_not_in([0, 1, 2]) == 3


# ---------------------------------------------------------------- texts


@pytest.mark.parametrize(
    ("items", "family", "texts"),
    [
        (["10.0.0.1", "10.0.0.3-10.0.0.4", "10.0.0.5"], 4, ["10.0.0.1", "10.0.0.3-10.0.0.5"]),
        (["10.0.0.7-10.0.0.7"], 4, ["10.0.0.7"]),
        (
            ["2001:DB8::A-2001:db8:0::00ff", "2001:db8::1"],
            6,
            ["2001:db8::1", "2001:db8::a-2001:db8::ff"],
        ),
        ([], 6, []),
    ],
)
def test_texts_are_canonical_and_parse_back_to_the_same_set(
    items: list[str], family: int, texts: list[str]
) -> None:
    rs = RangeSet.parse(items, family)
    assert rs.texts() == texts
    assert RangeSet.parse(rs.texts(), family) == rs
