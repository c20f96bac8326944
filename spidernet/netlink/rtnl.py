"""One NETLINK_ROUTE socket: send a request, collect its answer. Does I/O.

The socket belongs to the network namespace of the thread that opened it, for its
whole life (spidernet.netlink.namespaces enters a pod's namespace for just as long as
it takes to open one). Requests go one at a time, each with its own sequence number;
``call`` reads until the kernel's acknowledgement (or, for a dump, NLMSG_DONE) and
returns the messages before it. A refusal is ``KernelError`` carrying the errno: the
callers (``routing``, ``links``) say what was being done.

A dump the kernel marks as interrupted (NLM_F_DUMP_INTR: the table changed while it
was being read, so the answer may be inconsistent) is asked again, up to
``DUMP_ATTEMPTS`` times, then refused with EAGAIN.
"""

from __future__ import annotations

import _socket  # the socket module is this plus enums: 10 M instructions (~2 ms) per exec
import errno
import os

from spidernet.netlink import messages as m

NETLINK_ROUTE = 0
RECV_SIZE = 1 << 16  # a whole batch of a dump, as the kernel sends it
DUMP_ATTEMPTS = 3


class KernelError(Exception):
    """The kernel answered a request with an error; ``code`` is its errno. No OSError:
    callers catch those for namespaces that cannot be opened, which this is not."""

    def __init__(self, code: int) -> None:
        super().__init__(os.strerror(code))
        self.code = code


class Socket:
    """Use as a context manager, or call ``close``."""

    def __init__(self) -> None:
        self.sock = _socket.socket(
            _socket.AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, NETLINK_ROUTE
        )
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, request: m.Request) -> list[m.Message]:
        """Send ``request``; the messages that answer it (none for a plain acknowledgement)."""
        for _ in range(DUMP_ATTEMPTS):
            replies, interrupted = self._once(request)
            if not interrupted:
                return replies
        raise KernelError(errno.EAGAIN)  # the table kept changing while it was read

    def _once(self, request: m.Request) -> tuple[list[m.Message], bool]:
        kind, flags, body = request
        self.seq += 1
        self.sock.send(m.HEADER.pack(m.HEADER.size + len(body), kind, flags, self.seq, 0) + body)
        replies: list[m.Message] = []
        interrupted = False
        while True:
            for msg in m.split(self.sock.recv(RECV_SIZE)):
                if msg.seq != self.seq:
                    continue  # the rest of an answer an earlier call stopped reading
                if msg.kind == m.NLMSG_ERROR:
                    code = msg.error()
                    if code:
                        raise KernelError(code)
                    return replies, interrupted  # the acknowledgement: done
                if msg.kind == m.NLMSG_DONE:
                    return replies, interrupted
                interrupted |= bool(msg.flags & m.NLM_F_DUMP_INTR)
                replies.append(msg)
                if not msg.flags & m.NLM_F_MULTI and not flags & m.NLM_F_ACK:
                    return replies, interrupted
