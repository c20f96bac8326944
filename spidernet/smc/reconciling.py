"""Make the cluster's NetworkAttachmentDefinitions what its SpiderMultusConfigs say. Does I/O.

Run by the GC CronJob once a minute (``spidernet.gc.command``) and, for one CR at once,
by ``spiderpoolctl multus apply``. One pass:

    LIST SpiderMultusConfigs            (CRD not installed, as discovery says: nothing to do)
    LIST our NADs (label managed-by)    (NAD CRD not installed: each CR reports it)
    per CR, not terminating:
      check it (spidernet.validation)   invalid: an Event on the CR, no write
      GET its NAD
        absent                          POST the rendered NAD (ownerReference -> the CR)
        ours, differs                   PUT it (resourceVersion: a change meanwhile -> 409,
                                        left for the next pass)
        ours, same                      nothing
        made by anything else           never touched: an Event on the CR says so
        owned by a CR of that name that is gone: adopted (the CR was re-created)
    per NAD of ours whose CR is gone    DELETE it (preconditions: its UID and version)

"Ours" means: its controller ownerReference is this SpiderMultusConfig (by UID).
Kubernetes' garbage collector deletes such a NAD when its CR goes; the pass does too,
so the NAD goes within a minute also where the collector is slow or stuck, and on
API servers without a controller manager (the test bed).
"""

from __future__ import annotations

import hashlib
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spidernet.alloc import choosing
from spidernet.k8s import discovery
from spidernet.k8s import errors as kerr
from spidernet.k8s.listing import list_all
from spidernet.k8s.transport import Transport
from spidernet.smc import nads
from spidernet.validation import multusconfigs

SMC_API = f"/apis/{nads.API_VERSION}"
NAD_API = f"/apis/{nads.NAD_API_VERSION}"
COMPONENT = "spidernet-gc"
CREATED, UPDATED, UNCHANGED, INVALID, REFUSED, WAITING, DELETED, ERROR = (
    "created",
    "updated",
    "unchanged",
    "invalid",
    "refused",
    "waiting",
    "deleted",
    "error",
)


@dataclass
class Outcome:
    smc: str  # "<namespace>/<name>" of the CR ("" for an orphaned NAD)
    nad: str  # "<namespace>/<name>" of the NAD
    action: str
    detail: str = ""
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        action = f"would {self.action[:-1] if self.action.endswith('ed') else self.action}"
        return {
            "spiderMultusConfig": self.smc or None,
            "networkAttachmentDefinition": self.nad,
            "action": action
            if self.dry_run and self.action in (CREATED, UPDATED, DELETED)
            else self.action,
            "detail": self.detail or None,
        }


def _q(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def nad_path(namespace: str, name: str = "") -> str:
    base = f"{NAD_API}/namespaces/{_q(namespace)}/network-attachment-definitions"
    return f"{base}/{_q(name)}" if name else base


def smc_path(namespace: str, name: str = "") -> str:
    base = f"{SMC_API}/namespaces/{_q(namespace)}/spidermultusconfigs"
    return f"{base}/{_q(name)}" if name else base


def run(transport: Transport, *, dry_run: bool = False) -> list[Outcome]:
    """One pass over every SpiderMultusConfig and every NAD made from one."""
    if not discovery.served(transport, nads.API_VERSION, "spidermultusconfigs"):
        return []
    smcs = list_all(transport, f"{SMC_API}/spidermultusconfigs")
    if not discovery.served(transport, nads.NAD_API_VERSION, "network-attachment-definitions"):
        why = "the NetworkAttachmentDefinition CRD is not installed (Multus)"
        return [Outcome(_key(s), _nad_key(s), ERROR, why) for s in smcs]
    label = "=".join(nads.MANAGED_BY)
    ours = list_all(
        transport, f"{NAD_API}/network-attachment-definitions?labelSelector={_q(label)}"
    )
    live = [s for s in smcs if not s["metadata"].get("deletionTimestamp")]
    out = [reconcile(transport, s, dry_run=dry_run) for s in live]
    return out + _orphans(transport, ours, smcs, dry_run)


def reconcile(transport: Transport, smc: Mapping[str, Any], *, dry_run: bool = False) -> Outcome:
    """Bring one CR's NAD in line (the CR as stored: it has a UID)."""
    key, nad_key = _key(smc), _nad_key(smc)
    problems = multusconfigs.problems(smc)
    if problems:
        detail = "; ".join(str(p) for p in problems[:5])
        _event(
            transport, smc, "InvalidSpec", f"no NetworkAttachmentDefinition made: {detail}", dry_run
        )
        return Outcome(key, nad_key, INVALID, detail, dry_run)
    want = nads.render(smc)
    ns, name = smc["metadata"]["namespace"], nads.nad_name(smc)
    try:
        have = dict(transport.get(nad_path(ns, name)))
    except kerr.NotFound:
        return _create(transport, smc, want, dry_run)
    if have["metadata"].get("deletionTimestamp"):
        return Outcome(
            key, nad_key, WAITING, "the old NAD is being deleted: made again next pass", dry_run
        )
    owner = _controller(have)
    if not _ours(transport, smc, owner):
        why = _foreign(owner)
        _event(
            transport,
            smc,
            "NetworkExists",
            f"NetworkAttachmentDefinition {nad_key} {why}: left alone",
            dry_run,
        )
        return Outcome(key, nad_key, REFUSED, why, dry_run)
    if _same(have, want):
        return Outcome(key, nad_key, UNCHANGED, "", dry_run)
    if not dry_run:
        transport.request("PUT", nad_path(ns, name), _merged(have, want))
    return Outcome(key, nad_key, UPDATED, "config, annotations or owner differed", dry_run)


def owner_conflict(transport: Transport, smc: Mapping[str, Any]) -> str:
    """Why this CR's NAD may not be written ("" when it may): a NAD that is not ours."""
    ns, name = smc["metadata"].get("namespace", ""), nads.nad_name(smc)
    try:
        have = dict(transport.get(nad_path(ns, name)))
    except kerr.NotFound:
        return ""
    owner = _controller(have)
    return (
        ""
        if _ours(transport, smc, owner)
        else f"NetworkAttachmentDefinition {ns}/{name} {_foreign(owner)}"
    )


def _create(
    transport: Transport, smc: Mapping[str, Any], want: dict[str, Any], dry_run: bool
) -> Outcome:
    key, nad_key = _key(smc), _nad_key(smc)
    if dry_run:
        return Outcome(key, nad_key, CREATED, "", dry_run)
    try:
        transport.request("POST", nad_path(smc["metadata"]["namespace"]), want)
    except kerr.AlreadyExists:
        return Outcome(
            key, nad_key, WAITING, "made by someone else meanwhile: looked at again next pass"
        )
    return Outcome(key, nad_key, CREATED)


def _controller(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return next((dict(r) for r in refs if r.get("controller")), None)


def _is_smc(owner: Mapping[str, Any] | None) -> bool:
    if not owner:
        return False
    group = str(owner.get("apiVersion", "")).split("/")[0]
    return owner.get("kind") == nads.KIND and group == nads.API_VERSION.split("/")[0]


def _ours(transport: Transport, smc: Mapping[str, Any], owner: Mapping[str, Any] | None) -> bool:
    """Owned by this CR, or by a CR of the same name that no longer exists (re-created)."""
    if not _is_smc(owner) or owner is None:
        return False
    if owner.get("uid") == smc["metadata"].get("uid"):
        return True
    if owner.get("name") != smc["metadata"].get("name"):
        return _owner_gone(transport, smc["metadata"].get("namespace", ""), owner)
    return True  # same name, another UID: this CR's predecessor


def _owner_gone(transport: Transport, namespace: str, owner: Mapping[str, Any]) -> bool:
    try:
        current = transport.get(smc_path(namespace, str(owner.get("name", ""))))
    except kerr.NotFound:
        return True
    return bool(current["metadata"].get("uid") != owner.get("uid"))


def _foreign(owner: Mapping[str, Any] | None) -> str:
    if _is_smc(owner) and owner is not None:
        return f"belongs to SpiderMultusConfig {owner.get('name')}"
    if owner:
        return f"belongs to {owner.get('kind')} {owner.get('name')}"
    return (
        "exists and was not made by a SpiderMultusConfig (delete it, or name ours with the "
        f"annotation {nads.ANNO_NAD_NAME})"
    )


def _same(have: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    hm, wm = have.get("metadata") or {}, want["metadata"]
    return (
        (have.get("spec") or {}) == want["spec"]
        and (hm.get("annotations") or {}) == wm.get("annotations", {})
        and _controller(have) == _controller(want)
        and (hm.get("labels") or {}).get(nads.MANAGED_BY[0]) == nads.MANAGED_BY[1]
    )


def _merged(have: dict[str, Any], want: Mapping[str, Any]) -> dict[str, Any]:
    meta = dict(have["metadata"])
    meta["labels"] = {**(meta.get("labels") or {}), **want["metadata"]["labels"]}
    meta["annotations"] = want["metadata"].get("annotations", {})
    others = [r for r in meta.get("ownerReferences") or [] if not r.get("controller")]
    meta["ownerReferences"] = want["metadata"].get("ownerReferences", []) + others
    return {**have, "metadata": meta, "spec": want["spec"]}


def _orphans(
    transport: Transport, ours: list[dict[str, Any]], smcs: list[dict[str, Any]], dry_run: bool
) -> list[Outcome]:
    live = {s["metadata"].get("uid") for s in smcs}
    out = []
    for nad in ours:
        owner, meta = _controller(nad), nad["metadata"]
        if not _is_smc(owner) or owner is None or owner.get("uid") in live:
            continue
        if not _owner_gone(transport, meta["namespace"], owner):
            continue  # its CR was made after our LIST
        nad_key = f"{meta['namespace']}/{meta['name']}"
        if not dry_run:
            try:
                transport.request(
                    "DELETE", nad_path(meta["namespace"], meta["name"]), _preconditions(nad)
                )
            except (kerr.NotFound, kerr.Conflict):
                continue
        out.append(
            Outcome(
                "", nad_key, DELETED, f"its SpiderMultusConfig {owner.get('name')} is gone", dry_run
            )
        )
    return out


def _preconditions(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    return {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "preconditions": {"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]},
    }


def _event(
    transport: Transport, smc: Mapping[str, Any], reason: str, message: str, dry_run: bool
) -> None:
    """A Warning Event on the CR (``kubectl describe smc`` shows it); one per distinct message,
    so a pass a minute does not pile up copies (its name is a hash of the message)."""
    meta = smc["metadata"]
    if dry_run or not meta.get("uid"):
        return
    digest = hashlib.sha256(f"{meta['uid']}{reason}{message}".encode()).hexdigest()[:16]
    now = choosing.rfc3339(time.time())
    body = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{digest}", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": nads.API_VERSION,
            "kind": nads.KIND,
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
        },
        "reason": reason,
        "type": "Warning",
        "message": message[:1024],
        "count": 1,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "source": {"component": COMPONENT},
    }
    try:
        transport.request("POST", f"/api/v1/namespaces/{_q(meta['namespace'])}/events", body)
    except kerr.ApiError:
        pass  # already said (AlreadyExists), or events are refused: the outcome still says it


def _key(smc: Mapping[str, Any]) -> str:
    meta = smc.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _nad_key(smc: Mapping[str, Any]) -> str:
    return f"{(smc.get('metadata') or {}).get('namespace', '')}/{nads.nad_name(smc)}"
