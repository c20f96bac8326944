"""The claims ledger: pools admitted, not yet listed perhaps. No I/O.

An admission webhook sees a pool before the API server stores it, so two overlapping
pools created at the same moment could each be checked against a LIST that holds
neither. Every admission of a pool therefore also writes a claim (the pool's subnet and
addresses) into one ConfigMap by compare-and-swap, after checking against the LIST *and*
the claims it read: of two racing admissions the second's write fails (409), it reads
again, sees the first's claim, and is denied. A stored pool is in the LIST, so a claim
only has to outlive the moment between admission and storage: the next write drops a
claim the LIST shows stored exactly as claimed, and any claim older than ``TTL`` (an
admission whose object was never stored: another webhook refused it, or its name was
taken). Claims carry the admitting node's clock, so ``TTL`` is also the clock skew
between nodes this tolerates (docs/ipam.md, "Admission").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from spidernet.ipmath.ranges import RangeSet
from spidernet.validation.ippools import Extent, Network

KEY = "claims"
TTL = 300.0  # s: far above an admission's step to etcd (ms) and any sane clock skew


@dataclass(frozen=True)
class Claim:
    name: str
    family: int
    subnet: str
    ranges: tuple[str, ...]
    at: float  # epoch seconds of the admission

    def extent(self) -> Extent:
        import ipaddress

        subnet: Network = ipaddress.ip_network(self.subnet)
        return Extent(self.name, self.family, subnet, RangeSet.parse(self.ranges, self.family))

    @classmethod
    def of(cls, extent: Extent, now: float) -> Claim:
        ranges = tuple(extent.usable.texts())
        return cls(extent.name, extent.family, str(extent.subnet), ranges, now)


def decode(data: Mapping[str, str] | None) -> dict[str, Claim]:
    """The claims of the ConfigMap's data; an unreadable ledger counts as empty (it only
    ever holds recent admissions, and the LIST has the stored pools)."""
    try:
        raw = json.loads((data or {}).get(KEY) or "{}")
        return {
            name: Claim(
                name, int(c["family"]), str(c["subnet"]), tuple(c["ranges"]), float(c["at"])
            )
            for name, c in raw.items()
        }
    except (ValueError, TypeError, KeyError, AttributeError):
        return {}


def encode(claims: Mapping[str, Claim]) -> dict[str, str]:
    body = {
        c.name: {
            "family": c.family,
            "subnet": c.subnet,
            "ranges": list(c.ranges),
            "at": round(c.at, 3),
        }
        for c in claims.values()
    }
    return {KEY: json.dumps(body, sort_keys=True, separators=(",", ":"))}


def live(
    claims: Mapping[str, Claim], now: float, stored: Mapping[str, Extent] | None = None
) -> dict[str, Claim]:
    """The claims that still say something: younger than ``TTL``, and not of a pool
    ``stored`` (name -> extent, the LIST) holds exactly as claimed."""
    return {
        n: c
        for n, c in claims.items()
        if now - c.at < TTL and not _settled(c, (stored or {}).get(n))
    }


def _settled(claim: Claim, stored: Extent | None) -> bool:
    return (
        stored is not None
        and stored.family == claim.family
        and str(stored.subnet) == claim.subnet
        and tuple(stored.usable.texts()) == claim.ranges
    )


def with_claim(
    claims: Mapping[str, Claim],
    claim: Claim,
    now: float,
    stored: Mapping[str, Extent] | None = None,
) -> dict[str, Claim]:
    """The live claims, with ``claim`` (replacing any of its pool's)."""
    return {**live(claims, now, stored), claim.name: claim}
