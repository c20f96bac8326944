"""The rules for a SpiderIPPool: alone, against the other pools, and on update. No I/O.

Upstream's admission webhook rules (docs/ipam.md, "Admission rules"), each reported with
its field, all of them at once:

- ``metadata.name`` a DNS-1123 subdomain; no unknown ``spec`` key (the API server would
  drop it silently: a misspelt ``excludeIP`` would hand out what it meant to exclude);
- ``spec.subnet`` a CIDR in canonical form (``10.6.0.0/16``, not ``10.6.0.1/16``);
  ``spec.ipVersion`` 4 or 6 and the subnet's family, or absent (then inferred from the
  subnet, as upstream's mutating webhook does);
- every ``ips`` / ``excludeIPs`` entry an address or an ``a-b`` range of that family,
  start <= end, inside the subnet;
- ``spec.gateway`` an address of the family inside the subnet, and not handed out: if
  it lies in ``ips`` it must also be in ``excludeIPs``;
- ``spec.routes``: ``dst`` a CIDR of the family, not the default route (that is what
  ``gateway`` is for), no two alike; ``gw`` an address inside the subnet;
- ``podAffinity`` a valid, non-empty label selector; ``namespaceAffinity`` and
  ``nodeAffinity`` valid selectors; ``nodeName``, ``namespaceName``, ``multusName``
  (``name`` or ``ns/name``) valid names.

Against other pools of the same family (``overlaps``): subnets must be identical or
disjoint, and pools on one subnet must not share an address of ``ips - excludeIPs``.
Either would let two pools hand the same address to two pods.

On update (``update_problems``): ``ipVersion`` and ``subnet`` never change; no address
recorded in ``status.allocatedIPs`` may leave ``ips - excludeIPs``; a terminating pool
takes no spec change.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from spidernet.alloc import choosing
from spidernet.alloc.pools import parse_records
from spidernet.ipmath.ranges import RangeError, RangeSet, parse_ip
from spidernet.validation import names
from spidernet.validation.problems import Problem

KIND = "SpiderIPPool"
SPEC_KEYS = frozenset(
    {
        "ipVersion",
        "subnet",
        "ips",
        "excludeIPs",
        "gateway",
        "routes",
        "podAffinity",
        "namespaceAffinity",
        "nodeAffinity",
        "namespaceName",
        "nodeName",
        "multusName",
        "default",
        "disable",
    }
)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Extent:
    """What a pool claims of the address space: its subnet and ``ips - excludeIPs``."""

    name: str
    family: int
    subnet: Network
    usable: RangeSet


def problems(obj: Mapping[str, Any]) -> list[Problem]:
    """Everything wrong with one SpiderIPPool on its own."""
    meta, spec = obj.get("metadata") or {}, obj.get("spec")
    out = names.dns_subdomain("metadata.name", meta.get("name"))
    if not isinstance(spec, dict):
        return out + [Problem("spec", "is required (subnet at least)")]
    out += [Problem(f"spec.{k}", "is not a SpiderIPPool field") for k in spec if k not in SPEC_KEYS]
    family, subnet, found = _subnet(spec)
    out += found
    if subnet is None:
        return out
    ips, found_ips = _ranges(spec, "ips", family, subnet)
    exclude, found_exclude = _ranges(spec, "excludeIPs", family, subnet)
    out += found_ips + found_exclude
    out += _gateway(spec, family, subnet, ips.subtract(exclude))
    out += _routes(spec.get("routes"), family, subnet)
    out += _selectors(spec)
    out += _flags(spec)
    return out


def _subnet(spec: Mapping[str, Any]) -> tuple[int, Network | None, list[Problem]]:
    text, version = spec.get("subnet"), spec.get("ipVersion")
    out = []
    if version is not None and (isinstance(version, bool) or version not in (4, 6)):
        out.append(Problem("spec.ipVersion", f"{version!r} is not 4 or 6"))
        version = None
    if not isinstance(text, str) or not text:
        return 0, None, out + [Problem("spec.subnet", "is required, e.g. 10.6.0.0/16")]
    try:
        subnet = ipaddress.ip_network(text, strict=False)
    except ValueError as e:
        return 0, None, out + [Problem("spec.subnet", f"{text!r} is not a CIDR: {e}")]
    if str(subnet) != text:
        out.append(Problem("spec.subnet", f"{text!r} is not in canonical form: write {subnet}"))
    if version is not None and version != subnet.version:
        out.append(
            Problem(
                "spec.ipVersion",
                f"{version} does not match spec.subnet {subnet} (IPv{subnet.version})",
            )
        )
    return subnet.version, subnet, out


def _ranges(
    spec: Mapping[str, Any], key: str, family: int, subnet: Network
) -> tuple[RangeSet, list[Problem]]:
    """The entries of ``ips`` or ``excludeIPs`` that parse, and a problem for each that does not."""
    items = spec.get(key) or []
    if not isinstance(items, list):
        return RangeSet(family), [Problem(f"spec.{key}", "must be a list of addresses or ranges")]
    whole, good, out = RangeSet.network(subnet), RangeSet(family), []
    for i, item in enumerate(items):
        field = f"spec.{key}[{i}]"
        try:
            one = RangeSet.parse([item], family) if isinstance(item, str) else None
        except RangeError as e:
            out.append(Problem(field, str(e).removeprefix("[0] ")))
            continue
        if one is None:
            out.append(Problem(field, f"{item!r} is not an address or a range 'a-b'"))
        elif not one.issubset(whole):
            out.append(Problem(field, f"{item} is outside spec.subnet {subnet}"))
        else:
            good = good.union(one)
    return good, out


def _gateway(
    spec: Mapping[str, Any], family: int, subnet: Network, usable: RangeSet
) -> list[Problem]:
    gateway = spec.get("gateway")
    if gateway is None:
        return []
    try:
        gw_family, value = parse_ip(str(gateway))
    except ValueError:
        return [Problem("spec.gateway", f"{gateway!r} is not an IP address")]
    if gw_family != family or value not in RangeSet.network(subnet):
        return [Problem("spec.gateway", f"{gateway} is outside spec.subnet {subnet}")]
    if value in usable:
        return [
            Problem(
                "spec.gateway",
                f"{gateway} is inside spec.ips and would be handed to a pod: "
                "add it to spec.excludeIPs or remove it from spec.ips",
            )
        ]
    return []


def _routes(routes: object, family: int, subnet: Network) -> list[Problem]:
    if routes is None:
        return []
    if not isinstance(routes, list):
        return [Problem("spec.routes", "must be a list of {dst, gw}")]
    out, seen = [], set()
    for i, route in enumerate(routes):
        field = f"spec.routes[{i}]"
        if not isinstance(route, dict):
            out.append(Problem(field, "must be an object {dst, gw}"))
            continue
        dst, found = _route_dst(f"{field}.dst", route.get("dst"), family)
        out += found
        if dst is not None and dst in seen:
            out.append(Problem(f"{field}.dst", f"{dst} is routed twice"))
        seen.add(dst)
        out += _route_gw(f"{field}.gw", route.get("gw"), family, subnet)
    return out


def _route_dst(field: str, text: object, family: int) -> tuple[Network | None, list[Problem]]:
    try:
        dst = ipaddress.ip_network(str(text), strict=False)
    except ValueError:
        return None, [Problem(field, f"{text!r} is not a CIDR")]
    if dst.version != family:
        return None, [Problem(field, f"{dst} is not an IPv{family} CIDR")]
    if dst.prefixlen == 0:
        return None, [Problem(field, f"{dst} is the default route: set spec.gateway instead")]
    return dst, []


def _route_gw(field: str, text: object, family: int, subnet: Network) -> list[Problem]:
    try:
        gw_family, value = parse_ip(str(text))
    except ValueError:
        return [Problem(field, f"{text!r} is not an IP address")]
    if gw_family != family or value not in RangeSet.network(subnet):
        return [Problem(field, f"{text} is outside spec.subnet {subnet}")]
    return []


def _selectors(spec: Mapping[str, Any]) -> list[Problem]:
    out = []
    if spec.get("podAffinity") is not None:
        out += names.selector("spec.podAffinity", spec["podAffinity"], non_empty=True)
    for key in ("namespaceAffinity", "nodeAffinity"):
        if spec.get(key) is not None:
            out += names.selector(f"spec.{key}", spec[key])
    out += names.name_list("spec.nodeName", spec.get("nodeName"), names.dns_subdomain)
    out += names.name_list("spec.namespaceName", spec.get("namespaceName"), names.dns_label)
    out += names.name_list("spec.multusName", spec.get("multusName"), _multus_name)
    return out


def _multus_name(field: str, value: object) -> list[Problem]:
    if not isinstance(value, str):
        return [Problem(field, f"{value!r} is not a name")]
    ns, _, name = value.rpartition("/")
    found = names.dns_subdomain(field, name) + (names.dns_label(field, ns) if ns else [])
    return (
        [Problem(field, f"{value!r} is not 'name' or 'namespace/name' of a network")]
        if found
        else []
    )


def _flags(spec: Mapping[str, Any]) -> list[Problem]:
    return [
        Problem(f"spec.{key}", f"must be true or false, got {spec[key]!r}")
        for key in ("default", "disable")
        if key in spec and not isinstance(spec[key], bool)
    ]


# ------------------------------------------------------------------ against other pools


def extent(obj: Mapping[str, Any]) -> Extent | None:
    """The pool's claim, or None when its subnet cannot be read (``problems`` says why)."""
    spec = obj.get("spec") or {}
    try:
        subnet = ipaddress.ip_network(str(spec.get("subnet", "")), strict=False)
    except ValueError:
        return None
    usable = RangeSet(subnet.version)
    for key in ("ips", "excludeIPs"):
        for item in spec.get(key) or []:
            try:
                part = RangeSet.parse([item], subnet.version)
            except (RangeError, TypeError):
                continue
            usable = usable.union(part) if key == "ips" else usable.subtract(part)
    name = str((obj.get("metadata") or {}).get("name", ""))
    return Extent(name, subnet.version, subnet, usable.intersect(RangeSet.network(subnet)))


def overlaps(pool: Extent, others: Iterable[Extent]) -> list[Problem]:
    """What ``pool`` shares with any of ``others`` (itself, by name, excluded)."""
    out = []
    for other in others:
        if other.name == pool.name or other.family != pool.family:
            continue
        if other.subnet != pool.subnet:
            if other.subnet.overlaps(pool.subnet):
                out.append(
                    Problem(
                        "spec.subnet",
                        f"{pool.subnet} overlaps SpiderIPPool {other.name}'s spec.subnet "
                        f"{other.subnet}: pools of one family need identical or disjoint subnets",
                    )
                )
            continue
        shared = pool.usable.intersect(other.usable)
        if shared:
            out.append(
                Problem(
                    "spec.ips",
                    f"{_texts(shared)} also in SpiderIPPool {other.name} (same subnet "
                    f"{pool.subnet}): one address in two pools could go to two pods",
                )
            )
    return out


def _texts(rs: RangeSet, limit: int = 3) -> str:
    texts = rs.texts()
    more = f" and {len(texts) - limit} more range(s)" if len(texts) > limit else ""
    return ", ".join(texts[:limit]) + more


# ------------------------------------------------------------------ on update


def update_problems(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Problem]:
    """What an update may not do to a pool, given the records the old object holds."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if (old.get("metadata") or {}).get("deletionTimestamp") and old_spec != new_spec:
        return [Problem("spec", "the pool is being deleted: its spec can no longer change")]
    out = []
    for key in ("ipVersion", "subnet"):
        if key in old_spec and old_spec.get(key) != new_spec.get(key, old_spec.get(key)):
            out.append(
                Problem(f"spec.{key}", f"cannot change ({old_spec[key]} -> {new_spec.get(key)})")
            )
    if out:
        return out
    after = extent(new)
    if after is None:
        return out
    try:
        records = parse_records((old.get("status") or {}).get("allocatedIPs"))
    except ValueError:
        return out  # unreadable records: the pool is refused at use time, nothing to protect here
    for ip, record in sorted(records.items(), key=lambda kv: parse_ip(kv[0])):
        if record.cooling or parse_ip(ip)[1] in after.usable:
            continue
        where = (
            "spec.excludeIPs"
            if _in_list(ip, new_spec.get("excludeIPs"), after.family)
            else "spec.ips"
        )
        out.append(
            Problem(
                where,
                f"{choosing.canonical(ip)} is allocated to pod {record.pod} (UID {record.pod_uid}) "
                "and would leave the pool: release it first (spiderpoolctl ip release)",
            )
        )
    return out


def _in_list(ip: str, items: object, family: int) -> bool:
    try:
        return parse_ip(ip)[1] in RangeSet.parse(items if isinstance(items, list) else [], family)
    except (RangeError, TypeError, ValueError):
        return False
