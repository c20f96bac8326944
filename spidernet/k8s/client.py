"""A small HTTPS JSON client for the Kubernetes API, one keep-alive connection. Does I/O.

HTTP/1.1 is spoken directly on an ``ssl`` socket (Content-Length and chunked bodies):
``http.client`` would add ~12 ms of imports (the ``email`` header parser) to every
plugin exec, i.e. to every pod start. Retrying a request whose response was lost is
safe by construction one layer up: a repeated pool PUT gets 409 and the re-read finds
the pod's own record, a repeated create gets AlreadyExists, a repeated delete NotFound.

Transport failures (refused/reset connections, timeouts, 5xx, 429) are retried here
with jittered exponential backoff (``backoff.Backoff.transport``) until the caller's
deadline, then raised as
``errors.Unavailable``; HTTP outcomes the caller must act on (404, 409, 422, 403) are
raised at once as their class. Compare-and-swap retries on 409 live one layer up.
"""

from __future__ import annotations

import json
import os
import socket
import ssl

from spidernet.k8s import errors
from spidernet.k8s.backoff import Backoff
from spidernet.k8s.backoff import Deadline as Deadline  # its home before backoff.py
from spidernet.k8s.kubeconfig import Credentials
from spidernet.k8s.paths import split_server
from spidernet.protocol import files

TYPE_CHECKING = False  # typing is for the type checker only: not imported on an exec
if TYPE_CHECKING:
    from typing import Any

MAX_REQUEST_TIMEOUT = 10.0


def _ssl_context(creds: Credentials) -> ssl.SSLContext:
    if creds.insecure:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        with files.checked(creds.ca_file) as ca_file:
            ctx = ssl.create_default_context(cafile=ca_file, cadata=creds.ca_data or None)
    if creds.cert_file:
        # ssl opens these by path: files.checked hands it the regular files it checked.
        with files.checked(creds.cert_file) as cert, files.checked(creds.key_file) as key:
            ctx.load_cert_chain(cert or "", key)
    elif creds.cert_data:
        # ssl wants files: write them to a private temp dir for the moment of loading.
        import tempfile  # (with shutil, bz2, lzma, random) only for inline certificates

        with tempfile.TemporaryDirectory(
            dir="/dev/shm" if os.path.isdir("/dev/shm") else None
        ) as d:
            cert, key = os.path.join(d, "c"), os.path.join(d, "k")
            for p, data in ((cert, creds.cert_data), (key, creds.key_data)):
                fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
                os.write(fd, data)
                os.close(fd)
            ctx.load_cert_chain(cert, key)
    return ctx


class Client:
    def __init__(self, creds: Credentials, deadline: Deadline) -> None:
        host, port, path = split_server(creds.server)
        self.host = host or "localhost"
        self.port = port or 443
        self.prefix = path.rstrip("/")
        self.creds = creds
        self.deadline = deadline
        self._ssl = _ssl_context(creds)
        self._sock: ssl.SSLSocket | None = None
        self._reader: Any = None
        self.requests = 0
        self.history: list[
            str
        ] = []  # "GET /path" per request sent: the plugin logs it at debug level

    def close(self) -> None:
        if self._sock is not None:
            self._reader.close()
            self._sock.close()
            self._sock = self._reader = None

    def _connect(self, timeout: float) -> ssl.SSLSocket:
        if self._sock is None:
            raw = socket.create_connection((self.host, self.port), timeout=timeout)
            # TLS's last handshake flight and our request are two small writes: without
            # NODELAY, Nagle holds the request for the peer's delayed ACK (~40 ms).
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self._sock = self._ssl.wrap_socket(raw, server_hostname=self.host)
            except BaseException:
                raw.close()
                raise
            self._reader = self._sock.makefile("rb")
        self._sock.settimeout(timeout)
        return self._sock

    def _head(
        self, method: str, path: str, body: bytes | None, content_type: str, accept: str
    ) -> bytes:
        lines = [
            f"{method} {self.prefix}{path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Accept: {accept}",
            "User-Agent: spidernet-cni",
        ]
        if self.creds.token:
            lines.append(f"Authorization: Bearer {self.creds.token}")
        if body is not None:
            lines += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def _once(
        self, method: str, path: str, body: bytes | None, content_type: str, accept: str
    ) -> tuple[int, Any]:
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise errors.BudgetSpent(0, f"time budget spent: {method} {path} not sent")
        # Each request ends (answered or given up) by the deadline, never after it.
        timeout = min(MAX_REQUEST_TIMEOUT, remaining)
        try:
            sock = self._connect(timeout)
            sock.sendall(self._head(method, path, body, content_type, accept) + (body or b""))
            status, keep_alive, raw = _read_response(self._reader)
        except (OSError, ValueError) as e:
            self.close()
            raise errors.Unavailable(0, f"{type(e).__name__}: {e}") from e
        if not keep_alive:
            self.close()
        self.requests += 1
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode(errors="replace")
        return status, data

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Any:
        """Send one request, retrying transport failures until the deadline; returns the decoded
        body. ``body`` already encoded (bytes) is sent as it is."""
        payload = body if body is None or isinstance(body, bytes) else _encode(body)
        self.history.append(f"{method} {path}" + (" (table)" if "as=Table" in accept else ""))
        backoff, failed = Backoff.transport(self.deadline.at), None
        while True:
            try:
                status, data = self._once(method, path, payload, content_type, accept)
                if status < 300:
                    return data
                raise errors.from_response(status, data)
            except errors.BudgetSpent as e:
                raise failed or e from None  # the failure that spent the budget, if any
            except errors.Unavailable as e:
                if not backoff.again():
                    raise
                failed = e

    def get(self, path: str) -> Any:
        return self.request("GET", path)


def _encode(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _read_response(reader: Any) -> tuple[int, bool, bytes]:
    """(status, keep-alive, body) of one HTTP/1.1 response; ValueError when malformed."""
    status_line = reader.readline(65537)
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise ValueError(f"bad status line {status_line[:80]!r}")
    headers: dict[bytes, bytes] = {}
    while (line := reader.readline(65537)) not in (b"\r\n", b"\n", b""):
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    keep_alive = headers.get(b"connection", b"").lower() != b"close"
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        return int(parts[1]), keep_alive, _read_chunked(reader)
    if b"content-length" in headers:
        length = int(headers[b"content-length"])
        body = reader.read(length)
        if len(body) != length:
            raise ValueError("connection closed inside the body")
        return int(parts[1]), keep_alive, body
    return int(parts[1]), False, reader.read()


def _read_chunked(reader: Any) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int(reader.readline(65537).split(b";")[0].strip(), 16)
        if size == 0:
            while reader.readline(65537) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        chunk = reader.read(size)
        if len(chunk) != size:
            raise ValueError("connection closed inside a chunk")
        chunks.append(chunk)
        reader.readline(65537)
