"""spiderpoolctl against the real API server, over records and endpoints the frozen IPAM wrote.

Each test has its own namespace, node and label; ``pools -l`` keeps its view to its own
pools on the shared control plane. The CLI runs in-process (its real kubeconfig
resolution, its real client) unless the case is about the process itself (exit codes,
the kubectl plugin).

| command    | case                               | expected                                      |
|------------|------------------------------------|-----------------------------------------------|
| pools      | a pool with 2 held, 1 cooling, 1   | ALLOCATED 2 TOTAL 10 FREE 6 COOLING 1         |
|            | reserved of 10 addresses           |                                               |
| pools      | -o wide / json / yaml; -l matching | gateway and affinities; figures for scripts;  |
|            | nothing                            | "No SpiderIPPools match"                      |
| pools      | a pool the IPAM would refuse       | a warning naming why, <invalid> figures       |
| ip show    | an address the IPAM gave a live    | pool, pod, UID, node, container, interface,   |
|            | pod                                | endpoint, since, in use                       |
| ip show    | a zombie (pod deleted), -o json;   | pod gone; exit 3 naming the free pool; exit 2 |
|            | an address nobody holds; not an IP |                                               |
| ip list    | --pod, --node, --pool, -o wide; an | each only its own; exit 3                     |
|            | unknown pool                       |                                               |
| ip release | the pod is alive with that UID     | exit 1, records and endpoint unchanged        |
|            | (with and without --force)         |                                               |
| ip release | the pod is gone                    | its record released by CAS on the UID, the    |
|            |                                    | endpoint deleted; again: exit 3               |
| ip release | one of a dual-stack interface's    | the other stays recorded and named by the     |
|            | two addresses                      | endpoint                                      |
| ip release | a terminating pod; a cooling       | exit 1 naming why; --force releases           |
|            | address; a StatefulSet that keeps  |                                               |
|            | the address                        |                                               |
| gc         | a zombie: --dry-run, then a pass   | "would release" and nothing changes; then     |
|            |                                    | "released", -o json is the CronJob's report   |
| errors     | unknown context; an API server     | exit 4, 5 (within the timeout), 6             |
|            | that is down; a token RBAC refuses |                                               |
| kubectl    | kubectl spiderpool pools -l,       | the same table                                |
|            | through the real kubectl and PATH  |                                               |
"""

from __future__ import annotations

import io
import json
import os
import secrets
import stat
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from spidernet.cli import console, main
from tests.integration import accounts
from tests.integration.gc_scenarios import quick_budget
from tests.integration.ipam_calls import Plugin
from tools.testbed import cni, manifests, paths
from tools.testbed.cluster import GROUP, Cluster, NodeConfig

pytestmark = pytest.mark.apiserver


@dataclass
class Cli:
    cluster: Cluster
    kubeconfig: Path

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        con = console.Console(out, err, env={})
        code = main.main(["--kubeconfig", str(self.kubeconfig), *argv], con)
        return code, out.getvalue(), err.getvalue()


@dataclass
class World:
    """One test's namespace, node, pool label and a frozen IPAM on that node."""

    cluster: Cluster
    ns: str
    node: str
    plugin: Plugin
    cli: Cli

    @property
    def label(self) -> str:
        return f"cli-test={self.ns}"

    def pool(self, suffix: str, subnet: str, ips: list[str], **spec: Any) -> str:
        name = f"{self.ns}-{suffix}"
        body = {
            "apiVersion": "spiderpool.spidernet.io/v2beta1",
            "kind": "SpiderIPPool",
            "metadata": {"name": name, "labels": {"cli-test": self.ns}},
            "spec": {"subnet": subnet, "ips": ips, **spec},
        }
        status, reply = self.cluster.cp.request("POST", f"{GROUP}/spiderippools", body)
        assert status == 201, reply
        return name

    def pod(self, name: str, **kw: Any) -> cni.PodRef:
        obj = self.cluster.pod(self.ns, name, self.node, **kw)
        return cni.PodRef(
            self.ns,
            name,
            uid=obj["metadata"]["uid"],
            container_id=f"c-{name}-{secrets.token_hex(2)}",
        )

    def add(self, ref: cni.PodRef, *pools: str, ifname: str = "eth0") -> dict[str, Any]:
        v4 = [p for p in pools if not p.endswith("v6")]
        v6 = [p for p in pools if p.endswith("v6")]
        result = self.plugin.call(
            "ADD", ref, ifname=ifname, default_ipv4_ippool=v4, default_ipv6_ippool=v6
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return dict(result.json())


@pytest.fixture
def world(cluster: Cluster, tmp_path: Path, bundle_bin: Path) -> World:
    ns = f"c{secrets.token_hex(3)}"
    node = f"{ns}-node"
    cluster.namespace(ns)
    cluster.node(node)
    config = NodeConfig.create(cluster.cp, node, tmp_path)
    plugin = Plugin(bundle_bin / "spiderpool", Path(config.kubeconfig), tmp_path)
    return World(cluster, ns, node, plugin, Cli(cluster, cluster.cp.kubeconfig))


def address(result: dict[str, Any], index: int = 0) -> str:
    return str(result["ips"][index]["address"]).split("/")[0]


def cool(cluster: Cluster, pool: str, ip: str, pod: str) -> None:
    """Put a cooling record on ``ip`` (what a DEL after a failed ADD leaves, docs/ipam.md I5)."""
    obj = cluster.get_pool(pool)
    records = json.loads((obj.get("status") or {}).get("allocatedIPs") or "{}")
    records[ip] = {
        "pod": pod,
        "podUid": "u-failed",
        "cooldownUntil": "2099-01-01T00:00:00Z",
        "strikes": 2,
    }
    obj["status"] = {**(obj.get("status") or {}), "allocatedIPs": json.dumps(records)}
    status, reply = cluster.cp.request("PUT", f"{GROUP}/spiderippools/{pool}/status", obj)
    assert status == 200, reply


# ------------------------------------------------------------------ pools


def test_pools_counts_held_free_and_cooling_addresses_from_the_records(world: World) -> None:
    pool = world.pool("v4", "10.231.0.0/24", ["10.231.0.10-10.231.0.19"], gateway="10.231.0.1")
    world.cluster.reserved(f"{world.ns}-r", 4, ["10.231.0.19"])
    for name in ("a", "b"):
        world.add(world.pod(name), pool)
    cool(world.cluster, pool, "10.231.0.18", f"{world.ns}/c")
    code, out, _ = world.cli("pools", "-l", world.label)
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == [
        "NAME",
        "VERSION",
        "SUBNET",
        "ALLOCATED",
        "TOTAL",
        "FREE",
        "COOLING",
        "DEFAULT",
        "DISABLED",
        "AGE",
    ]
    assert row.split()[:9] == [pool, "4", "10.231.0.0/24", "2", "10", "6", "1", "false", "false"]


def test_pools_for_scripts_and_the_wide_view(world: World) -> None:
    pool = world.pool(
        "v6",
        "fd00:231::/64",
        ["fd00:231::10-fd00:231::1f"],
        gateway="fd00:231::1",
        nodeName=[world.node],
    )
    code, out, _ = world.cli("pools", "-l", world.label, "-o", "wide")
    assert code == 0 and out.splitlines()[1].split()[10:12] == ["fd00:231::1", world.node]
    for fmt, load in (("json", json.loads), ("yaml", __import__("yaml").safe_load)):
        code, out, _ = world.cli("pools", "-l", world.label, "-o", fmt)
        item = load(out)["items"][0]
        assert (code, item["name"], item["total"], item["free"], item["ipVersion"]) == (
            0,
            pool,
            16,
            16,
            6,
        )
    code, out, err = world.cli("pools", "-l", "cli-test=nothing-here")
    assert (code, out, err.strip()) == (0, "", "No SpiderIPPools match cli-test=nothing-here.")


def test_a_pool_the_ipam_would_refuse_shows_why(world: World) -> None:
    pool = world.pool("bad", "10.232.0.0/24", ["10.232.0.10"], gateway="10.232.0.10")
    try:
        code, out, err = world.cli("pools", "-l", world.label)
    finally:
        world.cluster.delete_pool(pool)  # a GC pass reports a broken pool as an error
    assert (
        code == 0
        and f"SpiderIPPool {pool} cannot be used: spec.gateway 10.232.0.10 is inside spec.ips"
        in err
    )
    assert out.splitlines()[1].split()[3:7] == ["<invalid>"] * 4


# ------------------------------------------------------------------ ip show and ip list


def test_ip_show_names_everything_about_a_live_holder(world: World) -> None:
    pool = world.pool("v4", "10.233.0.0/24", ["10.233.0.10-10.233.0.19"])
    ref = world.pod("web")
    ip = address(world.add(ref, pool))
    code, out, _ = world.cli("ip", "show", ip)
    shown = dict(line.split(":", 1) for line in out.splitlines())
    shown = {k: v.strip() for k, v in shown.items()}
    assert code == 0
    assert (shown["Pool"], shown["Pod"], shown["Pod UID"], shown["Status"]) == (
        pool,
        f"{world.ns}/web",
        ref.uid,
        "in use",
    )
    assert (shown["Node"], shown["Interface"], shown["Container ID"]) == (
        world.node,
        "eth0",
        ref.container_id,
    )
    assert shown["SpiderEndpoint"] == f"{world.ns}/web" and shown["Since"].endswith("ago)")


def test_ip_show_of_a_zombie_of_nobody_and_of_garbage(world: World) -> None:
    pool = world.pool("v4", "10.234.0.0/24", ["10.234.0.10-10.234.0.19"])
    ip = address(world.add(world.pod("gone"), pool))
    world.cluster.delete_pod(world.ns, "gone")
    code, out, _ = world.cli("ip", "show", ip, "-o", "json")
    assert code == 0 and (json.loads(out)["status"], json.loads(out)["pool"]) == ("pod gone", pool)
    code, out, err = world.cli("ip", "show", "10.234.0.19")
    assert (code, out) == (
        3,
        "",
    ) and f"10.234.0.19 is not allocated: it is free in SpiderIPPool {pool}" in err
    assert world.cli("ip", "show", "10.234.0.999")[0] == 2


def test_ip_list_by_pod_node_and_pool(world: World) -> None:
    pool, other = (
        world.pool("v4", "10.235.0.0/24", ["10.235.0.10-10.235.0.19"]),
        world.pool("o4", "10.236.0.0/24", ["10.236.0.10"]),
    )
    a, b = world.pod("a"), world.pod("b")
    ip_a, ip_b = address(world.add(a, pool)), address(world.add(b, pool))
    world.add(world.pod("c"), other)
    code, out, _ = world.cli("ip", "list", "--pod", f"{world.ns}/a")
    assert code == 0 and [line.split()[0] for line in out.splitlines()[1:]] == [ip_a]
    code, out, _ = world.cli("ip", "list", "--pool", pool, "-o", "wide")
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [(r[0], r[2], r[3], r[4], r[5], r[8]) for r in rows] == [
        (ip_a, f"{world.ns}/a", world.node, "eth0", "in", a.uid),
        (ip_b, f"{world.ns}/b", world.node, "eth0", "in", b.uid),
    ]
    code, out, _ = world.cli("ip", "list", "--node", world.node, "-o", "json")
    assert code == 0 and sorted(i["pool"] for i in json.loads(out)["items"]) == [other, pool, pool]
    assert world.cli("ip", "list", "--pool", f"{world.ns}-nope")[0] == 3


# ------------------------------------------------------------------ ip release


def test_release_refuses_while_the_pod_is_alive_even_forced(world: World) -> None:
    pool = world.pool("v4", "10.237.0.0/24", ["10.237.0.10-10.237.0.19"])
    ip = address(world.add(world.pod("alive"), pool))
    before = (world.cluster.records(pool), world.cluster.endpoint(world.ns, "alive"))
    for force in ((), ("--force",)):
        code, out, err = world.cli("ip", "release", ip, *force)
        assert (code, out) == (1, "") and "is alive and holds" in err
    assert (world.cluster.records(pool), world.cluster.endpoint(world.ns, "alive")) == before


def test_release_of_a_zombie_frees_its_record_and_endpoint_once(world: World) -> None:
    pool = world.pool("v4", "10.238.0.0/24", ["10.238.0.10-10.238.0.19"])
    ref = world.pod("zombie")
    ip = address(world.add(ref, pool))
    world.cluster.delete_pod(world.ns, "zombie")
    code, out, _ = world.cli("ip", "release", ip)
    assert code == 0 and out.splitlines() == [
        (
            f"released {ip} from SpiderIPPool {pool}: it was held by pod {world.ns}/zombie (UID "
            f"{ref.uid}; pod gone)"
        ),
        f"SpiderEndpoint {world.ns}/zombie: deleted (it named no other address)",
    ]
    assert world.cluster.records(pool) == {} and world.cluster.endpoint(world.ns, "zombie") is None
    assert world.cli("ip", "release", ip)[0] == 3


def test_release_of_one_address_of_a_dual_stack_nic_keeps_the_other(world: World) -> None:
    v4, v6 = (
        world.pool("v4", "10.239.0.0/24", ["10.239.0.10"]),
        world.pool("v6", "fd00:239::/64", ["fd00:239::10"]),
    )
    result = world.add(world.pod("dual"), v4, v6)
    world.cluster.delete_pod(world.ns, "dual")
    code, out, _ = world.cli("ip", "release", address(result, 0))
    assert code == 0 and "updated (the address left it" in out
    detail = world.cluster.endpoint(world.ns, "dual")["status"]["current"]["ips"][0]
    assert "ipv4" not in detail and detail["ipv6"].startswith(address(result, 1))
    assert world.cluster.records(v4) == {} and list(world.cluster.records(v6)) == [
        address(result, 1)
    ]


def test_release_of_a_terminating_or_cooling_address_needs_force(world: World) -> None:
    pool = world.pool("v4", "10.240.0.0/24", ["10.240.0.10-10.240.0.19"])
    ip = address(world.add(world.pod("slow"), pool))
    world.cluster.delete_pod(world.ns, "slow", grace=3600)  # stays Terminating: no kubelet here
    code, _, err = world.cli("ip", "release", ip)
    assert code == 1 and "is terminating" in err and "--force releases it now" in err
    assert world.cli("ip", "release", ip, "--force")[0] == 0
    cool(world.cluster, pool, "10.240.0.18", f"{world.ns}/failed")
    code, _, err = world.cli("ip", "release", "10.240.0.18")
    assert code == 1 and "cooling down after a failed ADD" in err
    assert world.cli("ip", "release", "10.240.0.18", "--force")[0] == 0
    assert world.cluster.records(pool) == {}


def test_release_of_a_statefulset_address_needs_force(world: World) -> None:
    pool = world.pool("v4", "10.241.0.0/24", ["10.241.0.10-10.241.0.19"])
    sts = world.cluster.statefulset(world.ns, "db", replicas=1)
    obj = world.cluster.pod(world.ns, "db-0", world.node, owner=sts)
    ref = cni.PodRef(world.ns, "db-0", uid=obj["metadata"]["uid"], container_id="c-db-0")
    ip = address(world.add(ref, pool))
    world.cluster.delete_pod(
        world.ns, "db-0"
    )  # the StatefulSet keeps the address for its next db-0
    code, _, err = world.cli("ip", "release", ip)
    assert code == 1 and f"StatefulSet {world.ns}/db keeps {ip}" in err
    assert world.cli("ip", "release", ip, "--force")[0] == 0
    assert world.cluster.records(pool) == {} and world.cluster.endpoint(world.ns, "db-0") is None


# ------------------------------------------------------------------ gc


def test_gc_dry_run_then_a_pass_with_the_cronjobs_report(world: World, tmp_path: Path) -> None:
    """A pass is cluster-wide: only this test's zombie is looked at (others may be listed).
    The GC is told an ADD takes at most 1 s, so the pass at --min-age 0 waits only that."""
    pool = world.pool("v4", "10.242.0.0/24", ["10.242.0.10-10.242.0.19"])
    ip = address(world.add(world.pod("zombie"), pool))
    world.cluster.delete_pod(world.ns, "zombie")
    state = [
        "--state-namespace",
        world.ns,
        "--min-age",
        "0",
        "--ipam-config",
        quick_budget(tmp_path),
    ]
    _, out, _ = world.cli("gc", "--dry-run", *state)
    rows = [line.split() for line in out.splitlines()[1:] if f" {ip} " in line]
    assert [r[:6] for r in rows] == [["would", "release", ip, pool, "pod", f"{world.ns}/zombie"]]
    assert world.cluster.records(pool) != {}
    _, out, err = world.cli("gc", *state, "-o", "json")
    report = json.loads(out)
    assert [(r["ip"], r["reason"]) for r in report["released"] if r["pool"] == pool] == [
        (ip, "pod-gone")
    ]
    assert "gc: released" in err and world.cluster.records(pool) == {}


# ------------------------------------------------------------------ bad input


def test_an_unknown_context_is_a_configuration_error(world: World) -> None:
    code, _, err = world.cli("--context", "nope", "pools")
    assert code == 4 and "context 'nope' does not exist" in err and "(contexts: local)" in err


def test_an_api_server_that_is_down_is_named_within_the_timeout(
    world: World, tmp_path: Path
) -> None:
    cfg = json.loads(world.cluster.cp.kubeconfig.read_text())
    cfg["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:9"  # discard port: refused
    down = tmp_path / "down"
    down.write_text(json.dumps(cfg))
    started = time.monotonic()
    code, _, err = Cli(world.cluster, down)("--request-timeout", "2", "pools")
    assert code == 5 and "cannot reach the API server at https://127.0.0.1:9" in err
    assert time.monotonic() - started < 30


def test_a_token_rbac_refuses_is_named(world: World, tmp_path: Path) -> None:
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "nobody", "namespace": world.ns},
    }
    assert manifests.apply(world.cluster.cp, account, dry_run=False)[0] in (200, 201)
    cfg = json.loads(world.cluster.cp.kubeconfig.read_text())
    cfg["users"][0]["user"]["token"] = accounts.token(world.cluster.cp, world.ns, "nobody")
    path = tmp_path / "nobody"
    path.write_text(json.dumps(cfg))
    code, _, err = Cli(world.cluster, path)("pools")
    assert code == 6 and "refused the request" in err and "spidernet-cli" in err


# ------------------------------------------------------------------ the kubectl plugin


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Iterator[Path]:
    """``kubectl-spiderpool`` as ``pip install`` writes a console script: the interpreter, the
    entry point pyproject.toml names, nothing else."""
    target = tomllib.loads((paths.REPO / "pyproject.toml").read_text())["project"]["scripts"][
        "kubectl-spiderpool"
    ]
    module, func = target.split(":")
    script = tmp_path / "bin" / "kubectl-spiderpool"
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\nimport sys\nfrom {module} import {func}\nsys.exit({func}())\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    yield script.parent


def test_kubectl_runs_the_plugin(world: World, plugin_dir: Path) -> None:
    kubectl = manifests.kubectl()
    if kubectl is None:
        pytest.fail("kubectl is not on PATH: install Debian's kubernetes-client (docs/testbed.md)")
    pool = world.pool("v4", "10.243.0.0/24", ["10.243.0.10-10.243.0.19"])
    env = {
        "PATH": f"{plugin_dir}:{os.environ['PATH']}",
        "PYTHONPATH": str(paths.REPO),
        "HOME": str(plugin_dir),
        "KUBECONFIG": str(world.cluster.cp.kubeconfig),
    }
    found = subprocess.run([kubectl, "plugin", "list"], capture_output=True, text=True, env=env)
    assert str(plugin_dir / "kubectl-spiderpool") in found.stdout
    run = subprocess.run(
        [kubectl, "spiderpool", "pools", "-l", world.label],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[1].split()[:6] == [pool, "4", "10.243.0.0/24", "0", "10", "10"]
    bad = subprocess.run(
        [kubectl, "spiderpool", "pools", "--bogus"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert bad.returncode == 2 and "--bogus (see kubectl spiderpool --help)" in bad.stderr
