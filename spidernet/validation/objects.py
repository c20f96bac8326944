"""Any of our objects by ``kind``, alone or as a set (pools against each other). No I/O.

``checked(objs)`` is what ``spiderpoolctl validate`` runs over the documents of its
files: each object's own rules, then every SpiderIPPool against the other pools given
(overlap), each problem tied to the object it belongs to. Kinds that are not ours are
``skipped`` (a file may hold a Namespace next to its pools); objects without ``kind``
or ``apiVersion`` are problems.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from spidernet.validation import ippools, multusconfigs, reservedips
from spidernet.validation.problems import Problem

GROUP = "spiderpool.spidernet.io"
RULES: dict[str, Callable[[Mapping[str, Any]], list[Problem]]] = {
    ippools.KIND: ippools.problems,
    reservedips.KIND: reservedips.problems,
    multusconfigs.KIND: multusconfigs.problems,
}


@dataclass
class Verdict:
    """One object's outcome: its problems, or why it was not checked."""

    kind: str
    name: str
    problems: list[Problem] = field(default_factory=list)
    skipped: str = ""  # non-empty: not one of ours, and why

    @property
    def ok(self) -> bool:
        return not self.problems


def problems(obj: Mapping[str, Any]) -> list[Problem]:
    """One object's own problems (its kind must be one of ours)."""
    return RULES[str(obj.get("kind"))](obj)


def checked(objs: Sequence[object]) -> list[Verdict]:
    """A verdict per object, in order; pools are also checked against each other."""
    verdicts = [_one(obj) for obj in objs]
    pools = [
        (v, ippools.extent(obj))
        for v, obj in zip(verdicts, objs)
        if v.kind == ippools.KIND and not v.skipped and isinstance(obj, dict)
    ]
    extents = [e for _, e in pools if e is not None]
    for verdict, extent in pools:
        if extent is not None:
            verdict.problems += ippools.overlaps(extent, extents)
    return verdicts


def _one(obj: object) -> Verdict:
    if not isinstance(obj, dict):
        return Verdict("", "", [Problem("", "is not a Kubernetes object (a YAML/JSON mapping)")])
    kind, api = str(obj.get("kind") or ""), str(obj.get("apiVersion") or "")
    name = str((obj.get("metadata") or {}).get("name") or "")
    if not kind or not api:
        missing = " and ".join(k for k, v in (("apiVersion", api), ("kind", kind)) if not v)
        return Verdict(
            kind,
            name,
            [Problem(missing.split(" ")[0], f"{missing} missing: not a Kubernetes object")],
        )
    if kind not in RULES:
        return Verdict(kind, name, skipped=f"{api} {kind} is not a spidernet kind")
    if api.split("/")[0] != GROUP:
        return Verdict(kind, name, [Problem("apiVersion", f"{api!r} is not {GROUP}/v2beta1")])
    return Verdict(kind, name, problems(obj))
