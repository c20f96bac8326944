"""The harness's own API calls (pods, ReplicaSets, nodes), on kept-alive TLS connections. Does I/O.

The benchmark plays the controllers and the kubelets: it creates and deletes
thousands of pods while the plugins run on the same two cores. ``ControlPlane.request``
opens a new TLS connection per call (urllib); here each thread keeps one, so the
harness's own CPU stays small next to what it measures.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from typing import Any

from tools.testbed.controlplane import ControlPlane


class Api:
    def __init__(self, cp: ControlPlane) -> None:
        self.cp = cp
        self._ctx = ssl.create_default_context(cafile=str(cp.ca_file))
        self._local = threading.local()
        self._all: list[http.client.HTTPSConnection] = []  # the worker threads end before close()
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()

    def _conn(self) -> http.client.HTTPSConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPSConnection(
                "127.0.0.1", self.cp.port, context=self._ctx, timeout=60
            )
            with self._lock:
                self._all.append(conn)
        return conn

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.cp.token}", "Content-Type": content_type}
        for attempt in range(5):  # a kept-alive connection the server closed: reconnect
            try:
                conn = self._conn()
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
            except (OSError, http.client.HTTPException):
                self._conn().close()
                self._local.conn = None
                time.sleep(0.1 * (attempt + 1))
        raise RuntimeError(f"{method} {path}: no answer after 5 tries")

    def ok(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        allow: tuple[int, ...] = (),
        content_type: str = "application/json",
    ) -> Any:
        status, reply = self.request(method, path, body, content_type)
        if status >= 300 and status not in allow:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {reply}")
        return reply

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
