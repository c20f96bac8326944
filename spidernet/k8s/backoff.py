"""A verb's deadline, and the one retry policy every loop follows. No I/O (it sleeps).

Every retry in the product asks a ``Backoff`` whether to go on: the API clients'
retries of a lost or refused request, the store's compare-and-swap of a pool, the
endpoint writes of ADD and DEL. ``again()`` sleeps a jittered, doubling delay and says
yes while that delay still fits before the give-up moment; otherwise it says no at once
and the caller raises its own error. So no loop counts attempts, none outlives the
verb's budget, and no write starts after the deadline (docs/design.md, "Retries").

Two schedules:

- ``transport``: 50 ms doubling to 1 s, each sleep 0.5-1.5 times the delay (a server
  that is restarting or overloaded gets room);
- ``conflicts``: 10 ms doubling to 0.5 s, each sleep anywhere below the delay ("full
  jitter": processes that collided on one resourceVersion spread out at once).
"""

from __future__ import annotations

import os
import time


class Deadline:
    """An absolute time budget shared by every call of one plugin invocation."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())


class Backoff:
    """Jittered exponential backoff that gives up at a monotonic time (``until``)."""

    def __init__(self, until: float, *, first: float, cap: float, full_jitter: bool) -> None:
        self.until = until
        self.delay = first
        self.cap = cap
        self.full_jitter = full_jitter
        self.retries = 0

    @classmethod
    def transport(cls, until: float) -> Backoff:
        return cls(until, first=0.05, cap=1.0, full_jitter=False)

    @classmethod
    def conflicts(cls, deadline: Deadline) -> Backoff:
        return cls(deadline.at, first=0.01, cap=0.5, full_jitter=True)

    def again(self) -> bool:
        """Sleep before the next attempt and return True, or False once it would not fit."""
        if self.until - time.monotonic() < self.delay:
            return False
        low, high = (0.0, 1.0) if self.full_jitter else (0.5, 1.5)
        time.sleep(self.delay * uniform(low, high))
        self.delay = min(self.delay * 2, self.cap)
        self.retries += 1
        return True


def uniform(low: float, high: float) -> float:
    """A number from ``low`` to ``high``, as ``random.uniform``; ``random`` itself is not
    imported (it loads ``hashlib`` and OpenSSL's digests, docs/performance.md)."""
    return low + (high - low) * (int.from_bytes(os.urandom(7), "big") / (1 << 56))
