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
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(paths.REPO),
        "SPIDERNET_BUNDLES": str(bundle_bin.parent),
        "SPIDERNET_CNI_BIN_DIR": str(host_bin),
        "SPIDERNET_CNI_CONF_DIR": str(host_conf),
        "SPIDERNET_TOKEN_FILE": str(sa.token_file),
        "SPIDERNET_CA_FILE": str(sa.ca_file),
        "SPIDERNET_API_SERVER": cluster.cp.server,
        "NODE_NAME": "node-rot",
        "POD_UID": str(pod_b["metadata"]["uid"]),  # type: ignore[index]
        "SPIDERNET_READY_FILE": str(tmp_path / "ready"),
        "SPIDERNET_POLL_SECONDS": "0.2",
        "SPIDERNET_METRICS_ADDRESS": "127.0.0.1:0",  # other runs of the suite share the machine
    }
    daemon = subprocess.Popen(
        [sys.executable, "-m", "installer"],
        env=env,
        cwd=paths.REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
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
