"""Entering network namespaces by path, for netlink sockets, sysctls and commands. Does I/O.

Python 3.11 has no ``os.setns``, so we call libc's ``setns(2)`` through ctypes. It moves
only the calling thread; the plugins are single-threaded, and every entry is undone in a
``finally``. A netlink socket stays bound to the namespace it was created in, so one
short entry is enough to open a pod's socket, and no process is forked per call
(pyroute2's own ``netns=`` argument forks a helper for each socket).
``/proc/sys/net`` shows the namespace of the thread that opens the file, so pod sysctls
are written while entered. iptables has no netlink API we can use, so ``run`` starts it:
a child process starts in the namespaces of the thread that spawns it, so it is spawned
(``os.posix_spawnp``) while this thread is entered, as ``nsenter --net`` would, but
without exec'ing nsenter first and without importing ``subprocess`` (about 3 ms of CPU
per exec for that import alone, docs/performance.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import select
import signal
import time
from collections.abc import Iterator, Sequence

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class NotANetns(OSError):
    """The path exists but is not a network namespace: a plain file left where a runtime
    unmounted the namespace but did not unlink its path, a directory, another namespace type."""


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def enter(path: str) -> None:
    """Move this thread into the namespace at ``path`` for good: for a short-lived thread
    that opens sockets there and ends (the probes), so nothing has to be undone.

    Raises FileNotFoundError when nothing is at ``path``, NotANetns when something is.
    """
    # O_NONBLOCK: a FIFO at the path would otherwise block the open until a writer came.
    target = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        _setns(target)
    except OSError as e:
        if e.errno != errno.EINVAL:  # setns(2): "fd does not refer to a namespace of nstype"
            raise
        raise NotANetns(errno.EINVAL, f"{path} is not a network namespace") from None
    finally:
        os.close(target)


@contextlib.contextmanager
def entered(path: str) -> Iterator[None]:
    """Run the block with this thread in the network namespace at ``path``.

    Raises FileNotFoundError when the namespace is gone and NotANetns when the path names
    something else (DEL treats both as success: nothing of ours can be there).
    """
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        enter(path)
        try:
            yield
        finally:
            _setns(home)  # if this fails the process is in the wrong netns: let it crash loudly
    finally:
        os.close(home)


def exists(path: str) -> bool:
    return bool(path) and os.path.exists(path)


def write_sysctl(path: str, key: str, value: int | str) -> None:
    """Write ``key`` inside the netns at ``path``: dotted (net.ipv4.conf.all.rp_filter), or
    slashed when a part holds a dot itself (net/ipv4/conf/eth0.100/arp_notify)."""
    relative = key if "/" in key else key.replace(".", "/")
    with entered(path), open("/proc/sys/" + relative, "w") as f:
        f.write(f"{value}\n")


class CommandTimeout(Exception):
    """A command ``run`` started did not end in time (it has been killed)."""


def run(path: str, argv: Sequence[str], *, stdin: str = "", timeout: float = 10) -> None:
    """Run a command inside the netns at ``path`` (stdout discarded); a failure raises
    OSError with its exit status and stderr, a command that does not end within
    ``timeout`` seconds is killed and raises CommandTimeout."""
    stdin_r, stdin_w = os.pipe()
    err_r, err_w = os.pipe()
    actions = [
        (os.POSIX_SPAWN_DUP2, stdin_r, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_DUP2, err_w, 2),
    ]
    try:
        with entered(path):
            pid = os.posix_spawnp(argv[0], list(argv), os.environ, file_actions=actions)
    except BaseException:
        for fd in (stdin_r, stdin_w, err_r, err_w):
            os.close(fd)
        raise
    os.close(stdin_r)
    os.close(err_w)
    try:
        os.write(stdin_w, stdin.encode())  # a few hundred bytes: within the pipe's buffer
    finally:
        os.close(stdin_w)
    stderr, code = _wait(pid, err_r, time.monotonic() + timeout)
    if code is None:
        raise CommandTimeout(f"{' '.join(argv)} in {path} did not end within {timeout:g} s")
    if code != 0:
        raise OSError(f"{' '.join(argv)} in {path} failed ({code}): {stderr.strip()}")


def _wait(pid: int, err_r: int, deadline: float) -> tuple[str, int | None]:
    """The child's stderr and exit status; None (and the child killed) after ``deadline``."""
    poller = select.poll()
    poller.register(err_r, select.POLLIN)
    chunks = []
    try:
        while (left := deadline - time.monotonic()) > 0:
            if not poller.poll(left * 1000):
                continue
            data = os.read(err_r, 65536)
            if not data:
                break
            chunks.append(data)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return b"".join(chunks).decode(errors="replace"), None
    finally:
        os.close(err_r)
    _, status = os.waitpid(pid, 0)
    return b"".join(chunks).decode(errors="replace"), os.waitstatus_to_exitcode(status)
