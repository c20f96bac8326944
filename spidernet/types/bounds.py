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
"""

from __future__ import annotations

import re

from spidernet.protocol import errors

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
