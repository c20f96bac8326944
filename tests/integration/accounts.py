"""ServiceAccounts, their tokens, and what the API server saw them do. Does I/O.

- ``apply_rbac``: our installer/manifests/rbac.yaml, applied for real (server-side apply).
- ``installer_pod``: a pod object of the installer's service account, for tokens to be
  bound to (nothing runs it).
- ``token``: a token from the TokenRequest API, optionally bound to a pod as kubelet's
  projected tokens are: deleting that pod revokes it, which is how an installer pod's
  token dies in a cluster.
- ``ProjectedDir``: a token directory laid out as kubelet's projected volume writes it
  (``..data`` -> ``..<timestamp>/``, ``token`` -> ``..data/token``), rotated the same way.
- ``AuditedControlPlane``: a control plane whose audit log records every request of
  the users it is told to watch, so a test can list the verbs a component really used.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.testbed import manifests
from tools.testbed.controlplane import ControlPlane


def apply_rbac(cp: ControlPlane) -> None:
    for obj in manifests.listed(manifests.MANIFESTS):
        if obj["kind"] in (
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
        ):
            status, reply = manifests.apply(cp, obj, dry_run=False)
            if status not in (200, 201):
                raise RuntimeError(
                    f"{obj['kind']}/{obj['metadata']['name']}: HTTP {status}: {reply}"
                )


def username(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def token(
    cp: ControlPlane,
    namespace: str,
    name: str,
    *,
    pod: dict[str, Any] | None = None,
    seconds: int = 3600,
) -> str:
    spec: dict[str, Any] = {"expirationSeconds": seconds}
    if pod is not None:
        spec["boundObjectRef"] = {
            "kind": "Pod",
            "apiVersion": "v1",
            "name": pod["metadata"]["name"],
            "uid": pod["metadata"]["uid"],
        }
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    status, reply = cp.request(
        "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", body
    )
    if status != 201:
        raise RuntimeError(f"TokenRequest for {namespace}/{name}: HTTP {status}: {reply}")
    return str(reply["status"]["token"])


def installer_pod(cp: ControlPlane, name: str, node: str) -> dict[str, Any]:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {
            "nodeName": node,
            "serviceAccountName": "spidernet-node",
            "automountServiceAccountToken": False,
            "containers": [{"name": "installer", "image": "spidernet:0.1.0"}],
        },
    }
    status, reply = cp.request("POST", "/api/v1/namespaces/kube-system/pods", body)
    assert status == 201, reply
    return dict(reply)


def whoami_status(cp: ControlPlane, bearer: str) -> int:
    """HTTP status of a harmless authenticated request made with ``bearer``: 401 once revoked."""
    return cp.request("GET", "/api", bearer=bearer)[0]


@dataclass
class ProjectedDir:
    """``<dir>/token`` and ``<dir>/ca.crt`` as kubelet's projected volume provides them."""

    dir: Path

    def write(self, token: str, ca: bytes) -> None:
        stamp = self.dir / f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.monotonic_ns()}"
        stamp.mkdir(parents=True)
        (stamp / "token").write_text(token)
        (stamp / "ca.crt").write_bytes(ca)
        old = os.readlink(self.dir / "..data") if (self.dir / "..data").is_symlink() else None
        os.symlink(stamp.name, self.dir / "..data_tmp")
        os.rename(self.dir / "..data_tmp", self.dir / "..data")
        for name in ("token", "ca.crt"):
            if not (self.dir / name).is_symlink():
                os.symlink(f"..data/{name}", self.dir / name)
        if old:
            shutil.rmtree(self.dir / old)

    @property
    def token_file(self) -> Path:
        return self.dir / "token"

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.crt"


@dataclass
class AuditedControlPlane(ControlPlane):
    """A control plane that audits the requests of ``audited_users`` (Metadata level)."""

    audited_users: tuple[str, ...] = ()
    _policy: dict[str, Any] = field(default_factory=dict)

    @property
    def audit_log(self) -> Path:
        return self.workdir / "audit.log"

    def _apiserver_flags(self, etcd_url: str) -> list[str]:
        policy = {
            "apiVersion": "audit.k8s.io/v1",
            "kind": "Policy",
            "omitStages": ["RequestReceived"],
            "rules": [{"level": "Metadata", "users": list(self.audited_users)}, {"level": "None"}],
        }
        (self.workdir / "audit-policy.json").write_text(json.dumps(policy))
        return [
            *super()._apiserver_flags(etcd_url),
            f"--audit-policy-file={self.workdir / 'audit-policy.json'}",
            f"--audit-log-path={self.audit_log}",
            "--audit-log-format=json",
        ]

    def requests_by(self, user: str) -> list[dict[str, Any]]:
        """Every finished request ``user`` made, as audit events."""
        if not self.audit_log.exists():
            return []
        events = [
            json.loads(line) for line in self.audit_log.read_text().splitlines() if line.strip()
        ]
        return [
            e
            for e in events
            if e.get("stage") == "ResponseComplete" and e["user"]["username"] == user
        ]
