"""One admission review against the API server: pools and claims read, decided, claimed. Does I/O.

For a pool whose spec is new (CREATE) or changed (UPDATE), under compare-and-swap on the
claims ledger (``ledger``, one ConfigMap):

    LIST the pools                        the stored ones (its own old self left out)
    GET the ledger                        recent admissions not yet listed as claimed
    decide (admission.problems)           the object's rules, then overlap with both
    PUT the ledger with this pool's claim carrying the resourceVersion read
      409: someone admitted a pool meanwhile: read both again and decide again

so of two overlapping pools admitted at the same moment, one writes its claim first and
the other, reading again, sees it and is denied. A dry run claims nothing. Everything
else (reserved IPs, SpiderMultusConfigs, an update leaving the spec alone, a DELETE)
needs no read at all. Errors of the API server deny nothing themselves: they are
raised, the HTTP server answers 500, and the API server applies the webhook's
``failurePolicy`` (docs/ipam.md, "Admission").
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spidernet.guard import admission, ledger
from spidernet.k8s import errors as kerr
from spidernet.k8s import listing
from spidernet.k8s.transport import Transport
from spidernet.validation import ippools

POOLS = "/apis/spiderpool.spidernet.io/v2beta1/spiderippools"
ATTEMPTS = 8  # compare-and-swap rounds on the ledger before giving up (500: failurePolicy)


@dataclass(frozen=True)
class Ledger:
    namespace: str = "kube-system"
    name: str = "spidernet-pool-claims"

    def path(self, named: bool = True) -> str:
        base = f"/api/v1/namespaces/{urllib.parse.quote(self.namespace, safe='')}/configmaps"
        return f"{base}/{urllib.parse.quote(self.name, safe='')}" if named else base


DEFAULT_LEDGER = Ledger()


class Unreviewable(RuntimeError):
    """The review cannot be made now (the API server then applies ``failurePolicy``)."""


class Contended(Unreviewable):
    """The ledger kept changing under this review."""


class LedgerMissing(Unreviewable):
    """The claims ConfigMap is gone and this account may not make it (installer/manifests
    ship it: the installer's account has no right to create ConfigMaps)."""


def review(
    transport: Transport,
    body: object,
    *,
    where: Ledger = DEFAULT_LEDGER,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """The validating AdmissionReview response; raises admission.Malformed, kerr.ApiError,
    Unreviewable (the mutating one needs no API: ``admission.mutation``)."""
    req = admission.parse(body)
    if not admission.needs_overlap_check(req):
        found = admission.problems(req)
        return admission.denied(req, found) if found else admission.allowed(req)
    for _ in range(ATTEMPTS):
        found, write = _decide(transport, req, where, clock())
        if found:
            return admission.denied(req, found)
        if req.dry_run or write is None:
            return admission.allowed(req)
        try:
            write()
            return admission.allowed(req)
        except (kerr.Conflict, kerr.AlreadyExists):
            continue
    raise Contended(f"the claims ledger {where.namespace}/{where.name} kept changing")


def _decide(
    transport: Transport, req: admission.Request, where: Ledger, now: float
) -> tuple[list[Any], Callable[[], None] | None]:
    """The problems, and the ledger write that claims the pool's addresses."""
    stored = {e.name: e for obj in _pools(transport) if (e := ippools.extent(obj)) is not None}
    cm = _ledger(transport, where)
    claims = ledger.decode((cm or {}).get("data"))
    pending = [c.extent() for n, c in ledger.live(claims, now, stored).items() if n != req.name]
    others = [e for n, e in stored.items() if n != req.name]
    found = admission.problems(req, others + pending)
    mine = ippools.extent(req.obj)
    if found or mine is None:
        return found, None
    data = ledger.encode(ledger.with_claim(claims, ledger.Claim.of(mine, now), now, stored))
    return [], lambda: _write(transport, where, cm, data)


def _pools(transport: Transport) -> list[dict[str, Any]]:
    return listing.list_all(transport, POOLS)


def _ledger(transport: Transport, where: Ledger) -> dict[str, Any] | None:
    try:
        return dict(transport.get(where.path()))
    except kerr.NotFound:
        return None


def _write(
    transport: Transport, where: Ledger, cm: dict[str, Any] | None, data: dict[str, str]
) -> None:
    meta: dict[str, Any] = {
        "name": where.name,
        "namespace": where.namespace,
        "labels": {"app.kubernetes.io/part-of": "spidernet"},
    }
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}
    if cm is None:
        try:
            transport.request("POST", where.path(named=False), body)
        except kerr.Denied:
            raise LedgerMissing(
                f"the claims ledger ConfigMap {where.namespace}/{where.name} does not exist and "
                "this account may not create it: kubectl apply -k installer/manifests makes it"
            ) from None
        return
    meta["resourceVersion"] = cm["metadata"]["resourceVersion"]
    transport.request("PUT", where.path(), body)
