"""A randomized fault run of the spiderpool IPAM: many rounds of concurrent verbs, crashes and
restarts. Does I/O.

What trusted allocators are tested with, against the frozen binary and the real
apiserver (the invariants of docs/ipam.md). Each round picks distinct pods and gives each one
operation, all running at once on several simulated nodes:
- ``new``      a pod with one or two NICs (Multus-shaped: one ADD per NIC; a failure
               DELs every NIC, as the runtime does);
- ``rebuild``  the pod's sandbox is replaced: DELs of the old one race the ADDs of the
               new one; half the time the old sandbox "failed later in the chain" (no
               cached result, so its DEL carries no prevResult);
- ``resend``   a DEL already answered is sent again (libcni: no prevResult now);
- ``unplug``   net1 leaves the pod's Multus annotation and is DEL'd;
- ``delete``   the pod is deleted, then its sandbox DEL'd;
- ``recreate`` the pod is force-deleted and re-created under its name with a new UID,
               maybe on another node, with or without K8S_POD_UID; a late ADD for it on
               the old node must be refused; the old sandbox's DEL comes later.
Any exec may be SIGKILLed at a failpoint; the apiserver is restarted during some
rounds. A DEL that fails is retried in a later round (kubelet retries), a failed ADD
is followed by its DEL. After every round, with nothing in flight, the invariants
are read back from the API: one holder per address, I1, and every sandbox the runtime
believes running holds its address for its pod. At the end every pod is deleted and
every DEL retried until it succeeds: nothing may be left but cooling records.
"""

from __future__ import annotations

import dataclasses
import json
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.ipam_exec import Outcome, Runtime
from tools.testbed import invariants
from tools.testbed.cluster import Cluster, NodeConfig
from tools.testbed.cni import PodRef

FAILPOINTS = (
    "before-pool-write",
    "after-pool-write",
    "after-endpoint-write",
    "after-endpoint-release",
)
NETWORKS = "k8s.v1.cni.cncf.io/networks"
NIC_NETWORK = {"eth0": "net-a", "net1": "net-b"}


@dataclass
class Pod:
    name: str
    uid: str
    node: int
    version: str
    nics: list[str]
    sandbox: str = ""
    gen: int = 0


@dataclass(frozen=True)
class Del:
    """A DEL the runtime still owes: the sandbox's pod identity, node, NIC and how it was sent."""

    ref: PodRef
    node: int
    nic: str
    version: str
    with_uid: bool


@dataclass
class Settings:
    rounds: int = 6
    width: int = 8  # operations per round, all at once
    nodes: int = 3
    pool_size: int = 60
    kill_rate: float = 0.12
    restart_rate: float = 0.2
    seed: int = 0


@dataclass
class FaultRun:
    cluster: Cluster
    base: Path
    ns: str
    s: Settings
    rng: random.Random = field(init=False)
    pool: str = field(init=False)
    nodes: list[NodeConfig] = field(default_factory=list)
    runtimes: dict[tuple[int, str], Runtime] = field(default_factory=dict)
    pods: dict[str, Pod] = field(default_factory=dict)
    live: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (uid, cid, nic) -> ip
    owed: list[Del] = field(default_factory=list)
    answered: list[Del] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _names: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.s.seed)
        self.pool = f"{self.ns}-pool"
        last = self.s.pool_size + 9
        self.cluster.pool(
            self.pool, "10.230.0.0/16", [f"10.230.0.10-10.230.{last // 256}.{last % 256}"]
        )
        ipam = {"default_ipv4_ippool": [self.pool], "failed_add_cooldown": 2, "release_timeout": 20}
        for i in range(self.s.nodes):
            name = f"{self.ns}-node{i}"
            self.cluster.node(name)
            self.nodes.append(NodeConfig.create(self.cluster.cp, name, self.base))
            for nic, network in NIC_NETWORK.items():
                self.runtimes[(i, nic)] = Runtime(self.nodes[i], network=network, ipam=ipam)

    # ------------------------------------------------------------ the run

    def run(self) -> Counter[str]:
        started = time.monotonic()
        for n in range(self.s.rounds):
            self.round(n)
            self.check()
        self.finish()
        self.stats["seconds"] = int(time.monotonic() - started)
        return self.stats

    def round(self, n: int) -> None:
        ops = [
            self.rng.choice(
                ["new", "new", "rebuild", "rebuild", "resend", "unplug", "delete", "recreate"]
            )
            for _ in range(self.s.width)
        ]
        victims = self.rng.sample(sorted(self.pods), min(len(self.pods), self.s.width))
        plan = [(op, victims.pop() if victims and op != "new" else None) for op in ops]
        owed, self.owed = self.owed, []
        restart = self.rng.random() < self.s.restart_rate
        with ThreadPoolExecutor(self.s.width + 2) as ex:
            futures = [ex.submit(self._op, op, name) for op, name in plan]
            futures += [ex.submit(self._del, d) for d in owed]
            if restart:
                time.sleep(self.rng.uniform(0.1, 1.0))
                self.cluster.cp.restart_apiserver(kill=self.rng.random() < 0.5)
                self.stats["apiserver restarts"] += 1
            for f in futures:
                f.result()
        self.stats["rounds"] += 1

    def _op(self, op: str, name: str | None) -> None:
        pod = self.pods.get(name) if name else None
        if pod is None and op != "resend":
            op = "new"
        elif op == "unplug" and pod is not None and "net1" not in pod.nics:
            op = "rebuild"
        self.stats[f"op {op}"] += 1
        getattr(self, f"_{op}")(pod)

    # ------------------------------------------------------------ operations

    def _patch(self, path: str, body: dict[str, Any]) -> None:
        status, reply = self.cluster.cp.request(
            "PATCH", path, body, content_type="application/merge-patch+json"
        )
        if status >= 300:
            raise RuntimeError(f"PATCH {path}: HTTP {status}: {reply}")

    def _create_pod(self, name: str, node: str, annotations: dict[str, str]) -> dict[str, Any]:
        try:
            return self.cluster.pod(self.ns, name, node, annotations=annotations)
        except RuntimeError as e:  # created, but the answer was lost in a restart
            if "HTTP 409" not in str(e):
                raise
            _status, reply = self.cluster.cp.request(
                "GET", f"/api/v1/namespaces/{self.ns}/pods/{name}"
            )
            return dict(reply)

    def _api(self, call: Any, *args: Any, **kw: Any) -> Any:
        """The harness's own API calls ride out an apiserver restart, as kubelet's do."""
        deadline = time.monotonic() + 90
        while True:
            try:
                return call(*args, **kw)
            except (
                OSError,
                RuntimeError,
            ) as e:  # URLError is an OSError; Cluster raises RuntimeError on 5xx
                # 4xx is final, except an admission plugin that could not reach its own
                # apiserver mid-restart (403 "... dial tcp ...: connection refused")
                if time.monotonic() > deadline or ("HTTP 4" in str(e) and "dial tcp" not in str(e)):
                    raise
                time.sleep(0.3)

    def _new(self, _: Pod | None) -> None:
        with self._lock:
            self._names += 1
            name = f"p{self._names}"
        node = self.rng.randrange(self.s.nodes)
        nics = ["eth0", "net1"] if self.rng.random() < 0.4 else ["eth0"]
        anno = (
            {NETWORKS: json.dumps([{"name": "net-b", "interface": "net1"}])}
            if "net1" in nics
            else {}
        )
        obj = self._api(self._create_pod, name, self.nodes[node].name, anno)
        pod = Pod(
            name, obj["metadata"]["uid"], node, self.rng.choice(["0.3.1", "0.4.0", "1.0.0"]), nics
        )
        with self._lock:
            self.pods[name] = pod
        self._sandbox(pod, with_uid=self.rng.random() < 0.8)

    def _sandbox(self, pod: Pod, *, with_uid: bool) -> None:
        """ADD a new sandbox NIC by NIC; on a failure DEL them all (as the runtime does)."""
        pod.gen += 1
        cid = pod.sandbox = f"{pod.name}-s{pod.gen}-{pod.uid[:4]}"
        ref = PodRef(self.ns, pod.name, pod.uid, cid)
        for nic in pod.nics:
            out = self._exec("ADD", ref, pod.node, nic, pod.version, with_uid)
            if not out.ok:
                self.stats[f"ADD failed code {out.code}" if not out.killed else "ADD killed"] += 1
                for n in pod.nics:
                    self._del(Del(ref, pod.node, n, pod.version, with_uid))
                return
            with self._lock:
                self.live[(pod.uid, cid, nic)] = out.ips()[0]

    def _rebuild(self, pod: Pod) -> None:
        if not pod.sandbox:
            self._sandbox(pod, with_uid=True)
            return
        old = PodRef(self.ns, pod.name, pod.uid, pod.sandbox)
        if (
            self.rng.random() < 0.5
        ):  # the old sandbox's ADD "failed later in the chain": nothing cached
            for nic in pod.nics:
                self.runtimes[(pod.node, nic)].cache.pop((old.container_id, nic), None)
        dels = [Del(old, pod.node, nic, pod.version, True) for nic in reversed(pod.nics)]
        with ThreadPoolExecutor(2) as ex:
            gone = ex.submit(lambda: [self._del(d) for d in dels])
            ex.submit(self._sandbox, pod, with_uid=True).result()
            gone.result()

    def _resend(self, _: Pod | None) -> None:
        with self._lock:
            done = self.rng.choice(self.answered) if self.answered else None
        if done is not None:
            self._del(done)

    def _unplug(self, pod: Pod) -> None:
        path = f"/api/v1/namespaces/{self.ns}/pods/{pod.name}"
        self._api(self._patch, path, {"metadata": {"annotations": {NETWORKS: "[]"}}})
        pod.nics = ["eth0"]
        self._del(
            Del(
                PodRef(self.ns, pod.name, pod.uid, pod.sandbox), pod.node, "net1", pod.version, True
            )
        )

    def _delete(self, pod: Pod) -> None:
        self._api(self.cluster.delete_pod, self.ns, pod.name)
        with self._lock:
            del self.pods[pod.name]
        for nic in reversed(pod.nics):
            self._del(
                Del(
                    PodRef(self.ns, pod.name, pod.uid, pod.sandbox),
                    pod.node,
                    nic,
                    pod.version,
                    True,
                )
            )

    def _recreate(self, pod: Pod) -> None:
        self._api(
            self.cluster.delete_pod, self.ns, pod.name
        )  # a force delete: Kubernetes takes the old sandbox as gone
        with self._lock:
            for key in [k for k in self.live if k[0] == pod.uid]:
                del self.live[key]
        old = [
            Del(
                PodRef(self.ns, pod.name, pod.uid, pod.sandbox),
                pod.node,
                nic,
                pod.version,
                self.rng.random() < 0.5,
            )
            for nic in pod.nics
        ]
        node = self.rng.randrange(self.s.nodes)
        obj = self._api(self._create_pod, pod.name, self.nodes[node].name, {})
        new = Pod(pod.name, obj["metadata"]["uid"], node, pod.version, ["eth0"])
        with self._lock:
            self.pods[pod.name] = new
        if node != pod.node:  # a late ADD on the old node, without a UID: must be refused
            late = self._exec(
                "ADD",
                PodRef(self.ns, pod.name, new.uid, f"late-{new.uid[:6]}"),
                pod.node,
                "eth0",
                new.version,
                False,
                kill=False,
            )
            self.stats[
                "late ADD refused"
                if late.code == 3
                else f"late ADD answered {late.returncode}/{late.code}"
            ] += 1
            assert not late.ok, f"a late ADD on the old node was answered: {late.result}"
        self._sandbox(new, with_uid=self.rng.random() < 0.5)
        with self._lock:
            self.owed.extend(old)  # the old node's runtime DELs the old sandbox later

    # ------------------------------------------------------------ execs

    def _exec(
        self,
        verb: str,
        ref: PodRef,
        node: int,
        nic: str,
        version: str,
        with_uid: bool,
        kill: bool = True,
    ) -> Outcome:
        point = self.rng.choice(FAILPOINTS) if kill and self.rng.random() < self.s.kill_rate else ""
        rt = self.runtimes[(node, nic)]
        call = rt.add if verb == "ADD" else rt.delete
        out = call(ref, ref.container_id, nic, version=version, with_uid=with_uid, failpoint=point)
        self.stats[f"{verb}s"] += 1
        if out.killed:
            self.stats[f"killed at {point}"] += 1
        assert out.killed or out.code != 999, (
            f"{verb} answered 999: {out.result} {out.stderr[-500:]}"
        )
        return out

    def _del(self, d: Del) -> None:
        out = self._exec("DEL", d.ref, d.node, d.nic, d.version, d.with_uid)
        with self._lock:
            self.live.pop((d.ref.uid, d.ref.container_id, d.nic), None)
            (self.answered if out.ok else self.owed).append(d)
        if not out.ok:
            self.stats[
                "DEL failed (retried later)" if not out.killed else "DEL killed (retried later)"
            ] += 1

    # ------------------------------------------------------------ checks

    def check(self) -> None:
        snap = invariants.snapshot(self.cluster.cp, [self.pool], self.ns)
        problems = snap.violations()
        holders = snap.holders()
        by_ip: dict[str, set[str]] = {}
        for (uid, cid, nic), ip in self.live.items():
            by_ip.setdefault(ip, set()).add(uid)
            if holders.get((self.pool, ip)) != uid:
                problems.append(
                    f"running sandbox {cid} {nic} of {uid} has {ip}, held by "
                    f"{holders.get((self.pool, ip))}"
                )
        problems += [
            f"{ip} is in running sandboxes of {sorted(u)}" for ip, u in by_ip.items() if len(u) > 1
        ]
        assert problems == [], f"seed {self.s.seed}, round {self.stats['rounds']}: {problems}"
        self.stats["invariant checks"] += 1

    def finish(self) -> None:
        """Every pod deleted, every owed DEL retried until it succeeds: nothing but cooling records
        may stay."""
        for pod in list(self.pods.values()):
            self.cluster.delete_pod(self.ns, pod.name)
            for nic in pod.nics:
                self.owed.append(
                    Del(
                        PodRef(self.ns, pod.name, pod.uid, pod.sandbox),
                        pod.node,
                        nic,
                        pod.version,
                        True,
                    )
                )
        self.pods.clear()
        for _ in range(20):
            owed, self.owed = self.owed, []
            if not owed:
                break
            saved, self.s.kill_rate = self.s.kill_rate, 0.0
            with ThreadPoolExecutor(self.s.width) as ex:
                list(ex.map(self._del, owed))
            self.s.kill_rate = saved
        assert self.owed == [], f"DELs still failing: {self.owed[:5]}"
        snap = invariants.snapshot(self.cluster.cp, [self.pool], self.ns)
        assert snap.violations() == [] and snap.leaked() == [], (snap.violations(), snap.leaked())
        self.stats["left cooling"] = sum(
            1 for r in snap.records[self.pool].values() if "cooldownUntil" in r
        )

    def report(self) -> str:
        ops = sum(v for k, v in self.stats.items() if k in ("ADDs", "DELs"))
        parts = ", ".join(f"{k}: {v}" for k, v in sorted(self.stats.items()))
        return (
            f"fault run seed {self.s.seed}: {self.stats['rounds']} rounds, {ops} plugin execs "
            f"({parts})"
        )


def fresh(cluster: Cluster, base: Path, s: Settings, **kw: Any) -> FaultRun:
    ns = f"f{random.Random(s.seed).getrandbits(24):06x}"
    cluster.namespace(ns)
    return FaultRun(cluster, base, ns, dataclasses.replace(s, **kw))
