"""The frozen spiderpool IPAM exec'd directly with a given kubeconfig, for the installer's
tests (credentials, RBAC, old hosts). Not a test module. Does I/O.

The IPAM opens no network namespace, so these execs run in the machine's own and
reach the loopback API server; every directory the plugin writes is under ``root``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.testbed import cni


@dataclass(frozen=True)
class Plugin:
    binary: Path
    kubeconfig: Path
    root: Path
    env: Mapping[str, str] = field(default_factory=dict)  # more of the runtime's environment

    def ipam(self, **extra: Any) -> dict[str, Any]:
        return {"type": "spiderpool", "log_level": "debug", **extra}

    def cluster_env(self) -> dict[str, str]:
        """The cluster IPAM config naming this kubeconfig and ``root``'s directories."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / "cluster-ipam.json"
        cluster = {
            "kubeconfig": str(self.kubeconfig),
            "lock_dir": str(self.root / "locks"),
            "state_dir": str(self.root / "state"),
            "log_file_path": str(self.root / "spiderpool.log"),
        }
        path.write_text(json.dumps(cluster))
        return {"SPIDERNET_IPAM_CONFIG": str(path)}

    def call(
        self,
        verb: str,
        pod: cni.PodRef | None,
        *,
        version: str = "1.0.0",
        ifname: str = "eth0",
        prev: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        **ipam: Any,
    ) -> cni.ExecResult:
        conf: dict[str, Any] = {
            "cniVersion": version,
            "name": "net-a",
            "type": "macvlan",
            "ipam": self.ipam(**ipam),
            **(extra or {}),
        }
        if prev is not None:
            conf["prevResult"] = prev
        env = self.cluster_env() | dict(self.env)
        if pod is not None:
            env |= {
                "CNI_CONTAINERID": pod.container_id,
                "CNI_NETNS": f"/var/run/netns/{pod.container_id}",
                "CNI_IFNAME": ifname,
                "CNI_ARGS": pod.cni_args(),
            }
        return cni.exec_plugin(self.binary, verb, conf, env=env)
