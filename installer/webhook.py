"""The admission webhook's HTTPS server, run by the installer in a thread. Does I/O.

    POST /validate   SpiderIPPool, SpiderReservedIP, SpiderMultusConfig: admitted or denied
    POST /mutate     SpiderIPPool: the finalizer added
    GET  /healthz    200 once a certificate is loaded

Answers come from ``spidernet.guard.reviewing`` (the rules of ``spiderpoolctl validate``).
TLS: ``tls.crt`` and ``tls.key`` of a directory, the Secret ``spidernet-webhook-tls`` that
kubelet mounts (the GC CronJob makes and rotates it, or cert-manager: docs/install.md,
"Admission webhook"); a changed file is picked up by the next connection, so a rotation
needs no restart. API access: the installer pod's own token and CA through the lean client;
up to four connections are kept open between reviews (a TLS handshake per review cost more
than the review's own requests), each at most five minutes, so a token kubelet rotated is
read again soon after.

Never a crash: a body too large, not JSON or not an AdmissionReview is answered 400 with
the reason, an API failure 500 (the API server then applies ``failurePolicy``), and any
other error 500 with its name; the handler thread logs it and goes on.
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spidernet.guard import admission, reviewing
from spidernet.k8s import errors as kerr
from spidernet.k8s.client import Client, Deadline
from spidernet.k8s.kubeconfig import Credentials

log = logging.getLogger("installer.webhook")
MAX_BODY = 3 * 1024 * 1024  # the API server sends objects up to ~1.5 MiB, twice on UPDATE
REVIEW_BUDGET = 8.0  # s: below the webhook configurations' timeoutSeconds (10)
Connect = Callable[[], Client]


class Certificates:
    """The serving certificate of a directory, reloaded when its files change."""

    def __init__(self, directory: str) -> None:
        self.dir = Path(directory)
        self._stamp: tuple[float, ...] = ()
        self._context: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    def context(self) -> ssl.SSLContext | None:
        """The current context; None while no certificate is there (the Secret not yet made)."""
        files = (self.dir / "tls.crt", self.dir / "tls.key")
        try:
            stamp = tuple(os.stat(f).st_mtime_ns for f in files)
        except OSError:
            return self._context
        with self._lock:
            if stamp != self._stamp:
                self._context = self._load(files)
                self._stamp = stamp
            return self._context

    def _load(self, files: tuple[Path, Path]) -> ssl.SSLContext | None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(str(files[0]), str(files[1]))
        except (OSError, ssl.SSLError) as e:  # half-written during a swap: the old one stays
            log.error("webhook certificate in %s not loaded: %s", self.dir, e)
            return self._context
        log.info("webhook certificate loaded from %s", self.dir)
        return ctx


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], certs: Certificates, review: Callable[..., Any]
    ) -> None:
        self.certs, self.review = certs, review
        self.open: set[socket.socket] = set()  # keep-alive connections, closed by ``stop``
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        ctx = self.certs.context()
        if ctx is None:
            sock.close()
            raise OSError("no webhook certificate yet")
        sock.settimeout(REVIEW_BUDGET)
        # the handshake on the handler's thread, not on the one that accepts
        tls = ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        self.open.add(tls)
        return tls, addr

    def shutdown_request(self, request: Any) -> None:
        self.open.discard(request)
        super().shutdown_request(request)

    def close_all(self) -> None:
        for sock in list(self.open):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.warning("connection from %s dropped: %s", client_address, _last_error())


def _last_error() -> str:
    import sys

    kind, value, _ = sys.exc_info()
    return f"{kind.__name__ if kind else 'error'}: {value}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:  # access logs: debug only
        log.debug("%s " + fmt, self.client_address[0], *args)

    def do_GET(self) -> None:
        self._reply(200 if self._route() == "/healthz" else 404, {"status": "ok"})

    def do_POST(self) -> None:
        try:
            body = self._body()  # read first: a keep-alive connection must not keep a body
        except _BadRequest as e:
            self.close_connection = True
            self._reply(e.status, {"error": str(e)})
            return
        route = self._route()  # the API server appends ?timeout=10s
        if route not in ("/validate", "/mutate"):
            self._reply(404, {"error": f"no such path {route}: /validate or /mutate"})
            return
        try:
            answer = self.server.review(body, mutate=route == "/mutate")
        except _BadRequest as e:
            self._reply(e.status, {"error": str(e)})
            return
        except admission.Malformed as e:
            self._reply(400, {"error": f"malformed AdmissionReview: {e}"})
            return
        except (kerr.ApiError, reviewing.Unreviewable) as e:
            log.error("review failed: %s", e)
            self._reply(500, {"error": f"no review made: {e}"})
            return
        except Exception as e:  # a bug of ours must not take the node's installer down
            log.exception("review crashed")
            self._reply(500, {"error": f"internal error: {type(e).__name__}"})
            return
        self._reply(200, answer)

    def _route(self) -> str:
        return urllib.parse.urlsplit(self.path).path

    def _body(self) -> object:
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            raise _BadRequest(411, "Content-Length required") from None
        if length > MAX_BODY or length < 0:
            raise _BadRequest(413, f"body of {length} bytes: the limit is {MAX_BODY}")
        raw = self.rfile.read(length)
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise _BadRequest(400, "the body is not JSON") from None

    def _reply(self, status: int, data: object) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Webhook:
    """The server; ``start`` runs it in a daemon thread, ``stop`` ends it."""

    def __init__(
        self,
        port: int,
        cert_dir: str,
        connect: Connect,
        *,
        bind: str = "0.0.0.0",
        where: reviewing.Ledger = reviewing.DEFAULT_LEDGER,
    ) -> None:
        self.certs = Certificates(cert_dir)
        self.clients, self.where = _Clients(connect), where
        self.server = _Server((bind, port), self.certs, self._review)
        self.thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def _review(self, body: object, *, mutate: bool) -> dict[str, Any]:
        if mutate:  # no API call: spare the connection
            return admission.mutation(body)
        born, client = self.clients.take()
        try:
            answer = reviewing.review(client, body, where=self.where)
        except BaseException:
            client.close()  # its connection may be half-way through a reply
            raise
        self.clients.give(born, client)
        return answer

    def start(self) -> threading.Thread:
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="webhook", daemon=True
        )
        self.thread.start()
        log.info("webhook serving on port %d", self.port)
        return self.thread

    def stop(self) -> None:
        """Stop accepting, and end the keep-alive connections the API server holds open."""
        self.server.shutdown()
        self.server.server_close()
        self.server.close_all()
        self.clients.close()


class _Clients:
    """API connections kept alive between reviews (a TLS handshake per review cost more than
    the review's own requests), each at most ``MAX_AGE`` old: a rotated token is picked up."""

    MAX_AGE, IDLE = 300.0, 4

    def __init__(self, connect: Connect) -> None:
        self.connect = connect
        self.idle: list[tuple[float, Client]] = []
        self.lock = threading.Lock()

    def take(self) -> tuple[float, Client]:
        """(when it was made, a client with a fresh review budget)."""
        with self.lock:
            while self.idle:
                born, client = self.idle.pop()
                if time.monotonic() - born < self.MAX_AGE:
                    client.deadline = Deadline(REVIEW_BUDGET)
                    return born, client
                client.close()
        return time.monotonic(), self.connect()

    def give(self, born: float, client: Client) -> None:
        with self.lock:
            if len(self.idle) < self.IDLE:
                self.idle.append((born, client))
                return
        client.close()

    def close(self) -> None:
        with self.lock:
            for _, client in self.idle:
                client.close()
            self.idle.clear()


def in_cluster(token_file: str, ca_file: str, server: str) -> Connect:
    """A new client with the pod's token as it is now (kubelet rotates it)."""

    def connect() -> Client:
        token = Path(token_file).read_text().strip()
        return Client(
            Credentials(server=server, token=token, ca_file=ca_file), Deadline(REVIEW_BUDGET)
        )

    return connect
