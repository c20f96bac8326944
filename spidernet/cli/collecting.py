"""``gc [--dry-run]``: one pass of the GC CronJob's own code, its report as a table. Does I/O.

The pass is ``spidernet.gc.collecting.run`` with the CronJob's knobs and defaults
(``spidernet.gc.command``), sharing its memory of first sightings (the ConfigMap), so a
zombie seen by the CronJob a minute ago is released by this pass, and one first seen
here is remembered for the CronJob. ``-o json`` prints the CronJob's JSON report.
"""

from __future__ import annotations

import argparse
from typing import Any

from spidernet.alloc.failures import BadInput
from spidernet.cli import failures
from spidernet.cli.connecting import session
from spidernet.cli.console import Console
from spidernet.gc import command
from spidernet.gc.report import Report

COLUMNS = ("ACTION", "IP", "POOL", "OBJECT", "UID", "REASON")


def gc(args: argparse.Namespace, console: Console) -> int:
    try:
        opts = command.options(args)
    except BadInput as e:
        raise failures.Config(f"cluster IPAM config {args.ipam_config}: invalid config: {e}") from e
    with session(args, budget=args.timeout) as s:
        report = command.run_pass(
            s.transport,
            opts,
            lock_dir=s.store.lock_dir,
            progress=console.progress,
            tls=command.tls_settings(args),
        )
    if args.output in ("json", "yaml"):
        console.emit(report.to_json(), args.output)
    else:
        console.table(
            COLUMNS,
            rows(report),
            empty=(
                "Nothing to do: no zombie, no expired cool-down, every NAD as its "
                "SpiderMultusConfig says."
            ),
        )
    for line in report.summary().splitlines():
        console.note(line)
    return failures.OK if report.ok else failures.REFUSED


def rows(report: Report) -> list[list[Any]]:
    out: list[list[Any]] = []
    released = report.would_release if report.dry_run else report.released
    verb = "would release" if report.dry_run else "released"
    for action, items in (
        (verb, released),
        ("kept", report.kept),
        ("dropped cooling", report.cooling_dropped),
        ("freed cooling", report.cooling_reclaimed),
    ):
        out += [
            [action, i["ip"], i["pool"], f"pod {i['pod']}", i["uid"], i["reason"]] for i in items
        ]
    for action, items in (
        ("deleted", report.endpoints_deleted),
        ("kept", report.endpoints_kept),
    ):
        out += [
            [action, "", "", f"SpiderEndpoint {i['endpoint']}", i["uid"], i["reason"]]
            for i in items
        ]
    for f in report.finalizers:
        out.append([f"finalizer {f['action']}", "", f["pool"], f"SpiderIPPool {f['pool']}", "", ""])
    for t in report.webhook_tls:
        if t["action"] not in ("unchanged", "absent", "external"):
            out.append([t["action"], "", "", t["object"], "", t["detail"] or ""])
    for n in report.networks:
        nad = n["networkAttachmentDefinition"]
        out.append([n["action"], "", "", f"NAD {nad}", "", n["detail"] or ""])
    return out
