"""A rotated service-account token reaches the plugins, and the old one can die: the
installer daemon, the real bundles it installs, the real API server (P9 in the
reference: every peer has had outages from expired or revoked tokens on the host).

Tokens come from the TokenRequest API bound to installer pods, as kubelet's projected
tokens are; the token directory is laid out and rotated as kubelet does it
(``..data`` swapped by rename). Revoking = deleting the pod the old token is bound to,
which is what happens to an installer pod's token in a cluster.

| step                                  | expected                                                 |
|---------------------------------------|----------------------------------------------------------|
| daemon starts with token A            | bundles installed, kubeconfig + token A on the "host",   |
|                                       | ready                                                    |
| IPAM ADD through the installed plugin | allocated                                                |
| kubelet rotates the token to B        | the host's token becomes B within a few polls; the       |
|                                       | kubeconfig file is not rewritten                         |
| the pod of token A is deleted         | A is refused (401)                                       |
| IPAM DEL and a new ADD                | both succeed, with B                                     |
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration import accounts
from tests.integration.ipam_calls import Plugin
from tools.testbed import paths
from tools.testbed.cluster import Cluster
from tools.testbed.cni import PodRef

NS = "kube-system"


def wait_until(what: str, predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def daemon_env(
    cluster: Cluster,
    bundle_bin: Path,
    host: Path,
    sa: accounts.ProjectedDir,
    node: str,
    pod: dict[str, object],
) -> dict[str, str]:
    """An installer daemon's environment: ``host``'s bin and conf dirs, the token in ``sa``,
    the identity of ``pod``."""
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(paths.REPO),
        "SPIDERNET_BUNDLES": str(bundle_bin.parent),
        "SPIDERNET_CNI_BIN_DIR": str(host / "opt" / "cni" / "bin"),
        "SPIDERNET_CNI_CONF_DIR": str(host / "etc" / "cni" / "net.d"),
        "SPIDERNET_TOKEN_FILE": str(sa.token_file),
        "SPIDERNET_CA_FILE": str(sa.ca_file),
        "SPIDERNET_API_SERVER": cluster.cp.server,
        "NODE_NAME": node,
        "POD_UID": str(pod["metadata"]["uid"]),  # type: ignore[index]
        "SPIDERNET_READY_FILE": str(sa.dir.parent / f"ready-{sa.dir.name}"),
        "SPIDERNET_POLL_SECONDS": "0.2",
        "SPIDERNET_METRICS_ADDRESS": "127.0.0.1:0",  # other runs of the suite share the machine
        "SPIDERNET_REQUIRE_RUNTIME_PLUGINS": "false",  # no runtime's plugins in the bin dir
    }


def start_installer(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "installer"],
        env=env,
        cwd=paths.REPO,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_rotated_token_reaches_the_plugins_and_the_old_one_can_be_revoked(
    cluster: Cluster, tmp_path: Path, bundle_bin: Path
) -> None:
    accounts.apply_rbac(cluster.cp)
    tag = secrets.token_hex(3)
    pod_a, pod_b = (
        accounts.installer_pod(cluster.cp, f"installer-{tag}-a", "node-rot"),
        accounts.installer_pod(cluster.cp, f"installer-{tag}-b", "node-rot"),
    )
    token_a = accounts.token(cluster.cp, NS, "spidernet-node", pod=pod_a)
    sa = accounts.ProjectedDir(tmp_path / "sa")
    sa.write(token_a, cluster.cp.ca_file.read_bytes())
    host_bin, host_conf = (
        tmp_path / "host" / "opt" / "cni" / "bin",
        tmp_path / "host" / "etc" / "cni" / "net.d",
    )
    env = daemon_env(cluster, bundle_bin, tmp_path / "host", sa, "node-rot", pod_b)
    env["SPIDERNET_READY_FILE"] = str(tmp_path / "ready")
    env["SPIDERNET_HANDOVER_SECONDS"] = "0"  # no successor at the end
    daemon = start_installer(env)
    try:
        wait_until("the installer to be ready", (tmp_path / "ready").exists, timeout=120)
        conf_dir = host_conf / "spiderpool.d"
        plugin = Plugin(host_bin / "spiderpool", conf_dir / "spiderpool.kubeconfig", tmp_path)
        ns = f"rot{tag}"
        cluster.namespace(ns)
        cluster.node("node-rot")
        pool = cluster.pool(f"{ns}-p", "10.215.0.0/24", ["10.215.0.10-10.215.0.20"])["metadata"][
            "name"
        ]
        first = cluster.pod(ns, "first", "node-rot")
        ref = PodRef(ns, "first", uid=first["metadata"]["uid"], container_id="c-first")
        added = plugin.call("ADD", ref, default_ipv4_ippool=[pool])
        assert added.returncode == 0, added.stdout
        kubeconfig_inode = (conf_dir / "spiderpool.kubeconfig").stat().st_ino

        token_b = accounts.token(cluster.cp, NS, "spidernet-node", pod=pod_b)
        sa.write(token_b, cluster.cp.ca_file.read_bytes())  # kubelet's rotation
        wait_until("the host token to be B", lambda: (conf_dir / "token").read_text() == token_b)
        assert (conf_dir / "spiderpool.kubeconfig").stat().st_ino == kubeconfig_inode

        assert accounts.whoami_status(cluster.cp, token_a) == 200  # still valid: its pod exists
        cluster.delete_pod(NS, str(pod_a["metadata"]["name"]))  # type: ignore[index]
        wait_until(
            "token A to be revoked", lambda: accounts.whoami_status(cluster.cp, token_a) == 401
        )
        assert accounts.whoami_status(cluster.cp, token_b) == 200

        cluster.delete_pod(ns, "first")
        deleted = plugin.call("DEL", ref, prev=added.json(), default_ipv4_ippool=[pool])
        assert deleted.returncode == 0, deleted.stdout
        second = cluster.pod(ns, "second", "node-rot")
        again = plugin.call(
            "ADD",
            PodRef(ns, "second", uid=second["metadata"]["uid"], container_id="c-second"),
            default_ipv4_ippool=[pool],
        )
        assert again.returncode == 0, again.stdout
        assert [r["pod"] for r in cluster.records(pool).values()] == [f"{ns}/second"]
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
    assert f"wrote {conf_dir / 'token'}" in err


def test_a_deleted_installer_pod_hands_the_node_over_and_no_add_meets_a_revoked_token(
    cluster: Cluster, tmp_path: Path, bundle_bin: Path
) -> None:
    """The DaemonSet's surge replacement of a deleted pod, as the API server and kubelet
    see it: pod A is deleted with a grace period (Terminating: its token stays valid), A's
    installer gets SIGTERM and waits; B's pod and installer start 2 s later and take the
    credentials over; A exits, its pod goes (its token is revoked). ADDs run all along."""
    accounts.apply_rbac(cluster.cp)
    tag = secrets.token_hex(3)
    node, host = f"node-hand-{tag}", tmp_path / "host"
    cluster.node(node)
    pod_a = accounts.installer_pod(cluster.cp, f"installer-{tag}-a", node)
    sa_a = accounts.ProjectedDir(tmp_path / "sa-a")
    token_a = accounts.token(cluster.cp, NS, "spidernet-node", pod=pod_a)
    sa_a.write(token_a, cluster.cp.ca_file.read_bytes())
    env_a = daemon_env(cluster, bundle_bin, host, sa_a, node, pod_a)
    env_a["SPIDERNET_HANDOVER_SECONDS"] = "30"
    a = start_installer(env_a)
    b: subprocess.Popen[str] | None = None
    try:
        wait_until("A to be ready", Path(env_a["SPIDERNET_READY_FILE"]).exists, timeout=120)
        conf_dir = host / "etc" / "cni" / "net.d" / "spiderpool.d"
        plugin = Plugin(
            host / "opt" / "cni" / "bin" / "spiderpool",
            conf_dir / "spiderpool.kubeconfig",
            tmp_path,
        )
        ns = f"hand{tag}"
        cluster.namespace(ns)
        pool = cluster.pool(f"{ns}-p", "10.214.0.0/24", ["10.214.0.10-10.214.0.20"])
        subject = cluster.pod(ns, "subject", node)
        ref = PodRef(ns, "subject", uid=subject["metadata"]["uid"], container_id="c-subject")

        def add() -> int:
            res = plugin.call("ADD", ref, default_ipv4_ippool=[pool["metadata"]["name"]])
            return res.returncode if res.returncode == 0 else int(res.json()["code"])

        assert add() == 0
        cluster.delete_pod(NS, str(pod_a["metadata"]["name"]), grace=30)  # type: ignore[index]
        a.send_signal(signal.SIGTERM)  # what kubelet does next
        t0 = time.monotonic()
        results = [add()]
        assert accounts.whoami_status(cluster.cp, token_a) == 200  # Terminating: still valid
        time.sleep(2.0)  # the replacement's scheduling and image start
        pod_b = accounts.installer_pod(cluster.cp, f"installer-{tag}-b", node)
        sa_b = accounts.ProjectedDir(tmp_path / "sa-b")
        token_b = accounts.token(cluster.cp, NS, "spidernet-node", pod=pod_b)
        sa_b.write(token_b, cluster.cp.ca_file.read_bytes())
        env_b = daemon_env(cluster, bundle_bin, host, sa_b, node, pod_b)
        env_b["SPIDERNET_HANDOVER_SECONDS"] = "0"  # no successor of its own at the end
        b = start_installer(env_b)
        while a.poll() is None:
            results.append(add())
            assert time.monotonic() - t0 < 40, "A did not exit within its grace period"
        a_exited = time.monotonic() - t0
        cluster.delete_pod(NS, str(pod_a["metadata"]["name"]))  # type: ignore[index]
        wait_until(
            "token A to be revoked", lambda: accounts.whoami_status(cluster.cp, token_a) == 401
        )
        results += [add() for _ in range(3)]
        assert (conf_dir / "token").read_text() == token_b
        print(
            f"handover: A exited {a_exited:.1f} s after SIGTERM (B started at 2.0 s); "
            f"{len(results)} ADDs meanwhile and after, refused: {sum(r != 0 for r in results)}"
        )
        assert results == [0] * len(results)
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        _, err_a = a.communicate(timeout=60)
        if b is not None:
            b.communicate(timeout=60)
    assert "took the credentials over after" in err_a, err_a[-2000:]
