"""Request paths and the server's URL without ``urllib.parse`` on the common path. Pure.

``urllib.parse`` costs every IPAM exec about 5 M instructions to import
(docs/performance.md, "What each verb imports"), for two things: percent-encoding path
segments that are Kubernetes names (already made of safe characters) and splitting the
kubeconfig's ``https://host:port`` server. Both answer here from a plain check; anything
else (a segment with other characters, an unusual URL) goes to ``urllib.parse`` itself,
imported only then, so the answers are always exactly its answers.
"""

from __future__ import annotations

import re

_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_PLAIN_SERVER = re.compile(r"https?://([A-Za-z0-9.\-]+)(?::([0-9]{1,5}))?(/[^?#@\[\]%;]*)?")


def quote_segment(segment: str) -> str:
    """``urllib.parse.quote(segment, safe="")``: one path segment, percent-encoded."""
    if _SAFE.issuperset(segment):
        return segment
    import urllib.parse

    return urllib.parse.quote(segment, safe="")


def split_server(url: str) -> tuple[str | None, int | None, str]:
    """(hostname, port, path) as ``urllib.parse.urlsplit`` gives them; a port that is not
    a number from 0 to 65535 is a ``ValueError``."""
    m = _PLAIN_SERVER.fullmatch(url)
    if m is not None and int(m.group(2) or 0) <= 65535:
        port = m.group(2)
        return m.group(1).lower(), int(port) if port is not None else None, m.group(3) or ""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    return parts.hostname, parts.port, parts.path
