"""Sets of IP addresses as sorted, disjoint, inclusive integer intervals. No I/O.

A pool's ``ips`` minus ``excludeIPs`` minus reserved IPs is computed as intervals, so
an IPv6 /64 costs the same as a /30: nothing here ever lists every address
(upstream expands ranges to lists; whereabouts' uint64 offsets cap v6 at a /65).
Text forms are upstream's: ``"10.0.0.5"`` or ``"10.0.0.5-10.0.0.9"``; a CIDR is also
accepted where the caller allows it (``allow_cidr``).
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable, Sequence

from spidernet.ipmath import addresses
from spidernet.types.record import record

Interval = tuple[int, int]  # inclusive


class RangeError(ValueError):
    """A malformed address or range; ``index`` is its position in the input list."""

    def __init__(self, index: int, text: str, problem: str) -> None:
        super().__init__(f"[{index}] {text!r}: {problem}")
        self.index = index


def parse_ip(text: str) -> tuple[int, int]:
    """``"10.0.0.1"`` -> ``(4, 167772161)``; raises ValueError (also for a zone index)."""
    value = _dotted_quad(text)
    if value is not None:
        return 4, value
    addr = addresses.address(text)
    return addr.version, int(addr)


def _dotted_quad(text: str) -> int | None:
    """The value of a plain IPv4 address, read as ``ipaddress`` reads it (four decimal
    octets of one to three ASCII digits, no leading zero, at most 255); None for anything
    else, which ``ipaddress`` then reads or refuses. A pool's records are parsed at every
    read, one address each: 27 k instructions an address against ``ipaddress``'s 36 k
    (docs/performance.md, "The pool's JSON"; the C library's ``inet_pton`` would take
    8 k, but ``_socket`` is an I/O module the pure core does not import, and a regex
    costs 27 M to compile on every exec)."""
    if not isinstance(text, str):
        return None
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not (0 < len(part) <= 3 and part.isascii() and part.isdigit()):
            return None
        if part[0] == "0" and len(part) > 1:
            return None
        octet = int(part)
        if octet > 255:
            return None
        value = value << 8 | octet
    return value


def format_ip(family: int, value: int) -> str:
    return str(ipaddress.IPv4Address(value) if family == 4 else ipaddress.IPv6Address(value))


def _parse_item(index: int, text: str, family: int, allow_cidr: bool) -> Interval:
    try:
        if "/" in text:
            if not allow_cidr:
                raise ValueError("a CIDR is not allowed here")
            net = addresses.network(text, strict=False)
            bounds: list[tuple[int, int]] = [
                (net.version, int(net.network_address)),
                (net.version, int(net.broadcast_address)),
            ]
        else:
            bounds = [parse_ip(part) for part in text.split("-", 1)]
    except ValueError as e:
        raise RangeError(index, text, str(e)) from None
    if any(f != family for f, _ in bounds):
        raise RangeError(index, text, f"not an IPv{family} address")
    start, end = bounds[0][1], bounds[-1][1]
    if start > end:
        raise RangeError(index, text, "range start is after its end")
    return start, end


def _normalise(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    merged: list[list[int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((a, b) for a, b in merged)


@record
class RangeSet:
    family: int
    intervals: tuple[Interval, ...] = ()

    @classmethod
    def parse(cls, items: Iterable[str], family: int, *, allow_cidr: bool = False) -> RangeSet:
        return cls(
            family, _normalise(_parse_item(i, t, family, allow_cidr) for i, t in enumerate(items))
        )

    @classmethod
    def of(cls, family: int, values: Iterable[int]) -> RangeSet:
        return cls(family, _normalise((v, v) for v in values))

    @classmethod
    def network(cls, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> RangeSet:
        return cls(net.version, ((int(net.network_address), int(net.broadcast_address)),))

    def __len__(self) -> int:  # only for small sets; use count() for big ones
        return self.count()

    def count(self) -> int:
        return sum(b - a + 1 for a, b in self.intervals)

    def __bool__(self) -> bool:
        return bool(self.intervals)

    def __contains__(self, value: int) -> bool:
        i = bisect.bisect_right(self.intervals, (value, 1 << 129)) - 1
        return i >= 0 and self.intervals[i][0] <= value <= self.intervals[i][1]

    def union(self, other: RangeSet) -> RangeSet:
        return RangeSet(self.family, _normalise(self.intervals + other.intervals))

    def subtract(self, other: RangeSet) -> RangeSet:
        out: list[Interval] = []
        cuts = other.intervals
        for start, end in self.intervals:
            cur = start
            j = bisect.bisect_left(cuts, (start, -1))
            j = max(j - 1, 0)
            while j < len(cuts) and cuts[j][0] <= end:
                a, b = cuts[j]
                if b >= cur:
                    if a > cur:
                        out.append((cur, a - 1))
                    cur = max(cur, b + 1)
                j += 1
            if cur <= end:
                out.append((cur, end))
        return RangeSet(self.family, tuple(out))

    def intersect(self, other: RangeSet) -> RangeSet:
        return self.subtract(self.subtract(other))

    def issubset(self, other: RangeSet) -> bool:
        return not self.subtract(other)

    def lowest_not_in(self, taken: Sequence[int]) -> int | None:
        """The lowest member not in ``taken`` (sorted ascending), in O(len(taken) + intervals).

        ``taken`` may repeat a value: record keys are texts, and two spellings of one
        IPv6 address ("2001:db8::1", "2001:DB8:0::1") are one address.
        """
        k = 0
        for start, end in self.intervals:
            candidate = start
            k = bisect.bisect_left(taken, candidate, lo=k)
            while k < len(taken) and taken[k] <= candidate <= end:
                candidate = max(candidate, taken[k] + 1)
                k += 1
            if candidate <= end:
                return candidate
        return None

    def texts(self) -> list[str]:
        return [
            format_ip(self.family, a)
            if a == b
            else f"{format_ip(self.family, a)}-{format_ip(self.family, b)}"
            for a, b in self.intervals
        ]
