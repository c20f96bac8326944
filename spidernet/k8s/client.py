"""A small HTTPS JSON client for the Kubernetes API, one keep-alive connection. Does I/O.

Transport failures (refused/reset connections, timeouts, 5xx, 429) are retried here
with jittered exponential backoff until the caller's deadline, then raised as
``errors.Unavailable``; HTTP outcomes the caller must act on (404, 409, 422, 403) are
raised at once as their class. Compare-and-swap retries on 409 live one layer up.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import ssl
import tempfile
import time
import urllib.parse
from typing import Any

from spidernet.k8s import errors
from spidernet.k8s.kubeconfig import Credentials

MAX_REQUEST_TIMEOUT = 10.0


class Deadline:
    """An absolute time budget shared by every call of one plugin invocation."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return self.remaining() <= 0


def _ssl_context(creds: Credentials) -> ssl.SSLContext:
    if creds.insecure:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=creds.ca_file or None, cadata=creds.ca_data or None)
    if creds.cert_file:
        ctx.load_cert_chain(creds.cert_file, creds.key_file or None)
    elif creds.cert_data:
        # ssl wants files: write them to a private temp dir for the moment of loading.
        with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as d:
            cert, key = os.path.join(d, "c"), os.path.join(d, "k")
            for p, data in ((cert, creds.cert_data), (key, creds.key_data)):
                fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
                os.write(fd, data)
                os.close(fd)
            ctx.load_cert_chain(cert, key)
    return ctx


class Client:
    def __init__(self, creds: Credentials, deadline: Deadline) -> None:
        url = urllib.parse.urlsplit(creds.server)
        self.host = url.hostname or "localhost"
        self.port = url.port or 443
        self.prefix = url.path.rstrip("/")
        self.creds = creds
        self.deadline = deadline
        self._ssl = _ssl_context(creds)
        self._conn: http.client.HTTPSConnection | None = None
        self.requests = 0

    def close(self) -> None:
        if self._conn:
            self._conn.close()
            self._conn = None

    def _connection(self, timeout: float) -> http.client.HTTPSConnection:
        if self._conn is None:
            self._conn = http.client.HTTPSConnection(self.host, self.port, context=self._ssl, timeout=timeout)
        self._conn.timeout = timeout
        if self._conn.sock is not None:
            self._conn.sock.settimeout(timeout)
        return self._conn

    def _once(self, method: str, path: str, body: bytes | None, content_type: str) -> tuple[int, Any]:
        timeout = min(MAX_REQUEST_TIMEOUT, max(self.deadline.remaining(), 0.05))
        headers = {"Accept": "application/json", "Content-Type": content_type}
        if self.creds.token:
            headers["Authorization"] = f"Bearer {self.creds.token}"
        conn = self._connection(timeout)
        try:
            conn.request(method, self.prefix + path, body=body, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise errors.Unavailable(0, f"{type(e).__name__}: {e}") from e
        self.requests += 1
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode(errors="replace")
        return resp.status, data

    def request(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json") -> Any:
        """Send one request, retrying transport failures until the deadline; returns the decoded body."""
        payload = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        delay = 0.05
        while True:
            try:
                status, data = self._once(method, path, payload, content_type)
                if status < 300:
                    return data
                raise errors.from_response(status, data)
            except errors.Unavailable:
                if self.deadline.remaining() < delay:
                    raise
                time.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 1.0)

    def get(self, path: str) -> Any:
        return self.request("GET", path)
