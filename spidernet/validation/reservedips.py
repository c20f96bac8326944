"""The rules for a SpiderReservedIP. No I/O.

As upstream's webhook: ``spec.ips`` is required and not empty; ``spec.ipVersion`` is 4
or 6, or absent (then the family of the first entry, as upstream's mutating webhook
infers it); every entry an address or an ``a-b`` range of that family. No subnet: a
reserved address is kept out of every pool of its family (docs/ipam.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spidernet.ipmath.ranges import RangeError, RangeSet, parse_ip
from spidernet.validation import names
from spidernet.validation.problems import Problem

KIND = "SpiderReservedIP"
SPEC_KEYS = frozenset({"ipVersion", "ips"})


def problems(obj: Mapping[str, Any]) -> list[Problem]:
    meta, spec = obj.get("metadata") or {}, obj.get("spec")
    out = names.dns_subdomain("metadata.name", meta.get("name"))
    if not isinstance(spec, dict):
        return out + [Problem("spec", "is required (spec.ips at least)")]
    out += [
        Problem(f"spec.{k}", "is not a SpiderReservedIP field") for k in spec if k not in SPEC_KEYS
    ]
    ips, version = spec.get("ips"), spec.get("ipVersion")
    if version is not None and (isinstance(version, bool) or version not in (4, 6)):
        out.append(Problem("spec.ipVersion", f"{version!r} is not 4 or 6"))
        version = None
    if not isinstance(ips, list) or not ips:
        return out + [Problem("spec.ips", "is required: at least one address or range")]
    family = version or _family(ips[0])
    for i, item in enumerate(ips):
        out += _entry(f"spec.ips[{i}]", item, family)
    return out


def _family(item: object) -> int:
    try:
        return parse_ip(str(item).split("-")[0].strip())[0]
    except ValueError:
        return 4


def _entry(field: str, item: object, family: int) -> list[Problem]:
    if not isinstance(item, str):
        return [Problem(field, f"{item!r} is not an address or a range 'a-b'")]
    try:
        RangeSet.parse([item], family)
    except RangeError as e:
        return [Problem(field, str(e).removeprefix("[0] "))]
    return []
