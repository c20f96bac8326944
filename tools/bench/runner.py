"""One plugin's run through the seed's phases against the real apiserver. Does I/O.

The harness plays the controllers (pod objects created and deleted through the API)
and the kubelets (tools/bench/kubelet.py: per-node bounded CNI calls, failed ones
retried with the kubelet's backoff), and records every exec. Phases:

- ``create``   the pod objects exist (made before the clock starts); every pod's ADD.
- ``rebuild``  every pod replaced at once: per group, the old pods are deleted
               (Terminating, grace 30 s) and their replacements created on the next
               node; the old sandboxes' DELs and the new pods' ADDs run concurrently and
               race for the addresses; a DEL that succeeds is followed by the
               kubelet's confirmation (the grace-0 delete).
- ``reboot``   ``down`` nodes power-cycle: their sandboxes are gone, and after the
               reboot the kubelet kills each dead sandbox (a DEL with its cached
               result) and creates a new one (an ADD with a new container ID); a pod
               is expected to keep its address.
- ``node-loss`` the same nodes lose power for good: NotReady, their pods evicted
               (Terminating, never confirmed), replacements created on the other
               nodes (with IPs = pods they find the pool full of zombies), and one GC
               pass (``gc/main.py --once --min-age 0``) once the evicted pods are past
               their grace period; the replacements' retries then get the freed addresses.
- ``delete``   the lost nodes come back (their kubelets DEL the lost sandboxes and
               confirm the evictions); every other pod deleted and DEL'd.

After each phase, with nothing in flight, duplicates, I1 violations and leaks are read
back from the pools and endpoints (tools/testbed/invariants.py) for plugins whose
state is in the API; for others, duplicates among the addresses live pods were given.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from tools.bench import execs, kubelet, measure
from tools.bench.api import Api
from tools.bench.plugins import Node, Outcome, Plugin, container_id, netns_role, sandbox_netns
from tools.bench.workload import Shape
from tools.testbed import invariants, netns, paths
from tools.testbed.controlplane import ControlPlane

RS_SUFFIX = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet of ReplicaSet-generated pod names
EVICT_GRACE = 1  # seconds; the GC's rule is deletionTimestamp + grace (+ its delay, 0 here)


class Runtime(Protocol):
    def call(self, verb: str, node: Node, ns: str, pod: str, uid: str, cid: str) -> Outcome: ...


@dataclass
class Pod:
    name: str
    uid: str
    node: int
    group: int
    cid: str = ""  # the sandbox holding its addresses
    ips: tuple[str, ...] = ()


@dataclass
class Attempt:
    """One exec, as the tables count it."""

    verb: str
    pod: str
    node: int
    ok: bool
    code: int
    msg: str
    at: float  # seconds after the phase started
    wall: float
    cpu: float
    rss_kb: int
    cleanup: bool = False  # the runtime's DEL of a sandbox whose ADD failed


@dataclass
class PhaseLog:
    phase: str
    plugin: str
    target: int  # pods the phase is about
    t0: float = 0.0
    wall: float = 0.0
    attempts: list[Attempt] = field(default_factory=list)
    done_at: list[float] = field(
        default_factory=list
    )  # when each target pod got (delete: lost) its address
    latency: list[float] = field(
        default_factory=list
    )  # per pod: first due -> address (delete: DEL done)
    failures: list[str] = field(default_factory=list)  # pods without an address, DELs given up
    api: list[measure.ApiLine] = field(default_factory=list)
    server_cpu: dict[str, float] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    gc: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: str = ""
    load: tuple[float, float] = (
        0.0,
        0.0,
    )  # the machine's 1-minute load average at the start and the end
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def record(self, out: Outcome, pod: str, node: int, cleanup: bool = False) -> None:
        r = out.run
        with self._lock:
            self.attempts.append(
                Attempt(
                    out.verb,
                    pod,
                    node,
                    out.ok,
                    out.code,
                    out.msg,
                    r.started - self.t0,
                    r.wall,
                    r.cpu,
                    r.maxrss_kb,
                    cleanup,
                )
            )

    def done(self, since: float) -> None:
        with self._lock:
            self.done_at.append(self.now())
            self.latency.append(time.monotonic() - since)

    def fail(self, what: str) -> None:
        with self._lock:
            self.failures.append(what)


@dataclass
class Settings:
    concurrency: int = 5  # CNI calls at once per node
    backoff: float = 10.0  # the kubelet's retry period (plus up to half of it)
    give_up: float = 900.0  # seconds into a phase after which a pod without an address is a failure
    api_threads: int = 4  # the harness's "controllers"
    seed: int = 0


@dataclass
class PluginRun:
    cp: ControlPlane
    api: Api
    plugin: Plugin
    runtime: Runtime
    nodes: list[Node]
    shape: Shape
    ns: str
    s: Settings
    chain: bool = False
    pods: dict[str, Pod] = field(default_factory=dict)
    evicted: list[Pod] = field(default_factory=list)
    owners: list[dict[str, Any]] = field(default_factory=list)
    logs: list[PhaseLog] = field(default_factory=list)
    current: PhaseLog | None = None
    rng: random.Random = field(init=False)
    tail: measure.LogTail = field(default_factory=measure.LogTail)
    server: measure.ServerCpu = field(init=False)
    kubelets: list[kubelet.Kubelet] = field(default_factory=list)
    on_phase: Any = None  # called with each finished PhaseLog (seed.py streams it to results.jsonl)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.s.seed)
        self.server = measure.ServerCpu(self.cp.pids())
        self.kubelets = [
            kubelet.Kubelet(f"{self.plugin.name}-{n.name}", self.s.concurrency) for n in self.nodes
        ]

    def close(self) -> None:
        for k in self.kubelets:
            k.close()

    # ------------------------------------------------------------ the phase frame

    def phase(self, name: str, target: int, body: Any) -> PhaseLog:
        log = PhaseLog(name, self.plugin.name, target)
        self.current = log
        self.tail.read_new(self._log_files())  # skip what earlier phases wrote
        cpu0 = self.server.read()
        load0 = os.getloadavg()[0]
        log.t0 = time.monotonic()
        body(log)
        for k in self.kubelets:
            k.drain()
        log.wall = log.now()
        log.load = (load0, os.getloadavg()[0])
        cpu1 = self.server.read()
        log.server_cpu = {k: cpu1[k] - cpu0[k] for k in cpu0}
        log.api = self.tail.read_new(self._log_files())
        log.checks = self.check(final=name == "delete")
        self.logs.append(log)
        if self.on_phase:
            self.on_phase(log)
        self.current = None
        return log

    def _log_files(self) -> list[Any]:
        return [f for n in self.nodes if (f := self.plugin.log_file(n)) is not None]

    def _name(self, group: int) -> str:
        return f"dep-{group:03d}-" + "".join(self.rng.choice(RS_SUFFIX) for _ in range(5))

    def _parallel(self, fn: Any, items: list[Any]) -> list[Any]:
        with ThreadPoolExecutor(self.s.api_threads) as ex:
            return list(ex.map(fn, items))

    # ---------------------------------------------------- jobs: what a kubelet does for one sandbox

    def add_job(self, pod: Pod, log: PhaseLog) -> kubelet.Job:
        """RunPodSandbox until it works: ADD; on failure the runtime's DEL of that sandbox, then the
        backoff."""
        since = time.monotonic()
        node = self.nodes[pod.node]

        def job() -> float | None:
            cid = container_id()
            sandbox = netns.Netns.create(netns_role(cid)) if self.chain else None
            out = self.runtime.call("ADD", node, self.ns, pod.name, pod.uid, cid)
            log.record(out, pod.name, pod.node)
            if out.ok:
                pod.cid, pod.ips = cid, out.ips
                log.done(since)
                return None
            self._teardown(pod, cid, log, sandbox)
            if log.now() > self.s.give_up:
                log.fail(
                    f"ADD {pod.name}: no address after {log.now():.0f} s (last: code "
                    f"{out.code} {out.msg})"
                )
                return None
            return kubelet.backoff(self.s.backoff, self.rng)

        return job

    def _teardown(self, pod: Pod, cid: str, log: PhaseLog, sandbox: netns.Netns | None) -> None:
        out = self.runtime.call("DEL", self.nodes[pod.node], self.ns, pod.name, pod.uid, cid)
        log.record(out, pod.name, pod.node, cleanup=True)
        if out.ok:
            if sandbox:
                sandbox.delete()
            return
        gone = Pod(
            pod.name, pod.uid, pod.node, pod.group, cid
        )  # StopPodSandbox is retried on its own
        self.kubelets[pod.node].submit(
            self.del_job(gone, log, confirm=False, counted=False),
            kubelet.backoff(self.s.backoff, self.rng),
        )

    def del_job(
        self, pod: Pod, log: PhaseLog, *, confirm: bool, counted: bool = True
    ) -> kubelet.Job:
        """StopPodSandbox until it works; then, for a deleted pod, the kubelet's confirmation (grace
        0)."""
        since = time.monotonic()
        node = self.nodes[pod.node]

        def job() -> float | None:
            if not pod.cid:  # its ADD never succeeded (given up): no sandbox, only the confirmation
                if confirm:
                    self.api.delete_pod(self.ns, pod.name, grace=0)
                if counted:
                    log.done(since)
                return None
            out = self.runtime.call("DEL", node, self.ns, pod.name, pod.uid, pod.cid)
            log.record(out, pod.name, pod.node, cleanup=not counted)
            if out.ok:
                if self.chain:
                    sandbox_netns(pod.cid).delete()
                if confirm:
                    self.api.delete_pod(self.ns, pod.name, grace=0)
                if counted:
                    log.done(since)
                return None
            if log.now() > self.s.give_up:
                log.fail(
                    f"DEL {pod.name} {pod.cid[:12]}: still failing after {log.now():.0f} s "
                    f"(code {out.code} {out.msg})"
                )
                return None
            return kubelet.backoff(self.s.backoff, self.rng)

        return job

    def recreate_job(self, pod: Pod, log: PhaseLog) -> kubelet.Job:
        """After a reboot: kill the dead sandbox (DEL), then a new one (ADD, new container ID)."""
        since = time.monotonic()
        node = self.nodes[pod.node]
        old_ips, state = pod.ips, {"killed": False}

        def job() -> float | None:
            if not state["killed"] and pod.cid:  # a pod that never got a sandbox has none to kill
                out = self.runtime.call("DEL", node, self.ns, pod.name, pod.uid, pod.cid)
                log.record(out, pod.name, pod.node)
                if not out.ok:
                    return self._retry_or_fail(log, f"DEL {pod.name} after the reboot", out)
                state["killed"] = True
            cid = container_id()
            sandbox = netns.Netns.create(netns_role(cid)) if self.chain else None
            out = self.runtime.call("ADD", node, self.ns, pod.name, pod.uid, cid)
            log.record(out, pod.name, pod.node)
            if not out.ok:
                self._teardown(pod, cid, log, sandbox)
                return self._retry_or_fail(log, f"ADD {pod.name} after the reboot", out)
            pod.cid, pod.ips = cid, out.ips
            if sorted(out.ips) != sorted(old_ips):
                log.notes.append(f"{pod.name}: {old_ips} -> {out.ips}")
            log.done(since)
            return None

        return job

    def _retry_or_fail(self, log: PhaseLog, what: str, out: Outcome) -> float | None:
        if log.now() > self.s.give_up:
            log.fail(f"{what}: still failing after {log.now():.0f} s (code {out.code} {out.msg})")
            return None
        return kubelet.backoff(self.s.backoff, self.rng)

    # ------------------------------------------------------------ phases

    def setup(self) -> None:
        """ReplicaSets and pod objects, before any clock starts."""
        self.owners = self._parallel(
            lambda g: self.api.replicaset(self.ns, f"dep-{g:03d}", 10),
            list(range(self.shape.groups)),
        )

        def make(k: int) -> Pod:
            g, n = self.shape.group_of(k), self.shape.node_of(k)
            name = self._name(g)
            return Pod(name, self.api.pod(self.ns, name, self.nodes[n].name, self.owners[g]), n, g)

        for pod in self._parallel(make, list(range(self.shape.pods))):
            self.pods[pod.name] = pod

    def create(self) -> PhaseLog:
        def body(log: PhaseLog) -> None:
            for pod in self.pods.values():
                self.kubelets[pod.node].submit(self.add_job(pod, log))

        return self.phase("create", len(self.pods), body)

    def rebuild(self) -> PhaseLog:
        old = list(self.pods.values())
        self.pods = {}

        def replace(log: PhaseLog, pod: Pod) -> None:
            self.api.delete_pod(self.ns, pod.name, grace=30)
            node = (pod.node + 1) % self.shape.nodes
            name = self._name(pod.group)
            new = Pod(
                name,
                self.api.pod(self.ns, name, self.nodes[node].name, self.owners[pod.group]),
                node,
                pod.group,
            )
            self.pods[name] = new
            self.kubelets[pod.node].submit(self.del_job(pod, log, confirm=True, counted=False))
            self.kubelets[node].submit(self.add_job(new, log))

        return self.phase(
            "rebuild", len(old), lambda log: self._parallel(lambda p: replace(log, p), old)
        )

    def down(self) -> list[Pod]:
        down = set(self.shape.down_nodes())
        return [p for p in self.pods.values() if p.node in down]

    def reboot(self) -> PhaseLog:
        victims = self.down()
        for n in self.shape.down_nodes():
            self.api.set_ready(self.nodes[n].name, False)
        if self.chain:  # a reboot loses every network namespace
            for pod in victims:
                sandbox_netns(pod.cid).delete()
        for n in self.shape.down_nodes():
            self.api.set_ready(self.nodes[n].name, True)

        def body(log: PhaseLog) -> None:
            for pod in victims:
                self.kubelets[pod.node].submit(self.recreate_job(pod, log))

        log = self.phase("reboot", len(victims), body)
        log.checks["addresses changed"] = len(log.notes)
        return log

    def node_loss(self) -> PhaseLog:
        victims = self.down()
        if not self.plugin.api_backed:
            log = PhaseLog("node-loss", self.plugin.name, len(victims))
            log.skipped = (
                "its state is not in the API: a GC pass cannot free a dead node's addresses"
            )
            self.logs.append(log)
            return log
        down = set(self.shape.down_nodes())
        healthy = [n for n in range(self.shape.nodes) if n not in down]

        def body(log: PhaseLog) -> None:
            for n in down:
                self.api.set_ready(self.nodes[n].name, False)
            if self.chain:
                for pod in victims:
                    sandbox_netns(pod.cid).delete()

            def evict(i_pod: tuple[int, Pod]) -> None:
                i, pod = i_pod
                self.api.delete_pod(self.ns, pod.name, grace=EVICT_GRACE)
                del self.pods[pod.name]
                self.evicted.append(pod)
                node = healthy[i % len(healthy)]
                name = self._name(pod.group)
                new = Pod(
                    name,
                    self.api.pod(self.ns, name, self.nodes[node].name, self.owners[pod.group]),
                    node,
                    pod.group,
                )
                self.pods[name] = new
                self.kubelets[node].submit(self.add_job(new, log))

            self._parallel(evict, list(enumerate(victims)))
            self._gc_pass(log, expected=len(victims) * len(self.shape.families))

        return self.phase("node-loss", len(victims), body)

    def _gc_pass(self, log: PhaseLog, expected: int) -> None:
        """The CronJob's one pass, run the way docs/gc.md says, while the replacements' ADDs
        retry."""
        time.sleep(max(0.0, EVICT_GRACE + 1.0 - log.now()))  # past deletionTimestamp + grace
        argv = [
            sys.executable,
            str(paths.REPO / "gc" / "main.py"),
            "--kubeconfig",
            str(self.cp.kubeconfig),
            "--once",
            "--min-age",
            "0",
            "--state-namespace",
            self.ns,
        ]
        env = {**os.environ, "PYTHONPATH": str(paths.REPO)}
        started = log.now()
        run = execs.run(argv, b"", env, timeout=600)
        report = json.loads(run.stdout) if run.stdout.strip() else {}
        released = [r for r in report.get("released", []) if r.get("pool") in self.plugin.pools]
        log.gc = {
            "at": started,
            "wall": run.wall,
            "cpu": run.cpu,
            "rc": run.returncode,
            "released": len(released),
            "expected": expected,
            "endpointsDeleted": len(report.get("endpointsDeleted", [])),
            "errors": report.get("errors", []),
            "stderr": run.stderr.decode(errors="replace")[-500:] if run.returncode else "",
        }

    def delete(self) -> PhaseLog:
        live = list(self.pods.values())
        returned = list(self.evicted)
        self.pods, self.evicted = {}, []

        def body(log: PhaseLog) -> None:
            for n in self.shape.down_nodes():
                self.api.set_ready(self.nodes[n].name, True)
            for pod in (
                returned
            ):  # the returning kubelet tears down the sandbox it lost, confirms the eviction
                self.kubelets[pod.node].submit(self.del_job(pod, log, confirm=True, counted=False))

            def remove(pod: Pod) -> None:
                self.api.delete_pod(self.ns, pod.name, grace=30)
                self.kubelets[pod.node].submit(self.del_job(pod, log, confirm=True))

            self._parallel(remove, live)

        return self.phase("delete", len(live), body)

    # ------------------------------------------------------------ read back

    def check(self, final: bool) -> dict[str, Any]:
        live_ips = [ip for p in self.pods.values() for ip in p.ips]
        out: dict[str, Any] = {"duplicates (results)": len(live_ips) - len(set(live_ips))}
        if not self.plugin.api_backed:
            return out
        snap = invariants.snapshot(self.cp, self.plugin.pools, self.ns)
        violations = snap.violations()
        leaked = snap.leaked()
        out |= {
            "duplicates": sum(1 for v in violations if "held by" in v or "named by" in v),
            "I1 violations": sum(1 for v in violations if v.startswith("I1")),
            "leaks": len(leaked),
            "holders": len(snap.holders()),
            "cooling": sum(
                1 for recs in snap.records.values() for r in recs.values() if "cooldownUntil" in r
            ),
            "examples": (violations + leaked)[:5],
        }
        if final:
            out["endpoints left"] = len(snap.endpoints)
        return out
