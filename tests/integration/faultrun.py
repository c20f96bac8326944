"""A randomized fault run of the spiderpool IPAM: many rounds of concurrent verbs, crashes,
restarts and GC passes. Does I/O.

What trusted allocators are tested with, against the frozen binary and the real
apiserver (the invariants of docs/ipam.md). Each round picks distinct pods and gives each one
operation, all running at once on several simulated nodes. A pod is plain or a
StatefulSet's, with one NIC (eth0, pool A) or two (net1 from its own NAD's default pools:
B, which only the first two nodes may use, before C, which any node may):
- ``new``      a pod (Multus-shaped: one ADD per NIC; a failure DELs every NIC, as the
               runtime does);
- ``rebuild``  the pod's sandbox is replaced: DELs of the old one race the ADDs of the
               new one; half the time the old sandbox "failed later in the chain" (no
               cached result, so its DEL carries no prevResult);
- ``resend``   a DEL already answered is sent again (libcni: no prevResult now);
- ``unplug``   net1 leaves the pod's Multus annotation and is DEL'd;
- ``delete``   the pod is deleted, then its sandbox DEL'd (a StatefulSet's pod is re-created
               by its controller: ``recreate``);
- ``recreate`` the pod is force-deleted and re-created under its name with a new UID,
               maybe on another node, with one NIC or two (a StatefulSet pod's successor
               takes its predecessor's endpoint over, across nodes and NICs); a late
               UID-less ADD on the old node must be refused; the old sandbox's DELs come
               later, with or without K8S_POD_UID;
- ``late``     a late ADD of a deleted-and-recreated pod: its next sandbox's ADD reads the
               pod alive and stalls; the pod is re-created on another node and its
               successor's sandbox starts; the stalled ADD then goes on and must be
               refused, leaving the successor's addresses alone (if the successor's
               sandbox failed, it may answer from its own pod's endpoint: torn down at
               once, as the runtime would).
Any exec may be SIGKILLed at a failpoint (combining's among them: a holder with other
execs' requests, or a waiter in the queue); the apiserver is restarted during some rounds,
and some rounds run a GC pass (the CronJob's code, in this process) whose machine clock
is off by up to an hour, at --min-age 0 or 2. A DEL that fails is retried in a later
round (kubelet retries), a failed ADD is followed by its DEL. After every round, with
nothing in flight, the invariants are read back from the API: one holder per address,
I1, every sandbox the runtime believes running holds its address for its pod, and pool
B's addresses only on its nodes. At the end the StatefulSet and every pod are deleted
and every DEL retried until it succeeds; what is left then (besides cooling records) is
named, and one GC pass must reclaim it.

A seed replays the same plan: each round's operations, pods, nodes, NICs, failpoints,
restarts and GC passes come from a generator seeded by (seed, round, slot). How the
threads interleave is the machine's, and so is what a ``resend`` finds answered.
"""

from __future__ import annotations

import dataclasses
import http.client
import ipaddress
import json
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from spidernet.gc import collecting, command
from spidernet.k8s.client import Deadline
from spidernet.k8s.official import OfficialClient
from tests.integration.ipam_exec import Outcome, Runtime, Stalled
from tools.testbed import invariants
from tools.testbed.cluster import Cluster, NodeConfig
from tools.testbed.cni import PodRef

FAILPOINTS = (
    "before-pool-write",
    "after-pool-write",
    "after-endpoint-write",
    "after-endpoint-release",
    # combining's (docs/ipam.md, "Combining"): reached only when execs of a node queue on
    # one pool, as several of a round's do: a holder with waiters' requests, or a waiter
    "combine-waiter-queued",
    "combine-holder-before-write",
    "combine-holder-before-answers",
    "combine-waiter-answered",
)
NETWORKS = "k8s.v1.cni.cncf.io/networks"
NIC_NETWORK = {"eth0": "net-a", "net1": "net-b"}
OPS = ("new", "new", "rebuild", "rebuild", "resend", "unplug", "delete", "recreate", "late")
STS = "db"
BUDGET = 15  # the nodes' max_allocation_timeout: how long an ADD may run, the GC's bound
SKEWS = (-3600.0, -60.0, 0.0, 60.0, 3600.0)  # a GC machine's clock, off by about this


@dataclass
class Pod:
    name: str
    uid: str
    node: int
    version: str
    nics: list[str]
    stateful: bool = False
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
    kill_rate: float = 0.2  # of execs given a failpoint (most reach only some of the points)
    restart_rate: float = 0.2
    gc_rate: float = 0.25
    stateful_rate: float = 0.3
    seed: int = 0
    minutes: float = 0.0  # no round starts after this long (0: all the rounds)
    execs: int = 0  # no round starts once this many plugin execs ran (0: all the rounds)


@dataclass
class FaultRun:
    cluster: Cluster
    base: Path
    ns: str
    s: Settings
    pools: dict[str, str] = field(default_factory=dict)  # "a", "b", "c" -> pool name
    nodes: list[NodeConfig] = field(default_factory=list)
    runtimes: dict[tuple[int, str], Runtime] = field(default_factory=dict)
    pods: dict[str, Pod] = field(default_factory=dict)
    live: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (uid, cid, nic) -> ip
    owed: list[Del] = field(default_factory=list)
    answered: list[Del] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)
    left: list[str] = field(default_factory=list)  # what the DELs left for the GC at the end
    traces: list[str] = field(default_factory=list)  # the verbs of each sandbox an end left named
    statefulset: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _rng: threading.local = field(default_factory=threading.local)

    def __post_init__(self) -> None:
        self._make_pools()
        ipams = {
            "eth0": {"default_ipv4_ippool": [self.pools["a"]]},
            "net1": {"default_ipv4_ippool": [self.pools["b"], self.pools["c"]]},
        }
        common = {"failed_add_cooldown": 2, "release_timeout": 20, "allocation_timeout": BUDGET}
        for i in range(self.s.nodes):
            name = f"{self.ns}-node{i}"
            self.cluster.node(name)
            node = NodeConfig.create(
                self.cluster.cp, name, self.base, max_allocation_timeout=BUDGET
            )
            self.nodes.append(node)
            for nic, network in NIC_NETWORK.items():
                self.runtimes[(i, nic)] = Runtime(node, network=network, ipam=ipams[nic] | common)
        self.statefulset = self._create_statefulset()

    def _make_pools(self) -> None:
        """A for eth0; B (nodes 0 and 1 only) and C for net1: disjoint ranges."""
        half = max(self.s.pool_size // 2, 8)
        for key, third, size, spec in (
            ("a", 0, self.s.pool_size, {}),
            ("b", 1, half, {"nodeName": [f"{self.ns}-node0", f"{self.ns}-node1"]}),
            ("c", 2, half, {}),
        ):
            name = self.pools[key] = f"{self.ns}-pool-{key}"
            last = 9 + size
            self.cluster.pool(
                name,
                f"10.{230 + third}.0.0/16",
                [f"10.{230 + third}.0.10-10.{230 + third}.{last // 256}.{last % 256}"],
                **spec,
            )

    def _create_statefulset(self) -> dict[str, Any]:
        """The StatefulSet its pods name: room for every ordinal (no controller runs here)."""
        spec = {
            "replicas": 1 << 30,
            "serviceName": STS,
            "selector": {"matchLabels": {"app": STS}},
            "template": {
                "metadata": {"labels": {"app": STS}},
                "spec": {"containers": [{"name": "c", "image": "pause"}]},
            },
        }
        body = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": STS}}
        status, reply = self.cluster.cp.request(
            "POST", f"/apis/apps/v1/namespaces/{self.ns}/statefulsets", body | {"spec": spec}
        )
        assert status == 201, reply
        return dict(reply)

    # ------------------------------------------------------------ the run

    def run(self) -> Counter[str]:
        started = time.monotonic()
        for n in range(self.s.rounds):
            if self.s.minutes and time.monotonic() - started > self.s.minutes * 60:
                break  # the time given is up: finish with the rounds made
            if self.s.execs and self.execs() >= self.s.execs:
                break  # as many execs as asked for
            self.round(n)
            self.check()
            if n % 10 == 9:  # progress on long runs (pytest -s)
                print(f"fault run: {n + 1} rounds, {self.execs()} execs", flush=True)
        self.finish()
        self.stats["seconds"] = int(time.monotonic() - started)
        return self.stats

    def rng(self) -> random.Random:
        """This thread's generator: the operation's own, seeded by (seed, round, slot)."""
        r: random.Random = self._rng.r
        return r

    def _seeded(self, key: str, call: Callable[..., None], *args: Any) -> None:
        self._rng.r = random.Random(f"{self.s.seed}:{key}")
        call(*args)

    def round(self, n: int) -> None:
        plan_rng = random.Random(f"{self.s.seed}:{n}")
        ops = [plan_rng.choice(OPS) for _ in range(self.s.width)]
        victims = plan_rng.sample(sorted(self.pods), min(len(self.pods), self.s.width))
        plan = [(op, victims.pop() if victims and op != "new" else None) for op in ops]
        owed, self.owed = self.owed, []
        restart = plan_rng.uniform(0.1, 1.0) if plan_rng.random() < self.s.restart_rate else 0.0
        gc = plan_rng.random() < self.s.gc_rate
        with ThreadPoolExecutor(self.s.width + len(owed) + 2) as ex:
            futures = [
                ex.submit(self._seeded, f"{n}:{i}", self._op, op, name, n * 1000 + i)
                for i, (op, name) in enumerate(plan)
            ]
            futures += [
                ex.submit(self._seeded, f"{n}:owed{j}", self._del, d) for j, d in enumerate(owed)
            ]
            if gc:
                futures.append(ex.submit(self._seeded, f"{n}:gc", self._gc))
            if restart:
                time.sleep(restart)
                # ready in up to 3 min, as at start: a 2-core machine under a load of 40-60
                # took over a minute to bring kube-apiserver back
                self.cluster.cp.restart_apiserver(180, kill=plan_rng.random() < 0.5)
                self.stats["apiserver restarts"] += 1
            for f in futures:
                f.result()
        self.stats["rounds"] += 1

    def _op(self, op: str, name: str | None, slot: int) -> None:
        pod = self.pods.get(name) if name else None
        if pod is None and op != "resend":
            op = "new"
        elif op == "unplug" and pod is not None and "net1" not in pod.nics:
            op = "rebuild"
        elif op == "delete" and pod is not None and pod.stateful:
            op = "recreate"  # its controller makes it again
        elif op == "late" and self.s.nodes < 2:
            op = "recreate"
        self.stats[f"op {op}"] += 1
        if op == "new":
            self._new(slot)
        else:
            getattr(self, f"_{op}")(pod)

    # ------------------------------------------------------------ operations

    def _patch(self, path: str, body: dict[str, Any]) -> None:
        status, reply = self.cluster.cp.request(
            "PATCH", path, body, content_type="application/merge-patch+json"
        )
        if status >= 300:
            raise RuntimeError(f"PATCH {path}: HTTP {status}: {reply}")

    def _create_pod(self, name: str, node: str, nics: list[str], stateful: bool) -> dict[str, Any]:
        anno = (
            {NETWORKS: json.dumps([{"name": "net-b", "interface": "net1"}])}
            if "net1" in nics
            else {}
        )
        try:
            return self.cluster.pod(
                self.ns,
                name,
                node,
                annotations=anno,
                labels={"app": STS} if stateful else {},
                owner=self.statefulset if stateful else None,
            )
        except RuntimeError as e:  # created, but the answer was lost in a restart
            if "HTTP 409" not in str(e):
                raise
            _status, reply = self.cluster.cp.request(
                "GET", f"/api/v1/namespaces/{self.ns}/pods/{name}"
            )
            return dict(reply)

    def _api(self, call: Any, *args: Any, **kw: Any) -> Any:
        """The harness's own API calls ride out an apiserver restart (up to 3 min on a loaded
        machine), as kubelet's do."""
        deadline = time.monotonic() + 240
        while True:
            try:
                return call(*args, **kw)
            except (
                OSError,
                RuntimeError,
                http.client.HTTPException,  # an answer cut short by the restart
            ) as e:  # URLError is an OSError; Cluster raises RuntimeError on 5xx
                # 4xx is final, except an admission plugin that could not reach its own
                # apiserver mid-restart (403 "... dial tcp ...: connection refused")
                if time.monotonic() > deadline or ("HTTP 4" in str(e) and "dial tcp" not in str(e)):
                    raise
                time.sleep(0.3)

    def _new(self, slot: int) -> None:
        """A new pod; ``slot`` (round x 1000 + place) names it, a StatefulSet's by ordinal."""
        r = self.rng()
        stateful = r.random() < self.s.stateful_rate
        name = f"{STS}-{slot}" if stateful else f"p{slot}"
        version = r.choice(["0.3.1", "0.4.0", "1.0.0"])
        pod = self._make_pod(name, r.randrange(self.s.nodes), stateful, version)
        self._sandbox(pod, with_uid=r.random() < 0.8)

    def _make_pod(self, name: str, node: int, stateful: bool, version: str) -> Pod:
        nics = ["eth0", "net1"] if self.rng().random() < 0.4 else ["eth0"]
        obj = self._api(self._create_pod, name, self.nodes[node].name, nics, stateful)
        pod = Pod(name, obj["metadata"]["uid"], node, version, nics, stateful)
        with self._lock:
            self.pods[name] = pod
        return pod

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
        r = self.rng()
        if r.random() < 0.5:  # the old sandbox's ADD "failed later in the chain": nothing cached
            for nic in pod.nics:
                self.runtimes[(pod.node, nic)].cache.pop((old.container_id, nic), None)
        dels = [Del(old, pod.node, nic, pod.version, True) for nic in reversed(pod.nics)]
        seed = r.randrange(1 << 30)
        with ThreadPoolExecutor(2) as ex:
            gone = ex.submit(self._seeded, f"{seed}:old", self._dels, dels)
            new = ex.submit(self._seeded, f"{seed}:new", partial(self._sandbox, with_uid=True), pod)
            new.result()
            gone.result()

    def _resend(self, _: Pod | None) -> None:
        with self._lock:
            done = self.rng().choice(self.answered) if self.answered else None
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
        ref = PodRef(self.ns, pod.name, pod.uid, pod.sandbox)
        for nic in reversed(pod.nics):
            self._del(Del(ref, pod.node, nic, pod.version, True))

    def _recreate(self, pod: Pod) -> None:
        self._successor(pod, self.rng().randrange(self.s.nodes), uidless_late=True)

    def _successor(self, pod: Pod, node: int, *, uidless_late: bool) -> Pod:
        """Force-delete ``pod``, make its successor on ``node`` and start its sandbox; the old
        sandbox's DELs are owed to a later round. ``uidless_late``: on another node, a UID-less
        ADD on the old one first (I4)."""
        r = self.rng()
        self._api(self.cluster.delete_pod, self.ns, pod.name)  # Kubernetes takes it as gone
        with self._lock:
            for key in [k for k in self.live if k[0] == pod.uid]:
                del self.live[key]
        ref = PodRef(self.ns, pod.name, pod.uid, pod.sandbox)
        old = [Del(ref, pod.node, nic, pod.version, r.random() < 0.5) for nic in pod.nics]
        new = self._make_pod(pod.name, node, pod.stateful, pod.version)
        if pod.stateful:
            self.stats[
                "StatefulSet take-overs" + (" across nodes" if node != pod.node else "")
            ] += 1
        if node != pod.node and uidless_late:
            self._late_without_uid(new, pod.node)
        self._sandbox(new, with_uid=r.random() < 0.5)
        with self._lock:
            self.owed.extend(old)  # the old node's runtime DELs the old sandbox later
        return new

    def _late_without_uid(self, new: Pod, old_node: int) -> None:
        """A UID-less ADD on the node the pod left (I4): refused."""
        late = self._exec(
            "ADD",
            PodRef(self.ns, new.name, new.uid, f"late-{new.uid[:6]}"),
            old_node,
            "eth0",
            new.version,
            False,
            kill=False,
        )
        self._count_late("UID-less ADD on the old node", late)

    def _late(self, pod: Pod) -> None:
        """A late ADD of a deleted-and-recreated pod (the module docstring)."""
        r = self.rng()
        pod.gen += 1
        cid = f"{pod.name}-s{pod.gen}-{pod.uid[:4]}"
        ref, with_uid = PodRef(self.ns, pod.name, pod.uid, cid), r.random() < 0.7
        rt = self.runtimes[(pod.node, "eth0")]
        elsewhere = r.choice([i for i in range(self.s.nodes) if i != pod.node])
        try:
            stalled = Stalled(
                rt.node,
                "ADD",
                ref,
                cid,
                at="after-pod-read",
                version=pod.version,
                network=rt.network,
                with_uid=with_uid,
                ipam=rt.ipam,
            )
        except RuntimeError:  # it ended before reading the pod (the API restarting): no late ADD
            self.stats["late ADD answered before its stall"] += 1
            self._del(Del(ref, pod.node, "eth0", pod.version, with_uid))
            self._successor(pod, elsewhere, uidless_late=True)
            return
        try:  # the stalled ADD holds the pod's lock on the old node: no UID-less ADD there now
            new = self._successor(pod, elsewhere, uidless_late=False)
        finally:
            late = stalled.resume()
        self.stats["execs ADDs"] += 1
        what = "late ADD of a re-created " + ("StatefulSet pod" if pod.stateful else "pod")
        with self._lock:
            successor = {ip for k, ip in self.live.items() if k[0] == new.uid and k[2] == "eth0"}
        if not successor and (late.ok or late.code not in (3, 11)):
            # Its successor's ADDs all failed so far: no endpoint of the successor's to refuse
            # it by, so it is its own pod's ADD. Answered, it acted on its own pod's endpoint and
            # records only (I8), as an ADD that answered just before the deletion would have;
            # the runtime tears it down, the successor's next ADD releases them as its
            # predecessor's. Refused for a reason of its own (its pool full: the successor's
            # ADDs failed the same way), it wrote nothing, all-or-nothing.
            outcome = "answered" if late.ok else f"refused with {late.code}"
            self.stats[f"{what} {outcome}, its successor not started"] += 1
        else:
            self._count_late(what, late)
        self._del(Del(ref, pod.node, "eth0", pod.version, with_uid))  # the runtime tears it down

    def _count_late(self, what: str, late: Outcome) -> None:
        """A late ADD is refused, writing nothing (docs/ipam.md, I8): code 3 when it can still
        ask the API, 11 when its allocation_timeout was spent while it waited or the API did
        not answer within it (an apiserver restart)."""
        assert not late.ok, f"seed {self.s.seed}: {what} was answered: {late.result}"
        msg = str((late.result or {}).get("msg", ""))
        why = {3: "3", 11: f"11, {_cause(msg)}"}.get(late.code)
        assert why is not None, f"seed {self.s.seed}: {what}: {late.result} {late.stderr[-500:]}"
        self.stats[f"{what} refused ({why})"] += 1

    def _gc(self, min_age: str = "") -> None:
        """One GC pass (the CronJob's code) on a machine whose clock is off; ``min_age`` by
        chance unless given. Told how long an ADD may run as the CronJob is: the nodes' file."""
        r = self.rng()
        skew = r.choice(SKEWS) + r.uniform(-5, 5)
        argv = ["--min-age", min_age or r.choice(["0", "2", "2"])]
        argv += ["--ipam-config", str(self.nodes[0].cluster_file)]
        argv += ["--state-namespace", self.ns, "--event-namespace", self.ns]
        opts = command.options(command.parser().parse_args(argv))
        transport = OfficialClient.connect(
            str(self.cluster.cp.kubeconfig), Deadline(120), retry_for=30
        )
        try:
            report = collecting.run(
                transport,
                opts,
                lock_dir=tempfile.mkdtemp(dir=self.base),
                clock=lambda: time.time() + skew,
            )
        finally:
            transport.close()
        mine = [i for i in report.released if i["pool"] in self.pools.values()]
        self.stats["GC passes"] += 1
        self.stats["GC passes with a skewed clock"] += abs(skew) > 30
        self.stats["GC released"] += len(mine)
        for item in mine:
            self.stats[f"GC released: {item['reason']}"] += 1
        self.stats["GC passes with errors (API restarts)"] += not report.ok

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
        r = self.rng()
        point = r.choice(FAILPOINTS) if kill and r.random() < self.s.kill_rate else ""
        rt = self.runtimes[(node, nic)]
        call = rt.add if verb == "ADD" else rt.delete
        out = call(ref, ref.container_id, nic, version=version, with_uid=with_uid, failpoint=point)
        self.stats[f"execs {verb}s"] += 1
        if out.killed:
            self.stats[f"killed at {point}"] += 1
        assert out.killed or out.code != 999, (
            f"{verb} answered 999: {out.result} {out.stderr[-500:]}"
        )
        return out

    def _dels(self, dels: list[Del]) -> None:
        for d in dels:
            self._del(d)

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

    def pool_of(self, ip: str) -> str:
        third = int(ipaddress.ip_address(ip).packed[1]) - 230
        return self.pools["abc"[third]]

    def snapshot(self) -> invariants.Snapshot:
        return invariants.snapshot(self.cluster.cp, list(self.pools.values()), self.ns)

    def check(self) -> None:
        snap = self.snapshot()
        problems = snap.violations()
        holders = snap.holders()
        by_ip: dict[str, set[str]] = {}
        node_of = {p.uid: p.node for p in self.pods.values()}
        for (uid, cid, nic), ip in self.live.items():
            by_ip.setdefault(ip, set()).add(uid)
            pool = self.pool_of(ip)
            if holders.get((pool, ip)) != uid:
                problems.append(
                    f"running sandbox {cid} {nic} of {uid} has {ip}, held by "
                    f"{holders.get((pool, ip))}"
                )
            if pool == self.pools["b"] and node_of.get(uid, 0) > 1:
                problems.append(f"{ip} of pool B (nodes 0, 1) in {cid} on node {node_of[uid]}")
        problems += [
            f"{ip} is in running sandboxes of {sorted(u)}" for ip, u in by_ip.items() if len(u) > 1
        ]
        assert problems == [], f"seed {self.s.seed}, round {self.stats['rounds']}: {problems}"
        self.stats["invariant checks"] += 1

    def finish(self) -> None:
        """The StatefulSet and every pod deleted, every owed DEL retried until it succeeds;
        what is left but cooling records is named and must be reclaimed by GC passes (at most
        three: a record an unclaimed inherited detail names goes one pass after that
        endpoint)."""
        self.cluster.cp.request("DELETE", f"/apis/apps/v1/namespaces/{self.ns}/statefulsets/{STS}")
        for pod in list(self.pods.values()):
            self.cluster.delete_pod(self.ns, pod.name)
            ref = PodRef(self.ns, pod.name, pod.uid, pod.sandbox)
            self.owed += [Del(ref, pod.node, nic, pod.version, True) for nic in pod.nics]
        self.pods.clear()
        self.s.kill_rate = 0.0
        for attempt in range(20):
            owed, self.owed = self.owed, []
            if not owed:
                break
            with ThreadPoolExecutor(self.s.width) as ex:
                keys = [f"end:{attempt}:{j}" for j in range(len(owed))]
                list(ex.map(self._seeded, keys, [self._del] * len(owed), owed))
        assert self.owed == [], f"DELs still failing: {self.owed[:5]}"
        snap = self.snapshot()
        assert snap.violations() == [], snap.violations()
        self.left = snap.leaked() + _unclaimed(snap)
        self.traces = [line for cid in _named_sandboxes(snap) for line in self._trace(cid)]
        self.stats["left for the GC"] = len(snap.leaked())
        for n in range(3):
            if not snap.leaked():
                break
            self._seeded(f"end:gc{n}", self._gc, "0")
            self.stats["GC passes at the end"] += 1
            snap = self.snapshot()
        assert snap.violations() == [] and snap.leaked() == [], (
            f"seed {self.s.seed}: the GC left {snap.leaked()} of {self.left}",
            snap.violations(),
        )
        self.stats["left cooling"] = sum(
            1 for recs in snap.records.values() for r in recs.values() if "cooldownUntil" in r
        )

    def execs(self) -> int:
        return self.stats["execs ADDs"] + self.stats["execs DELs"]

    def report(self) -> str:
        execs = self.execs()
        parts = ", ".join(f"{k}: {v}" for k, v in sorted(self.stats.items()))
        left = f"; left for the GC: {self.left}" if self.left else ""
        traces = "".join(f"\n  {line}" for line in self.traces)
        return (
            f"fault run seed {self.s.seed}: {self.stats['rounds']} rounds, {execs} plugin execs "
            f"({parts}){left}{traces}"
        )

    def _trace(self, cid: str) -> list[str]:
        """What every verb of sandbox ``cid`` said (the nodes' logs, in time order): how the
        sandbox an endpoint still names at the end got there, for a reader of the report."""
        lines = []
        for node in self.nodes:
            log = node.dir / "spiderpool.log"
            for raw in log.read_text().splitlines() if log.exists() else []:
                try:
                    entry = json.loads(raw)
                except ValueError:  # a line cut short by a SIGKILL
                    continue
                msg = str(entry.get("msg"))
                if entry.get("containerID") == cid and (
                    entry.get("level") != "DEBUG" or msg.startswith("api requests")
                ):
                    lines.append(
                        f"{entry['time']} {node.name} {entry.get('command')} "
                        f"{entry.get('ifname')}: {msg[:300]}"
                    )
        return [f"sandbox {cid}:"] + sorted(lines)


def _unclaimed(snap: invariants.Snapshot) -> list[str]:
    """What each endpoint left names: per NIC, the sandbox holding it, or "unclaimed" (a
    take-over passed it on and no sandbox claimed it)."""
    out = []
    for ep in snap.endpoints:
        cur = (ep.get("status") or {}).get("current") or {}
        if cur.get("uid") in snap.live_uids:
            continue
        for d in cur.get("ips") or []:
            held = "unclaimed" if d.get("inheritedFrom") else f"sandbox {d.get('containerID')}"
            out.append(f"({ep['metadata']['name']} {d.get('interface')}: {held})")
    return out


def _named_sandboxes(snap: invariants.Snapshot) -> list[str]:
    """The sandboxes the endpoints of dead pods still name (their DELs did not take them)."""
    return sorted(
        {
            str(d["containerID"])
            for ep in snap.endpoints
            if ((ep.get("status") or {}).get("current") or {}).get("uid") not in snap.live_uids
            for d in ((ep.get("status") or {}).get("current") or {}).get("ips") or []
            if d.get("containerID") and not d.get("inheritedFrom")
        }
    )


def _cause(msg: str) -> str:
    if "allocation_timeout" in msg:
        return "its budget spent"
    return "API unreachable" if "unreachable" in msg else msg[:100]


def fresh(cluster: Cluster, base: Path, s: Settings, **kw: Any) -> FaultRun:
    ns = f"f{random.Random(s.seed).getrandbits(24):06x}"
    cluster.namespace(ns)
    return FaultRun(cluster, base, ns, dataclasses.replace(s, **kw))
