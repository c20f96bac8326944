"""The full-pool wait: an ADD that finds its pools exhausted while releases are due waits
for one within its budget instead of failing (docs/ipam.md, "A full pool"). Does I/O
(pool and pod reads, sleeps).

A release is *due* in a full pool when one of its records will leave it without anyone
deciding anything new: a cooling record whose time comes within the budget (I5), or a
record whose pod is terminating, finished, gone, or re-created under another UID (its
DEL, or the GC, releases it). Reading every record's pod would cost a LIST of the
cluster's pods, so a few records are drawn at random (``SAMPLE``) on each round: with
IPs = pods and a rebuild under way most records are due and a draw finds one at once;
a pool simply full of live pods finds none, and the ADD fails at once with code 100,
as before. The wait sleeps (jittered, doubling from ``FIRST`` to ``CAP``) and tries
again, until ``MARGIN`` before the deadline, when the ADD fails with code 100.
"""

from __future__ import annotations

import time

from spidernet.alloc import choosing
from spidernet.alloc.pools import Pool, Record
from spidernet.ipam import pods
from spidernet.ipam.store import Store
from spidernet.k8s.backoff import uniform

SAMPLE = 3  # records whose pods are read per round
FIRST, CAP = 0.5, 2.0  # s: the sleeps between rounds
MARGIN = 3.0  # s of the budget left for the endpoint write and the answer after the last try


class FullPool:
    """One ADD's wait for releases (per family)."""

    def __init__(self, store: Store, pod_uid: str) -> None:
        self.store, self.pod_uid = store, pod_uid
        self.delay = FIRST
        self.rounds = 0
        self.started = time.monotonic()

    def worth_waiting(self, names: list[str]) -> str:
        """Why a release is due in one of the pools ``names`` (read afresh) soon enough to
        wait for it, after sleeping the next delay; "" when none is (fail at once)."""
        if self.store.deadline.remaining() < MARGIN + self.delay * 1.5:
            return ""
        now = time.time()
        until = now + self.store.deadline.remaining() - MARGIN
        for name in names:
            obj = self.store.pool(name)
            why = self._due(Pool.parse(obj), now, until) if obj is not None else ""
            if why:
                time.sleep(self.delay * uniform(0.5, 1.5))
                self.delay = min(self.delay * 2, CAP)
                self.rounds += 1
                return f"{name}: {why}"
        return ""

    def waited(self) -> float:
        return time.monotonic() - self.started

    def _due(self, pool: Pool, now: float, until: float) -> str:
        for ip, r in pool.records.items():
            if r.cooling and now < choosing.parse_time(r.cooldown_until) <= until:
                return f"{ip} cools down until {r.cooldown_until}"
        held = [
            (ip, r) for ip, r in pool.records.items() if not r.cooling and r.pod_uid != self.pod_uid
        ]
        for ip, r in _draw(held, SAMPLE):
            ns, _, name = r.pod.partition("/")
            obj = self.store.pod(ns, name) if ns and name else None
            if obj is None:
                return f"{ip}: pod {r.pod} is gone"
            if str(obj.get("metadata", {}).get("uid", "")) != r.pod_uid:
                return f"{ip}: pod {r.pod} was re-created"
            if not pods.is_alive(obj):
                return f"{ip}: pod {r.pod} is terminating or finished"
        return ""


def _draw(items: list[tuple[str, Record]], k: int) -> list[tuple[str, Record]]:
    """Up to ``k`` items drawn at random, without repeats."""
    items = list(items)
    out: list[tuple[str, Record]] = []
    while items and len(out) < k:
        out.append(items.pop(int(uniform(0, len(items))) % len(items)))
    return out
