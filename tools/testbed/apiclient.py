"""The one HTTPS client the tools and tests talk to the test apiserver with. Does I/O.

Raw on purpose: a test asserts on the status (a 422 naming a field, a 403 for a role
that may not, a 409 on a stale resourceVersion) and on the body as the server wrote it,
so ``request`` returns ``(status, body)`` and raises only when no answer came (an
``OSError``: refused, reset, timed out). ``ok`` is the same but raises ``RuntimeError``
for a status of 300 or more, for set-up code that only wants the object back.

Two ways to connect:
- one TLS connection per request (the default), so a test sees each request on its own,
  exactly as the server answered it, also across apiserver restarts;
- ``keep_alive=True``: one connection per thread, kept, for harnesses that make
  thousands of requests next to what they measure (the benchmarks); a kept connection
  the server closed meanwhile is opened again, once, for that request.

``tries`` above 1 asks again when no answer came (with a short growing pause): for a
harness that would rather repeat a request than stop, never for a test, which must see
each failure.

Why not the product's ``spidernet.k8s.client.Client``: it raises typed errors and
retries until a deadline, as a plugin must; a test needs the raw answer, any content
type, another bearer token, and an unverified probe before the server's certificate
exists. And the tests check that client; they should not stand on it.
(docs/design.md, "The shape, and why"; docs/testbed.md)
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from pathlib import Path
from typing import Any

JSON = "application/json"


class ApiClient:
    """Requests to ``https://127.0.0.1:<port>`` with a bearer token, checked against ``ca_file``."""

    def __init__(
        self,
        port: int,
        ca_file: Path,
        token: str,
        *,
        keep_alive: bool = False,
        tries: int = 1,
        timeout: float = 30.0,
    ) -> None:
        self.port = port
        self.ca_file = ca_file
        self.token = token
        self.keep_alive = keep_alive
        self.tries = tries
        self.timeout = timeout
        self._local = threading.local()
        self._kept: list[http.client.HTTPSConnection] = []
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = JSON,
        accept: str | None = None,
        bearer: str | None = None,
        insecure: bool = False,
    ) -> tuple[int, Any]:
        """One request; returns (status, body decoded from JSON, else its text).

        ``bearer`` replaces the client's token for this request; ``insecure`` skips the
        certificate check (readiness only, before the certificate exists). A ``body`` of
        bytes is sent as it is (a benchmark's body of an exact size)."""
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {bearer or self.token}", "Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        for attempt in range(1, self.tries):
            try:
                return self._once(method, path, data, headers, insecure)
            except (OSError, http.client.HTTPException):
                time.sleep(0.1 * attempt)
        return self._once(method, path, data, headers, insecure)

    def ok(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        allow: tuple[int, ...] = (),
        content_type: str = JSON,
    ) -> Any:
        """The body of a successful request (or of one whose status is in ``allow``)."""
        status, reply = self.request(method, path, body, content_type=content_type)
        return checked(f"{method} {path}", status, reply, allow)

    def close(self) -> None:
        """Close the kept connections (call it when the threads that used them are done)."""
        with self._lock:
            for conn in self._kept:
                conn.close()
            self._kept.clear()
        self._local = threading.local()

    # ------------------------------------------------------------ connections

    def _once(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str], insecure: bool
    ) -> tuple[int, Any]:
        if not self.keep_alive or insecure:
            conn = self._connect(insecure)
            try:
                return _exchange(conn, method, path, data, headers)
            finally:
                conn.close()
        return self._kept_exchange(method, path, data, headers)

    def _connect(self, insecure: bool) -> http.client.HTTPSConnection:
        if insecure:
            context = ssl._create_unverified_context()
        else:
            context = ssl.create_default_context(cafile=str(self.ca_file))
        return http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=context, timeout=self.timeout
        )

    def _kept_exchange(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str]
    ) -> tuple[int, Any]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            try:
                return _exchange(conn, method, path, data, headers)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._drop(conn)  # the server closed the kept connection: a new one, once
            except BaseException:
                self._drop(conn)  # a connection in an unknown state is not used again
                raise
        conn = self._local.conn = self._connect(insecure=False)
        with self._lock:
            self._kept.append(conn)
        try:
            return _exchange(conn, method, path, data, headers)
        except BaseException:
            self._drop(conn)
            raise

    def _drop(self, conn: http.client.HTTPSConnection) -> None:
        conn.close()
        self._local.conn = None
        with self._lock:
            if conn in self._kept:
                self._kept.remove(conn)


def checked(what: str, status: int, reply: Any, allow: tuple[int, ...] = ()) -> Any:
    """``reply``, or RuntimeError naming ``what`` when the status is 300 or more (not allowed)."""
    if status >= 300 and status not in allow:
        raise RuntimeError(f"{what}: HTTP {status}: {reply}")
    return reply


def _exchange(
    conn: http.client.HTTPSConnection,
    method: str,
    path: str,
    data: bytes | None,
    headers: dict[str, str],
) -> tuple[int, Any]:
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    return resp.status, _decode(resp.read())


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
