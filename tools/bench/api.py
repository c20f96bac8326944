"""The harness's own API calls (pods, ReplicaSets, nodes), on kept-alive TLS connections. Does I/O.

The benchmark plays the controllers and the kubelets: it creates and deletes
thousands of pods while the plugins run on the same two cores. So its requests go
through the testbed's client with one kept connection per thread
(``ControlPlane.client(keep_alive=True)``), and the harness's own CPU stays small next to
what it measures.
"""

from __future__ import annotations

import time
from typing import Any

from tools.testbed.controlplane import ControlPlane


class Api:
    def __init__(self, cp: ControlPlane) -> None:
        self.cp = cp
        # an answer lost on the way is asked for again: the run goes on
        self.client = cp.client(keep_alive=True, tries=5, timeout=60)
        self.ok = self.client.ok

    def close(self) -> None:
        """Close the kept connections; the worker threads end before this."""
        self.client.close()

    # ------------------------------------------------------------ objects the benchmark plays with

    def replicaset(self, ns: str, name: str, replicas: int) -> dict[str, Any]:
        """A Deployment-like group's ReplicaSet (no controller runs: it only owns the pods)."""
        body = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "c", "image": "pause"}]},
                },
            },
        }
        return dict(self.ok("POST", f"/apis/apps/v1/namespaces/{ns}/replicasets", body))

    def pod(self, ns: str, name: str, node: str, owner: dict[str, Any]) -> str:
        """A pod bound to ``node`` and owned by ``owner``; returns its UID."""
        meta = owner["metadata"]
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": {"app": meta["name"]},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": {
                "nodeName": node,
                "automountServiceAccountToken": False,
                "containers": [{"name": "c", "image": "pause"}],
            },
        }
        return str(self.ok("POST", f"/api/v1/namespaces/{ns}/pods", body)["metadata"]["uid"])

    def delete_pod(self, ns: str, name: str, grace: int) -> None:
        """grace > 0: the pod is Terminating until a grace-0 delete (the kubelet's confirmation)."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": grace}
        self.ok("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}", body, allow=(404,))

    def node(self, name: str) -> None:
        self.ok(
            "POST",
            "/api/v1/nodes",
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}},
            allow=(409,),
        )

    def set_ready(self, node: str, ready: bool) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        cond = {
            "type": "Ready",
            "status": "True" if ready else "False",
            "reason": "KubeletReady" if ready else "NodeStatusUnknown",
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }
        self.ok(
            "PATCH",
            f"/api/v1/nodes/{node}/status",
            {"status": {"conditions": [cond]}},
            content_type="application/merge-patch+json",
        )
