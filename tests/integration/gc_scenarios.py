"""Shared set-up for the GC tests: their own control plane, pods in every state, GC passes.

Not a test module: helpers and a fixture the GC test modules import. A GC pass judges
every pool and endpoint of the cluster, so the GC tests do not share the session's
control plane with the other tests (whose leftovers it would judge, and change):
each GC module starts its own (``gc_cluster``, ~3 s). Inside a module every test has
its own namespace, nodes and pools, and asserts only on those.

The GC is told (``--ipam-config``, ``quick_budget``) that an IPAM ADD runs at most 1 s:
every ADD of these tests has answered before the pass that judges it, so a zombie is
released 2 s after its pod is known dead rather than the 61 s of the defaults.

Pods are API objects (no kubelet): Pending with ``spec.nodeName`` unless their status
is patched; a pod deleted with a grace period stays Terminating; one with a finalizer
deleted with grace 0 stays Terminating past its deadline at once. The addresses come
from the frozen IPAM binary (``tests/integration/ipam_exec``), as a main plugin gets them.
"""

from __future__ import annotations

import io
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from spidernet.gc import command
from tests.integration.ipam_exec import Outcome, Runtime
from tools.testbed.cluster import Cluster, NodeConfig
from tools.testbed.cni import PodRef
from tools.testbed.controlplane import ControlPlane

GROUP = "/apis/spiderpool.spidernet.io/v2beta1"
HOLD = "spidernet.io/test-hold"  # a finalizer no controller removes: the pod stays Terminating


@pytest.fixture(scope="module")
def gc_cluster() -> Iterator[Cluster]:
    with ControlPlane() as cp:
        c = Cluster(cp)
        c.install_crds()
        yield c


def now_rfc3339(offset: float = 0.0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


def quick_budget(base: Path) -> str:
    """A cluster IPAM config whose ADDs run at most 1 s (``--ipam-config``), written in ``base``."""
    path = base / "gc-ipam-config.json"
    path.write_text(json.dumps({"max_allocation_timeout": 1}))
    return str(path)


@dataclass
class Pass:
    """One GC pass's outcome: exit status, the JSON report, the stderr summary."""

    rc: int
    report: dict[str, Any]
    err: str

    def about(self, pool: str, ip: str) -> dict[str, list[str]]:
        """Where the report lists this address: {"released": [reason], "kept": [...], ...}."""
        out: dict[str, list[str]] = {}
        for key in ("released", "wouldRelease", "kept", "coolingDropped"):
            reasons = [i["reason"] for i in self.report[key] if i["pool"] == pool and i["ip"] == ip]
            if reasons:
                out[key] = reasons
        return out

    def endpoint(self, key: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name in ("endpointsDeleted", "endpointsKept"):
            reasons = [i["reason"] for i in self.report[name] if i["endpoint"] == key]
            if reasons:
                out[name] = reasons
        return out

    def errors_about(self, text: str) -> list[dict[str, Any]]:
        return [e for e in self.report["errors"] if text in e["object"] or text in e["message"]]


@dataclass
class GcEnv:
    cluster: Cluster
    base: Path
    ns: str = field(default_factory=lambda: f"g{secrets.token_hex(3)}")
    runtimes: dict[str, Runtime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cluster.namespace(self.ns)

    @property
    def cp(self) -> ControlPlane:
        return self.cluster.cp

    def name(self, what: str) -> str:
        return f"{self.ns}-{what}"

    def _ok(self, status: int, reply: Any, what: str) -> Any:
        assert status < 300, f"{what}: HTTP {status}: {reply}"
        return reply

    # ------------------------------------------------------------ nodes

    def node(self, what: str, *, ready: bool = True, pool: str = "", **ipam: Any) -> NodeConfig:
        """A Node with a Ready condition, its plugin config dir, and a runtime allocating from
        ``pool``."""
        name = self.name(what)
        self.cluster.node(name)
        self.set_ready(name, ready)
        node = NodeConfig.create(self.cp, name, self.base)
        self.runtimes[name] = Runtime(
            node, ipam={"default_ipv4_ippool": [pool], **ipam} if pool else ipam
        )
        return node

    def set_ready(self, node: str, ready: bool) -> None:
        cond = {
            "type": "Ready",
            "status": "True" if ready else "False",
            "reason": "KubeletReady" if ready else "NodeStatusUnknown",
            "lastHeartbeatTime": now_rfc3339(),
            "lastTransitionTime": now_rfc3339(),
        }
        self._ok(
            *self.cp.request(
                "PATCH",
                f"/api/v1/nodes/{node}/status",
                {"status": {"conditions": [cond]}},
                content_type="application/merge-patch+json",
            ),
            f"node {node} ready={ready}",
        )

    # ------------------------------------------------------------ pods

    def pod(
        self,
        name: str,
        node: str,
        *,
        hold: bool = False,
        owner: dict[str, Any] | None = None,
        ns: str = "",
    ) -> PodRef:
        ns = ns or self.ns
        meta: dict[str, Any] = {"name": name, "namespace": ns, "finalizers": [HOLD] if hold else []}
        if owner is not None:
            meta["ownerReferences"] = [
                {
                    "apiVersion": owner["apiVersion"],
                    "kind": owner["kind"],
                    "controller": True,
                    "name": owner["metadata"]["name"],
                    "uid": owner["metadata"]["uid"],
                }
            ]
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": {
                "nodeName": node,
                "automountServiceAccountToken": False,
                "containers": [{"name": "c", "image": "pause"}],
            },
        }
        obj = self._ok(
            *self.cp.request("POST", f"/api/v1/namespaces/{ns}/pods", body), f"pod {name}"
        )
        return PodRef(ns, name, obj["metadata"]["uid"], f"c-{name}-{obj['metadata']['uid'][:6]}")

    def add(self, ref: PodRef, node: str, **kw: Any) -> Outcome:
        out = self.runtimes[node].add(ref, ref.container_id, **kw)
        assert out.ok or kw.get("failpoint"), out.result
        return out

    def running_pod(self, name: str, node: str, **kw: Any) -> tuple[PodRef, str]:
        """A pod with an address: ADD through the frozen IPAM, then phase Running."""
        ref = self.pod(name, node, **kw)
        ip = self.add(ref, node).ips()[0]
        self.set_phase(ref, "Running")
        return ref, ip

    def set_phase(self, ref: PodRef, phase: str) -> None:
        path = f"/api/v1/namespaces/{ref.namespace}/pods/{ref.name}/status"
        self._ok(
            *self.cp.request(
                "PATCH",
                path,
                {"status": {"phase": phase}},
                content_type="application/merge-patch+json",
            ),
            f"pod {ref.name} phase {phase}",
        )

    def delete_pod(self, ref: PodRef, grace: int = 0) -> None:
        self.cluster.delete_pod(ref.namespace, ref.name, grace=grace)

    def release_hold(self, ref: PodRef) -> None:
        path = f"/api/v1/namespaces/{ref.namespace}/pods/{ref.name}"
        self.cp.request(
            "PATCH",
            path,
            {"metadata": {"finalizers": None}},
            content_type="application/merge-patch+json",
        )

    def statefulset(self, name: str, replicas: int) -> dict[str, Any]:
        spec = {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "pause"}]},
            },
        }
        body = {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": self.ns},
            "spec": spec,
        }
        return dict(
            self._ok(
                *self.cp.request("POST", f"/apis/apps/v1/namespaces/{self.ns}/statefulsets", body),
                name,
            )
        )

    def delete_statefulset(self, name: str) -> None:
        self.cp.request("DELETE", f"/apis/apps/v1/namespaces/{self.ns}/statefulsets/{name}")

    # ---------------------------------------------------------- pools and endpoints written by hand

    def write_records(self, pool: str, records: dict[str, dict[str, Any]], **status: Any) -> None:
        """Set a pool's records directly (states the IPAM never writes: hand-made StatefulSet
        records, broken ones)."""
        obj = self.cluster.get_pool(pool)
        obj["status"] = {
            **(obj.get("status") or {}),
            "allocatedIPs": json.dumps(records) if records else None,
            "allocatedIPCount": sum(1 for r in records.values() if "cooldownUntil" not in r),
            **status,
        }
        self._ok(
            *self.cp.request("PUT", f"{GROUP}/spiderippools/{pool}/status", obj),
            f"records of {pool}",
        )

    def write_endpoint(
        self, name: str, uid: str, node: str, pool: str, ip: str, *, sts: str = ""
    ) -> None:
        status: dict[str, Any] = {
            "current": {
                "uid": uid,
                "node": node,
                "ips": [{"interface": "eth0", "ipv4": f"{ip}/24", "ipv4Pool": pool}],
            }
        }
        if sts:
            status.update(ownerControllerType="StatefulSet", ownerControllerName=sts)
        body = {
            "apiVersion": "spiderpool.spidernet.io/v2beta1",
            "kind": "SpiderEndpoint",
            "metadata": {"name": name, "namespace": self.ns},
            "status": status,
        }
        self._ok(
            *self.cp.request("POST", f"{GROUP}/namespaces/{self.ns}/spiderendpoints", body),
            f"endpoint {name}",
        )

    def endpoint_names(self) -> set[str]:
        return {e["metadata"]["name"] for e in self.cluster.endpoints(self.ns)}

    def holders(self, pool: str) -> dict[str, str]:
        return {ip: r["podUid"] for ip, r in self.cluster.holders(pool).items()}

    def counts_right(self, pool: str) -> bool:
        status = self.cluster.get_pool(pool).get("status") or {}
        return int(status.get("allocatedIPCount") or 0) == len(self.cluster.holders(pool))

    # ------------------------------------------------------------ the GC

    def gc(self, *args: str, kubeconfig: str = "") -> Pass:
        """One pass in this process (the entry's own main), --min-age 0 unless given."""
        argv = [
            "--kubeconfig",
            kubeconfig or str(self.cp.kubeconfig),
            "--state-namespace",
            self.ns,
            *args,
        ]
        if "--min-age" not in args:
            argv += ["--min-age", "0"]
        if "--ipam-config" not in args:
            argv += ["--ipam-config", quick_budget(self.base)]
        out, err = io.StringIO(), io.StringIO()
        rc = command.main(argv, out, err)
        return Pass(rc, json.loads(out.getvalue()), err.getvalue())
