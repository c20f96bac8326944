"""An AdmissionReview in, a verdict out: the webhook's decisions. No I/O.

Validation (``problems``) is ``spidernet.validation``, the code ``spiderpoolctl validate``
runs, on the object the API server sends:

- SpiderIPPool: the object's rules; on update, what an update may not do (subnet, an
  allocated address leaving the pool, a terminating pool's spec); then overlap with the
  other pools of its family, as ``reviewing`` gathers them (the stored pools and the
  claims of recent admissions not yet listed);
- SpiderReservedIP, SpiderMultusConfig: the object's rules (the CR's NAD name may not
  change);
- an update that leaves ``spec`` as it was (labels, finalizers) is always admitted, so
  a pool that breaks a rule made after it was created can still be labelled and deleted.

Mutation (``patch``): a SpiderIPPool that is not being deleted gets the finalizer
``spiderpool.spidernet.io``, as upstream's mutating webhook adds it: the pool then stays
Terminating until its last record is gone (docs/ipam.md, "Deleting a pool").

Denials are plain language naming the field and, for an overlap, the other pool:
``spec.ips: 10.6.0.18-10.6.0.20 also in SpiderIPPool b (same subnet 10.6.0.0/24): ...``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spidernet.validation import ippools, multusconfigs, reservedips
from spidernet.validation.problems import Problem

FINALIZER = "spiderpool.spidernet.io"
VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")
KINDS = (ippools.KIND, reservedips.KIND, multusconfigs.KIND)


class Malformed(ValueError):
    """Not an AdmissionReview we can answer: the HTTP reply is 400 with this message."""


@dataclass(frozen=True)
class Request:
    api_version: str
    uid: str
    kind: str
    operation: str  # CREATE | UPDATE | DELETE | CONNECT
    name: str
    obj: Mapping[str, Any]
    old: Mapping[str, Any]
    dry_run: bool


def parse(body: object) -> Request:
    """The request of an AdmissionReview; raises Malformed naming what is missing."""
    if not isinstance(body, dict) or body.get("kind") != "AdmissionReview":
        raise Malformed("not an AdmissionReview (kind)")
    api = body.get("apiVersion")
    if api not in VERSIONS:
        raise Malformed(f"apiVersion {api!r} is not one of {list(VERSIONS)}")
    req = body.get("request")
    if not isinstance(req, dict) or not isinstance(req.get("uid"), str) or not req["uid"]:
        raise Malformed("request.uid missing")
    kind = (req.get("kind") or {}).get("kind") if isinstance(req.get("kind"), dict) else None
    op = req.get("operation")
    if not isinstance(kind, str) or op not in ("CREATE", "UPDATE", "DELETE", "CONNECT"):
        raise Malformed("request.kind.kind or request.operation missing")
    obj, old = req.get("object"), req.get("oldObject")
    if op in ("CREATE", "UPDATE") and not isinstance(obj, dict):
        raise Malformed("request.object missing")
    return Request(
        api_version=str(api),
        uid=req["uid"],
        kind=kind,
        operation=str(op),
        name=str(req.get("name") or (obj or {}).get("metadata", {}).get("name", "")),
        obj=obj if isinstance(obj, dict) else {},
        old=old if isinstance(old, dict) else {},
        dry_run=bool(req.get("dryRun")),
    )


def needs_overlap_check(req: Request) -> bool:
    """A pool created, or its spec changed: it is checked against the others (and claims)."""
    return (
        req.kind == ippools.KIND
        and req.operation in ("CREATE", "UPDATE")
        and not _spec_unchanged(req)
    )


def _spec_unchanged(req: Request) -> bool:
    return req.operation == "UPDATE" and req.old.get("spec") == req.obj.get("spec")


def problems(req: Request, others: Sequence[ippools.Extent] = ()) -> list[Problem]:
    """What is wrong with the request's object; ``others``: the pools it must not overlap."""
    if req.operation not in ("CREATE", "UPDATE") or req.kind not in KINDS:
        return []
    if _spec_unchanged(req):  # labels, finalizers: but a NAD name must not change
        return (
            multusconfigs.update_problems(req.old, req.obj)
            if req.kind == multusconfigs.KIND
            else []
        )
    found: list[Problem] = []
    if req.kind == ippools.KIND:
        if req.operation == "UPDATE":
            found += ippools.update_problems(req.old, req.obj)
        found += ippools.problems(req.obj)
        extent = ippools.extent(req.obj)
        if not found and extent is not None:
            found += ippools.overlaps(extent, others)
    elif req.kind == reservedips.KIND:
        found += reservedips.problems(req.obj)
    else:
        if req.operation == "UPDATE":
            found += multusconfigs.update_problems(req.old, req.obj)
        found += multusconfigs.problems(req.obj)
    return found


def patch(req: Request) -> list[dict[str, Any]]:
    """JSON patch operations for the object (the pool finalizer), [] for none."""
    if req.kind != ippools.KIND or req.operation not in ("CREATE", "UPDATE"):
        return []
    meta = req.obj.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return []  # a terminating pool's finalizer is for the GC to take off, not to add back
    finalizers = meta.get("finalizers")
    if finalizers is None:
        return [{"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]}]
    if FINALIZER in finalizers:
        return []
    return [{"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER}]


def mutation(body: object) -> dict[str, Any]:
    """The mutating AdmissionReview response (raises Malformed): no API call needed."""
    req = parse(body)
    return allowed(req, patch(req))


def allowed(req: Request, ops: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    response: dict[str, Any] = {"uid": req.uid, "allowed": True}
    if ops:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(list(ops)).encode()).decode()
    return _review(req, response)


def denied(req: Request, found: Sequence[Problem]) -> dict[str, Any]:
    overlap = any(
        "also in SpiderIPPool" in p.message or "overlaps SpiderIPPool" in p.message for p in found
    )
    code, reason = (403, "Forbidden") if overlap else (422, "Invalid")
    message = f"{req.kind} {req.name}: " + "; ".join(str(p) for p in found)
    status = {"code": code, "reason": reason, "message": message}
    return _review(req, {"uid": req.uid, "allowed": False, "status": status})


def _review(req: Request, response: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": req.api_version, "kind": "AdmissionReview", "response": response}
