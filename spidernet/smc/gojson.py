"""JSON as Go's ``encoding/json`` writes it: a rendered NAD is upstream's, byte for byte. No I/O.

Go's ``json.Marshal``: no spaces; struct fields in declaration order (our dicts are
built in that order), map keys sorted (``sort_keys`` for values that were maps in Go,
e.g. a chained plugin decoded into ``interface{}``); ``<``, ``>``, ``&``, U+2028 and
U+2029 escaped as ``\\u003c``...; other non-ASCII text written as is; numbers decoded
into ``interface{}`` are float64 and print without a fraction when whole.
"""

from __future__ import annotations

import json
from typing import Any

_HTML_SAFE = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def dumps(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    for char, escape in _HTML_SAFE.items():
        text = text.replace(char, escape)
    return text


def as_go_map(value: Any) -> Any:
    """A decoded JSON value as Go holds it in ``interface{}``: maps sorted, whole floats as ints."""
    if isinstance(value, dict):
        return {k: as_go_map(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [as_go_map(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value
