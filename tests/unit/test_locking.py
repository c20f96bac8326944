"""The per-node pool lock: exclusive, bounded wait, released on close.

Cases: a free lock is taken without waiting; a held lock makes a second taker wait and
time out (LockTimeout, a TimeoutError) within about its timeout, with ``waited`` set;
after release the second taker gets it; the SIGALRM handler and timer are restored.
flock is per open file description, so two NodeLocks in one process contend like two
processes would. A lock directory that is a regular file, or a lock file that is a
directory, is files.Unusable.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from spidernet.ipam import locking
from spidernet.protocol import files


def test_a_free_lock_is_taken_without_waiting(tmp_path: Path) -> None:
    with locking.NodeLock.pool(str(tmp_path), "pool-a") as lock:
        lock.acquire(timeout=1)
        assert not lock.waited


def test_a_held_lock_times_out_the_second_taker_then_passes_after_release(tmp_path: Path) -> None:
    first = locking.NodeLock.pool(str(tmp_path), "pool-a")
    first.acquire(timeout=1)
    second = locking.NodeLock.pool(str(tmp_path), "pool-a")
    started = time.monotonic()
    with pytest.raises(locking.LockTimeout):
        second.acquire(timeout=0.2)
    assert 0.15 < time.monotonic() - started < 2
    assert second.waited and second.fd == -1
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is not locking._expired
    first.release()
    third = locking.NodeLock.pool(str(tmp_path), "pool-a")
    third.acquire(timeout=1)
    third.release()


def test_locks_of_different_pools_do_not_contend(tmp_path: Path) -> None:
    with (
        locking.NodeLock.pool(str(tmp_path), "a") as a,
        locking.NodeLock.pool(str(tmp_path), "b") as b,
    ):
        a.acquire(timeout=1)
        b.acquire(timeout=1)
        assert not (a.waited or b.waited)


def test_a_lock_dir_that_is_a_regular_file_or_a_lock_that_is_a_dir_is_unusable(
    tmp_path: Path,
) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(files.Unusable, match="is a regular file, not a directory"):
        locking.NodeLock.pool(str(tmp_path / "file"), "pool-a")
    (tmp_path / "pool-b.lock").mkdir()
    with pytest.raises(files.Unusable, match="is a directory, not a regular file"):
        locking.NodeLock.pool(str(tmp_path), "pool-b").acquire(timeout=1)
