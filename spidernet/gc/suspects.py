"""The GC's memory between passes: when each zombie was first seen. No I/O.

Pool records carry no timestamps (docs/ipam.md keeps them at upstream's size), yet the
GC promises that a record younger than a minimum age is never touched (docs/gc.md). So a
zombie is *confirmed* across passes: the first pass that judges a holder a zombie
writes down the time; a later pass releases it only if it still is one and was first
seen at least ``min_age`` ago. A holder that is no longer a zombie (or is gone) is
forgotten. A first sighting is also the latest time by which the holder's pod was
known dead (no ADD for it can start after), which the allocation budget counts from.
Cooling records that keep a full pool full are remembered the same way, under
``cooling/<pool>/<ip>/<cooldownUntil>``.

Every time here is the API server's (docs/gc.md, "Clocks"), never the GC's own: CronJob
runs land on nodes whose clocks differ. Kept in a ConfigMap the GC owns
(``collecting``), ``data["seen"]`` a JSON object ``{"<pod UID>": <first seen, epoch
seconds>}``; the ``suspects`` key of GCs that kept their own clock's times is ignored
(those zombies are seen afresh once). A UID names one pod for ever, ~50 bytes an entry,
so ~18,000 fit in a ConfigMap's 1 MiB; past ``MAX_ENTRIES`` the newest are dropped (they
are simply seen again, first, next pass) and the pass says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_ENTRIES = 15000
KEY = "seen"


@dataclass
class Suspects:
    since: dict[str, float] = field(default_factory=dict)

    def first_seen(self, uid: str, now: float) -> float:
        return self.since.get(uid, now)

    def confirmed(self, uid: str, now: float, min_age: float) -> bool:
        return min_age <= 0 or now - self.first_seen(uid, now) >= min_age

    def encode(self) -> tuple[dict[str, str], int]:
        """ConfigMap data, and how many entries did not fit (the newest)."""
        kept = sorted(self.since.items(), key=lambda kv: kv[1])[:MAX_ENTRIES]
        data = json.dumps({uid: int(t) for uid, t in sorted(kept)}, separators=(",", ":"))
        return {KEY: data}, len(self.since) - len(kept)


def decode(data: Mapping[str, str] | None) -> Suspects:
    """From ConfigMap data; ValueError when it is not what ``encode`` writes."""
    raw = (data or {}).get(KEY)
    if not raw:
        return Suspects()
    parsed = json.loads(raw)
    if not isinstance(parsed, dict) or not all(
        isinstance(v, (int, float)) for v in parsed.values()
    ):
        raise ValueError(f"data.{KEY} is not a JSON object of UID -> epoch seconds")
    return Suspects({str(k): float(v) for k, v in parsed.items()})
