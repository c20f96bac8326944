"""The frozen spiderpool IPAM exec'd directly, as a main plugin execs it, with a runtime's result
cache. Does I/O.

For tests that need control no chain gives (a DEL without K8S_POD_UID, a SIGKILL at a
failpoint, an exec stalled at one, ``Stalled``, a re-sent DEL) or many execs quickly. The IPAM
touches no network namespace, so these execs run in the machine's own namespace and
reach the loopback apiserver directly; each simulated node is its own config
directory (kubeconfig, nodename, cluster IPAM config, locks, notes, log), as
tools/testbed/cluster.py lays it out. ``Runtime`` keeps results like libcni does: cached after a
successful ADD, handed back as ``prevResult`` on DEL for spec >= 0.4.0, dropped after a
successful DEL, so a re-sent DEL carries none.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tools.testbed import cni, paths
from tools.testbed.cluster import NodeConfig
from tools.testbed.cni import PodRef

KILLED = -9


@dataclass(frozen=True)
class Outcome:
    returncode: int
    result: dict[str, Any] | None  # the CNI result or error object
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def killed(self) -> bool:
        return self.returncode == KILLED

    @property
    def code(self) -> int:
        return int((self.result or {}).get("code", 0)) if not self.ok else 0

    def ips(self) -> list[str]:
        return (
            [str(i["address"]).split("/")[0] for i in (self.result or {}).get("ips", [])]
            if self.ok
            else []
        )


def _invocation(
    node: NodeConfig,
    verb: str,
    pod: PodRef | None,
    container_id: str,
    ifname: str,
    *,
    version: str,
    network: str,
    prev: dict[str, Any] | None,
    with_uid: bool,
    failpoint: str,
    ipam: dict[str, Any] | None,
    extra: dict[str, Any] | None,
) -> tuple[bytes, dict[str, str]]:
    """The plugin's stdin and environment, as a runtime would give them."""
    conf: dict[str, Any] = {
        "cniVersion": version,
        "name": network,
        "type": "macvlan",
        "ipam": node.ipam(**(ipam or {})),
        **(extra or {}),
    }
    if prev is not None:
        conf["prevResult"] = prev
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CNI_COMMAND": verb,
        "CNI_CONTAINERID": container_id,
        "CNI_NETNS": f"/var/run/netns/{container_id}",
        "CNI_IFNAME": ifname,
        "CNI_PATH": paths.cni_path(),
        **node.env,
    }
    if pod is not None:
        ref = pod if with_uid else PodRef(pod.namespace, pod.name, "", pod.container_id)
        env["CNI_ARGS"] = ref.cni_args()
    if failpoint:
        env["SPIDERNET_FAILPOINT"] = failpoint
    return json.dumps(conf).encode(), env


def _outcome(returncode: int, stdout: bytes, stderr: bytes) -> Outcome:
    cni.note(stdout)
    out = stdout.decode().strip()
    return Outcome(returncode, json.loads(out) if out else None, stderr.decode())


def exec_ipam(
    node: NodeConfig,
    verb: str,
    pod: PodRef | None,
    container_id: str,
    ifname: str = "eth0",
    *,
    version: str = "1.0.0",
    network: str = "net-a",
    prev: dict[str, Any] | None = None,
    with_uid: bool = True,
    failpoint: str = "",
    ipam: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    timeout: float = 120,
) -> Outcome:
    stdin, env = _invocation(
        node,
        verb,
        pod,
        container_id,
        ifname,
        version=version,
        network=network,
        prev=prev,
        with_uid=with_uid,
        failpoint=failpoint,
        ipam=ipam,
        extra=extra,
    )
    proc = subprocess.run(
        [str(paths.BUNDLE_BIN / "spiderpool")],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=timeout,
    )
    return _outcome(proc.returncode, proc.stdout, proc.stderr)


class Stalled:
    """An exec stopped at a failpoint (``<point>:stop``): a stalled process, as a queued or
    slow verb is; ``resume`` lets it go on, ``outcome`` waits for its answer."""

    def __init__(
        self, node: NodeConfig, verb: str, pod: PodRef, container_id: str, **kw: Any
    ) -> None:
        point = kw.pop("at")
        stdin, env = _invocation(
            node,
            verb,
            pod,
            container_id,
            kw.pop("ifname", "eth0"),
            version=kw.pop("version", "1.0.0"),
            network=kw.pop("network", "net-a"),
            prev=kw.pop("prev", None),
            with_uid=kw.pop("with_uid", True),
            failpoint=f"{point}:stop",
            ipam=kw.pop("ipam", None),
            extra=kw.pop("extra", None),
        )
        assert not kw, kw
        self.proc = subprocess.Popen(
            [str(paths.BUNDLE_BIN / "spiderpool")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(stdin)
        self.proc.stdin.close()
        self.proc.stdin = None  # all of it is written: communicate() must not flush it again
        self._wait_stopped()

    def _wait_stopped(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the exec ended before its failpoint: {self.outcome()}")
            with open(f"/proc/{self.proc.pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "T":
                    return
            time.sleep(0.02)
        raise RuntimeError("the exec did not reach its failpoint")

    def resume(self) -> Outcome:
        os.kill(self.proc.pid, signal.SIGCONT)
        return self.outcome()

    def outcome(self, timeout: float = 120) -> Outcome:
        stdout, stderr = self.proc.communicate(timeout=timeout)
        return _outcome(self.proc.returncode, stdout, stderr)


@dataclass
class Runtime:
    """One node's runtime: execs the IPAM and caches results per (container, ifname), as libcni
    does."""

    node: NodeConfig
    version: str = "1.0.0"
    network: str = "net-a"
    ipam: dict[str, Any] = field(default_factory=dict)
    cache: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, pod: PodRef, container_id: str, ifname: str = "eth0", **kw: Any) -> Outcome:
        out = exec_ipam(
            self.node,
            "ADD",
            pod,
            container_id,
            ifname,
            version=kw.pop("version", self.version),
            network=self.network,
            ipam=self.ipam,
            **kw,
        )
        if out.ok and out.result is not None:
            with self._lock:
                self.cache[(container_id, ifname)] = out.result
        return out

    def delete(self, pod: PodRef, container_id: str, ifname: str = "eth0", **kw: Any) -> Outcome:
        version = kw.pop("version", self.version)
        with self._lock:
            cached = self.cache.get((container_id, ifname))
        prev = cached if cached is not None and version not in ("0.3.0", "0.3.1") else None
        out = exec_ipam(
            self.node,
            "DEL",
            pod,
            container_id,
            ifname,
            version=version,
            network=self.network,
            prev=prev,
            ipam=self.ipam,
            **kw,
        )
        if out.ok:
            with self._lock:
                self.cache.pop((container_id, ifname), None)
        return out
