"""The pool usage the GC publishes (ConfigMap ``kube-system/spidernet-pool-usage``, written
by spidernet/gc/publishing.py), read for the exporter's pool and GC gauges. Does I/O: one
HTTPS GET with the installer pod's own token, at most every ``every`` seconds.

Standard library only, as the rest of the installer's passes: the request is one GET of
one small object, served from the API server's cache (``resourceVersion=0``). Any failure
is logged (once per kind of failure, not per scrape) and the last document read stays:
metrics must never take the installer down.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
import urllib.error
import urllib.request
from typing import Any

from installer import credentials
from installer.settings import Settings

log = logging.getLogger("installer")
PATH = "/api/v1/namespaces/{namespace}/configmaps/spidernet-pool-usage?resourceVersion=0"
KEY = "usage.json"


class Reader:
    def __init__(self, settings: Settings, namespace: str = "kube-system", every: float = 30.0):
        self.settings = settings
        self.path = PATH.format(namespace=namespace)
        self.every = every
        self.doc: dict[str, Any] = {}
        self._read_at: float | None = None
        self._last_problem = ""

    def current(self) -> dict[str, Any]:
        """The last document read; read again when older than ``every``."""
        now = time.monotonic()
        if self._read_at is None or now - self._read_at >= self.every:
            self._read_at = now
            self._read()
        return self.doc

    def _read(self) -> None:
        server = "the API server"
        try:
            token, ca, server = credentials.read_access(self.settings)
            self.doc = _parse(self._get(server, token, ca))
            problem = ""
        except urllib.error.HTTPError as e:
            problem = f"{server}: {_http_problem(e.code)}"
        except urllib.error.URLError as e:
            problem = f"Kubernetes API {server} unreachable: {e.reason}"
        except (OSError, ValueError) as e:  # CredentialError is a ValueError
            problem = f"{server}: {type(e).__name__}: {e}"
        if problem and problem != self._last_problem:
            log.warning("pool usage not read (the pool gauges keep their last values): %s", problem)
        self._last_problem = problem

    def _get(self, server: str, token: bytes, ca: bytes) -> bytes:
        ctx = ssl.create_default_context(cadata=ca.decode())
        request = urllib.request.Request(
            server + self.path, headers={"Authorization": f"Bearer {token.decode().strip()}"}
        )
        with urllib.request.urlopen(request, timeout=5, context=ctx) as reply:
            return bytes(reply.read(1 << 20))


def nothing() -> dict[str, Any]:
    """The usage source when reading is turned off: no pool gauges, no request."""
    return {}


def _http_problem(status: int) -> str:
    if status == 404:
        return "no GC pass has published it yet (HTTP 404)"
    if status == 401:
        return "HTTP 401: the installer pod's token was refused"
    if status == 403:
        return "HTTP 403: apply installer/manifests (Role spidernet-node-usage)"
    return f"HTTP {status}"


def _parse(raw: bytes) -> dict[str, Any]:
    obj = json.loads(raw)
    doc = json.loads((obj.get("data") or {}).get(KEY) or "{}")
    if not isinstance(doc, dict):
        raise ValueError(f"{KEY} is not a JSON object")
    return doc
