"""The per-node, per-pool lock around read-choose-write (SPEC §2). Does I/O (lock files).

An exclusive ``flock`` on ``<lock_dir>/<pool>.lock``, the mechanism the ``filelock``
package uses on Linux, taken directly for two measured reasons: importing ``filelock``
costs ~30 ms per plugin exec (every pod start pays it), and it waits by polling every
50 ms, so a burst of ADDs on one node would sleep in 50 ms steps. Here the wait is a
blocking ``flock`` bounded by an interval timer: the kernel wakes the next waiter the
moment the holder releases (or dies: a SIGKILLed holder never wedges the node).
"""

from __future__ import annotations

import fcntl
import os
import signal
from types import FrameType, TracebackType


class LockTimeout(TimeoutError):
    pass


def _expired(signum: int, frame: FrameType | None) -> None:
    raise LockTimeout("lock wait timed out")


class PoolLock:
    def __init__(self, lock_dir: str, pool: str) -> None:
        os.makedirs(lock_dir, exist_ok=True)
        self.path = os.path.join(lock_dir, f"{pool}.lock")
        self.fd = -1
        self.waited = False

    def acquire(self, timeout: float) -> None:
        """Take the lock; ``waited`` tells whether another process held it. Raises LockTimeout."""
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            self.waited = True
        previous = signal.signal(signal.SIGALRM, _expired)
        signal.setitimer(signal.ITIMER_REAL, max(timeout, 0.001))
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except LockTimeout:
            self.release()
            raise
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the only descriptor drops the flock
            self.fd = -1

    def __enter__(self) -> PoolLock:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
