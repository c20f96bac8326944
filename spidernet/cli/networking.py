"""``multus render FILE`` and ``multus apply FILE``: SpiderMultusConfig -> NAD. Does I/O.

``render`` is offline: each SpiderMultusConfig of the files is checked (the admission
rules) and its NetworkAttachmentDefinition printed, YAML by default, ``-o json``, or
``-o config`` for the config string alone (byte for byte what the NAD will hold).

``apply`` stores each CR (created, or its spec, labels and annotations replaced) and
then writes its NAD at once with the reconciler the GC CronJob runs every minute
(``spidernet.smc.reconciling``), so it does not wait for the next pass. Nothing is
written when any CR of the files is invalid, or when a CR's NAD exists and is not ours.
"""

from __future__ import annotations

import argparse
import copy
from typing import Any

from spidernet.cli import failures, loading
from spidernet.cli.connecting import Session, session
from spidernet.cli.console import Console
from spidernet.k8s import discovery
from spidernet.smc import nads, reconciling
from spidernet.validation import multusconfigs


def render(args: argparse.Namespace, console: Console) -> int:
    smcs = _checked(args, console)
    for _, smc in smcs:
        nad = nads.render(smc)
        if args.output == "config":
            console.line(nad["spec"].get("config", ""))
        else:
            console.emit(nad, args.output)
    return failures.OK


def apply(args: argparse.Namespace, console: Console) -> int:
    smcs = _checked(args, console)
    for _, smc in smcs:
        smc.setdefault("metadata", {}).setdefault("namespace", args.namespace)
    code = failures.OK
    with session(args) as s:
        _installed(s)
        for _, smc in smcs:
            why = _refusal(s, smc)
            if why:
                raise failures.Refused(f"nothing applied: {why}")
        for _, smc in smcs:
            stored, verb = _store(s, smc)
            outcome = reconciling.reconcile(s.transport, stored)
            console.line(
                f"spidermultusconfig.spiderpool.spidernet.io/{stored['metadata']['name']} {verb}"
            )
            done = outcome.action in (
                reconciling.CREATED,
                reconciling.UPDATED,
                reconciling.UNCHANGED,
            )
            why = "" if done or not outcome.detail else f" ({outcome.detail})"
            console.line(
                f"networkattachmentdefinition.k8s.cni.cncf.io/{nads.nad_name(stored)} "
                f"{outcome.action}{why}"
            )
            if not done:
                code = failures.REFUSED
    return code


def _checked(args: argparse.Namespace, console: Console) -> list[tuple[str, dict[str, Any]]]:
    """The files' SpiderMultusConfigs, each valid; any problem stops the command (exit 1)."""
    found, bad = [], []
    for path in args.files:
        try:
            docs = loading.load(path, console.inp)
        except loading.Unreadable as e:
            raise failures.Refused(str(e)) from None
        for d in docs:
            if not isinstance(d.obj, dict) or d.obj.get("kind") != nads.KIND:
                console.note(f"{d.source}: skipped: not a SpiderMultusConfig")
                continue
            problems = multusconfigs.problems(d.obj)
            name = (d.obj.get("metadata") or {}).get("name", "")
            bad += [f"{d.source}: {nads.KIND}/{name}: {p}" for p in problems]
            found.append((d.source, copy.deepcopy(d.obj)))
    if bad:
        raise failures.Refused("\n".join(bad))
    if not found:
        raise failures.NotFound(f"no SpiderMultusConfig in {', '.join(args.files)}")
    return found


def _installed(s: Session) -> None:
    """Both CRDs served, or a failure saying which to install (asked of discovery: at once)."""
    if not discovery.served(s.transport, nads.API_VERSION, "spidermultusconfigs"):
        raise failures.NotFound(
            "the SpiderMultusConfig CRD is not installed: kubectl apply -k installer/manifests"
        )
    if not discovery.served(s.transport, nads.NAD_API_VERSION, "network-attachment-definitions"):
        raise failures.NotFound(
            "the NetworkAttachmentDefinition CRD is not installed: install Multus first"
        )


def _refusal(s: Session, smc: dict[str, Any]) -> str:
    meta = smc["metadata"]
    stored = s.get(reconciling.smc_path(meta["namespace"], meta["name"]))
    changed = multusconfigs.update_problems(stored, smc) if stored else []
    if changed:
        return f"{nads.KIND}/{meta['name']}: {changed[0]}"
    probe = {**smc, "metadata": {**meta, "uid": (stored or {}).get("metadata", {}).get("uid", "")}}
    return reconciling.owner_conflict(s.transport, probe)


def _store(s: Session, smc: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Create the CR, or replace its spec, labels and annotations; (stored object, verb)."""
    meta = smc["metadata"]
    stored = s.get(reconciling.smc_path(meta["namespace"], meta["name"]))
    if stored is None:
        body = {**smc, "apiVersion": nads.API_VERSION, "kind": nads.KIND}
        return dict(
            s.transport.request("POST", reconciling.smc_path(meta["namespace"]), body)
        ), "created"
    new = copy.deepcopy(stored)
    new["spec"] = smc.get("spec") or {}
    for key in ("labels", "annotations"):
        new["metadata"][key] = meta.get(key) or {}
    if new == stored:
        return stored, "unchanged"
    path = reconciling.smc_path(meta["namespace"], meta["name"])
    reply = dict(s.transport.request("PUT", path, new))
    # the server fills in defaults (enableCoordinator...): a no-op update keeps the version
    same = reply["metadata"].get("resourceVersion") == stored["metadata"].get("resourceVersion")
    return reply, "unchanged" if same else "configured"
