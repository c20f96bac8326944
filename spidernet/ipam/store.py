"""The IPAM's API objects, read and written through a ``Transport``. Does I/O.

Reads of the objects the verbs need (typed: ``spidernet.ipam.objects``), the endpoint
writes, and the write path for a pool (docs/ipam.md, "Write path"): under the per-node
file lock for that pool (``locking``), GET -> pure decision -> PUT status carrying the
read resourceVersion; on 409 re-read and retry with jittered exponential backoff
(``_after_conflict``: from what the lost round took) until the invocation's deadline,
then ``failures.Contended`` (code 11). Waiting writers of one node hand their requests
to the lock's holder (``combine``; ``spidernet.ipam.combining``). A write that would
grow a pool past its size ceiling is refused before the PUT (``alloc.ceiling``). The
lock is held only around read-choose-write. A pool that is gone is
``failures.NotFound``. What the verbs do with records through it (release a UID's,
the reserved ranges) is ``spidernet.ipam.recording``; the crash points are
``spidernet.ipam.failpoints``.
"""

from __future__ import annotations

import time

from spidernet.alloc import ceiling, combined
from spidernet.alloc.failures import Contended, InDoubt, NotFound
from spidernet.alloc.pools import Pool, Record, Summary, records_json
from spidernet.ipam import combining, endpoints, locking
from spidernet.ipam.failpoints import failpoint
from spidernet.k8s import errors as kerr
from spidernet.k8s.backoff import Backoff, Deadline
from spidernet.k8s.paths import quote_segment

TYPE_CHECKING = False  # the typed shapes are for the type checker: not imported on an exec
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TypeVar, cast

    from spidernet.ipam.objects import ApiObject, EndpointObject, PoolObject, ReservedIPObject
    from spidernet.k8s.transport import Transport

    T = TypeVar("T")
    Decide = Callable[[Pool], tuple[dict[str, Record] | None, T]]
else:

    def cast(_: object, value: object) -> object:
        return value


GROUP = "/apis/spiderpool.spidernet.io/v2beta1"
INT64_MAX = 2**63 - 1
# A LIST answered as a Table carries the CRD's printer columns, not the objects: the
# pools' names, family and default flag without their records (a 1000-record pool is
# ~100 KB; its row ~100 bytes). Servers that cannot serve a Table answer the plain list.
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io, application/json"
_q = quote_segment  # CNI_ARGS values never shape the request (I6)


def _copy(obj: Any) -> Any:
    """The reply as a dict of our own (an in-memory transport hands out its own objects)."""
    return dict(obj)


# The conflict backoff of a pool write (docs/ipam.md, "Write path"): full jitter over a
# delay that starts at what the lost round took and doubles up to CONFLICT_CAP.
CONFLICT_FIRST, CONFLICT_CAP = 0.01, 2.0


def _after_conflict(deadline: Deadline, round_took: float) -> Backoff:
    """The backoff after a lost compare-and-swap. The writers of other nodes that won
    meanwhile took about as long as this round (GET, decide, PUT; a second and more on
    a loaded machine): retrying sooner meets them again, each loss a wasted GET and PUT
    of the whole pool on the API server's CPU."""
    first = min(max(round_took, CONFLICT_FIRST), CONFLICT_CAP)
    return Backoff(deadline.at, first=first, cap=CONFLICT_CAP, full_jitter=True)


class Stats:
    """What one exec's store did: counted as it goes, read for the outcome record."""

    def __init__(self) -> None:
        self.conflicts = 0
        self.writes = 0
        self.lock_wait = 0.0
        self.combined = 0  # own requests another process of the node decided and wrote
        self.served = 0  # requests of other processes this one decided and wrote
        self.pools: dict[str, list[int]] = {}  # name -> [writes, conflicts]

    def count(self, pool: str, index: int) -> None:
        """One write (0) or conflict (1) on ``pool``, for the exec's outcome record."""
        self.pools.setdefault(pool, [0, 0])[index] += 1


class Store:
    def __init__(
        self, client: Transport, lock_dir: str, max_pool_bytes: int = ceiling.DEFAULT
    ) -> None:
        self.client = client
        self.lock_dir = lock_dir
        self.max_pool_bytes = max_pool_bytes  # the pool size ceiling (alloc.ceiling)
        self.stats = Stats()

    @property
    def deadline(self) -> Deadline:
        return self.client.deadline

    # ------------------------------------------------------------ reads

    def _get_or_none(self, path: str) -> Any:
        try:
            return _copy(self.client.get(path))
        except kerr.NotFound:
            return None

    def pod(self, namespace: str, name: str) -> ApiObject | None:
        return cast(
            "ApiObject | None",
            self._get_or_none(f"/api/v1/namespaces/{_q(namespace)}/pods/{_q(name)}"),
        )

    def namespace(self, name: str) -> ApiObject | None:
        return cast("ApiObject | None", self._get_or_none(f"/api/v1/namespaces/{_q(name)}"))

    def statefulset(self, namespace: str, name: str) -> ApiObject | None:
        path = f"/apis/apps/v1/namespaces/{_q(namespace)}/statefulsets/{_q(name)}"
        return cast("ApiObject | None", self._get_or_none(path))

    def node(self, name: str) -> ApiObject | None:
        return cast("ApiObject | None", self._get_or_none(f"/api/v1/nodes/{_q(name)}"))

    def pool(self, name: str) -> PoolObject | None:
        return cast("PoolObject | None", self._get_or_none(f"{GROUP}/spiderippools/{_q(name)}"))

    def pool_summaries(self) -> list[Summary]:
        """Every pool's name, family and flags, without records (see TABLE)."""
        reply = self.client.request(
            "GET", f"{GROUP}/spiderippools?includeObject=None", accept=TABLE
        )
        if reply.get("kind") == "Table":
            table = Summary.from_table(reply)
            if table is not None:
                return table
        return [Summary.of(Pool.parse(o)) for o in reply.get("items") or []]

    def reserved(self) -> list[ReservedIPObject]:
        return list(self.client.get(f"{GROUP}/spiderreservedips")["items"])

    def endpoint(self, namespace: str, name: str) -> EndpointObject | None:
        path = f"{GROUP}/namespaces/{_q(namespace)}/spiderendpoints/{_q(name)}"
        return cast("EndpointObject | None", self._get_or_none(path))

    def endpoints_on(self, node: str) -> list[EndpointObject]:
        selector = _q(f"{endpoints.NODE_LABEL}={node}")
        return list(self.client.get(f"{GROUP}/spiderendpoints?labelSelector={selector}")["items"])

    # ------------------------------------------------------------ endpoint writes

    def _endpoint_path(self, obj: Mapping[str, Any]) -> str:
        meta = obj["metadata"]
        return f"{GROUP}/namespaces/{_q(meta['namespace'])}/spiderendpoints/{_q(meta['name'])}"

    def create_endpoint(self, obj: Mapping[str, Any]) -> EndpointObject:
        ns = obj["metadata"]["namespace"]
        path = f"{GROUP}/namespaces/{_q(ns)}/spiderendpoints"
        return cast("EndpointObject", _copy(self.client.request("POST", path, obj)))

    def replace_endpoint(self, obj: Mapping[str, Any]) -> EndpointObject:
        """PUT carrying the read resourceVersion: Conflict if it changed since."""
        return cast(
            "EndpointObject", _copy(self.client.request("PUT", self._endpoint_path(obj), obj))
        )

    def delete_endpoint(self, obj: Mapping[str, Any]) -> None:
        """Delete only the endpoint we read (UID and resourceVersion preconditions): Conflict if it
        changed."""
        meta = obj["metadata"]
        body = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "preconditions": {"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]},
        }
        try:
            self.client.request("DELETE", self._endpoint_path(obj), body)
        except kerr.NotFound:
            pass

    # ------------------------------------------------------------ pool CAS

    def update_pool(
        self,
        name: str,
        decide: Decide[T],
        snapshot: Mapping[str, Any] | None = None,
        parsed: Pool | None = None,
    ) -> T:
        """Run ``decide`` on a fresh pool and write its records by CAS; returns decide's outcome.

        ``decide`` returns (new records or None for "no write", outcome). ``snapshot`` is
        a copy read before the lock; it is used only if the lock was free at once, and
        ``parsed`` is that copy already parsed (a 1,000-record pool costs ~18 M
        instructions to parse: docs/performance.md, "The pool's JSON"). Raises
        ``Contended`` (budget spent) or ``NotFound`` (no such pool, or it went meanwhile).
        """
        with self.lock(locking.NodeLock.pool(self.lock_dir, name), f"pool {name}") as lock:
            # Another ADD on this node held the lock: it wrote meanwhile, so re-read.
            try:
                if lock.waited:
                    snapshot = parsed = None
                return self._cas_loop(name, decide, snapshot, parsed)
            except kerr.NotFound:  # the PUT of a pool deleted since its GET
                raise NotFound("SpiderIPPool", name) from None

    def combine(
        self,
        name: str,
        request: combined.Request,
        snapshot: Mapping[str, Any] | None = None,
        parsed: Pool | None = None,
    ) -> combined.Outcome:
        """``request`` decided on a fresh pool and written by CAS, by this process or by
        the one that holds the node's lock on the pool (docs/ipam.md, "Combining").

        Lock free at once: this process holds it and decides its own request and the
        queued ones on one snapshot (``snapshot``/``parsed`` as in ``update_pool``).
        Otherwise the request waits in the queue; once this process holds the lock, the
        holder's answer is its outcome, or, with none, it holds for the queue itself.
        Raises ``Contended`` (budget spent; ``InDoubt`` when a holder may have written
        for it) or ``NotFound``.
        """
        lock = locking.NodeLock.pool(self.lock_dir, name)
        queue = combining.Queue(self.lock_dir, name)
        if lock.try_acquire():
            with lock:
                return self._hold(name, queue, request, snapshot, parsed)
        ticket = queue.enter(request)
        failpoint("combine-waiter-queued")
        try:
            self.lock(lock, f"pool {name}")
        except Contended as e:
            queue.leave(ticket)
            raise InDoubt(
                f"{e}; a write of another process of this node for it may have landed"
            ) from None
        with lock:
            answer = queue.answer_for(ticket)
            queue.leave(ticket)
            if answer is not None:
                self.stats.combined += 1
                failpoint("combine-waiter-answered")
                return answer
            return self._hold(name, queue, request, None, None)

    def _hold(
        self,
        name: str,
        queue: combining.Queue,
        own: combined.Request,
        snapshot: Mapping[str, Any] | None,
        parsed: Pool | None,
    ) -> combined.Outcome:
        """Holding the pool lock: ``own`` and every live queued request in one CAS, then
        the waiters' answers (before the lock goes)."""
        taken: list[tuple[str, combined.Request]] = []
        alone = False

        def decide(pool: Pool) -> tuple[dict[str, Record] | None, list[combined.Outcome]]:
            nonlocal taken
            taken = [] if alone else queue.gather()  # again each round: more may have queued
            if taken:
                failpoint("combine-holder-before-write")
            return combined.decide_all(pool, [own, *(r for _, r in taken)], time.time())

        try:
            try:
                outcomes = self._cas_loop(name, decide, snapshot, parsed)
            except ceiling.PoolTooLarge:
                if not taken:
                    raise
                # The queue's records together would pass the size ceiling: this request
                # alone, and each waiter alone after it (they find no answer).
                alone = True
                outcomes = self._cas_loop(name, decide, None, None)
        except kerr.NotFound:
            raise NotFound("SpiderIPPool", name) from None
        if taken:
            failpoint("combine-holder-before-answers")
        for (rid, _), outcome in zip(taken, outcomes[1:], strict=True):
            queue.answer(rid, outcome)
        self.stats.served += len(taken)
        return outcomes[0]

    def pod_lock(self, namespace: str, name: str, *, wait: float | None = None) -> locking.NodeLock:
        """Held for a whole verb on one pod (locking: orders a DEL and the next ADD of the pod).

        ``wait`` caps the wait below the deadline (the GC verb: one busy pod must not
        spend the budget of all the others)."""
        return self.lock(
            locking.NodeLock.pod(self.lock_dir, namespace, name), f"pod {namespace}/{name}", wait
        )

    def lock(
        self, lock: locking.NodeLock, what: str, wait: float | None = None
    ) -> locking.NodeLock:
        started = time.monotonic()
        locking.take(lock, what, self.deadline.remaining(), wait)
        self.stats.lock_wait += time.monotonic() - started
        return lock

    def _cas_loop(
        self, name: str, decide: Decide[T], obj: Mapping[str, Any] | None, parsed: Pool | None
    ) -> T:
        backoff: Backoff | None = None
        while True:
            began = time.monotonic()
            if obj is None:
                obj = self.pool(name)
                if obj is None:
                    raise NotFound("SpiderIPPool", name)
            pool = parsed if parsed is not None else Pool.parse(obj)
            records, outcome = decide(pool)
            if records is None:
                return outcome
            try:
                failpoint("before-pool-write")
                self._put_status(obj, pool, records)
                failpoint("after-pool-write")
                return outcome
            except kerr.Conflict:
                self.stats.conflicts += 1
                self.stats.count(name, 1)
                if backoff is None:
                    backoff = _after_conflict(self.deadline, time.monotonic() - began)
                if not backoff.again():
                    raise Contended(
                        f"pool {name}: still conflicting after {self.stats.conflicts} "
                        "retries, budget spent"
                    ) from None
                obj = parsed = None

    def _put_status(self, obj: Mapping[str, Any], pool: Pool, records: dict[str, Record]) -> None:
        status = dict(obj.get("status") or {})
        status["allocatedIPs"] = records_json(records)
        # Records that hold an address for a pod; cooling ones (I5) hold it for nobody.
        status["allocatedIPCount"] = sum(1 for r in records.values() if not r.cooling)
        # int64 in the CRD (as upstream): an IPv6 /64 pool saturates rather than overflows.
        status["totalIPCount"] = min(pool.usable.count(), INT64_MAX)
        grows = len(records) > len(pool.records)
        body = ceiling.encode(pool.name, {**obj, "status": status}, grows, self.max_pool_bytes)
        self.client.request("PUT", f"{GROUP}/spiderippools/{_q(pool.name)}/status", body)
        self.stats.writes += 1
        self.stats.count(pool.name, 0)
