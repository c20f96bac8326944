"""The installer daemon's /metrics after real execs of the plugins it installed, its probes,
and the IPAM's answers when the API server refuses or cannot be reached (docs/metrics.md,
docs/troubleshooting.md). The real API server, the real frozen bundles, a real token.

| step                                          | expected                                      |
|-----------------------------------------------|-----------------------------------------------|
| the daemon installs, serves on a free port    | /healthz and /readyz 200                      |
| 4 ADDs on a pool of 4 (two at a time from two | /metrics: ADD code 0 x4, code 100 x1, DEL     |
| "nodes": separate lock dirs), a 5th ADD, 4    | code 0 x4; duration and lock-wait histograms  |
| DELs; each exec writes the outcome record     | counted 9; the pool's writes and conflicts    |
|                                               | are the sums of the record's lines            |
| the token's pod deleted (revoked), an ADD     | code 999 naming the server, the kubeconfig,   |
|                                               | "revoked" and the pod the token was bound to  |
| a token that expired (an unsigned JWT whose   | "expired at", how long ago                    |
| exp has passed: the server refuses it too)    |                                               |
| an unreachable server                         | code 11 naming the server's address           |
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration import accounts
from tests.integration.ipam_calls import Plugin
from tools.testbed import cni, paths
from tools.testbed.cluster import Cluster

NODE = "node-metrics"


@dataclass
class Daemon:
    proc: subprocess.Popen[str]
    log: Path
    plugin: Plugin
    record: Path
    pod: dict[str, object]

    def url(self, path: str) -> str:
        found = re.search(r"metrics and probes on http://127\.0\.0\.1:(\d+)/", self.log.read_text())
        assert found, self.log.read_text()
        return f"http://127.0.0.1:{found.group(1)}{path}"

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url(path), timeout=30) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


def wait_until(what: str, predicate: object, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def daemon(cluster: Cluster, tmp_path: Path, bundle_bin: Path) -> Iterator[Daemon]:
    accounts.apply_rbac(cluster.cp)
    cluster.node(NODE)
    pod = accounts.installer_pod(cluster.cp, f"installer-{secrets.token_hex(3)}", NODE)
    sa = accounts.ProjectedDir(tmp_path / "sa")
    sa.write(
        accounts.token(cluster.cp, "kube-system", "spidernet-node", pod=pod),
        cluster.cp.ca_file.read_bytes(),
    )
    host = tmp_path / "host"
    record = tmp_path / "run" / "metrics" / "outcomes.jsonl"
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(paths.REPO),
        "SPIDERNET_BUNDLES": str(bundle_bin.parent),
        "SPIDERNET_CNI_BIN_DIR": str(host / "bin"),
        "SPIDERNET_CNI_CONF_DIR": str(host / "net.d"),
        "SPIDERNET_TOKEN_FILE": str(sa.token_file),
        "SPIDERNET_CA_FILE": str(sa.ca_file),
        "SPIDERNET_API_SERVER": cluster.cp.server,
        "NODE_NAME": NODE,
        "POD_UID": str(pod["metadata"]["uid"]),  # type: ignore[index]
        "SPIDERNET_READY_FILE": str(tmp_path / "ready"),
        "SPIDERNET_METRICS_ADDRESS": "127.0.0.1:0",
        "SPIDERNET_OUTCOMES": str(record),
        "SPIDERNET_REQUIRE_RUNTIME_PLUGINS": "false",  # no runtime's plugins in host/bin
        "SPIDERNET_HANDOVER_SECONDS": "0",  # no successor at the end
    }
    log = tmp_path / "installer.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "installer"], env=env, cwd=paths.REPO, stderr=err, text=True
        )
    kubeconfig = host / "net.d" / "spiderpool.d" / "spiderpool.kubeconfig"
    plugin = Plugin(
        host / "bin" / "spiderpool", kubeconfig, tmp_path, {"SPIDERNET_OUTCOMES": str(record)}
    )
    try:
        wait_until("the installer to be ready", (tmp_path / "ready").exists)
        yield Daemon(proc, log, plugin, record, pod)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(
    got: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return got.get((name, frozenset(labels.items())), 0.0)


def test_the_exported_metrics_count_the_plugins_real_execs(
    cluster: Cluster, daemon: Daemon
) -> None:
    assert daemon.get("/healthz")[0] == 200 and daemon.get("/readyz")[0] == 200
    ns = f"m{secrets.token_hex(3)}"
    cluster.namespace(ns)
    pool = cluster.pool(f"{ns}-p", "10.216.0.0/24", ["10.216.0.10-10.216.0.13"])["metadata"]["name"]
    refs = []
    for i in range(5):
        pod = cluster.pod(ns, f"p{i}", NODE)
        refs.append(cni.PodRef(ns, f"p{i}", uid=pod["metadata"]["uid"], container_id=f"c{i}"))
    # Two "nodes" (lock directories) at once: their writes to the one pool may conflict.
    nodes = [replace(daemon.plugin, root=daemon.plugin.root / f"n{k}") for k in (0, 1)]

    def add(i: int) -> cni.ExecResult:
        return nodes[i % 2].call("ADD", refs[i], default_ipv4_ippool=[pool])

    with ThreadPoolExecutor(2) as pool_of_two:
        added = list(pool_of_two.map(add, range(4)))
    assert [a.returncode for a in added] == [0] * 4, [a.stdout for a in added]
    exhausted = add(4)
    assert exhausted.json()["code"] == 100, exhausted.stdout
    for i in range(4):
        cluster.delete_pod(ns, f"p{i}")  # gone: its DEL releases (a live pod's keeps)
        deleted = nodes[i % 2].call(
            "DEL", refs[i], prev=added[i].json(), default_ipv4_ippool=[pool]
        )
        assert deleted.returncode == 0, deleted.stdout

    status, text = daemon.get("/metrics")
    assert status == 200
    got = samples(text)
    lines = [json.loads(x) for x in daemon.record.read_text().splitlines()]
    writes = sum(x["pools"].get(pool, [0, 0])[0] for x in lines)
    conflicts = sum(x["pools"].get(pool, [0, 0])[1] for x in lines)
    print(f"{len(lines)} execs recorded; pool writes {writes}, conflicts {conflicts}")
    execs = "spidernet_plugin_execs_total"
    assert sample(got, execs, plugin="spiderpool", verb="ADD", code="0") == 4
    assert sample(got, execs, plugin="spiderpool", verb="ADD", code="100") == 1
    assert sample(got, execs, plugin="spiderpool", verb="DEL", code="0") == 4
    duration = "spidernet_plugin_exec_duration_seconds_count"
    assert sample(got, duration, plugin="spiderpool", verb="ADD") == 5
    assert sample(got, duration, plugin="spiderpool", verb="DEL") == 4
    wait = "spidernet_ipam_lock_wait_seconds_count"
    assert sample(got, wait, verb="ADD") + sample(got, wait, verb="DEL") == 9
    assert writes == 8  # each ADD and each DEL wrote the pool once
    assert sample(got, "spidernet_ipam_pool_writes_total", pool=pool) == writes
    assert sample(got, "spidernet_ipam_pool_conflicts_total", pool=pool) == conflicts
    assert sample(got, "spidernet_installer_ready") == 1


def _unsigned_jwt(claims: dict[str, object]) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


def kubeconfig(tmp_path: Path, server: str, ca: Path, token: str) -> Path:
    path = tmp_path / f"k-{secrets.token_hex(3)}.kubeconfig"
    path.write_text(
        json.dumps(
            {
                "clusters": [
                    {"name": "c", "cluster": {"server": server, "certificate-authority": str(ca)}}
                ],
                "users": [{"name": "u", "user": {"token": token}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


def test_a_refused_or_unreachable_api_is_explained(
    cluster: Cluster, daemon: Daemon, tmp_path: Path
) -> None:
    ns = f"d{secrets.token_hex(3)}"
    cluster.namespace(ns)
    pod = cluster.pod(ns, "p", NODE)
    ref = cni.PodRef(ns, "p", uid=pod["metadata"]["uid"], container_id="c-d")
    token = daemon.plugin.kubeconfig.with_name("token").read_text()
    pod_name = str(daemon.pod["metadata"]["name"])  # type: ignore[index]
    cluster.delete_pod("kube-system", pod_name)
    wait_until("the token to be revoked", lambda: accounts.whoami_status(cluster.cp, token) == 401)
    ca = cluster.cp.ca_file
    cases = [
        (
            kubeconfig(tmp_path, cluster.cp.server, ca, token),
            999,
            ["revoked", f"kube-system/{pod_name}"],
        ),
        (
            kubeconfig(
                tmp_path, cluster.cp.server, ca, _unsigned_jwt({"exp": int(time.time()) - 120})
            ),
            999,
            ["expired at", "s ago", "spidernet-installer"],
        ),
        (
            kubeconfig(tmp_path, "https://127.0.0.1:9", ca, token),
            11,
            ["https://127.0.0.1:9 unreachable"],
        ),
    ]
    for path, code, phrases in cases:
        plugin = replace(daemon.plugin, kubeconfig=path)
        res = plugin.call("ADD", ref, allocation_timeout=2, default_ipv4_ippool=["none"])
        error = res.json()
        assert error["code"] == code, res.stdout
        assert str(path) in error["msg"] or code == 11, error["msg"]
        for phrase in phrases:
            assert phrase in error["msg"], error["msg"]
