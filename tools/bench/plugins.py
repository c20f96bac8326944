"""The plugins under test and the two ways of running them: IPAM exec'd directly, or a libcni chain.
Does I/O.

A ``Plugin`` is an IPAM: its ``ipam`` section for a node, the executable that serves
it, and whether its state lives in the API (pools that tools/testbed/invariants.py can
read back). Three kinds: ``spiderpool`` (the frozen bundle), ``floor`` (tools/bench/floor.py)
and ``compare`` (any CNI IPAM executable, with a config file whose ``@NAME@``
placeholders this fills in: see ``placeholders``).

A ``Runtime`` runs one verb for one sandbox on one node:
- ``ipam`` mode execs the IPAM binary as a main plugin would (CNI env, the network
  config on stdin with the IPAM's section), and keeps results as libcni does: cached
  after a successful ADD, sent back as ``prevResult`` on DEL, dropped after it;
- ``chain`` mode runs ``ip netns exec <node> cnirun`` (libcni) on the conflist Debian
  ``macvlan`` (with this IPAM) -> ``coordinator``, into a real pod netns inside the
  node's netns; libcni keeps its own result cache on the node's disk.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.bench import execs
from tools.bench.workload import Range
from tools.testbed import netns, paths
from tools.testbed.cluster import NodeConfig

NETWORK = "bench-net"
FLOOR_TYPE = "bench-floor"


@dataclass
class Node:
    """One simulated node of one plugin's run: its API name, config dir and (chain mode) netns."""

    index: int
    name: str
    config: NodeConfig
    netns: str = ""  # chain mode: the node's network namespace name


@dataclass(frozen=True)
class Outcome:
    verb: str
    ok: bool
    code: int  # the CNI error code; 0 when ok
    msg: str
    ips: tuple[str, ...]
    run: execs.Exec


@dataclass
class Plugin:
    name: str  # as in the tables: spiderpool, floor, or the compare binary's name
    kind: str  # spiderpool | floor | compare
    binary: Path
    slot: int  # keeps each plugin's pools in their own subnets
    pools: list[str] = field(default_factory=list)
    ranges: list[Range] = field(default_factory=list)
    conf_text: str = ""  # compare: the config file, placeholders unfilled
    lock_file: str = ""  # floor: the lock that serialises its GET+PUT across nodes
    extra: dict[str, Any] = field(default_factory=dict)  # spiderpool: --ipam-set keys

    @property
    def api_backed(self) -> bool:
        """Its allocations are SpiderIPPool records: duplicates and leaks can be read back from the
        API."""
        return self.kind in ("spiderpool", "floor")

    @property
    def type_name(self) -> str:
        return FLOOR_TYPE if self.kind == "floor" else self.binary.name

    def ipam(self, node: Node) -> dict[str, Any]:
        if self.kind == "spiderpool":
            pools = {
                f"default_ipv{r.family}_ippool": [p]
                for p, r in zip(self.pools, self.ranges, strict=True)
            }
            return {
                **node.config.ipam(**pools),
                **self.extra,
            }  # debug level: one "api requests=..." line per exec
        if self.kind == "floor":
            return {
                "type": FLOOR_TYPE,
                "kubeconfig": node.config.kubeconfig,
                "pools": self.pools,
                "lock_file": self.lock_file,
            }
        conf = json.loads(fill(self.conf_text, placeholders(self.ranges, node)))
        conf.setdefault("type", self.binary.name)
        return dict(conf)

    def cni_path(self) -> str:
        """Its own dir first (a main plugin execs it by type), then the reference plugins."""
        return f"{self.binary.parent}:{paths.cni_path()}"

    def log_file(self, node: Node) -> Path | None:
        return node.config.dir / "spiderpool.log" if self.kind == "spiderpool" else None


def placeholders(ranges: list[Range], node: Node) -> dict[str, str]:
    """What a --compare-conf file may name: the run's ranges (as the pools have them) and the node's
    dirs."""
    out = {
        "NODE": node.name,
        "NODE_DIR": str(node.config.dir),
        "STATE_DIR": str(node.config.dir.parent / "shared-state"),
        "KUBECONFIG": node.config.kubeconfig,
    }
    for r in ranges:
        fam = f"V{r.family}"
        out |= {
            f"{fam}_SUBNET": r.subnet,
            f"{fam}_START": r.first,
            f"{fam}_END": r.last,
            f"{fam}_GATEWAY": r.gateway,
        }
    return out


def fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def floor_wrapper(directory: Path) -> Path:
    """The floor as an executable named by its CNI type, so a main plugin can exec it from
    CNI_PATH."""
    directory.mkdir(parents=True, exist_ok=True)
    exe = directory / FLOOR_TYPE
    python = os.path.realpath(
        sys.executable
    )  # the interpreter itself: the pyenv shim adds ~80 ms (docs/testbed.md)
    source = (Path(__file__).with_name("floor.py")).read_text()
    exe.write_text(f"#!{python} -IS\n{source}")
    exe.chmod(0o755)
    return exe


def container_id() -> str:
    """Like a runtime's: 64 hex digits (the coordinator names host veths after the first 11)."""
    return secrets.token_hex(32)


# ---------------------------------------------------------------- runtimes


def _pod_args(ns: str, name: str, uid: str, cid: str) -> str:
    return (
        f"IgnoreUnknown=1;K8S_POD_NAMESPACE={ns};K8S_POD_NAME={name};"
        f"K8S_POD_INFRA_CONTAINER_ID={cid};K8S_POD_UID={uid}"
    )


def first_object(stdout: bytes) -> bytes:
    """The first JSON object in ``stdout`` (a profiler wrapping the plugin prints lines of its
    own)."""
    text = stdout.decode(errors="replace")
    start = text.find("{")
    if start < 0:
        return b""
    _, end = json.JSONDecoder().raw_decode(text, start)
    return text[start:end].encode()


def _outcome(verb: str, run: execs.Exec, error_rc: int) -> Outcome:
    text = run.stdout.decode(errors="replace").strip()
    if run.returncode == 0:
        result = json.loads(text) if text else {}
        ips = tuple(str(i["address"]).split("/")[0] for i in result.get("ips", []))
        return Outcome(verb, True, 0, "", ips, run)
    try:
        err = json.loads(text) if run.returncode == error_rc else {}
    except ValueError:
        err = {}
    msg = str(
        err.get("msg")
        or text
        or run.stderr.decode(errors="replace").strip()
        or f"exit {run.returncode}"
    )
    return Outcome(verb, False, int(err.get("code", 0) or 0), msg[-300:], (), run)


@dataclass
class IpamRuntime:
    """Exec the IPAM directly with the CNI env; results cached per sandbox as libcni caches them."""

    plugin: Plugin
    cache: dict[str, dict[str, Any]] = field(default_factory=dict)
    wrap: Callable[[str, str], list[str]] | None = (
        None  # (verb, cid) -> argv prefix: a profiler (profile_add.py)
    )

    def call(self, verb: str, node: Node, ns: str, pod: str, uid: str, cid: str) -> Outcome:
        conf: dict[str, Any] = {
            "cniVersion": "1.0.0",
            "name": NETWORK,
            "type": "macvlan",
            "ipam": self.plugin.ipam(node),
        }
        if verb == "DEL" and cid in self.cache:
            conf["prevResult"] = self.cache[cid]
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "CNI_COMMAND": verb,
            "CNI_CONTAINERID": cid,
            "CNI_NETNS": f"/var/run/netns/{cid[:12]}",
            "CNI_IFNAME": "eth0",
            "CNI_PATH": self.plugin.cni_path(),
            "CNI_ARGS": _pod_args(ns, pod, uid, cid),
            **node.config.env,  # where our IPAM finds the cluster's settings (others ignore it)
        }
        prefix = self.wrap(verb, cid) if self.wrap else []
        run = execs.run([*prefix, str(self.plugin.binary)], json.dumps(conf).encode(), env)
        if prefix:  # a profiler's own lines share the plugin's stdout: keep the one JSON object
            run = dataclasses.replace(run, stdout=first_object(run.stdout))
        out = _outcome(verb, run, error_rc=run.returncode)
        if verb == "ADD" and out.ok:
            self.cache[cid] = json.loads(run.stdout)  # the result, as libcni caches it
        elif verb == "DEL" and out.ok:
            self.cache.pop(cid, None)
        return out


@dataclass
class ChainRuntime:
    """libcni (cnirun) -> macvlan -> this IPAM -> coordinator, in the node's netns, into a pod
    netns."""

    plugin: Plugin
    workdir: Path
    _conf: dict[int, Path] = field(default_factory=dict)

    def conflist(self, node: Node) -> Path:
        if node.index not in self._conf:
            coordinator = {
                "type": "coordinator",
                "mode": "underlay",
                "logOptions": {
                    "logLevel": "info",
                    "logFile": str(node.config.dir / "coordinator.log"),
                },
            }
            macvlan = {
                "type": "macvlan",
                "master": "ens1",
                "mode": "bridge",
                "ipam": self.plugin.ipam(node),
            }
            path = self.workdir / f"{self.plugin.name}-{node.name}.conflist"
            path.write_text(
                json.dumps(
                    {"cniVersion": "1.0.0", "name": NETWORK, "plugins": [macvlan, coordinator]}
                )
            )
            self._conf[node.index] = path
        return self._conf[node.index]

    def call(self, verb: str, node: Node, ns: str, pod: str, uid: str, cid: str) -> Outcome:
        argv = [
            "ip",
            "netns",
            "exec",
            node.netns,
            str(paths.CNIRUN),
            "-conf",
            str(self.conflist(node)),
            "-id",
            cid,
            "-netns",
            netns_path(cid),
            "-ifname",
            "eth0",
            "-cache-dir",
            str(node.config.dir / "libcni-cache"),
            "-args",
            _pod_args(ns, pod, uid, cid),
            verb.lower(),
        ]
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "CNI_PATH": self.plugin.cni_path(),
            **node.config.env,
        }
        return _outcome(verb, execs.run(argv, b"", env), error_rc=2)


def netns_role(cid: str) -> str:
    """The pod netns of a sandbox, named as tools/testbed/netns.py names its own (its stale-run
    cleanup applies)."""
    return f"p{cid[:12]}"


def sandbox_netns(cid: str) -> netns.Netns:
    return netns.Netns(f"{netns.PREFIX}{netns.TAG}-{netns_role(cid)}")


def netns_path(cid: str) -> str:
    return sandbox_netns(cid).path
