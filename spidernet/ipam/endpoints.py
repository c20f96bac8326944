"""SpiderEndpoint objects: one per pod, one detail per interface. No I/O.

Layout (upstream's, plus per-interface ``containerID`` and ``network``, docs/ipam.md)::

    metadata: {name: <pod>, namespace: <ns>, labels: {spiderpool.spidernet.io/node: <node>},
               ownerReferences: [Pod]}
    status:
      current: {uid, node, ips: [{interface, containerID, network, ipv4, ipv4Pool, ipv4Gateway,
                ipv6, ipv6Pool, ipv6Gateway, cleanGateway, routes: [{dst, gw}], vlan}]}
      ownerControllerType, ownerControllerName

``containerID`` is per interface: the sandbox that holds this interface's addresses
now. A pod's next sandbox takes its interfaces over one ADD at a time (Multus sends
one per NIC), so a DEL of the old sandbox for a NIC not yet taken over must still be
told apart from one for a NIC already taken over (docs/ipam.md, DEL and I3).

``inheritedFrom`` (ours) marks a detail a StatefulSet pod's successor took over from its
predecessor and that this NIC's own ADD has not claimed yet: it names the predecessor's
UID, whose records of these addresses move to the successor's UID at that ADD, and it
belongs to no sandbox (no ``containerID``), so no DEL of the old sandbox can take it
for its own (docs/ipam.md, "StatefulSet take-over").

The CNI result is always derived from a detail, so a repeated ADD answers exactly
what the first one did (default route = gateway unless cleanGateway; then the routes).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from spidernet.ipam.pods import PodInfo
from spidernet.types.results import IPConfig, Result, Route

TYPE_CHECKING = False  # the typed shapes are for the type checker: not imported on an exec
if TYPE_CHECKING:
    from typing import Any

    from spidernet.ipam.objects import EndpointObject

    Detail = dict[str, Any]
NODE_LABEL = "spiderpool.spidernet.io/node"  # lets a node list its endpoints cheaply (GC)
INHERITED = "inheritedFrom"


def current(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    return ((obj or {}).get("status") or {}).get("current") or {}


def uid(obj: Mapping[str, Any] | None) -> str:
    return str(current(obj).get("uid", ""))


def container_of(detail: Detail | None) -> str | None:
    """The sandbox holding this detail ("" for an inherited one), None when there is no detail."""
    return None if detail is None else str(detail.get("containerID", ""))


def inherited_from(detail: Detail | None) -> str:
    """The predecessor's UID of a detail taken over and not claimed yet; "" otherwise."""
    return str((detail or {}).get(INHERITED, ""))


def owners(detail: Detail, endpoint_uid: str) -> set[str]:
    """Whose records of this detail's addresses the endpoint answers for: its own UID's,
    and its predecessor's while the detail is inherited."""
    return {endpoint_uid, inherited_from(detail)} - {""}


def claimed(detail: Detail, container_id: str) -> Detail:
    """``detail`` as held by this sandbox: its containerID, no predecessor any more."""
    return {**{k: v for k, v in detail.items() if k != INHERITED}, "containerID": container_id}


def details(obj: Mapping[str, Any] | None) -> list[Detail]:
    cur = current(obj)
    legacy = cur.get("containerID")  # endpoints written before containerID moved into each detail
    return [
        d if "containerID" in d or not legacy else {**d, "containerID": legacy}
        for d in cur.get("ips") or []
    ]


def detail_for(obj: Mapping[str, Any] | None, ifname: str) -> Detail | None:
    return next((d for d in details(obj) if d.get("interface") == ifname), None)


def addresses(detail: Detail) -> Iterator[tuple[str, str]]:
    """(pool, bare ip) for each family the detail holds."""
    for fam in ("ipv4", "ipv6"):
        if detail.get(fam) and detail.get(f"{fam}Pool"):
            yield detail[f"{fam}Pool"], detail[fam].split("/")[0]


def named(obj: Mapping[str, Any] | None) -> set[str]:
    """Every bare address the endpoint names, any interface."""
    return {ip for d in details(obj) for _, ip in addresses(d)}


def claimed_elsewhere(obj: Mapping[str, Any] | None, ifname: str) -> set[str]:
    return {ip for d in details(obj) if d.get("interface") != ifname for _, ip in addresses(d)}


def stateful(obj: Mapping[str, Any] | None) -> bool:
    """An endpoint of a StatefulSet pod: no ownerReference, it waits for the pod's successor."""
    return ((obj or {}).get("status") or {}).get("ownerControllerType") == "StatefulSet"


def owner_name(obj: Mapping[str, Any] | None) -> str:
    return str(((obj or {}).get("status") or {}).get("ownerControllerName", ""))


def taken_over(
    obj: EndpointObject, pod: PodInfo, node: str, dropped: list[str]
) -> EndpointObject | None:
    """A StatefulSet endpoint passed to the pod's successor (new UID), without ``dropped``
    interfaces; None when nothing is left (the endpoint goes). Every detail kept is
    inherited: no sandbox holds it, and it names the UID its records are under (a detail
    already inherited and never claimed keeps the predecessor it names)."""
    out: EndpointObject = _copied(obj)
    cur = out["status"]["current"]
    cur["ips"] = [
        {INHERITED: uid(obj), **{k: v for k, v in d.items() if k != "containerID"}}
        for d in details(obj)
        if d.get("interface") not in dropped
    ]
    cur.pop("containerID", None)
    cur.update(uid=pod.uid, node=node)
    out["metadata"].setdefault("labels", {})[NODE_LABEL] = node
    return out if cur["ips"] else None


def build(
    pod: PodInfo, node: str, detail: Detail, existing: EndpointObject | None
) -> EndpointObject:
    """A new endpoint, or ``existing`` with this interface's detail added or replaced."""
    if existing is not None:
        obj: EndpointObject = _copied(existing)
        cur = obj.setdefault("status", {}).setdefault("current", {})
        cur["ips"] = [
            d for d in cur.get("ips") or [] if d.get("interface") != detail["interface"]
        ] + [detail]
        cur.pop("containerID", None)  # written per endpoint before it moved into each detail
        cur["node"] = node
        obj["metadata"].setdefault("labels", {})[NODE_LABEL] = node
        return obj
    return {
        "apiVersion": "spiderpool.spidernet.io/v2beta1",
        "kind": "SpiderEndpoint",
        "metadata": {
            "name": pod.name,
            "namespace": pod.namespace,
            "labels": {NODE_LABEL: node},
            # A StatefulSet pod's endpoint must outlive the pod: no owner, or the
            # garbage collector would delete it with the pod.
            "ownerReferences": []
            if pod.stateful
            else [{"apiVersion": "v1", "kind": "Pod", "name": pod.name, "uid": pod.uid}],
        },
        "status": {
            "current": {"uid": pod.uid, "node": node, "ips": [detail]},
            "ownerControllerType": pod.owner_kind,
            "ownerControllerName": pod.owner_name,
        },
    }


def without_interface(obj: Mapping[str, Any], ifname: str) -> EndpointObject | None:
    """``obj`` without this interface's detail; None when it was the last (the endpoint goes,
    I3)."""
    out: EndpointObject = _copied(obj)
    cur = out["status"]["current"]
    cur["ips"] = [d for d in cur.get("ips") or [] if d.get("interface") != ifname]
    return out if cur["ips"] else None


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


def by_pool(items: list[Detail]) -> dict[str, set[str]]:
    """pool -> the bare addresses these details hold in it."""
    out: dict[str, set[str]] = {}
    for d in items:
        for pool, ip in addresses(d):
            out.setdefault(pool, set()).add(ip)
    return out


def _copied(value: Any) -> Any:
    """A deep copy of a decoded JSON value (dicts, lists and scalars only): what
    ``copy.deepcopy`` gives it, without importing ``copy`` and ``weakref`` on every exec."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    return value
