"""ADD, DEL, the GC verb and a GC pass through their failure paths, on the in-memory API server
(tests/unit/fake_transport.py): conflicts, timeouts and crashes at the named places.

The invariants (docs/ipam.md, I1 and its neighbours) after each fault:

| fault                                    | verb | expectation                                   |
|------------------------------------------|------|-----------------------------------------------|
| none                                     | ADD  | one record, the endpoint names it             |
| 409 on every pool write (conflict storm) | ADD  | Contended; no record, no endpoint, no note    |
| 409 on every endpoint write              | ADD  | Contended; the record stays, the note names   |
|                                          |      | it, the DEL releases it                       |
| pool write applied, then its answer lost | ADD  | the record stays, no endpoint, the note names |
| (timeout) or the process dead (crash)    |      | the pool: the pod's retry reuses the record;  |
|                                          |      | else the DEL or the GC verb releases it       |
| endpoint write applied, answer lost      | ADD  | Unavailable; the retry answers the same IP    |
| the pool full of live pods               | ADD  | Exhausted at once (no wait)                   |
| the pool full, a record's pod terminating| ADD  | waits; the address its DEL frees              |
| the pool full, releases due, budget short| ADD  | Exhausted naming the wait; nothing written    |
| 409 on every endpoint write              | DEL  | Contended; the endpoint still names the       |
|                                          |      | address and its record is still there (I1)    |
| crash between endpoint and pool release  | DEL  | the next DEL releases the record              |
| none (the pod deleted, no DEL)           | pass | endpoint first, then the record; an Event     |
| 409 on every pool write                  | pass | the object's error; the endpoint is gone, the |
|                                          |      | record stays; the next pass releases it       |
| crash between endpoint and pool write    | pass | the next pass releases the record             |
| pool write applied, its answer lost      | pass | the object's error; the next pass has nothing |
|                                          |      | to do                                         |

Each storm prints how many conflicts it ran. The same contract runs against a real
kube-apiserver in tests/integration (test_ipam_safety.py, test_ipam_faults.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from spidernet.alloc.failures import Contended, Exhausted
from spidernet.alloc.pools import Pool, Record, records_json
from spidernet.gc import collecting, rules
from spidernet.gc.report import Report
from spidernet.ipam import adding, cluster, config, releasing, waiting
from spidernet.ipam.attachments import Notes
from spidernet.ipam.recording import release_uid
from spidernet.ipam.store import GROUP, Store
from spidernet.k8s import errors as kerr
from spidernet.protocol import logs
from spidernet.protocol.env import CmdArgs
from spidernet.types import netconf
from tests.unit.fake_transport import Crash, FakeApi

NODE = "node-a"
POOL = f"{GROUP}/spiderippools/p4"
ENDPOINT = f"{GROUP}/namespaces/ns/spiderendpoints/web"
POOL_WRITE = r"/spiderippools/p4/status$"
ENDPOINT_WRITE = r"/spiderendpoints"
WRITES = "POST|PUT|DELETE"
# A storm ends when the next backoff sleep would pass the deadline (Contended) or, under
# load, when the request after the last sleep finds it passed (BudgetSpent): code 11 both.
BUDGET_SPENT = (Contended, kerr.BudgetSpent)
STORM_BUDGET = 0.2  # s: the verb's deadline under a storm (backoff 10, 20, 40, 80 ms fit)


@dataclass
class World:
    api: FakeApi
    conf: config.IpamConf
    uid: str

    def store(self) -> Store:
        return Store(self.api, self.conf.lock_dir)

    def cmd(self, verb: str, container: str = "c1") -> CmdArgs:
        args = {"K8S_POD_NAMESPACE": "ns", "K8S_POD_NAME": "web", "K8S_POD_UID": self.uid}
        return CmdArgs(verb, container, "/var/run/netns/web", "eth0", args=args)

    def add(self, container: str = "c1") -> str:
        result = adding.add(self.cmd("ADD", container), self.conf, self.store())
        return result.ips[0].address.split("/")[0]

    def delete(self, container: str = "c1") -> None:
        cmd = self.cmd("DEL", container)
        releasing.delete(cmd, self.conf, self.store(), sent_prev=False, spec_040=True)

    def held(self) -> set[str]:
        """Addresses the pool records for the pod (cooling records hold none)."""
        pool = Pool.parse(self.api.object(POOL) or {})
        return {ip for ip, r in pool.records.items() if r.holds_for(self.uid)}

    def named(self) -> set[str]:
        """Addresses the pod's endpoint names."""
        ep = self.api.object(ENDPOINT)
        details = ((ep or {}).get("status") or {}).get("current", {}).get("ips") or []
        return {str(d["ipv4"]).split("/")[0] for d in details}

    def notes(self) -> list[str]:
        return [f"{n.container_id} {n.state}" for n in Notes(self.conf.state_dir).all()]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    logs.LOG.held.clear()
    for d in ("locks", "state"):
        (tmp_path / d).mkdir()
    (tmp_path / "nodename").write_text(NODE)
    site = cluster.ClusterConf(
        kubeconfig=str(tmp_path / "kubeconfig"),
        lock_dir=str(tmp_path / "locks"),
        state_dir=str(tmp_path / "state"),
        max_failed_add_cooldown=0,
    )
    raw = {
        "cniVersion": "1.0.0",
        "name": "net",
        "type": "macvlan",
        "ipam": {"type": "spiderpool", "default_ipv4_ippool": ["p4"], "failed_add_cooldown": 0},
    }
    conf = config.parse(netconf.parse(raw, "1.0.0"), site, adding=True)
    api = FakeApi()
    api.put_object("/api/v1/namespaces/ns", {"metadata": {}})
    pod = api.put_object("/api/v1/namespaces/ns/pods/web", _pod())
    api.put_object(POOL, _pool(["10.0.0.10-10.0.0.12"]))
    yield World(api, conf, pod["metadata"]["uid"])
    logs.LOG.held.clear()


def _pod() -> dict[str, Any]:
    return {"metadata": {"namespace": "ns"}, "spec": {"nodeName": NODE}, "status": {}}


def _pool(ips: list[str]) -> dict[str, Any]:
    return {"spec": {"ipVersion": 4, "subnet": "10.0.0.0/24", "ips": ips}}


# ------------------------------------------------------------------ ADD


def test_a_quiet_add_records_the_address_the_endpoint_names(world: World) -> None:
    ip = world.add()
    assert world.held() == world.named() == {ip}
    assert world.notes() == ["c1 attached"]


def test_a_conflict_storm_on_the_pool_spends_the_budget_and_writes_nothing(world: World) -> None:
    world.api.revive(seconds=STORM_BUDGET)
    storm = world.api.schedule("conflict", "PUT", POOL_WRITE, times=10**6)
    with pytest.raises(BUDGET_SPENT):
        world.add()
    print(f"conflicts answered: {storm.hit}")
    assert storm.hit >= 1  # how many fit in the budget depends on the load: printed
    assert world.held() == set() and world.api.object(ENDPOINT) is None
    assert world.notes() == []  # rolled back: nothing for a DEL to do


def test_a_conflict_storm_on_the_endpoint_leaves_a_record_the_del_releases(world: World) -> None:
    world.api.revive(seconds=STORM_BUDGET)
    storm = world.api.schedule("conflict", WRITES, ENDPOINT_WRITE, times=10**6)
    with pytest.raises(BUDGET_SPENT):
        world.add()
    print(f"conflicts answered: {storm.hit}")
    assert world.api.object(ENDPOINT) is None
    assert len(world.held()) == 1 and world.notes() == ["c1 adding"]
    world.api.revive()
    world.delete()
    assert world.held() == set() and world.notes() == []


IN_DOUBT = {"timeout": kerr.Unavailable, "crash": Crash}


def cut_pool_write(world: World, fault: str) -> None:
    """An ADD whose pool write applied but whose answer never came back (``timeout``:
    the API unreachable till the deadline) or whose process died right after it
    (``crash``): the record is there, no endpoint names it, the note names its pool."""
    world.api.schedule(fault, "PUT", POOL_WRITE, applied=True)
    with pytest.raises(IN_DOUBT[fault]):
        world.add()
    assert world.held() == {"10.0.0.10"} and world.api.object(ENDPOINT) is None
    assert world.notes() == ["c1 adding"]
    world.api.revive()


@pytest.mark.parametrize("fault", IN_DOUBT)
def test_a_pool_write_in_doubt_is_reused_by_the_pods_retry(world: World, fault: str) -> None:
    cut_pool_write(world, fault)
    assert world.add("c2") == "10.0.0.10"  # the kubelet's next sandbox
    assert world.held() == world.named() == {"10.0.0.10"}


@pytest.mark.parametrize("fault", IN_DOUBT)
def test_a_pool_write_in_doubt_is_released_by_the_del(world: World, fault: str) -> None:
    cut_pool_write(world, fault)
    world.delete()
    assert world.held() == set() and world.notes() == []


@pytest.mark.parametrize("fault", IN_DOUBT)
def test_a_pool_write_in_doubt_is_released_by_the_gc_verb(world: World, fault: str) -> None:
    cut_pool_write(world, fault)
    raw = {"cniVersion": "1.1.0", "name": "net", "type": "macvlan", "cni.dev/valid-attachments": []}
    releasing.gc(world.conf, netconf.parse(raw, "1.1.0"), world.store())
    assert world.held() == set() and world.notes() == []


def test_an_endpoint_write_whose_answer_is_lost_is_answered_again_by_the_retry(
    world: World,
) -> None:
    world.api.schedule("timeout", "POST", ENDPOINT_WRITE, applied=True)
    with pytest.raises(kerr.Unavailable):
        world.add()
    assert world.held() == world.named() == {"10.0.0.10"}
    world.api.revive()
    assert world.add() == "10.0.0.10"
    assert world.held() == world.named() == {"10.0.0.10"}


def fill(world: World, *terminating: int) -> dict[str, str]:
    """The pool's three addresses held by three other pods (those at the ``terminating``
    indexes being deleted); returns ip -> the pod's name."""
    records, owners = {}, {}
    for i, ip in enumerate(("10.0.0.10", "10.0.0.11", "10.0.0.12")):
        meta: dict[str, Any] = {"namespace": "ns"}
        if i in terminating:
            meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        pod = world.api.put_object(f"/api/v1/namespaces/ns/pods/o{i}", {**_pod(), "metadata": meta})
        records[ip] = Record(f"ns/o{i}", pod["metadata"]["uid"])
        owners[ip] = pod["metadata"]["uid"]
    obj = world.api.object(POOL) or {}
    world.api.objects[POOL]["status"] = {
        **(obj.get("status") or {}),
        "allocatedIPs": records_json(records),
    }
    return owners


def test_a_pool_full_of_live_pods_fails_at_once_with_code_100(world: World) -> None:
    fill(world)
    started = time.monotonic()
    with pytest.raises(Exhausted) as e:
        world.add()
    assert time.monotonic() - started < waiting.FIRST  # no wait
    assert "waited" not in str(e.value)


def test_a_full_pool_with_a_terminating_pods_record_waits_for_its_release(world: World) -> None:
    owners = fill(world, 1)
    world.api.revive(seconds=15)  # rounds of 0.5, 1 and 2 s fit, with the margin
    leaving = threading.Timer(0.3, lambda: release_uid(world.store(), "p4", owners["10.0.0.11"]))
    leaving.start()  # the terminating pod's DEL, on another node
    try:
        assert world.add() == "10.0.0.11"
    finally:
        leaving.join()
    assert world.held() == world.named() == {"10.0.0.11"}


def test_a_wait_for_releases_ends_with_code_100_before_the_budget(world: World) -> None:
    fill(world, 0, 1, 2)
    world.api.revive(seconds=waiting.MARGIN + 1.5)
    with pytest.raises(Exhausted) as e:
        world.add()
    assert "waited" in str(e.value)
    assert world.notes() == []  # nothing written, nothing for a DEL to do


# ------------------------------------------------------------------ DEL


def test_a_conflict_storm_under_a_del_leaves_the_address_named_and_recorded(
    world: World,
) -> None:
    ip = world.add()
    world.api.revive(seconds=STORM_BUDGET)
    storm = world.api.schedule("conflict", WRITES, ENDPOINT_WRITE, times=10**6)
    with pytest.raises(BUDGET_SPENT):
        world.delete()
    print(f"conflicts answered: {storm.hit}")
    assert world.named() == world.held() == {ip}  # I1: nothing half-released
    world.api.revive()
    world.delete()
    assert world.held() == world.named() == set()


def test_a_del_that_dies_after_the_endpoint_went_is_finished_by_the_next(world: World) -> None:
    world.add()
    world.api.schedule("crash", "DELETE", ENDPOINT_WRITE, applied=True)
    with pytest.raises(Crash):
        world.delete()
    assert world.api.object(ENDPOINT) is None and world.held() == {"10.0.0.10"}
    world.api.revive()
    world.delete()
    assert world.held() == set() and world.notes() == []


# ------------------------------------------------------------------ GC pass


def gc_pass(world: World) -> Report:
    """One pass of the GC CronJob's code, judging at once (no memory, no wait)."""
    opts = collecting.Options(knobs=rules.Knobs(min_age=0, allocation_budget=0))
    return collecting.run(world.api, opts, lock_dir=world.conf.lock_dir)


def zombie(world: World) -> str:
    """An address whose pod was deleted without its DEL (a node lost, say)."""
    ip = world.add()
    del world.api.objects["/api/v1/namespaces/ns/pods/web"]
    return ip


def test_a_quiet_gc_pass_releases_a_zombie_endpoint_first(world: World) -> None:
    ip = zombie(world)
    report = gc_pass(world)
    assert report.ok, report.errors
    assert [r["ip"] for r in report.released] == [ip]
    assert world.held() == world.named() == set()
    assert world.api.writes[-3:-1] == [f"DELETE {ENDPOINT}", f"PUT {POOL}/status"]


def test_a_conflict_storm_under_a_gc_pass_leaves_the_record_for_the_next(world: World) -> None:
    ip = zombie(world)
    world.api.revive(seconds=STORM_BUDGET)
    storm = world.api.schedule("conflict", "PUT", POOL_WRITE, times=10**6)
    report = gc_pass(world)
    print(f"conflicts answered: {storm.hit}")
    assert [e["object"] for e in report.errors] == ["SpiderIPPool/p4"]
    assert "budget spent" in report.errors[0]["message"]
    assert world.named() == set() and world.held() == {ip}  # endpoint first (I1)
    world.api.revive()
    assert gc_pass(world).ok
    assert world.held() == set()


def test_a_gc_pass_that_dies_between_endpoint_and_pool_is_finished_by_the_next(
    world: World,
) -> None:
    ip = zombie(world)
    world.api.schedule("crash", "PUT", POOL_WRITE)
    with pytest.raises(Crash):
        gc_pass(world)
    assert world.named() == set() and world.held() == {ip}
    world.api.revive()
    report = gc_pass(world)
    assert report.ok and [r["ip"] for r in report.released] == [ip]
    assert world.held() == set()


def test_a_gc_release_whose_answer_is_lost_is_reported_and_not_repeated(world: World) -> None:
    zombie(world)
    world.api.schedule("timeout", "PUT", POOL_WRITE, applied=True)
    report = gc_pass(world)
    assert [e["object"] for e in report.errors] == ["SpiderIPPool/p4"]
    assert world.held() == set()  # it did apply
    world.api.revive()
    again = gc_pass(world)
    assert again.ok and again.released == []
