"""The facts about a pod the IPAM needs, read from its API object. No I/O.

Alive (as upstream): exists, no deletionTimestamp, and not finished (phase Succeeded
or Failed). A pod that is not alive gets no new address, and its DEL releases.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
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
    """The installer's ``nodename`` file next to the kubeconfig, else the hostname (SPEC §2)."""
    try:
        name = (Path(kubeconfig).parent / "nodename").read_text().strip()
    except OSError:
        name = ""
    return name or socket.gethostname()
