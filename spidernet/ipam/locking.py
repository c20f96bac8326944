"""The per-node locks: one per pool around read-choose-write, one per pod around a verb. Does I/O
(lock files).

Pool lock (docs/ipam.md, "Write path"): ``<lock_dir>/<pool>.lock``, held only around
read-choose-write.

Pod lock: ``<lock_dir>/pod_<namespace>_<name>.lock``, held for a whole ADD, DEL or CHECK
of that pod. Every verb for one pod UID runs on that pod's node (kubelet only runs pods
bound to it; an ADD without K8S_POD_UID on another node is refused, I4), so this lock orders a DEL
and the next sandbox's ADD of the same pod completely: neither sees the other half-done (I1). Lock
order is pod, then pool; nothing takes them the other way round. Names cannot collide: Kubernetes
names have no ``_``.

Both are an exclusive ``flock``, the mechanism the ``filelock``
package uses on Linux, taken directly for two measured reasons: importing ``filelock``
costs ~30 ms per plugin exec (every pod start pays it), and it waits by polling every
50 ms, so a burst of ADDs on one node would sleep in 50 ms steps. Here the wait is a
blocking ``flock`` bounded by an interval timer: the kernel wakes the next waiter the
moment the holder releases (or dies: a SIGKILLed holder never wedges the node).
The directory and the lock files are checked as ``protocol.files`` checks any configured
path: a regular file where the directory should be, or a directory or FIFO where a lock
file should be, is ``files.Unusable`` naming it (code 7 naming ``ipam.lock_dir``).
"""

from __future__ import annotations

import fcntl
import os
import signal
from types import FrameType, TracebackType

from spidernet.alloc.failures import Contended
from spidernet.protocol import files


class LockTimeout(TimeoutError):
    pass


def take(lock: NodeLock, what: str, remaining: float, wait: float | None = None) -> None:
    """Acquire ``lock`` within the verb's ``remaining`` budget, or ``wait`` if shorter;
    ``Contended`` naming ``what`` when it does not come in time."""
    budget = remaining if wait is None else min(wait, remaining)
    try:
        lock.acquire(timeout=budget)
    except LockTimeout as e:
        raise Contended(f"{what}: node lock not acquired before the deadline") from e


def _expired(signum: int, frame: FrameType | None) -> None:
    raise LockTimeout("lock wait timed out")


class NodeLock:
    def __init__(self, lock_dir: str, name: str) -> None:
        files.directory(lock_dir)
        self.path = os.path.join(lock_dir, f"{name}.lock")
        self.fd = -1
        self.waited = False

    @classmethod
    def pool(cls, lock_dir: str, pool: str) -> NodeLock:
        return cls(lock_dir, pool)

    @classmethod
    def pod(cls, lock_dir: str, namespace: str, name: str) -> NodeLock:
        return cls(lock_dir, f"pod_{namespace}_{name}")

    def try_acquire(self) -> bool:
        """Take the lock if it is free at once; False (and nothing held) when another holds it."""
        self.fd = files.open_regular(self.path, os.O_RDWR | os.O_CREAT, mode=0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            self.waited = True
            self.release()
            return False

    def acquire(self, timeout: float) -> None:
        """Take the lock; ``waited`` tells whether another process held it. Raises LockTimeout."""
        self.fd = files.open_regular(self.path, os.O_RDWR | os.O_CREAT, mode=0o600)
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

    def __enter__(self) -> NodeLock:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
