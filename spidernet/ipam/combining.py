"""The per-node queue of requests waiting for a pool lock (docs/ipam.md, "Combining").
Does I/O (files in the lock directory).

Next to a pool's lock file, ``<lock_dir>/<pool>.queue/`` holds one file per process of
the node that waits for that lock with a request the lock holder may decide for it
(``spidernet.alloc.combined``):

- ``<id>.req``: the request as JSON, written to ``<id>.tmp`` and renamed, so a reader
  never sees half of one (nor a ``.tmp`` whose writer has not locked it yet: only an
  unlocked one older than ``STALE`` is swept). Its writer holds a shared ``flock`` on
  it from before the rename until it leaves the queue: a reader that gets an exclusive
  one at once knows the writer is dead (the kernel drops a dead process's locks; no PID
  is ever trusted, so PID reuse cannot fool it), and removes the file;
- ``<id>.ans``: the holder's answer, written the same way, after its compare-and-swap
  and before it lets the lock go.

A waiter reads its answer only once it holds the pool lock itself, so the holder's
write and its answers are complete by then; finding none, it decides itself (the
holder died, or gave up, or never saw the request). Nothing in the queue is state that
must survive: the pool object is the truth, and a record written for a waiter that
died is its pod's like any record of a crashed ADD (reused by the retry, released by
the DEL the node's note calls for, or by the GC).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time

from spidernet.alloc import combined

STALE = 60.0  # s: a request file still unrenamed after this is a dead waiter's

TYPE_CHECKING = False  # the typed shapes are for the type checker: not imported on an exec
if TYPE_CHECKING:
    from spidernet.alloc.combined import Outcome, Request


class Ticket:
    """A waiter's place in the queue: its id and the descriptor that holds its shared lock."""

    def __init__(self, rid: str, fd: int) -> None:
        self.rid, self.fd = rid, fd


class Queue:
    def __init__(self, lock_dir: str, pool: str) -> None:
        self.dir = os.path.join(lock_dir, f"{pool}.queue")

    def _path(self, rid: str, suffix: str) -> str:
        return os.path.join(self.dir, rid + suffix)

    # ------------------------------------------------------------ the waiter's side

    def enter(self, req: Request) -> Ticket:
        """Put ``req`` in the queue, alive for as long as this process is or until ``leave``."""
        try:
            os.mkdir(self.dir, 0o700)
        except FileExistsError:
            pass
        rid = f"{os.getpid()}-{os.urandom(6).hex()}"
        tmp = self._path(rid, ".tmp")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH)
        os.write(fd, json.dumps(combined.encode(req)).encode())
        os.rename(tmp, self._path(rid, ".req"))
        return Ticket(rid, fd)

    def answer_for(self, ticket: Ticket) -> Outcome | None:
        """The holder's answer to this ticket, if one was written."""
        try:
            with open(self._path(ticket.rid, ".ans"), "rb") as f:
                return combined.outcome_of(json.loads(f.read()))
        except FileNotFoundError:
            return None

    def leave(self, ticket: Ticket) -> None:
        """Out of the queue: the answer first, then the request (a holder never answers a
        request it cannot see), then the lock."""
        self._remove(ticket.rid)
        os.close(ticket.fd)

    # ------------------------------------------------------------ the holder's side

    def gather(self) -> list[tuple[str, Request]]:
        """The live requests no holder has answered yet, oldest first; dead waiters' files,
        and answers nobody will read, are removed on the way."""
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        present = set(names)
        live: list[tuple[float, str, Request]] = []
        for name in names:
            rid, _, suffix = name.partition(".")
            if suffix in ("ans", "ans.tmp") and f"{rid}.req" not in present:
                _unlink(os.path.join(self.dir, name))  # its waiter gave up or died
            elif suffix == "req" and f"{rid}.ans" not in present:
                got = self._read_live(rid, name)
                if got is not None:
                    live.append(got)
            elif suffix == "tmp":
                self._sweep(rid, name)
        return [(rid, req) for _, rid, req in sorted(live, key=lambda t: (t[0], t[1]))]

    def answer(self, rid: str, outcome: Outcome) -> None:
        tmp = self._path(rid, ".ans.tmp")
        with open(tmp, "w") as f:
            f.write(json.dumps(combined.outcome_json(outcome)))
        os.rename(tmp, self._path(rid, ".ans"))

    def _read_live(self, rid: str, name: str) -> tuple[float, str, Request] | None:
        """The request of a live waiter, or None (its waiter is dead: its files go; or it is
        still being written, or unreadable)."""
        try:
            fd = os.open(os.path.join(self.dir, name), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None  # renamed or removed meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return os.fstat(fd).st_mtime, rid, combined.decode(json.loads(os.read(fd, 1 << 20)))
            self._remove(rid)  # nobody holds it: its waiter died
            return None
        except (ValueError, KeyError, TypeError):
            return None  # not a request we can read: its waiter decides itself
        finally:
            os.close(fd)

    def _sweep(self, rid: str, name: str) -> None:
        """A request still being written is its waiter's (between its create and its
        ``flock`` it is not even locked yet): only one older than ``STALE`` seconds and
        unlocked is a dead waiter's, and goes."""
        path = os.path.join(self.dir, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return
        try:
            if time.time() - os.fstat(fd).st_mtime > STALE:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._remove(rid)
        except BlockingIOError:
            pass  # alive
        finally:
            os.close(fd)

    def _remove(self, rid: str) -> None:
        for suffix in (".ans", ".ans.tmp", ".req", ".tmp"):
            _unlink(self._path(rid, suffix))


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise
