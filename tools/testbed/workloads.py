"""Workload objects for the local cluster: Deployments and StatefulSets of busybox pods. No I/O.

Every pod sleeps and takes its address from the SpiderIPPool its template names with
the ``ipam.spidernet.io/ippool`` annotation (docs/ipam.md, "Pool choice"). The
container stops at once on SIGTERM (a shell trap; PID 1 ignores signals it has no
handler for), so a rollout or a scale-down does not wait out the grace period.
"""

from __future__ import annotations

import json
from typing import Any

SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; sleep 2147483647 & wait"]


def pod_template(app: str, image: str, pool: str | None) -> dict[str, Any]:
    annotations = {"ipam.spidernet.io/ippool": json.dumps({"ipv4": [pool]})} if pool else {}
    return {
        "metadata": {"labels": {"app": app}, "annotations": annotations},
        "spec": {
            "terminationGracePeriodSeconds": 5,
            "enableServiceLinks": False,
            "automountServiceAccountToken": False,
            "containers": [{"name": "main", "image": image, "command": SLEEPER}],
        },
    }


def deployment(
    name: str,
    namespace: str,
    *,
    replicas: int,
    image: str,
    pool: str | None,
    spread: bool = False,
) -> dict[str, Any]:
    """``spread``: the pods evenly on the nodes (a topology spread constraint on the node
    name), for tests that need pods on every node rather than where the scheduler's
    scores put them."""
    template = pod_template(name, image, pool)
    if spread:
        template["spec"]["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": name}},
            }
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": template,
        },
    }


def statefulset(
    name: str, namespace: str, *, replicas: int, image: str, pool: str | None
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": name}},
            "template": pod_template(name, image, pool),
        },
    }


def running(pod: dict[str, Any]) -> bool:
    """Running, every container ready, and not being deleted."""
    status = pod.get("status", {})
    ready = [c.get("ready") for c in status.get("containerStatuses", [])]
    return (
        status.get("phase") == "Running"
        and bool(ready)
        and all(ready)
        and "deletionTimestamp" not in pod["metadata"]
    )
