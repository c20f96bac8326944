"""Kubernetes names, label selectors and Linux interface names, as their owners check them. No I/O.

The patterns are apimachinery's (``IsDNS1123Label``, ``IsDNS1123Subdomain``,
``IsQualifiedName``, ``IsValidLabelValue``) and the kernel's (``dev_valid_name``: 1-15
bytes, no ``/``, ``:`` or whitespace, not ``.`` or ``..``).
"""

from __future__ import annotations

import re
from typing import Any

from spidernet.validation.problems import Problem

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_LABEL = re.compile(_LABEL)
DNS_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_QUALIFIED_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
MAX_IFNAME = 15
_BAD_IFNAME = re.compile(r"[/\s:]")
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def dns_label(field: str, value: object) -> list[Problem]:
    if isinstance(value, str) and len(value) <= 63 and DNS_LABEL.fullmatch(value):
        return []
    return [Problem(field, f"{value!r} is not a DNS-1123 label (lower case a-z, 0-9, '-', <= 63)")]


def dns_subdomain(field: str, value: object) -> list[Problem]:
    if isinstance(value, str) and len(value) <= 253 and DNS_SUBDOMAIN.fullmatch(value):
        return []
    return [
        Problem(field, f"{value!r} is not a DNS-1123 subdomain (lower case a-z, 0-9, '-', '.')")
    ]


def interface(field: str, value: object) -> list[Problem]:
    ok = (
        isinstance(value, str)
        and 0 < len(value.encode()) <= MAX_IFNAME
        and not _BAD_IFNAME.search(value)
        and value not in (".", "..")
    )
    if ok:
        return []
    return [
        Problem(
            field,
            f"{value!r} is not a valid interface name (1-{MAX_IFNAME} bytes, "
            "no '/', ':' or whitespace)",
        )
    ]


def label_key(field: str, key: object) -> list[Problem]:
    if not isinstance(key, str):
        return [Problem(field, f"label key {key!r} is not a string")]
    prefix, _, name = key.rpartition("/")
    ok = 0 < len(name) <= 63 and bool(_QUALIFIED_PART.fullmatch(name))
    if prefix:
        ok = ok and not dns_subdomain(field, prefix)
    return [] if ok else [Problem(field, f"{key!r} is not a valid label key")]


def label_value(field: str, value: object) -> list[Problem]:
    if isinstance(value, str) and (
        value == "" or (len(value) <= 63 and _QUALIFIED_PART.fullmatch(value))
    ):
        return []
    return [Problem(field, f"{value!r} is not a valid label value")]


def selector(field: str, sel: object, *, non_empty: bool = False) -> list[Problem]:
    """A metav1.LabelSelector: matchLabels and matchExpressions as the API server reads them."""
    if not isinstance(sel, dict):
        return [Problem(field, "must be a label selector (matchLabels / matchExpressions)")]
    out = [
        Problem(f"{field}.{k}", "is not a label selector field")
        for k in sel
        if k not in ("matchLabels", "matchExpressions")
    ]
    labels, exprs = sel.get("matchLabels") or {}, sel.get("matchExpressions") or []
    if not isinstance(labels, dict):
        return out + [Problem(f"{field}.matchLabels", "must be a map of label key to value")]
    for key, value in labels.items():
        out += label_key(f"{field}.matchLabels", key)
        out += label_value(f"{field}.matchLabels[{key}]", value)
    if not isinstance(exprs, list):
        return out + [Problem(f"{field}.matchExpressions", "must be a list")]
    for i, expr in enumerate(exprs):
        out += _expression(f"{field}.matchExpressions[{i}]", expr)
    if non_empty and not labels and not exprs:
        out.append(Problem(field, "is empty: it would match every pod; leave it out instead"))
    return out


def _expression(field: str, expr: Any) -> list[Problem]:
    if not isinstance(expr, dict):
        return [Problem(field, "must be an object with key, operator and values")]
    out = label_key(f"{field}.key", expr.get("key"))
    op, values = expr.get("operator"), expr.get("values") or []
    if op not in OPERATORS:
        return out + [Problem(f"{field}.operator", f"{op!r} is not one of {list(OPERATORS)}")]
    if op in ("In", "NotIn") and not values:
        out.append(Problem(f"{field}.values", f"must not be empty with operator {op}"))
    if op in ("Exists", "DoesNotExist") and values:
        out.append(Problem(f"{field}.values", f"must be empty with operator {op}"))
    for j, value in enumerate(values if isinstance(values, list) else [values]):
        out += label_value(f"{field}.values[{j}]", value)
    return out


def name_list(field: str, value: object, check: Any) -> list[Problem]:
    """A list of strings, each passing ``check(field[i], item)``."""
    if value is None:
        return []
    if not isinstance(value, list):
        return [Problem(field, f"must be a list of names, got {value!r}")]
    return [p for i, item in enumerate(value) for p in check(f"{field}[{i}]", item)]
