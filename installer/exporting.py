"""The installer's HTTP endpoint: Prometheus metrics from the plugins' outcome record and
the GC's published pool usage, and the probes' answers (docs/metrics.md). Does I/O: one
listening socket, a thread, reads of the record (and, through ``usage``, of the API).

    GET /metrics   the record's new lines turned into counters and histograms, then the
                   exposition (prometheus_client; the plugins never import it)
    GET /healthz   liveness and start-up: 200 while the service loop ends passes, 503
                   before the first pass ended or when none ended for ``stall`` seconds
    GET /readyz    200 while the last pass was clean (the readiness file's meaning)

The record is read when Prometheus scrapes, not on a timer: between scrapes nothing
runs, and a scrape sees every exec up to that moment.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from installer.tailing import Tail

log = logging.getLogger("installer")

# Upstream Spiderpool's buckets (0.1 ... 15 s) with a finer start: an ADD here takes tens of ms.
EXEC_BUCKETS = (0.025, 0.05, 0.1, 0.3, 0.5, 1, 3, 5, 7, 10, 15, 30)
LOCK_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.3, 1, 3, 10, 30)


class Metrics:
    """The exported families, fed one outcome line at a time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.execs = Counter(
            "spidernet_plugin_execs",
            "Plugin execs by plugin, verb and CNI result code (0: success).",
            ["plugin", "verb", "code"],
            registry=r,
        )
        self.duration = Histogram(
            "spidernet_plugin_exec_duration_seconds",
            "Time from a plugin's dispatch to its answer (interpreter start not included).",
            ["plugin", "verb"],
            buckets=EXEC_BUCKETS,
            registry=r,
        )
        self.lock_wait = Histogram(
            "spidernet_ipam_lock_wait_seconds",
            "Time an IPAM exec waited for the node's pod and pool locks.",
            ["verb"],
            buckets=LOCK_BUCKETS,
            registry=r,
        )
        self.writes = Counter(
            "spidernet_ipam_pool_writes",
            "Compare-and-swap writes of a pool's records that the API server accepted.",
            ["pool"],
            registry=r,
        )
        self.conflicts = Counter(
            "spidernet_ipam_pool_conflicts",
            "Compare-and-swap writes of a pool's records refused with 409 (re-read, retried).",
            ["pool"],
            registry=r,
        )
        self.malformed = Counter(
            "spidernet_outcome_lines_malformed",
            "Lines of the outcome record that were not an outcome (skipped).",
            registry=r,
        )
        self.pool_ips = Gauge(
            "spidernet_pool_ips",
            "A pool's addresses by state (total usable, allocated to pods, cooling after a "
            "failed ADD), as the GC's last pass that read the pools saw them.",
            ["pool", "state"],
            registry=r,
        )
        self.pools_time = Gauge(
            "spidernet_pool_usage_timestamp_seconds",
            "When the GC pass that measured spidernet_pool_ips ran.",
            registry=r,
        )
        self.gc_time = Gauge(
            "spidernet_gc_last_pass_timestamp_seconds", "When the GC's last pass ran.", registry=r
        )
        self.gc_ok = Gauge(
            "spidernet_gc_last_pass_ok",
            "1 if the GC's last pass processed everything, 0 if it reported errors.",
            registry=r,
        )
        self.gc_errors = Gauge(
            "spidernet_gc_last_pass_errors", "Errors the GC's last pass reported.", registry=r
        )
        self.up = Gauge(
            "spidernet_installer_ready",
            "1 while the installer's last pass was clean (bundles and credentials in place).",
            registry=r,
        )

    def apply(self, raw: bytes) -> None:
        try:
            line = json.loads(raw)
            plugin, verb, code = str(line["plugin"]), str(line["verb"]), int(line["code"])
            seconds = float(line["seconds"])
        except (ValueError, KeyError, TypeError):
            if raw.strip():
                self.malformed.inc()
            return
        self.execs.labels(plugin, verb, str(code)).inc()
        self.duration.labels(plugin, verb).observe(seconds)
        if "lock_wait" in line:
            self._ipam(verb, line)

    def _ipam(self, verb: str, line: dict[str, Any]) -> None:
        self.lock_wait.labels(verb).observe(float(line.get("lock_wait") or 0))
        pools = line.get("pools")
        for pool, counts in (pools if isinstance(pools, dict) else {}).items():
            writes, conflicts = (list(counts) + [0, 0])[:2]
            self.writes.labels(str(pool)).inc(int(writes))
            self.conflicts.labels(str(pool)).inc(int(conflicts))

    def usage(self, doc: dict[str, Any]) -> None:
        """The GC's published document (installer/poolusage.py); nothing when there is none."""
        if not doc:
            return
        self.pool_ips.clear()  # a deleted pool's series goes with it
        for pool, figures in (doc.get("pools") or {}).items():
            for state in ("total", "allocated", "cooling"):
                self.pool_ips.labels(str(pool), state).set(float(figures.get(state, 0)))
        for gauge, key in ((self.pools_time, "poolsTime"), (self.gc_time, "time")):
            if isinstance(doc.get(key), (int, float)):
                gauge.set(doc[key])
        self.gc_ok.set(1 if doc.get("ok") else 0)
        self.gc_errors.set(float(doc.get("errors") or 0))


class Exporter:
    """Metrics from the record at ``record_path``; probe answers from ``alive``/``ready``."""

    def __init__(
        self,
        record_path: str,
        alive: Callable[[], bool],
        ready: Callable[[], bool],
        usage: Callable[[], dict[str, Any]] = dict,
    ) -> None:
        self.metrics = Metrics()
        self.tail = Tail(record_path)
        self.alive, self.ready, self.usage = alive, ready, usage
        self.lock = threading.Lock()

    def scrape(self) -> bytes:
        with self.lock:
            try:
                for raw in self.tail.read():
                    self.metrics.apply(raw)
            except OSError as e:
                log.error("outcome record %s: %s", self.tail.path, e)
            self.metrics.up.set(1 if self.ready() else 0)
            try:
                self.metrics.usage(self.usage())
            except (ValueError, TypeError, AttributeError) as e:
                log.error("pool usage unreadable: %s", e)
            return generate_latest(self.metrics.registry)

    def answer(self, path: str) -> tuple[int, str, bytes]:
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, self.scrape()
        if path in ("/healthz", "/readyz"):
            ok = self.alive() if path == "/healthz" else self.ready()
            return (200 if ok else 503), "text/plain", b"ok\n" if ok else b"not yet\n"
        return 404, "text/plain", b"not found: /metrics, /healthz, /readyz\n"


def serve(exporter: Exporter, host: str, port: int) -> ThreadingHTTPServer:
    """Listen on ``host:port`` (port 0: any) in a daemon thread; ``server_port`` says which."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, ctype, body = exporter.answer(self.path.split("?")[0])
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a scrape every few seconds is not news

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="exporter", daemon=True).start()
    log.info("metrics and probes on http://%s:%d/metrics", host or "*", server.server_port)
    return server
