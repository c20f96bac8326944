"""kubectl's table layout and its ages. No I/O.

Columns as kubectl's tab writer sets them: each as wide as its widest cell plus three
spaces (at least six), the last one unpadded; headers in upper case. Ages as
apimachinery's ``HumanDuration``: ``45s``, ``3m20s``, ``25m``, ``5h10m``, ``30h``, ``3d4h``,
``90d``, ``2y30d``.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

PADDING, MIN_WIDTH = 3, 6


def render(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h).upper() for h in headers]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(MIN_WIDTH, max(len(r[i]) for r in cells) + PADDING) for i in range(len(headers))]
    lines = []
    for row in cells:
        line = "".join(c.ljust(w) for c, w in zip(row[:-1], widths)) + row[-1]
        lines.append(line.rstrip())
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None or value == "":
        return "<none>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def age(seconds: float) -> str:
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" + (f"{s % 60}s" if s % 60 else "")
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h" + (f"{minutes % 60}m" if minutes % 60 else "")
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" + (f"{hours % 24}h" if hours % 24 else "")
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" + (f"{days}d" if days else "")
    return f"{hours // 24 // 365}y"


def since(timestamp: str, now: float) -> str:
    """The age of an RFC 3339 timestamp, "<unknown>" when there is none."""
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return "<invalid>"
    return age(now - then)
