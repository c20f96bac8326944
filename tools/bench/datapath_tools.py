"""sockperf, iperf3, redis-benchmark in netns: servers on one end, clients on the other. Does I/O.

Servers (one set per server end, all bound to its address): ``sockperf server`` (TCP),
``iperf3 -s`` and ``redis-server`` (no persistence, no protected mode). Debian's
``redis-tools`` package ships the server binary as ``redis-check-rdb``, which acts as a
server when started under another name: ``Servers`` starts it through a ``redis-server``
symlink in its work directory, so the benchmark needs no ``redis-server`` package (whose
install would start a system-wide daemon).

Clients, one call each, parsed by tools/bench/datapath_figures.py:

    sockperf ping-pong --tcp -m 100 -t S     latency percentiles and request/response rate
    iperf3 -c -P N -t S -J                   throughput and CPU for N = 1, 2, 4 streams
    redis-benchmark -d 1000 -t get,set -n R  GET and SET requests per second

A failing tool raises ``ToolFailure`` naming the tool, the namespace, the target and the
tail of its output.
"""

from __future__ import annotations

import functools
import os
import resource
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tools.bench import datapath_figures as figures
from tools.bench import measure
from tools.testbed.netns import Netns

SOCKPERF_PORT, IPERF3_PORT, REDIS_PORT = 12345, 5201, 6379
PORTS = (SOCKPERF_PORT, IPERF3_PORT, REDIS_PORT)
BUSY_RETRIES = 20
IPERF3_BETWEEN_TESTS = ("server is busy", "Connection refused")
REDIS_BINARY = Path("/usr/bin/redis-check-rdb")
TOOLS = {
    "sockperf": "sockperf",
    "iperf3": "iperf3",
    "redis-benchmark": "redis-tools",
    "redis-cli": "redis-tools",
}


class ToolFailure(RuntimeError):
    pass


def missing_tools() -> list[str]:
    """Debian packages to install for the tools that are not on PATH (empty when all are)."""
    from shutil import which

    gone = {pkg for tool, pkg in TOOLS.items() if which(tool) is None}
    if not REDIS_BINARY.exists():
        gone.add("redis-tools")
    return sorted(gone)


@dataclass
class Servers:
    """The three servers in ``ns`` on ``address``; a context manager that stops them."""

    ns: Netns
    address: str
    workdir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __enter__(self) -> Servers:
        self.workdir.mkdir(parents=True, exist_ok=True)
        redis = self.workdir / "redis-server"
        if not redis.exists():
            redis.symlink_to(REDIS_BINARY)
        a = self.address
        self._start("sockperf", "sockperf", "server", "--tcp", "-i", a, "-p", str(SOCKPERF_PORT))
        self._start("iperf3", "iperf3", "-s", "-B", a, "-p", str(IPERF3_PORT))
        self._start(
            "redis",
            str(redis),
            *("--bind", a, "--port", str(REDIS_PORT), "--save", "", "--appendonly", "no"),
            *("--protected-mode", "no", "--dir", str(self.workdir), "--logfile", ""),
        )
        self._wait_listening()
        return self

    def _start(self, name: str, *argv: str) -> None:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - the process keeps it
        try:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns.name, *argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        self.procs[name] = proc

    def cpu(self, name: str) -> float:
        """CPU-seconds server ``name`` has used so far (``ip netns exec`` execs it: same pid)."""
        return measure.process_cpu(self.procs[name].pid)

    def _wait_listening(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        want = {f"{self.address}:{p}" for p in PORTS}
        while time.monotonic() < deadline:
            out = self.ns.run("ss", "-Hltn", check=False).stdout
            listening = {line.split()[3] for line in out.splitlines() if len(line.split()) > 3}
            if want <= listening:
                return
            if any(p.poll() is not None for p in self.procs.values()):
                break
            time.sleep(0.1)
        logs = {p.name: p.read_text(errors="replace")[-400:] for p in self.workdir.glob("*.log")}
        raise ToolFailure(f"servers in {self.ns.name} on {self.address} did not listen: {logs}")

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()


@dataclass(frozen=True)
class Settings:
    seconds: int = 4  # each sockperf and iperf3 run
    requests: int = 50_000  # each redis-benchmark run
    streams: tuple[int, ...] = (1, 2, 4)


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _client(
    client: Netns,
    target: str,
    argv: list[str],
    parse: Callable[[str], dict[str, float]],
    timeout: float,
) -> tuple[dict[str, float], float]:
    """The tool's parsed figures and the CPU-seconds it used (one client runs at a time, so
    the growth of this process's reaped-children rusage is that client's)."""
    before = _children_cpu()
    try:
        done = client.run(*argv, check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolFailure(
            f"{argv[0]} in {client.name} -> {target}: no end after {timeout:.0f} s"
        ) from None
    try:
        if done.returncode != 0:
            raise figures.ParseError(f"exit {done.returncode}")
        return parse(done.stdout), _children_cpu() - before
    except figures.ParseError as e:
        tail = (done.stdout + done.stderr).strip()[-800:]
        raise ToolFailure(f"{argv[0]} in {client.name} -> {target} failed: {e}\n{tail}") from None


def sockperf(client: Netns, target: str, s: Settings, servers: Servers) -> dict[str, float]:
    """Adds ``cpu_us``: client and server CPU per round trip."""
    argv = ["sockperf", "ping-pong", "--tcp", "-i", target, "-p", str(SOCKPERF_PORT)]
    argv += ["-m", "100", "-t", str(s.seconds)]
    server_before = servers.cpu("sockperf")
    got, cpu = _client(client, target, argv, figures.sockperf, s.seconds + 30)
    cpu += servers.cpu("sockperf") - server_before
    return {**got, "cpu_us": figures.per_op_us(cpu, got["exchanged"])}


def iperf3(client: Netns, target: str, s: Settings, streams: int) -> dict[str, float]:
    """iperf3 measures its two ends' CPU itself (``cpu_per_gbit``).

    An iperf3 server serves one test at a time and, between tests, closes its listening
    socket and opens a new one: "the server is busy" or "Connection refused" right after
    a test is that moment, retried for up to 10 s.
    """
    argv = ["iperf3", "-c", target, "-p", str(IPERF3_PORT), "-P", str(streams)]
    argv += ["-t", str(s.seconds), "-J"]
    for attempt in range(BUSY_RETRIES, -1, -1):
        try:
            return _client(client, target, argv, figures.iperf3, s.seconds + 30)[0]
        except ToolFailure as e:
            if not any(m in str(e) for m in IPERF3_BETWEEN_TESTS) or not attempt:
                raise
            time.sleep(10 / BUSY_RETRIES)
    raise AssertionError("unreachable")


def redis(client: Netns, target: str, s: Settings, servers: Servers) -> dict[str, float]:
    """Adds ``cpu_us``: server and benchmark CPU per request (GET and SET: 2 x ``requests``)."""
    argv = ["redis-benchmark", "-h", target, "-p", str(REDIS_PORT), "-d", "1000"]
    argv += ["-t", "get,set", "-n", str(s.requests), "--csv"]
    server_before = servers.cpu("redis")
    got, cpu = _client(client, target, argv, figures.redis_benchmark, 120 + s.requests / 500)
    cpu += servers.cpu("redis") - server_before
    return {**got, "cpu_us": figures.per_op_us(cpu, 2 * s.requests)}


def measure_once(
    client: Netns, target: str, s: Settings, servers: Servers, failed: Callable[[str], None]
) -> dict[str, dict[str, float]]:
    """One run of every tool: ``{"sockperf": {...}, "iperf3-1": {...}, ..., "redis": {...}}``.

    A tool that fails is left out of this run's figures and reported through ``failed``
    (the benchmark goes on: one refused connection must not cost the other runs).
    """
    runs: dict[str, Callable[[], dict[str, float]]] = {
        "sockperf": functools.partial(sockperf, client, target, s, servers)
    }
    for n in s.streams:
        runs[f"iperf3-{n}"] = functools.partial(iperf3, client, target, s, n)
    runs["redis"] = functools.partial(redis, client, target, s, servers)
    out = {}
    for tool, run in runs.items():
        try:
            out[tool] = run()
        except ToolFailure as e:
            failed(str(e))
    return out
