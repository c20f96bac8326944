"""What the verbs do to pool records through the store. Does I/O via Store.

``release_uid`` is the one way a record leaves a pool: compare-and-delete on the pod UID
(I1: a record another UID holds by now is never touched), or into cool-down after a
failed ADD (I5). ``reserved_ranges`` reads the SpiderReservedIPs an ADD must not hand
out (an unreadable one is ``failures.BadInput``, code 7).
"""

from __future__ import annotations

import time
from collections.abc import Set

from spidernet.alloc import choosing, pools
from spidernet.alloc.failures import NotFound
from spidernet.alloc.pools import Pool, Record
from spidernet.ipam.store import Store
from spidernet.ipmath.ranges import RangeSet


def release_uid(
    store: Store,
    pool: str,
    pod_uid: str,
    ips: Set[str] | None = None,
    *,
    keep: Set[str] = frozenset(),
    cooldown: float | None = None,
) -> int:
    """Compare-and-delete on the pod UID: drop ``pod_uid``'s records (only ``ips`` if given, never
    ``keep``).

    ``cooldown`` (the base in seconds, I5) turns them into cooling records instead.
    Returns how many records were released.
    """

    def decide(p: Pool) -> tuple[dict[str, Record] | None, int]:
        mine = {
            ip
            for ip, r in p.records.items()
            if r.holds_for(pod_uid) and (ips is None or ip in ips) and ip not in keep
        }
        if not mine:
            return None, 0
        if cooldown is None:
            return choosing.without_uid(p.records, pod_uid, mine), len(mine)
        return choosing.cooled(p.records, pod_uid, mine, now=time.time(), base=cooldown), len(mine)

    try:
        return store.update_pool(pool, decide)
    except NotFound:
        return 0  # pool gone: nothing to release


def reserved_ranges(store: Store) -> dict[int, RangeSet]:
    """Union of the SpiderReservedIPs per family (``pools.reserved_ranges``)."""
    return pools.reserved_ranges(store.reserved())
