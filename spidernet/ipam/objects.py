"""The API objects the IPAM reads and writes, as typed shapes. Pure, no I/O.

What ``spidernet.ipam.store.Store`` hands out and takes back: the JSON the API server
sends, typed only as far as the IPAM reads into it (``total=False``: any key may be
absent, as in the API). Modules import them for the type checker only
(``TYPE_CHECKING``), so no exec pays for them: at run time they are plain dicts, and
mypy checks every read against the field names below. Functions that only
read an object take ``Mapping[str, Any]``, so the GC's and the CLI's LISTs (plain
dicts) pass too.
"""

from __future__ import annotations

from typing import Any, TypedDict


class OwnerReference(TypedDict, total=False):
    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool


class Meta(TypedDict, total=False):
    name: str
    namespace: str
    uid: str
    resourceVersion: str
    creationTimestamp: str
    deletionTimestamp: str
    labels: dict[str, str]
    annotations: dict[str, str]
    ownerReferences: list[OwnerReference]


class ApiObject(TypedDict, total=False):
    """A Pod, Namespace, Node or StatefulSet: read only, through ``pods`` and ``planning``."""

    apiVersion: str
    kind: str
    metadata: Meta
    spec: dict[str, Any]
    status: dict[str, Any]


class PoolStatus(TypedDict, total=False):
    allocatedIPs: str  # JSON: {"<ip>": {"pod", "podUid"[, "cooldownUntil"]}} (alloc.pools)
    allocatedIPCount: int
    totalIPCount: int


class PoolObject(TypedDict, total=False):
    """A SpiderIPPool; its spec is read by ``alloc.pools.Pool.parse``."""

    apiVersion: str
    kind: str
    metadata: Meta
    spec: dict[str, Any]
    status: PoolStatus


class EndpointStatus(TypedDict, total=False):
    current: dict[str, Any]  # {uid, node, ips: [detail per interface]} (ipam.endpoints)
    ownerControllerType: str
    ownerControllerName: str


class EndpointObject(TypedDict, total=False):
    """A SpiderEndpoint (layout: ``spidernet.ipam.endpoints``)."""

    apiVersion: str
    kind: str
    metadata: Meta
    status: EndpointStatus


class ReservedIPSpec(TypedDict, total=False):
    ipVersion: int
    ips: list[str]


class ReservedIPObject(TypedDict, total=False):
    """A SpiderReservedIP: addresses no pool hands out (``alloc.pools.reserved_ranges``)."""

    apiVersion: str
    kind: str
    metadata: Meta
    spec: ReservedIPSpec
