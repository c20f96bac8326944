"""The datapath benchmark's report: tables, results, charts, the docs' results block. Does I/O.

``report`` prints one table per tool and writes ``results-<kernel>.json`` (every run's
raw figures), ``tables-<kernel>.md`` and ``datapath-<kernel>.png``. ``publish`` also
rewrites the block between ``<!-- results:<kernel> -->`` and ``<!-- /results:<kernel> -->``
in docs/datapath.md, so that one command re-takes the published figures.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from tools.bench import datapath_figures as figures
from tools.testbed import paths

DOCS = paths.REPO / "docs" / "datapath.md"
PUBLISHED = paths.REPO / "docs" / "datapath"


def rows(doc: dict[str, Any]) -> list[figures.Row]:
    """Pod IP paths first, then ClusterIP paths, each in the shapes' order."""
    ordered = sorted(doc["paths"], key=lambda p: p["target"] != "pod")
    return [
        figures.Row(
            p["label"],
            figures.flatten(p["samples"]),
            ceiling=p["shape"] == "node" and p["target"] == "pod",
        )
        for p in ordered
    ]


def heading(doc: dict[str, Any]) -> str:
    st, ld = doc["settings"], doc["load"]
    during = ld.get("during") or ld["before"][:1]
    return (
        f"{doc['kernel']} kernel {doc['release']}, {doc['machine']}, {doc['date']}; "
        f"{st['runs']} run(s) of {st['seconds']} s (redis {st['requests']} requests); "
        f"1-min load average {min(during):.1f}-{max(during):.1f} while measuring"
    )


def tables(doc: dict[str, Any], *, markdown: bool = False) -> str:
    parts = [heading(doc)]
    for table in figures.TABLES:
        body = figures.render(table, rows(doc), markdown=markdown)
        parts.append(f"{'**' if markdown else ''}{table.title}{'**' if markdown else ''}\n\n{body}")
    if doc["skipped"]:
        parts.append("skipped: " + "; ".join(doc["skipped"]))
    if failures := doc.get("failures"):
        lines = [f"- {f.splitlines()[0]}" for f in failures]
        parts.append(f"{len(failures)} tool run(s) failed, left out:\n" + "\n".join(lines))
    return "\n\n".join(parts)


def report(doc: dict[str, Any], out: Path, charts: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    kernel = doc["kernel"]
    (out / f"results-{kernel}.json").write_text(json.dumps(doc, indent=1, default=list))
    (out / f"tables-{kernel}.md").write_text(tables(doc, markdown=True) + "\n")
    print(tables(doc), flush=True)
    if charts:
        from tools.bench import datapath_charts

        png = datapath_charts.plot(rows(doc), heading(doc), out / f"datapath-{kernel}.png")
        print(f"datapath: wrote {png}", file=sys.stderr)
    print(f"datapath: wrote {out}/results-{kernel}.json and tables-{kernel}.md", file=sys.stderr)


def results_block(doc: dict[str, Any], png: str) -> str:
    """The docs' results for one kernel: how they were taken, the chart, the tables."""
    minutes = doc.get("wall_seconds", 0) / 60
    lines = [
        f"Taken {doc['date']} with `{doc['command']}` ({minutes:.0f} min): {heading(doc)}.",
        "",
        f"![datapath figures, {doc['kernel']} kernel]({png})",
        "",
        tables(doc, markdown=True).split("\n\n", 1)[1],
    ]
    return "\n".join(lines)


def publish(doc: dict[str, Any], docs: Path = DOCS) -> None:
    """Replace the kernel's results block in ``docs`` (its markers must be there)."""
    kernel = doc["kernel"]
    begin, end = f"<!-- results:{kernel} -->", f"<!-- /results:{kernel} -->"
    text = docs.read_text()
    if begin not in text or end not in text:
        raise SystemExit(f"datapath: {docs} has no {begin} ... {end} block to replace")
    block = results_block(doc, f"datapath/datapath-{kernel}.png")
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    docs.write_text(pattern.sub(lambda _: f"{begin}\n{block}\n{end}", text))
    print(f"datapath: rewrote the {kernel} results in {docs}", file=sys.stderr)
