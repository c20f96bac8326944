"""The facts about a pod the IPAM needs, read from its API object. No I/O.

Alive (as upstream): exists, no deletionTimestamp, and not finished (phase Succeeded
or Failed). A pod that is not alive gets no new address, and its DEL releases.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping

from spidernet.alloc.failures import BadArgs
from spidernet.protocol import files
from spidernet.types.record import field, record

TYPE_CHECKING = False  # typing is for the type checker only: not imported on an exec
if TYPE_CHECKING:
    from typing import Any

# Kubernetes' own rules for these names (apimachinery validation): a pod name is a
# DNS-1123 subdomain, a namespace a DNS-1123 label. CNI_ARGS comes from the runtime,
# but it ends up in API paths and lock-file names: validate, never trust (I6).
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_NAMESPACE = re.compile(_LABEL)
_POD_NAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_UID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@record
class Identity:
    """Who a CNI call is for, from CNI_ARGS (kubelet / Multus)."""

    namespace: str
    name: str
    uid: str  # K8S_POD_UID; "" when the runtime sends none (Multus < v4)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def identity(args: Mapping[str, str]) -> Identity | None:
    """The pod named by CNI_ARGS, validated (code 4); None when it names no pod."""
    ns, name, uid = (
        args.get("K8S_POD_NAMESPACE", ""),
        args.get("K8S_POD_NAME", ""),
        args.get("K8S_POD_UID", ""),
    )
    if not ns and not name:
        return None
    checks = (
        ("K8S_POD_NAMESPACE", ns, _NAMESPACE, 63),
        ("K8S_POD_NAME", name, _POD_NAME, 253),
        ("K8S_POD_UID", uid, _UID, 128),
    )
    for key, value, pattern, limit in checks:
        if key == "K8S_POD_UID" and not value:
            continue
        if not (value and len(value) <= limit and pattern.fullmatch(value)):
            raise BadArgs(f"CNI_ARGS {key}={value!r} is not a valid Kubernetes {key[8:].lower()}")
    return Identity(ns, name, uid)


STATEFULSET = "StatefulSet"
_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


@record
class PodInfo:
    namespace: str
    name: str
    uid: str
    node: str
    alive: bool
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    owner_kind: str = "Pod"
    owner_name: str = ""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def stateful(self) -> bool:
        """A StatefulSet pod: its addresses outlive it, for the next pod of its name
        (docs/ipam.md)."""
        return self.owner_kind == STATEFULSET


def is_alive(obj: Mapping[str, Any]) -> bool:
    if obj.get("metadata", {}).get("deletionTimestamp"):
        return False
    return (obj.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def info(obj: Mapping[str, Any]) -> PodInfo:
    meta = obj.get("metadata", {})
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    return PodInfo(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        uid=meta.get("uid", ""),
        node=(obj.get("spec") or {}).get("nodeName", ""),
        alive=is_alive(obj),
        labels=meta.get("labels") or {},
        annotations=meta.get("annotations") or {},
        owner_kind=owner.get("kind", "Pod") if owner else "Pod",
        owner_name=owner.get("name", "") if owner else meta.get("name", ""),
    )


def local_node_name(kubeconfig: str) -> str:
    """The installer's ``nodename`` file next to the kubeconfig, else the hostname
    (docs/ipam.md)."""
    try:
        name = files.read_text(os.path.join(os.path.dirname(kubeconfig), "nodename"), 256).strip()
    except (OSError, ValueError):  # absent, not a regular file (never waited on), not UTF-8
        name = ""
    return name or socket.gethostname()


def stateful_place(pod_name: str, statefulset: Mapping[str, Any] | None) -> str:
    """Why a StatefulSet pod of this name no longer has a place ("" when it has one).

    As upstream's IsValidStatefulSetPod: the name ends in ``-<ordinal>``, the StatefulSet
    exists, and the ordinal lies in ``[start, start + replicas)`` (``spec.ordinals.start``,
    default 0; ``spec.replicas``, default 1).
    """
    if statefulset is None:
        return "its StatefulSet is gone"
    m = _ORDINAL.match(pod_name)
    if not m:
        return f"{pod_name!r} has no ordinal"
    spec = statefulset.get("spec") or {}
    start = int((spec.get("ordinals") or {}).get("start") or 0)
    replicas = int(spec["replicas"]) if spec.get("replicas") is not None else 1
    ordinal = int(m.group(2))
    if start <= ordinal < start + replicas:
        return ""
    return f"ordinal {ordinal} is outside [{start}, {start + replicas}) of its StatefulSet"
