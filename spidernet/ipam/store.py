"""SpiderIPPool / SpiderEndpoint / SpiderReservedIP / Pod reads and writes. Does I/O.

The write path for a pool (SPEC §2): under the per-node file lock for that pool,
GET -> pure decision -> PUT status carrying the read resourceVersion; on 409 re-read
and retry with jittered exponential backoff until the invocation's deadline, then
``TryAgainLater`` (code 11). The lock is held only around read-choose-write. The
kernel drops an flock when its process dies, so a SIGKILLed ADD never wedges a node
(``locking``).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from spidernet.alloc import choosing
from spidernet.alloc.pools import Pool, Record, records_json
from spidernet.ipmath.ranges import RangeError, RangeSet
from spidernet.ipam import endpoints, locking
from spidernet.k8s import errors as kerr
from spidernet.k8s.client import Client, Deadline
from spidernet.protocol import errors, logs

log = logs.LOG

GROUP = "/apis/spiderpool.spidernet.io/v2beta1"
INT64_MAX = 2**63 - 1
T = TypeVar("T")


@dataclass
class Stats:
    conflicts: int = 0
    writes: int = 0
    lock_wait: float = 0.0


class Store:
    def __init__(self, client: Client, lock_dir: str) -> None:
        self.client = client
        self.lock_dir = lock_dir
        self.stats = Stats()

    @property
    def deadline(self) -> Deadline:
        return self.client.deadline

    # ------------------------------------------------------------ reads

    def _get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            return dict(self.client.get(path))
        except kerr.NotFound:
            return None

    def pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get_or_none(f"/api/v1/namespaces/{namespace}/pods/{name}")

    def namespace(self, name: str) -> dict[str, Any] | None:
        return self._get_or_none(f"/api/v1/namespaces/{name}")

    def node(self, name: str) -> dict[str, Any] | None:
        return self._get_or_none(f"/api/v1/nodes/{name}")

    def pool(self, name: str) -> dict[str, Any] | None:
        return self._get_or_none(f"{GROUP}/spiderippools/{name}")

    def pools(self) -> list[dict[str, Any]]:
        return list(self.client.get(f"{GROUP}/spiderippools")["items"])

    def reserved(self) -> list[dict[str, Any]]:
        return list(self.client.get(f"{GROUP}/spiderreservedips")["items"])

    def endpoint(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get_or_none(f"{GROUP}/namespaces/{namespace}/spiderendpoints/{name}")

    def endpoints_on(self, node: str) -> list[dict[str, Any]]:
        return list(self.client.get(f"{GROUP}/spiderendpoints?labelSelector={endpoints.NODE_LABEL}%3D{node}")["items"])

    # ------------------------------------------------------------ endpoint writes

    def create_endpoint(self, obj: dict[str, Any]) -> dict[str, Any]:
        ns = obj["metadata"]["namespace"]
        return dict(self.client.request("POST", f"{GROUP}/namespaces/{ns}/spiderendpoints", obj))

    def replace_endpoint(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        path = f"{GROUP}/namespaces/{meta['namespace']}/spiderendpoints/{meta['name']}"
        return dict(self.client.request("PUT", path, obj))

    def delete_endpoint(self, obj: dict[str, Any]) -> None:
        """Delete only the endpoint we read (UID and resourceVersion preconditions)."""
        meta = obj["metadata"]
        body = {"kind": "DeleteOptions", "apiVersion": "v1",
                "preconditions": {"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]}}  # fmt: skip
        try:
            self.client.request("DELETE", f"{GROUP}/namespaces/{meta['namespace']}/spiderendpoints/{meta['name']}", body)
        except kerr.NotFound:
            pass

    # ------------------------------------------------------------ pool CAS

    def update_pool(
        self, name: str, decide: Callable[[Pool], tuple[dict[str, Record] | None, T]],
        snapshot: dict[str, Any] | None = None,
    ) -> T:  # fmt: skip
        """Run ``decide`` on a fresh pool and write its records by CAS; returns decide's outcome.

        ``decide`` returns (new records or None for "no write", outcome). ``snapshot`` is
        a copy read before the lock; it is used only if the lock was free at once.
        """
        lock = locking.PoolLock(self.lock_dir, name)
        started = time.monotonic()
        try:
            lock.acquire(timeout=self.deadline.remaining())
        except locking.LockTimeout as e:
            raise errors.TryAgainLater(f"pool {name}: node lock not acquired before the deadline") from e
        self.stats.lock_wait += time.monotonic() - started
        with lock:
            # Another ADD on this node held the lock: it wrote meanwhile, so re-read.
            return self._cas_loop(name, decide, None if lock.waited else snapshot)

    def _cas_loop(self, name: str, decide: Callable[[Pool], tuple[dict[str, Record] | None, T]],
                  obj: dict[str, Any] | None) -> T:  # fmt: skip
        delay = 0.01
        while True:
            if obj is None:
                obj = self.pool(name)
                if obj is None:
                    raise kerr.NotFound(404, f"SpiderIPPool {name} not found")
            pool = Pool.parse(obj)
            records, outcome = decide(pool)
            if records is None:
                return outcome
            try:
                _failpoint("before-pool-write")
                self._put_status(obj, pool, records)
                _failpoint("after-pool-write")
                return outcome
            except kerr.Conflict:
                self.stats.conflicts += 1
                if self.deadline.remaining() < delay:
                    raise errors.TryAgainLater(
                        f"pool {name}: still conflicting after {self.stats.conflicts} retries, budget spent"
                    ) from None
                time.sleep(random.uniform(0, delay))
                delay = min(delay * 2, 0.5)
                obj = None

    def _put_status(self, obj: dict[str, Any], pool: Pool, records: dict[str, Record]) -> None:
        status = dict(obj.get("status") or {})
        status["allocatedIPs"] = records_json(records)
        status["allocatedIPCount"] = len(records)
        # int64 in the CRD (as upstream): an IPv6 /64 pool saturates rather than overflows.
        status["totalIPCount"] = min(pool.usable.count(), INT64_MAX)
        body = {**obj, "status": status}
        self.client.request("PUT", f"{GROUP}/spiderippools/{pool.name}/status", body)
        self.stats.writes += 1


def _failpoint(name: str) -> None:
    """Crash tests: SPIDERNET_FAILPOINT=<name> SIGKILLs this process right here."""
    if os.environ.get("SPIDERNET_FAILPOINT") == name:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def release_uid(store: Store, pool: str, pod_uid: str, ips: set[str] | None = None) -> int:
    """Compare-and-delete: drop ``pod_uid``'s records (only ``ips`` if given). Returns how many."""

    def decide(p: Pool) -> tuple[dict[str, Record] | None, int]:
        kept = choosing.without_uid(p.records, pod_uid, ips)
        removed = len(p.records) - len(kept)
        return (kept if removed else None), removed

    try:
        return store.update_pool(pool, decide)
    except kerr.NotFound:
        return 0  # pool gone: nothing to release


def reserved_ranges(store: Store) -> dict[int, RangeSet]:
    """Union of the SpiderReservedIPs per family (terminating ones no longer count)."""
    out = {4: RangeSet(4), 6: RangeSet(6)}
    for obj in store.reserved():
        if obj.get("metadata", {}).get("deletionTimestamp"):
            continue
        spec = obj.get("spec") or {}
        family = spec.get("ipVersion")
        if family in out:
            try:
                out[family] = out[family].union(RangeSet.parse(spec.get("ips") or [], family))
            except RangeError as e:
                log.warning("SpiderReservedIP %s ignored: %s", obj["metadata"].get("name"), e)
    return out


def release_endpoint(store: Store, obj: dict[str, Any]) -> None:
    """Release every address the endpoint records (by its pod UID), then delete it."""
    owner = endpoints.uid(obj)
    by_pool: dict[str, set[str]] = {}
    for d in endpoints.details(obj):
        for pool, ip in endpoints.addresses(d):
            by_pool.setdefault(pool, set()).add(ip)
    for pool, ips in by_pool.items():
        release_uid(store, pool, owner, ips)
    store.delete_endpoint(obj)
