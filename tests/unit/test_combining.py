"""Per-node combining (docs/ipam.md, "Combining") on the in-memory API server
(tests/unit/fake_transport.py): the pure decision of several requests on one snapshot,
and the queue protocol between a pool lock's holder and its waiters, killed at each
point.

A *waiter* here is the test's main thread in ``Store.combine`` (blocked on the pool's
``flock``, as a process of the node is); the *holder* is a thread that holds the lock
the test took, decides the queue (``Store._hold``) and lets the lock go, as another
process would. Requests queued by the test itself stand for further live waiters
(their shared lock held) or dead ones (closed). The same protocol runs through the
frozen binary against the real apiserver in tests/integration/test_ipam_combining.py.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from spidernet.alloc import choosing, combined
from spidernet.alloc.failures import InDoubt
from spidernet.alloc.pools import Pool
from spidernet.alloc.selection import PodView
from spidernet.ipam import combining, locking
from spidernet.ipam.recording import release_uid
from spidernet.ipam.store import GROUP, Store
from spidernet.ipmath.ranges import RangeSet
from spidernet.types.record import replace
from tests.unit.fake_transport import Crash, FakeApi

POOL = f"{GROUP}/spiderippools/p4"
POOL_WRITE = r"/spiderippools/p4/status$"
VIEW = PodView("ns", {}, "node-a", None, None, "")


def take(uid: str, reserved: RangeSet | None = None) -> combined.Take:
    return combined.Take(f"ns/{uid}", uid, 4, VIEW, reserved or RangeSet(4))


@pytest.fixture
def api() -> FakeApi:
    api = FakeApi()
    spec = {"ipVersion": 4, "subnet": "10.0.0.0/24", "ips": ["10.0.0.10-10.0.0.19"]}
    api.put_object(POOL, {"spec": spec})
    return api


@pytest.fixture
def locks(tmp_path: Path) -> str:
    return str(tmp_path)


def holders(api: FakeApi) -> dict[str, str]:
    """uid -> address, of the records that hold one."""
    pool = Pool.parse(api.object(POOL) or {})
    return {r.pod_uid: ip for ip, r in pool.records.items() if not r.cooling}


def pool_writes(api: FakeApi) -> int:
    return sum(1 for w in api.writes if w.endswith("/spiderippools/p4/status"))


class Holder:
    """Another process of the node: it holds the pool lock from now on; once ``expect``
    requests are queued it runs ``act`` (by default, holds for the queue with a request of its own),
    then lets the lock go."""

    def __init__(
        self, api: FakeApi, locks: str, act: Callable[[], Any] | None = None, expect: int = 1
    ) -> None:
        self.expect = expect  # requests queued before it acts
        self.lock = locking.NodeLock.pool(locks, "p4")
        assert self.lock.try_acquire()
        self.queue = combining.Queue(locks, "p4")
        self.store = Store(api, locks)
        self.act = act or (lambda: self.store._hold("p4", self.queue, take("holder"), None, None))
        self.outcome: Any = None
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        try:
            deadline = time.monotonic() + 5
            while not self._queued() and time.monotonic() < deadline:
                time.sleep(0.001)
            self.outcome = self.act()
        except BaseException as e:  # Crash: the holder process died here
            self.outcome = e
        finally:
            self.lock.release()

    def _queued(self) -> bool:
        names = os.listdir(self.queue.dir) if os.path.isdir(self.queue.dir) else []
        return sum(1 for n in names if n.endswith(".req")) >= self.expect

    def join(self) -> Any:
        self.thread.join(10)
        return self.outcome


# ------------------------------------------------------------------ the pure decision


def test_requests_decided_together_get_what_each_would_get_deciding_alone_in_turn(
    api: FakeApi,
) -> None:
    pool = Pool.parse(api.object(POOL) or {})
    reserved = RangeSet.parse(["10.0.0.11"], 4)
    requests: list[combined.Request] = [take("a"), take("b", reserved), take("a"), take("c")]
    records, outcomes = combined.decide_all(pool, requests, now=0.0)
    alone = pool
    expected = []
    for req in requests:
        new, outcome = combined.decide(alone, req, now=0.0)
        expected.append(outcome)
        if new is not None:
            alone = replace(alone, records=new)
    assert outcomes == expected
    assert records == dict(alone.records)
    ips = [o.ip for o in outcomes if isinstance(o, choosing.Choice)]
    assert ips == ["10.0.0.10", "10.0.0.12", "10.0.0.10", "10.0.0.11"]  # a: reused


def test_a_full_pool_answers_each_take_with_the_reason_and_writes_nothing(api: FakeApi) -> None:
    pool = Pool.parse(api.object(POOL) or {})
    full = RangeSet.parse(["10.0.0.10-10.0.0.19"], 4)
    records, outcomes = combined.decide_all(pool, [take("a", full), take("b", full)], now=0.0)
    assert records is None
    assert all(isinstance(o, str) and o.startswith("exhausted") for o in outcomes)


def test_requests_and_outcomes_survive_their_trip_between_processes() -> None:
    view = PodView("ns", {"app": "web"}, "n1", {"zone": "a"}, None, "kube-system/macvlan")
    reqs: list[combined.Request] = [
        combined.Take(
            "ns/w", "u1", 4, view, RangeSet.parse(["10.0.0.1-10.0.0.3"], 4), frozenset({"10.0.0.9"})
        ),
        combined.Give("u2", frozenset({"10.0.0.4"}), frozenset({"10.0.0.5"}), 30.0),
        combined.Give("u3"),
    ]
    for req in reqs:
        assert combined.decode(combined.encode(req)) == req
    for out in (choosing.Choice("10.0.0.1", False, 2), "exhausted (10 usable)", 3):
        assert combined.outcome_of(combined.outcome_json(out)) == out


# ------------------------------------------------------------------ the queue protocol


def test_a_waiters_request_is_written_with_the_holders_in_one_compare_and_swap(
    api: FakeApi, locks: str
) -> None:
    holder = Holder(api, locks, expect=3)
    others = [holder.queue.enter(take(f"other{i}")) for i in range(2)]  # two more live waiters
    store = Store(api, locks)
    got = store.combine("p4", take("waiter"))
    assert isinstance(holder.join(), choosing.Choice)
    answers = [holder.queue.answer_for(t) for t in others]
    assert isinstance(got, choosing.Choice) and not got.reused
    assert store.stats.combined == 1 and holder.store.stats.served == 3
    assert pool_writes(api) == 1
    owned = holders(api)
    assert set(owned) == {"holder", "waiter", "other0", "other1"}
    assert len(set(owned.values())) == 4  # one address each
    assert owned["waiter"] == got.ip
    assert [a.ip for a in answers if isinstance(a, choosing.Choice)] == [
        owned["other0"],
        owned["other1"],
    ]
    for t in others:
        holder.queue.leave(t)
    assert os.listdir(holder.queue.dir) == []


def test_a_dead_waiters_request_is_dropped_unanswered(api: FakeApi, locks: str) -> None:
    queue = combining.Queue(locks, "p4")
    dead = queue.enter(take("dead"))
    os.close(dead.fd)  # the process died: the kernel dropped its shared lock
    store = Store(api, locks)
    got = store.combine("p4", take("alive"))
    assert isinstance(got, choosing.Choice)
    assert set(holders(api)) == {"alive"} and store.stats.served == 0
    assert os.listdir(queue.dir) == []


def test_a_request_still_being_written_is_left_to_its_waiter(api: FakeApi, locks: str) -> None:
    queue = combining.Queue(locks, "p4")
    os.makedirs(queue.dir)
    young = os.path.join(queue.dir, "1-young.tmp")  # created, not yet locked nor renamed
    old = os.path.join(queue.dir, "2-old.tmp")  # a waiter that died while writing
    for path in (young, old):
        with open(path, "w"):
            pass
    past = time.time() - combining.STALE - 1
    os.utime(old, (past, past))
    assert isinstance(Store(api, locks).combine("p4", take("holder")), choosing.Choice)
    assert os.listdir(queue.dir) == ["1-young.tmp"]


def test_a_holder_killed_before_its_write_leaves_the_waiter_to_decide_itself(
    api: FakeApi, locks: str
) -> None:
    api.schedule("crash", "PUT", POOL_WRITE)

    def die_then_next_process() -> None:
        try:
            holder.store._hold("p4", holder.queue, take("holder"), None, None)
        finally:
            api.revive()  # the waiter is another process: its requests reach the server

    holder = Holder(api, locks, die_then_next_process)
    store = Store(api, locks)
    got = store.combine("p4", take("waiter"))
    assert isinstance(holder.join(), Crash)
    assert isinstance(got, choosing.Choice) and not got.reused
    assert holders(api) == {"waiter": got.ip} and store.stats.combined == 0


def test_a_holder_killed_after_its_write_before_the_answers_leaves_a_record_the_waiter_reuses(
    api: FakeApi, locks: str
) -> None:
    def write_then_die() -> None:
        holder.queue.answer = _die  # type: ignore[method-assign]
        holder.store._hold("p4", holder.queue, take("holder"), None, None)

    holder = Holder(api, locks, write_then_die)
    store = Store(api, locks)
    got = store.combine("p4", take("waiter"))
    assert isinstance(holder.join(), Crash)
    written = holders(api)
    assert set(written) == {"holder", "waiter"}
    assert isinstance(got, choosing.Choice) and got.reused and got.ip == written["waiter"]
    assert pool_writes(api) == 1  # the waiter's own decision wrote nothing new


def _die(*_: object) -> None:
    raise Crash("killed before the answers")


def test_a_waiter_out_of_budget_in_the_queue_is_in_doubt_and_leaves_it(
    api: FakeApi, locks: str
) -> None:
    holder = Holder(api, locks, lambda: time.sleep(0.5))  # holds the lock past the budget
    api.revive(seconds=0.2)
    store = Store(api, locks)
    with pytest.raises(InDoubt):
        store.combine("p4", take("waiter"))
    holder.join()
    assert os.listdir(holder.queue.dir) == []


def test_a_release_waiting_in_the_queue_is_written_by_the_holder(api: FakeApi, locks: str) -> None:
    first = Store(api, locks)
    got = first.combine("p4", take("leaving"))
    assert isinstance(got, choosing.Choice)
    holder = Holder(api, locks)
    store = Store(api, locks)
    assert release_uid(store, "p4", "leaving", {got.ip}) == 1
    holder.join()
    assert set(holders(api)) == {"holder"} and store.stats.combined == 1


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    before = set(threading.enumerate())  # the suite's own (log pumps, servers) stay
    yield
    assert set(threading.enumerate()) <= before
