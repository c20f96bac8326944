"""SpiderEndpoint objects: one per pod, one detail per interface. No I/O.

Layout (upstream's, plus ``containerID`` and per-interface ``network``, SPEC §2)::

    metadata: {name: <pod>, namespace: <ns>, labels: {spiderpool.spidernet.io/node: <node>},
               ownerReferences: [Pod]}
    status:
      current: {uid, node, containerID, ips: [{interface, network, ipv4, ipv4Pool, ipv4Gateway,
                ipv6, ipv6Pool, ipv6Gateway, cleanGateway, routes: [{dst, gw}], vlan}]}
      ownerControllerType, ownerControllerName

The CNI result is always derived from a detail, so a repeated ADD answers exactly
what the first one did (default route = gateway unless cleanGateway; then the routes).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from spidernet.ipam.pods import PodInfo
from spidernet.types.results import IPConfig, Result, Route

Detail = dict[str, Any]
NODE_LABEL = "spiderpool.spidernet.io/node"  # lets a node list its endpoints cheaply (GC)


def current(obj: dict[str, Any] | None) -> dict[str, Any]:
    return ((obj or {}).get("status") or {}).get("current") or {}


def uid(obj: dict[str, Any] | None) -> str:
    return str(current(obj).get("uid", ""))


def container_id(obj: dict[str, Any] | None) -> str:
    return str(current(obj).get("containerID", ""))


def details(obj: dict[str, Any] | None) -> list[Detail]:
    return list(current(obj).get("ips") or [])


def detail_for(obj: dict[str, Any] | None, ifname: str) -> Detail | None:
    return next((d for d in details(obj) if d.get("interface") == ifname), None)


def addresses(detail: Detail) -> Iterator[tuple[str, str]]:
    """(pool, bare ip) for each family the detail holds."""
    for fam in ("ipv4", "ipv6"):
        if detail.get(fam) and detail.get(f"{fam}Pool"):
            yield detail[f"{fam}Pool"], detail[fam].split("/")[0]


def claimed_elsewhere(obj: dict[str, Any] | None, ifname: str) -> set[str]:
    return {ip for d in details(obj) if d.get("interface") != ifname for _, ip in addresses(d)}


def build(pod: PodInfo, node: str, cid: str, detail: Detail, existing: dict[str, Any] | None) -> dict[str, Any]:
    """A new endpoint, or ``existing`` with this interface's detail added or replaced."""
    if existing is not None:
        obj = copy.deepcopy(existing)
        cur = obj.setdefault("status", {}).setdefault("current", {})
        cur["ips"] = [d for d in cur.get("ips") or [] if d.get("interface") != detail["interface"]] + [detail]
        cur.update(containerID=cid, node=node)
        obj["metadata"].setdefault("labels", {})[NODE_LABEL] = node
        return obj
    return {
        "apiVersion": "spiderpool.spidernet.io/v2beta1",
        "kind": "SpiderEndpoint",
        "metadata": {
            "name": pod.name,
            "namespace": pod.namespace,
            "labels": {NODE_LABEL: node},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": pod.name, "uid": pod.uid}],
        },
        "status": {
            "current": {"uid": pod.uid, "node": node, "containerID": cid, "ips": [detail]},
            "ownerControllerType": pod.owner_kind,
            "ownerControllerName": pod.owner_name,
        },
    }


def without_interface(obj: dict[str, Any], ifname: str) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    cur = out["status"]["current"]
    cur["ips"] = [d for d in cur.get("ips") or [] if d.get("interface") != ifname]
    return out


def result(detail: Detail) -> Result:
    ips: list[IPConfig] = []
    routes: list[Route] = []
    for fam, default_dst in (("ipv4", "0.0.0.0/0"), ("ipv6", "::/0")):
        if not detail.get(fam):
            continue
        gateway = detail.get(f"{fam}Gateway") or ""
        ips.append(IPConfig(address=detail[fam], gateway=gateway))
        if gateway and not detail.get("cleanGateway"):
            routes.append(Route(dst=default_dst, gw=gateway))
    routes.extend(Route(dst=r["dst"], gw=r.get("gw", "")) for r in detail.get("routes") or [])
    return Result(ips=tuple(ips), routes=tuple(routes))
