"""Kubernetes objects for IPAM scenarios on the local control plane. Does I/O.

Pods are plain API objects (no kubelet): they stay Pending with ``spec.nodeName`` set,
which is all the IPAM reads. Each simulated node gets its own plugin config directory
holding the kubeconfig, the installer's ``nodename`` file, the lock directory and the
log, as the installer lays them out on a real node.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.testbed import apiclient, crds
from tools.testbed.controlplane import ControlPlane

GROUP = "/apis/spiderpool.spidernet.io/v2beta1"


class Cluster:
    def __init__(self, cp: ControlPlane) -> None:
        self.cp = cp

    def _ok(self, status: int, reply: Any, what: str) -> Any:
        return apiclient.checked(what, status, reply)

    def install_crds(self) -> None:
        crds.install(self.cp)

    # ------------------------------------------------------------ core objects

    def namespace(
        self,
        name: str,
        annotations: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "annotations": annotations or {}, "labels": labels or {}},
        }
        status, reply = self.cp.request("POST", "/api/v1/namespaces", body)
        if status == 409:
            _, cur = self.cp.request("GET", f"/api/v1/namespaces/{name}")
            cur["metadata"]["annotations"] = annotations or {}
            cur["metadata"]["labels"] = {**cur["metadata"].get("labels", {}), **(labels or {})}
            status, reply = self.cp.request("PUT", f"/api/v1/namespaces/{name}", cur)
        self._ok(status, reply, f"namespace {name}")

    def node(self, name: str, labels: dict[str, str] | None = None) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": labels or {}},
        }
        status, reply = self.cp.request("POST", "/api/v1/nodes", body)
        if status != 409:
            self._ok(status, reply, f"node {name}")

    def pod(
        self,
        namespace: str,
        name: str,
        node: str,
        annotations: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        owner: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A pod bound to ``node``; ``owner`` (an API object) becomes its controller
        ownerReference."""
        refs = (
            [
                {
                    "apiVersion": owner["apiVersion"],
                    "kind": owner["kind"],
                    "name": owner["metadata"]["name"],
                    "uid": owner["metadata"]["uid"],
                    "controller": True,
                }
            ]
            if owner
            else []
        )
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "annotations": annotations or {},
                "labels": labels or {},
                "ownerReferences": refs,
            },
            "spec": {
                "nodeName": node,
                "automountServiceAccountToken": False,
                "containers": [{"name": "c", "image": "pause"}],
            },
        }
        status, reply = self.cp.request("POST", f"/api/v1/namespaces/{namespace}/pods", body)
        return dict(self._ok(status, reply, f"pod {namespace}/{name}"))

    def statefulset(
        self, namespace: str, name: str, replicas: int, start: int | None = None
    ) -> dict[str, Any]:
        """A StatefulSet object (no controller runs here: it creates no pods; the tests do)."""
        spec: dict[str, Any] = {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "pause"}]},
            },
        }
        if start is not None:
            spec["ordinals"] = {
                "start": start
            }  # 1.26+; a 1.20 server prunes it (tests set it only to read it back)
        body = {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
        path = f"/apis/apps/v1/namespaces/{namespace}/statefulsets"
        status, reply = self.cp.request("POST", path, body)
        if status == 409:
            status, reply = self.cp.request("GET", f"{path}/{name}")
        return dict(self._ok(status, reply, f"statefulset {namespace}/{name}"))

    def scale(self, namespace: str, name: str, replicas: int) -> None:
        path = f"/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}"
        self._ok(
            *self.cp.request(
                "PATCH",
                path,
                {"spec": {"replicas": replicas}},
                content_type="application/merge-patch+json",
            ),
            f"scale {name}",
        )

    def delete_pod(self, namespace: str, name: str, grace: int = 0) -> None:
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": grace}
        status, reply = self.cp.request(
            "DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}", body
        )
        if status != 404:
            self._ok(status, reply, f"delete pod {namespace}/{name}")

    # ------------------------------------------------------------ spiderpool objects

    def pool(self, name: str, subnet: str, ips: list[str], **spec: Any) -> dict[str, Any]:
        family = 6 if ":" in subnet else 4
        body = {
            "apiVersion": "spiderpool.spidernet.io/v2beta1",
            "kind": "SpiderIPPool",
            "metadata": {"name": name},
            "spec": {"ipVersion": family, "subnet": subnet, "ips": ips, **spec},
        }
        status, reply = self.cp.request("POST", f"{GROUP}/spiderippools", body)
        return dict(self._ok(status, reply, f"pool {name}"))

    def get_pool(self, name: str) -> dict[str, Any]:
        status, reply = self.cp.request("GET", f"{GROUP}/spiderippools/{name}")
        return dict(self._ok(status, reply, f"get pool {name}"))

    def patch_pool_spec(self, name: str, **spec: Any) -> None:
        status, reply = self.cp.request(
            "PATCH",
            f"{GROUP}/spiderippools/{name}",
            {"spec": spec},
            content_type="application/merge-patch+json",
        )
        self._ok(status, reply, f"patch pool {name}")

    def delete_pool(self, name: str) -> None:
        self.cp.request("DELETE", f"{GROUP}/spiderippools/{name}")

    def records(self, pool: str) -> dict[str, dict[str, str]]:
        raw = (self.get_pool(pool).get("status") or {}).get("allocatedIPs")
        return json.loads(raw) if raw else {}

    def holders(self, pool: str) -> dict[str, dict[str, str]]:
        """The records that hold an address for a pod (cooling ones, I5, hold it for nobody)."""
        return {ip: r for ip, r in self.records(pool).items() if "cooldownUntil" not in r}

    def reserved(self, name: str, family: int | None, ips: list[str]) -> None:
        """A SpiderReservedIP; ``family`` None writes it the upstream way, without ``ipVersion``."""
        spec: dict[str, Any] = {"ips": ips} if family is None else {"ipVersion": family, "ips": ips}
        body = {
            "apiVersion": "spiderpool.spidernet.io/v2beta1",
            "kind": "SpiderReservedIP",
            "metadata": {"name": name},
            "spec": spec,
        }
        self._ok(*self.cp.request("POST", f"{GROUP}/spiderreservedips", body), f"reserved {name}")

    def endpoints(self, namespace: str | None = None) -> list[dict[str, Any]]:
        path = (
            f"{GROUP}/namespaces/{namespace}/spiderendpoints"
            if namespace
            else f"{GROUP}/spiderendpoints"
        )
        return list(self._ok(*self.cp.request("GET", path), "list endpoints")["items"])

    def endpoint(self, namespace: str, name: str) -> dict[str, Any] | None:
        status, reply = self.cp.request(
            "GET", f"{GROUP}/namespaces/{namespace}/spiderendpoints/{name}"
        )
        return None if status == 404 else dict(self._ok(status, reply, "get endpoint"))


@dataclass
class NodeConfig:
    """The per-node directory the installer would write: kubeconfig, nodename, the cluster
    IPAM config, locks, attachment notes, log.

    The host paths and every other cluster-level IPAM setting live in the node's cluster
    IPAM config (docs/ipam.md, "Who sets what"), never in a NAD; ``env`` points the
    plugin at it, as a runtime's environment would. ``ipam()`` is the NAD's part only.
    """

    name: str
    dir: Path

    @classmethod
    def create(cls, cp: ControlPlane, name: str, base: Path, **cluster: Any) -> NodeConfig:
        d = base / name
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy(cp.kubeconfig, d / "spiderpool.kubeconfig")
        (d / "nodename").write_text(name + "\n")
        node = cls(name, d)
        node.write_cluster(**cluster)
        return node

    @property
    def kubeconfig(self) -> str:
        return str(self.dir / "spiderpool.kubeconfig")

    @property
    def cluster_file(self) -> Path:
        return self.dir / "cluster-ipam.json"

    @property
    def env(self) -> dict[str, str]:
        """What a runtime on this node puts in every plugin's environment."""
        return {"SPIDERNET_IPAM_CONFIG": str(self.cluster_file)}

    def paths(self) -> dict[str, str]:
        """The node's host paths, as its cluster IPAM config names them. A NAD may spell them
        too (the plugin accepts the cluster's own values): bundles from before the cluster
        IPAM config read them only there, so a before/after comparison passes both."""
        return {
            "kubeconfig": self.kubeconfig,
            "lock_dir": str(self.dir / "locks"),
            "state_dir": str(self.dir / "state"),
            "log_file_path": str(self.dir / "spiderpool.log"),
        }

    def write_cluster(self, **keys: Any) -> None:
        """The node's cluster IPAM config: its paths, plus ``keys`` (e.g. ceilings)."""
        self.cluster_file.write_text(json.dumps({**self.paths(), **keys}))

    def ipam(self, **extra: Any) -> dict[str, Any]:
        return {"type": "spiderpool", "log_level": "debug", **extra}


def macvlan_conflist(
    node: NodeConfig,
    *,
    version: str = "1.0.0",
    name: str = "macvlan-ens1",
    master: str = "ens1",
    **ipam: Any,
) -> dict[str, Any]:
    return {
        "cniVersion": version,
        "name": name,
        "plugins": [
            {"type": "macvlan", "master": master, "mode": "bridge", "ipam": node.ipam(**ipam)}
        ],
    }


def new_uid() -> str:
    return str(uuid.uuid4())
