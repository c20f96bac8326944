"""ipmath.ranges against a brute-force Python set model (hypothesis).

Case matrix:

    generated   0-5 items, each a single address or an "a-b" range of offsets 0..47 from a
                base: v4 10.0.0.0, and v6 just below the 2**64 boundary of a /63 so ranges
                straddle the 64-bit word split (a uint64 offset bug would show)
    properties  parse(items) has exactly the model's members, normalised (sorted, disjoint,
                non-adjacent intervals); count / len / bool / contains agree with the model
                on every offset -2..50;
                union / subtract / intersect == model |, -, &; issubset == model <=;
                lowest_not_in(sorted taken: overlapping runs, so repeats and values outside) ==
                min(model - taken), None exactly when model <= taken;
                parse(texts()) == the set
"""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from spidernet.ipmath.ranges import RangeSet, format_ip

PROFILE = settings(max_examples=150, deadline=None)

SPAN = 48
BASES = {
    4: int(ipaddress.IPv4Address("10.0.0.0")),
    6: int(ipaddress.IPv6Address("2001:db8:0:1::")) + 2**64 - SPAN // 2,  # straddles 2001:db8:0:2::
}
PROBES = range(-2, SPAN + 2)

families = st.sampled_from([4, 6])
offsets = st.integers(min_value=0, max_value=SPAN - 1)
spans = st.tuples(offsets, offsets).map(sorted)
span_lists = st.lists(spans, max_size=5)


def texts_of(family: int, items: list[list[int]]) -> list[str]:
    out = []
    for a, b in items:
        start, end = format_ip(family, BASES[family] + a), format_ip(family, BASES[family] + b)
        out.append(start if a == b and a % 2 else f"{start}-{end}")  # "a-a" form too
    return out


def model_of(items: list[list[int]]) -> set[int]:
    return {o for a, b in items for o in range(a, b + 1)}


def build(family: int, items: list[list[int]]) -> tuple[RangeSet, set[int]]:
    return RangeSet.parse(texts_of(family, items), family), model_of(items)


def members(family: int, rs: RangeSet) -> set[int]:
    """Offsets (in and around the span) that ``rs`` contains."""
    return {o for o in PROBES if BASES[family] + o in rs}


@PROFILE
@given(families, span_lists)
def test_parse_holds_exactly_the_model_and_is_normalised(
    family: int, items: list[list[int]]
) -> None:
    rs, model = build(family, items)
    assert members(family, rs) == model
    assert rs.count() == len(rs) == len(model)
    assert bool(rs) == bool(model)
    for (_, end), (start, _) in zip(rs.intervals, rs.intervals[1:], strict=False):
        assert start > end + 1
    assert all(a <= b for a, b in rs.intervals)


@PROFILE
@given(families, span_lists, span_lists)
def test_set_algebra_agrees_with_python_sets(
    family: int, left: list[list[int]], right: list[list[int]]
) -> None:
    a, ma = build(family, left)
    b, mb = build(family, right)
    for result, model in (
        (a.union(b), ma | mb),
        (a.subtract(b), ma - mb),
        (a.intersect(b), ma & mb),
    ):
        assert members(family, result) == model
        assert result.count() == len(model)
        assert result == RangeSet.of(
            family, (BASES[family] + o for o in model)
        )  # normalised, so comparable
    assert a.issubset(b) == (ma <= mb)


# taken as overlapping runs: long consecutive stretches, repeats where runs overlap
runs = st.tuples(
    st.integers(min_value=-3, max_value=SPAN + 3), st.integers(min_value=1, max_value=12)
)
taken_lists = st.lists(runs, max_size=6).map(lambda rs: [s + i for s, n in rs for i in range(n)])


@PROFILE
@given(families, span_lists, taken_lists)
def test_lowest_not_in_is_the_minimum_of_the_set_minus_taken(
    family: int, items: list[list[int]], taken: list[int]
) -> None:
    rs, model = build(family, items)
    free = model - set(taken)
    got = rs.lowest_not_in(sorted(BASES[family] + t for t in taken))
    assert got == (BASES[family] + min(free) if free else None)


@PROFILE
@given(families, span_lists)
def test_texts_parse_back_to_the_same_set(family: int, items: list[list[int]]) -> None:
    rs, _ = build(family, items)
    assert RangeSet.parse(rs.texts(), family) == rs
    assert len(rs.texts()) == len(rs.intervals)
