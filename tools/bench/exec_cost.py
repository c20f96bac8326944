"""What one exec of each plugin, and the whole chain, costs a pod's start. Does I/O.

    python -m tools.bench.exec_cost [--runs 20] [--only SECTION,...] [--json FILE] [BUNDLE_DIR...]

BUNDLE_DIR is a bundle set as tools/build_bundles.sh leaves it (``<plugin>/`` and
``bin/``); without one, the current bundles. Give two, the one before a change and the
one after, and every figure is taken for both in the same run, interleaved exec by exec
so that the machine's load falls on both alike. Every exec is a fresh process, as a
runtime execs it; each row is the median over ``--runs`` execs (one warm-up first):

  start        VERSION of each plugin: bootloader, interpreter, imports, nothing else
  ipam         spiderpool ADD, then DEL, of a new pod object (deleted before the DEL),
               exec'd directly with the spec's env, one idle local apiserver; the API
               requests per verb come from the plugin's own debug line
  coordinator  ADD, then DEL, underlay mode, one NIC, no probes, in a simulated node
               (netns) into a pod netns whose eth0 (a macvlan) already holds its address
  ifacer       ADD and CHECK of a config naming the node's existing NIC: the host kernel
               has no VLAN or bonding driver, so this is ifacer's path when its devices
               exist (CHECK reads them over netlink); VLAN and bond run only in UML
  chain        libcni -> ifacer -> Debian macvlan -> spiderpool -> coordinator, ADD of a
               new pod, then DEL: what a runtime pays per pod, every process summed

The floor (tools/bench/floor.py: python -I -S, TLS, one GET and one PUT) runs in the
same sections (its VERSION in start, its ADD and DEL next to spiderpool's); every
CPU figure is also given as a ratio to the floor's ADD CPU of this run.
CPU is user+system of the exec and everything it waited for (wait4 through
tools/bench/rusage_exec.c); RSS is the peak of its largest process. The header gives
the date, machine and load average, since figures taken under load are upper figures.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.bench import exec_table, execs, measure, plugins
from tools.testbed import netns, paths
from tools.testbed.cluster import Cluster, NodeConfig
from tools.testbed.controlplane import ControlPlane

SECTIONS = ("start", "ipam", "coordinator", "ifacer", "chain")
PLUGINS = ("ifacer", "spiderpool", "coordinator")
ENV_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
NAMESPACE = "bench"
NODE = "bench-node"
HOST_CIDR = "192.168.60.2/24"


def cni_env(command: str, cid: str = "", netns_path: str = "", **extra: str) -> dict[str, str]:
    env = {"PATH": ENV_PATH, "CNI_COMMAND": command, "CNI_PATH": paths.cni_path()}
    if cid:
        env |= {"CNI_CONTAINERID": cid, "CNI_IFNAME": "eth0", "CNI_NETNS": netns_path}
    return env | extra


def pod_args(name: str, uid: str, cid: str) -> str:
    return (
        f"IgnoreUnknown=1;K8S_POD_NAMESPACE={NAMESPACE};K8S_POD_NAME={name};"
        f"K8S_POD_INFRA_CONTAINER_ID={cid};K8S_POD_UID={uid}"
    )


# ---------------------------------------------------------------- start


def section_start(bench: exec_table.Bench) -> None:
    floor = plugins.floor_wrapper(Path(tempfile.mkdtemp(prefix="spidernet-bench-")))
    stdin = b'{"cniVersion": "1.0.0"}'
    python = os.path.realpath(sys.executable)
    for _ in range(bench.runs + 1):
        run = execs.run([python, "-I", "-S", "-c", "pass"], b"", cni_env("VERSION"))
        bench.row("start", "python -I -S, empty", "-").add(run)
        bench.row("start", "floor VERSION", "-").add(
            execs.run([str(floor)], stdin, cni_env("VERSION"))
        )
        for plugin in PLUGINS:
            for b in bench.bundles:
                run = execs.run([str(b.exe(plugin))], stdin, cni_env("VERSION"))
                bench.row("start", f"{plugin} VERSION", b.label).add(run)


# ---------------------------------------------------------------- ipam


@dataclass
class Api:
    """The control plane, its CRDs, one namespace and node, a node config per candidate."""

    cp: ControlPlane
    cluster: Cluster
    base: Path

    def node_config(self, label: str) -> NodeConfig:
        return NodeConfig.create(self.cp, NODE, self.base / label)

    def new_pod(self, name: str) -> str:
        return str(self.cluster.pod(NAMESPACE, name, NODE)["metadata"]["uid"])


def _ipam_conf(ipam: dict[str, Any], prev: dict[str, Any] | None = None) -> bytes:
    conf: dict[str, Any] = {"cniVersion": "1.0.0", "name": "bench", "type": "macvlan", "ipam": ipam}
    if prev is not None:
        conf["prevResult"] = prev
    return json.dumps(conf).encode()


def _ipam_candidates(
    bench: exec_table.Bench, api: Api
) -> list[tuple[str, Path, dict[str, Any], NodeConfig]]:
    """(label, executable, ipam section, node config): the floor, then each bundle's spiderpool."""
    out = []
    for k, label in enumerate(["floor", *(b.label for b in bench.bundles)]):
        pool = f"bench-ipam-{k}"
        api.cluster.pool(pool, f"10.200.{k}.0/24", [f"10.200.{k}.1-10.200.{k}.250"])
        node = api.node_config(f"ipam-{label}")
        if label == "floor":
            exe = plugins.floor_wrapper(node.dir)
            ipam = {
                "type": plugins.FLOOR_TYPE,
                "kubeconfig": node.kubeconfig,
                "pools": [pool],
                "lock_file": str(node.dir / "floor.lock"),
            }
        else:
            exe = next(b for b in bench.bundles if b.label == label).exe("spiderpool")
            # the paths in the NAD too: bundles from before the cluster IPAM config read them there
            ipam = node.ipam(default_ipv4_ippool=[pool], **node.paths())
        out.append((label, exe, ipam, node))
    return out


def section_ipam(bench: exec_table.Bench, api: Api) -> None:
    candidates = _ipam_candidates(bench, api)
    tail = measure.LogTail()
    owner: dict[str, str] = {}  # container ID -> candidate label
    for i in range(bench.runs + 1):
        for label, exe, ipam, node in candidates:
            name, cid = f"ipam-{label}-{i}", plugins.container_id()
            owner[cid] = label
            uid = api.new_pod(name)
            args = pod_args(name, uid, cid)
            env = cni_env("ADD", cid, "/var/run/netns/none", CNI_ARGS=args, **node.env)
            added = bench.row("ipam", "ADD", label).add(
                execs.run([str(exe)], _ipam_conf(ipam), env)
            )
            api.cluster.delete_pod(NAMESPACE, name)
            prev = json.loads(added.stdout)
            conf = _ipam_conf(ipam, prev)
            bench.row("ipam", "DEL", label).add(
                execs.run([str(exe)], conf, env | {"CNI_COMMAND": "DEL"})
            )
    logs = [node.dir / "spiderpool.log" for *_, node in candidates]
    for line in tail.read_new(logs):
        row = bench.row("ipam", line.command, owner.get(line.container_id, "?"))
        row.requests.update(f"{c.split()[0]} {_kind(c)}" for c in line.calls)
    for verb in ("ADD", "DEL"):  # the floor logs nothing: one GET and one PUT by construction
        row = bench.row("ipam", verb, "floor")
        row.requests.update({"GET pool": len(row.runs), "PUT pool": len(row.runs)})


_KINDS = {
    "pods": "pod",
    "namespaces": "namespace",
    "spiderippools": "pool",
    "spiderendpoints": "endpoint",
    "spiderreservedips": "reserved IPs",
}


def _kind(call: str) -> str:
    """``GET /apis/.../spiderippools/x`` -> ``pool``: the kind of object a request is about."""
    parts = call.split()[-1].split("?")[0].split("/")
    return next((_KINDS[p] for p in reversed(parts) if p in _KINDS), parts[-1])


# ---------------------------------------------------------------- coordinator and ifacer


@dataclass
class Node:
    """The simulated node: a netns with NIC ens1 (address HOST_CIDR) on an underlay bridge."""

    underlay: netns.Underlay
    ns: netns.Netns

    def pod_with_eth0(self, address: str) -> netns.Netns:
        """A pod netns whose eth0 is a macvlan on ens1 holding ``address``, as after macvlan's
        ADD."""
        pod = self.underlay.add_pod(secrets.token_hex(3))
        netns.ip(
            "link",
            "add",
            "eth0",
            "link",
            "ens1",
            "type",
            "macvlan",
            "mode",
            "bridge",
            netns=self.ns.name,
        )
        netns.ip("link", "set", "eth0", "netns", pod.name, netns=self.ns.name)
        netns.ip("addr", "add", address, "dev", "eth0", netns=pod.name)
        netns.ip("link", "set", "eth0", "up", netns=pod.name)
        return pod

    def drop(self, pod: netns.Netns) -> None:
        pod.delete()
        self.underlay.pods.remove(pod)


def _coordinator_conf(node_dir: Path, prev: dict[str, Any] | None) -> bytes:
    conf: dict[str, Any] = {
        "cniVersion": "1.0.0",
        "name": "bench",
        "type": "coordinator",
        "mode": "underlay",
        "logOptions": {"logLevel": "info", "logFile": str(node_dir / "coordinator.log")},
    }
    if prev is not None:
        conf["prevResult"] = prev
    return json.dumps(conf).encode()


def section_coordinator(bench: exec_table.Bench, node: Node, work: Path) -> None:
    for i in range(bench.runs + 1):
        for k, b in enumerate(bench.bundles):
            address = f"10.202.{k}.{i % 250 + 1}/24"
            pod, cid = node.pod_with_eth0(address), plugins.container_id()
            prev = {
                "cniVersion": "1.0.0",
                "interfaces": [{"name": "eth0", "sandbox": pod.path}],
                "ips": [{"address": address, "interface": 0}],
            }
            conf, env = _coordinator_conf(work, prev), cni_env("ADD", cid, pod.path)
            run = execs.run([str(b.exe("coordinator"))], conf, env, netns=node.ns.path)
            bench.row("coordinator", "ADD", b.label).add(run)
            run = execs.run(
                [str(b.exe("coordinator"))], conf, env | {"CNI_COMMAND": "DEL"}, netns=node.ns.path
            )
            bench.row("coordinator", "DEL", b.label).add(run)
            node.drop(pod)


def section_ifacer(bench: exec_table.Bench, node: Node, work: Path) -> None:
    conf = {
        "cniVersion": "1.0.0",
        "name": "bench",
        "type": "ifacer",
        "interfaces": [node.underlay.nic],
        "logOptions": {"logFile": str(work / "ifacer.log")},
        "prevResult": {"cniVersion": "1.0.0"},
    }
    for _ in range(bench.runs + 1):
        for b in bench.bundles:
            for verb in ("ADD", "CHECK"):
                env = cni_env(verb, plugins.container_id(), "/var/run/netns/none")
                run = execs.run(
                    [str(b.exe("ifacer"))], json.dumps(conf).encode(), env, netns=node.ns.path
                )
                bench.row("ifacer", verb, b.label).add(run)


# ---------------------------------------------------------------- chain


def _chain_conflist(
    api: Api, b: exec_table.Bundle, k: int, work: Path
) -> tuple[Path, dict[str, str]]:
    """The chain's conflist for bundle ``b``, and what the runtime adds to the plugins' env."""
    pool = f"bench-chain-{k}"
    api.cluster.pool(pool, f"10.201.{k}.0/24", [f"10.201.{k}.1-10.201.{k}.250"])
    node = api.node_config(f"chain-{b.label}")
    log = {"logLevel": "info"}
    chain = [
        {
            "type": "ifacer",
            "interfaces": ["ens1"],
            "logOptions": log | {"logFile": str(node.dir / "ifacer.log")},
        },
        {
            "type": "macvlan",
            "master": "ens1",
            "mode": "bridge",
            "ipam": node.ipam(default_ipv4_ippool=[pool], log_level="info", **node.paths()),
        },
        {
            "type": "coordinator",
            "mode": "underlay",
            "logOptions": log | {"logFile": str(node.dir / "coordinator.log")},
        },
    ]
    path = work / f"chain-{b.label}.conflist"
    path.write_text(json.dumps({"cniVersion": "1.0.0", "name": "bench", "plugins": chain}))
    return path, node.env


def section_chain(bench: exec_table.Bench, api: Api, node: Node, work: Path) -> None:
    conflists = {b.label: _chain_conflist(api, b, k, work) for k, b in enumerate(bench.bundles)}
    for i in range(bench.runs + 1):
        for b in bench.bundles:
            name, cid = f"chain-{b.label}-{i}", plugins.container_id()
            uid, pod = api.new_pod(name), node.underlay.add_pod(secrets.token_hex(3))
            conflist, extra = conflists[b.label]
            env = {"PATH": ENV_PATH, "CNI_PATH": f"{b.bin}:{paths.REFERENCE_PLUGINS}", **extra}
            argv = [
                str(paths.CNIRUN),
                "-conf",
                str(conflist),
                "-id",
                cid,
                "-netns",
                pod.path,
                "-ifname",
                "eth0",
                "-cache-dir",
                str(work / "libcni-cache"),
                "-args",
                pod_args(name, uid, cid),
            ]
            bench.row("chain", "ADD", b.label).add(
                execs.run([*argv, "add"], b"", env, netns=node.ns.path)
            )
            api.cluster.delete_pod(NAMESPACE, name)
            bench.row("chain", "DEL", b.label).add(
                execs.run([*argv, "del"], b"", env, netns=node.ns.path)
            )
            node.drop(pod)


# ---------------------------------------------------------------- main


@contextmanager
def environment(needs_api: bool, needs_node: bool) -> Iterator[tuple[Api | None, Node | None]]:
    with ControlPlane() if needs_api else _none() as cp:
        api = None
        if cp is not None:
            cluster = Cluster(cp)
            cluster.install_crds()
            cluster.namespace(NAMESPACE)
            cluster.node(NODE)
            api = Api(cp, cluster, Path(tempfile.mkdtemp(prefix="spidernet-bench-")))
        if not needs_node:
            yield api, None
            return
        with netns.Underlay(api_port=cp.port if cp else 0) as underlay:
            ns = underlay.add_node(host_addresses=(HOST_CIDR,))
            yield api, Node(underlay, ns)


@contextmanager
def _none() -> Iterator[None]:
    yield None


def bundles_of(dirs: list[Path]) -> list[exec_table.Bundle]:
    if not dirs:
        return [exec_table.Bundle("current", paths.BUNDLE_BIN.parent.resolve())]
    labels = ["before", "after"] if len(dirs) == 2 else [d.name for d in dirs]
    return [exec_table.Bundle(label, d.resolve()) for label, d in zip(labels, dirs, strict=True)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}"
    )
    ap.add_argument("--json", type=Path, help="also write the rows here")
    ap.add_argument("bundles", nargs="*", type=Path)
    args = ap.parse_args(argv)
    only = [s for s in args.only.split(",") if s]
    if unknown := set(only) - set(SECTIONS):
        ap.error(f"unknown sections {sorted(unknown)}")
    bench, load = exec_table.Bench(bundles_of(args.bundles), args.runs), os.getloadavg()[0]
    needs_api = bool({"ipam", "chain"} & set(only))
    needs_node = bool({"coordinator", "ifacer", "chain"} & set(only))
    work = Path(tempfile.mkdtemp(prefix="spidernet-bench-"))
    steps: dict[str, Callable[[Api | None, Node | None], None]] = {
        "start": lambda api, node: section_start(bench),
        "ipam": lambda api, node: section_ipam(bench, api) if api else None,
        "coordinator": lambda api, node: section_coordinator(bench, node, work) if node else None,
        "ifacer": lambda api, node: section_ifacer(bench, node, work) if node else None,
        "chain": lambda api, node: section_chain(bench, api, node, work) if api and node else None,
    }
    with environment(needs_api, needs_node) as (api, node):
        for section in only:
            print(f"exec_cost: {section} ...", flush=True)
            steps[section](api, node)
    print("\n".join(["", *exec_table.header(bench, load), "", *exec_table.table(bench)]))
    if args.json:
        args.json.write_text(
            json.dumps(
                {"header": exec_table.header(bench, load), "rows": exec_table.to_json(bench)},
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
