"""Opening the paths a config or the environment names, without ever blocking. Does I/O.

A path in a network config (a kubeconfig, the token or certificate files it names, a
log file, a lock or state directory) is a promise about what is there, and a wrong
one must be an error naming it, never a hang: ``open()`` of a FIFO waits for a writer
(or, to write, for a reader) forever, past every timeout the config sets, and opening
a device can have effects of its own. So (README, "CNI behaviour common to all
plugins"):

- a file must be a regular file: ``stat`` says so before it is opened, and ``fstat``
  again on the descriptor, opened with ``O_NONBLOCK`` (a FIFO swapped in between cannot
  block either);
- a file read whole has a size bound (``MAX_FILE``): a kubeconfig or a token is a few
  KB, and a path pointing at a multi-GB file must not cost an exec its memory;
- a directory must be a directory; one that is missing is created.

Everything refused is ``Unusable``, an ``OSError`` whose message says what the path is
and what it should be, so the callers' existing ``OSError`` handling names the field.
Cost: one ``stat`` and one ``fstat`` more per file opened.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator

MAX_FILE = 1 << 20  # bytes: kubeconfigs, tokens and certificates are a few KB
_KINDS = (
    (stat.S_ISREG, "a regular file"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class Unusable(OSError):
    """A configured path that is there but is not what its field wants."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(errno.EINVAL, problem, path)
        self.path = path

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "of an unknown kind")


def _require_regular(path: str, mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise Unusable(path, f"is {kind(mode)}, not a regular file")


def open_regular(path: str, flags: int, *, max_bytes: int = 0, mode: int = 0o644) -> int:
    """A descriptor on the regular file at ``path`` (``flags`` as for ``os.open``; with
    ``O_CREAT`` a missing file is created, with ``mode``). ``max_bytes``: refuse a larger
    file."""
    return _open(path, flags, max_bytes, mode)[0]


def _open(path: str, flags: int, max_bytes: int, mode: int = 0o644) -> tuple[int, int]:
    """(descriptor, size) of ``open_regular``."""
    try:
        _require_regular(path, os.stat(path).st_mode)
    except FileNotFoundError:
        if not flags & os.O_CREAT:
            raise
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, mode)
    try:
        st = os.fstat(fd)
        _require_regular(path, st.st_mode)
        if max_bytes and st.st_size > max_bytes:
            raise Unusable(path, f"is {st.st_size} bytes, more than the {max_bytes} allowed")
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


def read_bytes(path: str, max_bytes: int = MAX_FILE) -> bytes:
    """The content of the regular file at ``path``, at most ``max_bytes``."""
    fd, size = _open(path, os.O_RDONLY, max_bytes)
    try:
        data = os.read(fd, size + 1)  # one read, unless the file grew after the fstat
        while len(data) <= max_bytes and (more := os.read(fd, max_bytes + 1 - len(data))):
            data += more
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise Unusable(path, f"is more than the {max_bytes} bytes allowed")
    return data


def read_text(path: str, max_bytes: int = MAX_FILE) -> str:
    """``read_bytes`` as UTF-8 text; UnicodeDecodeError (a ValueError) if it is not."""
    return read_bytes(path, max_bytes).decode("utf-8")


@contextlib.contextmanager
def checked(path: str, max_bytes: int = MAX_FILE) -> Iterator[str | None]:
    """For a library that opens a file by path itself (``ssl``): a path to the regular
    file at ``path`` as checked here, valid inside the block (it names the descriptor
    this opened, so the library reads the very file checked); None for an empty path."""
    if not path:
        yield None
        return
    fd = open_regular(path, os.O_RDONLY, max_bytes=max_bytes)
    try:
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def directory(path: str, mode: int = 0o755) -> None:
    """Make sure ``path`` is a directory, creating it (and its parents) if missing."""
    try:
        os.makedirs(path, mode=mode, exist_ok=True)
    except FileExistsError:  # makedirs says so for anything but a directory
        raise Unusable(path, f"is {kind(os.stat(path).st_mode)}, not a directory") from None
    except NotADirectoryError:
        raise Unusable(path, "has a part that is not a directory") from None
