"""``validate FILE...|-``: the admission rules, offline, over the files' objects. Reads files.

No cluster is contacted: each object is checked by ``spidernet.validation`` (the same
code the admission webhook runs), and the pools of all the files together are checked
against each other for overlap. One line per problem, ``file:line: Kind/name: field:
what``; exit 1 if any object (or file) is invalid. ``-o json`` for scripts.
"""

from __future__ import annotations

import argparse
from typing import Any

from spidernet.cli import failures, loading
from spidernet.cli.console import Console
from spidernet.validation import objects


def validate(args: argparse.Namespace, console: Console) -> int:
    docs: list[loading.Document] = []
    unreadable: list[loading.Unreadable] = []
    for path in args.files:
        try:
            docs += loading.load(path, console.inp)
        except loading.Unreadable as e:
            unreadable.append(e)
    verdicts = objects.checked([d.obj for d in docs])
    results = [_result(d, v) for d, v in zip(docs, verdicts)]
    results += [_unreadable(e) for e in unreadable]
    if args.output in ("json", "yaml"):
        console.emit({"valid": all(r["valid"] for r in results), "objects": results}, args.output)
    else:
        _print(console, results)
    return failures.OK if all(r["valid"] for r in results) else failures.REFUSED


def _result(doc: loading.Document, v: objects.Verdict) -> dict[str, Any]:
    return {
        "source": doc.source,
        "kind": v.kind,
        "name": v.name,
        "valid": v.ok,
        "skipped": v.skipped or None,
        "problems": [{"field": p.field, "message": p.message} for p in v.problems],
    }


def _unreadable(e: loading.Unreadable) -> dict[str, Any]:
    return {
        "source": e.where,
        "kind": "",
        "name": "",
        "valid": False,
        "unreadable": e.problem,
        "problems": [{"field": "", "message": e.problem}],
    }


def _print(console: Console, results: list[dict[str, Any]]) -> None:
    bad = 0
    for r in results:
        what = f"{r['kind']}/{r['name']}" if r["kind"] else "document"
        if r.get("unreadable"):
            console.line(f"{r['source']}: {console.paint('cannot read', 'red')}: {r['unreadable']}")
            bad += 1
            continue
        if r.get("skipped"):
            console.note(f"{r['source']}: {what}: skipped: {r['skipped']}")
            continue
        if r["valid"]:
            console.line(f"{r['source']}: {what}: {console.paint('valid', 'green')}")
            continue
        bad += 1
        for p in r["problems"]:
            field = f"{p['field']}: " if p["field"] else ""
            console.line(
                f"{r['source']}: {what}: {console.paint('invalid', 'red')}: {field}{p['message']}"
            )
    checked = sum(1 for r in results if not r.get("skipped"))
    console.note(f"{checked} object(s) checked, {bad} invalid")
