"""The GC while the IPAM works, and in the recovery story of docs/gc.md, on a real apiserver.

| case     | set-up                                             | expected                         |
|----------|----------------------------------------------------|----------------------------------|
| race     | GC passes in a loop (a separate process,           | every live pod holds its record  |
|          | --interval, --min-age 1) while ADD/DEL cycles run  | whenever looked at and at the    |
|          | through the frozen IPAM from 4 simulated nodes;    | end; one holder per address (I1  |
|          | some cycles leak: SIGKILL after the pool write and | and no sharing); no pass errs;   |
|          | no DEL, a pod deleted without its DEL, a pod       | at the end every leaked record   |
|          | re-created under its name before its DEL           | and endpoint is gone             |
| recovery | 10 nodes x 5 pods on a pool of exactly 50; 3 nodes | replacements refused (exhausted) |
|          | lose power (NotReady, their pods evicted:          | before the GC; one pass frees    |
|          | Terminating, never confirmed); 15 replacements     | exactly the 15 dead pods'        |
|          |                                                    | records (and endpoints); then    |
|          |                                                    | all 15 replacements ADD          |
Default suite: 40 race cycles; ``SPIDERNET_GC_RACE_CYCLES=200 tools/test.sh -m slow -k race`` the
long run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gc_scenarios import GcEnv, gc_cluster, quick_budget  # noqa: F401
from tools.testbed import invariants, paths
from tools.testbed.cluster import Cluster
from tools.testbed.cni import PodRef

pytestmark = [pytest.mark.apiserver]


@pytest.fixture
def env(gc_cluster: Cluster, tmp_path: Path, bundle_bin: Path) -> GcEnv:  # noqa: F811
    return GcEnv(gc_cluster, tmp_path)


# ------------------------------------------------------------------ the race


class GcLoop:
    """The GC as the CronJob would run it, but a pass every ``interval`` s: a process, stopped by
    SIGTERM."""

    def __init__(self, env: GcEnv, interval: float, min_age: float) -> None:
        argv = [
            sys.executable,
            "gc/main.py",
            "--kubeconfig",
            str(env.cp.kubeconfig),
            "--interval",
            str(interval),
            "--min-age",
            str(min_age),
            "--state-namespace",
            env.ns,
            "--ipam-config",
            quick_budget(env.base),
        ]
        self.out = env.base / "gc-loop.json"  # a file, not a pipe: nobody reads it before the end
        with open(self.out, "w") as out:
            self.proc = subprocess.Popen(
                argv,
                cwd=paths.REPO,
                stdout=out,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": str(paths.REPO)},
            )

    def stop(self) -> list[dict[str, Any]]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)
        out = self.out.read_text()
        reports, decoder, at = [], json.JSONDecoder(), 0
        while at < len(out.rstrip()):
            report, at = decoder.raw_decode(out, at)
            reports.append(report)
            while at < len(out) and out[at].isspace():
                at += 1
        return reports


@dataclass
class Race:
    env: GcEnv
    pool: str
    nodes: list[str]
    rng: random.Random
    live: dict[str, tuple[PodRef, str, str]] = field(
        default_factory=dict
    )  # name -> (ref, node, ip)
    lost: list[str] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def holders(self) -> dict[str, str]:
        return self.env.holders(self.pool)

    def check_live(self) -> None:
        """Every pod alive with an address still holds it for its UID (the GC must never take
        it)."""
        with self.lock:
            live = list(self.live.values())
        holders = self.holders()
        self.lost += [
            f"{ref.name} {ip}"
            for ref, _, ip in live
            if holders.get(ip) != ref.uid and self._still_alive(ref)
        ]

    def _still_alive(self, ref: PodRef) -> bool:
        with self.lock:
            return ref.name in self.live and self.live[ref.name][0].uid == ref.uid

    def cycle(self, n: int) -> None:
        node = self.rng.choice(self.nodes)
        ref = self.env.pod(f"c{n}", node)
        fate = self.rng.choices(["normal", "crash", "vanish", "recreate", "stay"], [5, 1, 1, 1, 1])[
            0
        ]
        self.stats[fate] += 1
        rt = self.env.runtimes[node]
        if (
            fate == "crash"
        ):  # killed between the pool write and the endpoint write; the runtime never DELs
            rt.add(ref, ref.container_id, failpoint="after-pool-write")
            self.env.delete_pod(ref)
            return
        out = rt.add(ref, ref.container_id)
        if not out.ok:
            self.stats[f"ADD failed {out.code}"] += 1
            rt.delete(ref, ref.container_id)
            self.env.delete_pod(ref)
            return
        with self.lock:
            self.live[ref.name] = (ref, node, out.ips()[0])
        time.sleep(self.rng.uniform(0, 0.3))
        self.check_live()
        if fate == "stay":
            return
        with self.lock:
            del self.live[ref.name]
        self.env.delete_pod(ref)
        if fate == "vanish":  # the node never ran the DEL
            return
        if fate == "recreate":  # the next pod of that name comes before the old sandbox's DEL
            new = self.env.pod(ref.name, node)
            got = rt.add(new, new.container_id)
            if got.ok:
                with self.lock:
                    self.live[new.name] = (new, node, got.ips()[0])
        assert rt.delete(ref, ref.container_id).ok


def race_cycles() -> int:
    return int(os.environ.get("SPIDERNET_GC_RACE_CYCLES", "40"))


def run_race(env: GcEnv, cycles: int) -> None:
    seed = random.randrange(2**32)
    print(f"\nGC race: seed {seed}, {cycles} cycles")
    pool = env.name("pool")
    env.cluster.pool(pool, "10.230.0.0/20", ["10.230.0.10-10.230.3.250"])
    nodes = [env.node(f"n{i}", pool=pool, failed_add_cooldown=0).name for i in range(4)]
    race = Race(env, pool, nodes, random.Random(seed))
    loop = GcLoop(env, interval=0.3, min_age=1.0)
    try:
        with ThreadPoolExecutor(6) as ex:
            for f in [ex.submit(race.cycle, n) for n in range(cycles)]:
                f.result()
        race.check_live()
        time.sleep(4.0)  # > the allocation budget (2 s) plus two passes: the last leaks go
    finally:
        reports = loop.stop()
    race.check_live()
    assert race.lost == [], f"seed {seed}: live pods lost their records: {race.lost}"
    snap = invariants.snapshot(env.cp, [pool], env.ns)
    assert snap.violations() == [], f"seed {seed}"
    assert snap.leaked() == [], f"seed {seed}: leaks left: {snap.leaked()}"
    live_uids = {ref.uid for ref, _, _ in race.live.values()}
    assert set(snap.holders().values()) == live_uids
    errors = [e for r in reports for e in r["errors"]]
    assert errors == [], f"seed {seed}"
    released = Counter(i["reason"] for r in reports for i in r["released"])
    leaks = race.stats["crash"] + race.stats["vanish"]
    assert sum(released.values()) >= leaks, (released, race.stats)
    print(f"GC race: {len(reports)} passes, released {dict(released)}, cycles {dict(race.stats)}")


def test_gc_passes_racing_add_and_del_cycles_never_take_a_live_pods_record(env: GcEnv) -> None:
    run_race(env, race_cycles())


@pytest.mark.slow
def test_gc_passes_racing_200_add_and_del_cycles_never_take_a_live_pods_record(env: GcEnv) -> None:
    run_race(env, max(200, race_cycles()))


# ------------------------------------------------------------------ the seed's recovery story


def test_after_3_of_10_nodes_lose_power_one_pass_frees_exactly_their_pods_addresses(
    env: GcEnv,
) -> None:
    per_node, size = 5, 50
    pool = env.name("pool")
    last = 10 + size - 1
    env.cluster.pool(
        pool, "10.231.0.0/24", [f"10.231.0.10-10.231.0.{last}"]
    )  # exactly as many IPs as pods
    nodes = [env.node(f"n{i}", pool=pool).name for i in range(10)]
    with ThreadPoolExecutor(4) as ex:
        placed = list(
            ex.map(
                lambda i: (nodes[i // per_node], env.running_pod(f"app-{i}", nodes[i // per_node])),
                range(size),
            )
        )
    assert len(env.holders(pool)) == size
    dead_nodes = set(nodes[:3])
    dead = {ip: ref.uid for node, (ref, ip) in placed if node in dead_nodes}
    for node in dead_nodes:
        env.set_ready(node, False)  # power cut: the node controller marks them NotReady...
    for node, (ref, _) in placed:
        if node in dead_nodes:
            env.delete_pod(
                ref, grace=1
            )  # ...and evicts their pods, which stay Terminating: no kubelet confirms
    healthy = [n for n in nodes if n not in dead_nodes]
    replacements = [env.pod(f"app-new-{i}", healthy[i % len(healthy)]) for i in range(len(dead))]
    first = env.runtimes[healthy[0]].add(replacements[0], replacements[0].container_id)
    assert first.code == 100, first.result  # the pool is full of zombies: exhausted
    time.sleep(2.5)  # past deletionTimestamp + grace (1 s) + the default delay 0

    result = env.gc()
    assert result.rc == 0, result.report["errors"]
    released = {i["ip"]: i["uid"] for i in result.report["released"] if i["pool"] == pool}
    assert released == dead
    assert {i["reason"] for i in result.report["released"] if i["pool"] == pool} == {
        "pod-terminating-node-not-ready"
    }
    assert {e["endpoint"] for e in result.report["endpointsDeleted"]} == {
        f"{env.ns}/{ref.name}" for node, (ref, _) in placed if node in dead_nodes
    }

    with ThreadPoolExecutor(4) as ex:
        outs = list(
            ex.map(
                lambda i: env.runtimes[healthy[i % len(healthy)]].add(
                    replacements[i], replacements[i].container_id
                ),
                range(len(replacements)),
            )
        )
    assert [o.code for o in outs if not o.ok] == []
    assert sorted(ip for o in outs for ip in o.ips()) == sorted(dead)
    snap = invariants.snapshot(env.cp, [pool], env.ns)
    assert snap.violations() == [] and len(snap.holders()) == size
