"""A whole LIST, page by page, over either transport. Does I/O.

Every item of a collection, fetched ``page_size`` at a time with ``limit``/``continue``
(each page from one consistent snapshot the API server keeps for the continue token):
the GC's LISTs, the CLI's, the admission webhook's and the SpiderMultusConfig pass's.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

from spidernet.k8s import errors as kerr
from spidernet.k8s.transport import Transport


def list_all(
    transport: Transport,
    path: str,
    page_size: int = 500,
    progress: Callable[[str], None] = lambda _: None,
) -> list[dict[str, Any]]:
    """Every item, page by page; an expired continue token (410) restarts the LIST once."""
    items: list[dict[str, Any]] = []
    token, restarted = "", False
    sep = "&" if "?" in path else "?"
    while True:
        query = f"{sep}limit={page_size}" + (
            f"&continue={urllib.parse.quote(token, safe='')}" if token else ""
        )
        try:
            reply = transport.request("GET", path + query) or {}
        except kerr.ApiError as e:
            if e.status != 410 or restarted:
                raise
            items, token, restarted = [], "", True
            continue
        items += reply.get("items") or []
        token = (reply.get("metadata") or {}).get("continue") or ""
        if not token:
            return items
        progress(f"listing {path}: {len(items)} so far")
