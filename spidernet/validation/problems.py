"""What a rule found wrong: the field, in the object's own path syntax, and why. No I/O."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    field: str  # "spec.ips[2]", "metadata.name", "spec.macvlan.bond.mode"
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def at(prefix: str, problems: list[Problem]) -> list[Problem]:
    """``problems`` found in a sub-object, re-rooted under ``prefix``."""
    return [Problem(f"{prefix}.{p.field}" if p.field else prefix, p.message) for p in problems]
