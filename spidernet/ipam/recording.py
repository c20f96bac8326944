"""What the verbs do to pool records through the store. Does I/O via Store.

``release_uid`` is the one way a record leaves a pool: compare-and-delete on the pod UID
(I1: a record another UID holds by now is never touched), or into cool-down after a
failed ADD (I5). ``reserved_ranges`` reads the SpiderReservedIPs an ADD must not hand
out (an unreadable one is ``failures.BadInput``, code 7).
"""

from __future__ import annotations

from collections.abc import Set

from spidernet.alloc import combined, pools
from spidernet.alloc.failures import NotFound
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

    request = combined.Give(
        pod_uid, None if ips is None else frozenset(ips), frozenset(keep), cooldown
    )
    try:
        released = store.combine(pool, request)
    except NotFound:
        return 0  # pool gone: nothing to release
    return released if isinstance(released, int) else 0


def reserved_ranges(store: Store) -> dict[int, RangeSet]:
    """Union of the SpiderReservedIPs per family (``pools.reserved_ranges``)."""
    return pools.reserved_ranges(store.reserved())
