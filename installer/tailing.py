"""Reading the plugins' outcome record as it grows and rotates (docs/metrics.md). Does I/O.

The plugins append one line per exec to a file and, past a size, rename it to
``<path>.1`` (spidernet/protocol/outcomes.py). ``Tail.read`` returns the complete lines
appended since its last call: it keeps the file open, so a rename does not lose what
was written before it; when the path names another file, the old one is read once more
on the next call (an exec that opened it just before the rename writes its line after)
and then closed. A line without its newline yet stays for the next call. Lines are
lost only when the record rotates twice between two reads (about 12000 execs).

On start the file is read from its beginning: the counters begin with what the record
holds, and Prometheus reads the exporter's restart as a counter reset.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class _Open:
    fd: int
    ino: int
    partial: bytes = b""


class Tail:
    def __init__(self, path: str) -> None:
        self.path = path
        self.current: _Open | None = None
        self.retired: _Open | None = None

    def read(self) -> list[bytes]:
        lines: list[bytes] = []
        if self.retired is not None:
            lines += _drain(self.retired)
            os.close(self.retired.fd)
            self.retired = None
        if self.current is None:
            self.current = _open(self.path)
        if self.current is None:
            return lines
        lines += _drain(self.current)
        if _inode(self.path) != self.current.ino:  # rotated (or removed) since opened
            self.retired, self.current = self.current, _open(self.path)
            if self.current is not None:
                lines += _drain(self.current)
        return lines

    def close(self) -> None:
        for f in (self.current, self.retired):
            if f is not None:
                os.close(f.fd)
        self.current = self.retired = None


def _inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def _open(path: str) -> _Open | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None  # no plugin has run on this node yet
    st = os.fstat(fd)
    if st.st_mode & 0o170000 != 0o100000:
        os.close(fd)
        raise OSError(f"{path} is not a regular file")
    return _Open(fd, st.st_ino)


def _drain(f: _Open) -> list[bytes]:
    data = f.partial
    while chunk := os.read(f.fd, 1 << 16):
        data += chunk
    *lines, f.partial = data.split(b"\n")
    return lines
