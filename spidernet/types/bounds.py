"""Bounds on untrusted config values: integers in a range, and values shown in errors. No I/O.

Every integer a plugin reads from a config, a ``prevResult`` or an option string goes
through ``integer`` (or ``parse_int`` for option strings), with the range the value's
consumer accepts (README, "Input rules"): a value outside it is ``InvalidConfig``
(code 7) naming the field, never a netlink EINVAL, a ``struct.error`` or Python's
"Exceeds the limit (4300 digits)" ``ValueError`` (each of which used to be 999).
Numeric strings are ASCII digits (``\\d`` would take Arabic-Indic digits too), and
at most ``MAX_DIGITS`` of them are converted: a longer one is outside every range
anyway, and converting 100000 digits costs time for nothing.

``show`` is how an error message quotes a value: short, whatever the value.
``json_document`` decodes untrusted JSON text (stdin, pod annotations, option strings)
within a depth, as UTF-8, without lone surrogates: a ``BadJson`` otherwise, which each
caller answers with its code (6 for stdin, 7 naming the annotation or key).
"""

from __future__ import annotations

import json
import re

from spidernet.protocol import errors

TYPE_CHECKING = False  # typing is for the type checker only: not imported on an exec
if TYPE_CHECKING:
    from typing import Any

INT64 = (-(2**63), 2**63 - 1)  # the range of any integer field that names none
UINT32 = (0, 2**32 - 1)
MAX_DIGITS = 20  # 2**64 has 20 digits
_BEYOND: int = 10**MAX_DIGITS  # what more digits than that read as
_NUMERIC = re.compile(r"[-+]?[0-9]+")


def parse_int(text: str) -> int | None:
    """``" 42 "`` -> 42; None when ``text`` is not an optionally signed run of ASCII
    digits. More than ``MAX_DIGITS`` digits read as ±10**MAX_DIGITS: outside every
    range a field has, so the caller's range check refuses it (quoting the text)."""
    text = text.strip()
    if not _NUMERIC.fullmatch(text):
        return None
    negative = text.startswith("-")
    digits = text.lstrip("+-").lstrip("0")  # int() counts leading zeros against its limit
    if len(digits) > MAX_DIGITS:
        return -_BEYOND if negative else _BEYOND
    return -int(digits or "0") if negative else int(digits or "0")


def integer(
    value: object,
    path: str,
    lo: int = INT64[0],
    hi: int = INT64[1],
    *,
    numeric_string: bool = False,
) -> int:
    """``value`` as an integer in [lo, hi], else InvalidConfig naming ``path``; with
    ``numeric_string``, ``"100"`` is accepted as 100."""
    number = parse_int(value) if numeric_string and isinstance(value, str) else value
    if isinstance(number, bool) or not isinstance(number, int):
        raise errors.InvalidConfig(path, f"must be an integer, got {show(value)}")
    if not lo <= number <= hi:
        shown = number if abs(number) < _BEYOND else show(value)
        raise errors.InvalidConfig(path, f"{shown} is outside [{lo}, {hi}]")
    return number


def show(value: object, limit: int = 60) -> str:
    """``repr(value)`` for an error message, cut to about ``limit`` characters and a few
    levels of nesting, whatever ``value`` holds."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"an integer of {len(str(value))} digits"
    import reprlib  # only on this error path

    r = reprlib.Repr()
    r.maxlevel, r.maxstring, r.maxother = 3, limit, limit
    text = r.repr(value)
    return text if len(text) <= limit + 20 else f"{text[:limit]}...{text[-3:]}"


# ---------------------------------------------------------------- JSON text

MAX_DEPTH = 64  # nesting levels: a CNI config, a result or an annotation needs fewer than 10
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class BadJson(ValueError):
    """JSON text refused: not JSON, not UTF-8, nested deeper than allowed, or holding a
    UTF-16 surrogate escape that pairs with nothing (text no UTF-8 consumer can hold)."""


def json_document(text: str | bytes, max_depth: int = MAX_DEPTH, **options: Any) -> Any:
    """``json.loads(text, **options)`` for untrusted text, with every way it can fail a
    ``BadJson`` saying why: bytes must be UTF-8 (``json.loads`` would also take UTF-16
    and CESU surrogates), nesting is at most ``max_depth`` (the decoder's own guard is a
    ``RecursionError`` at about 1000, and a value nested that deep breaks any recursive
    code that meets it later), and no string may hold a lone surrogate. Cost on a
    typical document: one ``str.count`` per bracket kind and one regex search more."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BadJson(f"not UTF-8: {e}") from None
    try:
        value = json.loads(text, **options)
    except RecursionError:
        raise BadJson(f"nested more than {max_depth} levels deep") from None
    except ValueError as e:
        raise BadJson(str(e)) from None
    if text.count("[") + text.count("{") > max_depth and _depth(value) > max_depth:
        raise BadJson(f"nested more than {max_depth} levels deep")
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise BadJson("a \\u escape names half a UTF-16 surrogate pair") from None
    return value


def _depth(value: object) -> int:
    """How deeply ``value`` nests lists and objects (a walk without recursion; tuples, the
    (key, value) pairs of an ``object_pairs_hook``, add no level)."""
    deepest, todo = 0, [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict):
            todo.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            todo.extend((v, depth + 1) for v in item)
        elif isinstance(item, tuple):
            todo.extend((v, depth) for v in item)
        else:
            continue
        deepest = max(deepest, depth + 1)
    return deepest
