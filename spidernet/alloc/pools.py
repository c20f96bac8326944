"""SpiderIPPool objects as data, with the checks a webhook would do made at use time. No I/O.

``Pool.parse`` never raises for a broken pool: it returns a pool whose ``broken`` says
why (IPs outside the subnet, gateway inside ``ips`` but not excluded, bad ranges...),
and selection skips it with that reason (docs/ipam.md: a broken pool is skipped, with a
reason that ends up in the ADD error, never half-used).

Records in ``status.allocatedIPs`` are upstream's: a JSON *string* holding
``{"<ip>": {"pod": "<ns>/<name>", "podUid": "<uid>"}}``; empty means the field is null.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping

from spidernet.alloc.failures import BadInput
from spidernet.ipmath import addresses
from spidernet.ipmath.ranges import RangeError, RangeSet, parse_ip
from spidernet.types.record import FrozenInstanceError, field, record

TYPE_CHECKING = False  # typing is for the type checker only: not imported on an exec
if TYPE_CHECKING:
    from typing import Any


class Record:
    """One entry of ``status.allocatedIPs``: upstream's ``{pod, podUid}``, plus two optional keys.

    ``cooldownUntil`` (RFC 3339, UTC): the address was released after a failed ADD
    (I5, docs/ipam.md) and is not handed out before that time; the record no longer holds it
    for the pod named, which stays for the operator's information. ``strikes``: how many
    ADDs failed in a row on this address; the next cool-down doubles with each. Both
    are absent on ordinary records, so a pool keeps upstream's size.

    Frozen, compared and hashed by its four fields, like a ``@record``, but written out:
    a pool of 1,000 addresses makes 1,000 of them at each read, and a generic
    constructor cost ~18 M instructions more per read than these few lines
    (docs/performance.md, "The pool's JSON").
    """

    __slots__ = ("cooldown_until", "pod", "pod_uid", "strikes")
    pod: str  # "<namespace>/<name>"
    pod_uid: str
    cooldown_until: str
    strikes: int

    def __init__(self, pod: str, pod_uid: str, cooldown_until: str = "", strikes: int = 0) -> None:
        init = object.__setattr__
        init(self, "pod", pod)
        init(self, "pod_uid", pod_uid)
        init(self, "cooldown_until", cooldown_until)
        init(self, "strikes", strikes)

    def _key(self) -> tuple[str, str, str, int]:
        return (self.pod, self.pod_uid, self.cooldown_until, self.strikes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "Record(pod={!r}, pod_uid={!r}, cooldown_until={!r}, strikes={!r})".format(
            *self._key()
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    @property
    def cooling(self) -> bool:
        return bool(self.cooldown_until)

    def holds_for(self, pod_uid: str) -> bool:
        """Does this record give its address to ``pod_uid``? (A cooling record gives it to
        nobody.)"""
        return self.pod_uid == pod_uid and not self.cooldown_until

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pod": self.pod, "podUid": self.pod_uid}
        if self.cooldown_until:
            out["cooldownUntil"] = self.cooldown_until
        if self.strikes:
            out["strikes"] = self.strikes
        return out


@record
class PoolRoute:
    dst: str
    gw: str


@record
class Pool:
    name: str
    family: int
    subnet: ipaddress.IPv4Network | ipaddress.IPv6Network | None
    usable: RangeSet  # ips - excludeIPs (reserved IPs are subtracted at choice time)
    gateway: str = ""
    routes: tuple[PoolRoute, ...] = ()
    default: bool = False
    disable: bool = False
    terminating: bool = False
    node_name: tuple[str, ...] = ()
    namespace_name: tuple[str, ...] = ()
    multus_name: tuple[str, ...] = ()
    node_affinity: Mapping[str, Any] | None = None
    namespace_affinity: Mapping[str, Any] | None = None
    pod_affinity: Mapping[str, Any] | None = None
    records: Mapping[str, Record] = field(default_factory=dict)
    resource_version: str = ""
    broken: str = ""  # non-empty: why this pool cannot be used

    @property
    def prefix_len(self) -> int:
        return self.subnet.prefixlen if self.subnet else (32 if self.family == 4 else 128)

    @classmethod
    def parse(cls, obj: Mapping[str, Any]) -> Pool:
        meta, spec = obj.get("metadata", {}), obj.get("spec", {}) or {}
        name = meta.get("name", "")
        base = dict(
            name=name,
            terminating=bool(meta.get("deletionTimestamp")),
            resource_version=meta.get("resourceVersion", ""),
            default=bool(spec.get("default")),
            disable=bool(spec.get("disable")),
            node_name=tuple(spec.get("nodeName") or ()),
            namespace_name=tuple(spec.get("namespaceName") or ()),
            multus_name=tuple(spec.get("multusName") or ()),
            node_affinity=spec.get("nodeAffinity"),
            namespace_affinity=spec.get("namespaceAffinity"),
            pod_affinity=spec.get("podAffinity"),
        )
        try:
            return cls(**base, **_parse_addresses(spec), records=_records(obj))
        except _Broken as e:
            family = 6 if spec.get("ipVersion") == 6 else 4
            return cls(**base, family=family, subnet=None, usable=RangeSet(family), broken=str(e))


class _Broken(ValueError):
    pass


def _records(obj: Mapping[str, Any]) -> dict[str, Record]:
    try:
        return parse_records((obj.get("status") or {}).get("allocatedIPs"))
    except ValueError as e:  # never write over records we cannot read
        raise _Broken(f"status.allocatedIPs unreadable: {e}") from None


def _parse_addresses(spec: Mapping[str, Any]) -> dict[str, Any]:
    try:
        subnet = addresses.network(spec.get("subnet", ""), strict=True)
    except ValueError as e:
        raise _Broken(f"spec.subnet: {e}") from None
    family = spec.get("ipVersion") or subnet.version
    if family != subnet.version:
        raise _Broken(f"spec.ipVersion {family} does not match spec.subnet {subnet}")
    ips = _ranges(spec.get("ips") or [], family, "spec.ips")
    exclude = _ranges(spec.get("excludeIPs") or [], family, "spec.excludeIPs")
    whole = RangeSet.network(subnet)
    for label, rs in (("spec.ips", ips), ("spec.excludeIPs", exclude)):
        if not rs.issubset(whole):
            raise _Broken(f"{label} {rs.subtract(whole).texts()} outside spec.subnet {subnet}")
    usable = ips.subtract(exclude)
    gateway = spec.get("gateway") or ""
    if gateway:
        _check_gateway(gateway, family, whole, usable)
    routes = tuple(PoolRoute(r.get("dst", ""), r.get("gw", "")) for r in spec.get("routes") or [])
    return dict(family=family, subnet=subnet, usable=usable, gateway=gateway, routes=routes)


def _ranges(items: list[str], family: int, label: str) -> RangeSet:
    try:
        return RangeSet.parse(items, family)
    except RangeError as e:
        raise _Broken(f"{label}{e}") from None


def _check_gateway(gateway: str, family: int, whole: RangeSet, usable: RangeSet) -> None:
    try:
        gw_family, gw = parse_ip(gateway)
    except ValueError:
        raise _Broken(f"spec.gateway {gateway!r} is not an IP address") from None
    if gw_family != family or gw not in whole:
        raise _Broken(f"spec.gateway {gateway} is outside spec.subnet")
    if gw in usable:
        raise _Broken(f"spec.gateway {gateway} is inside spec.ips: add it to spec.excludeIPs")


def parse_records(raw: object) -> dict[str, Record]:
    """``status.allocatedIPs`` (a JSON string, or null) -> {ip: Record}. Unreadable ->
    ValueError."""
    if not raw:
        return {}
    data = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(data, dict):
        raise ValueError("status.allocatedIPs is not a JSON object")
    for (
        ip,
        r,
    ) in data.items():  # a bad key or value would crash choosing later, not mark the pool broken
        parse_ip(ip)
        if not isinstance(r, dict):
            raise ValueError(f"record for {ip} is not a JSON object")
    return {ip: _record(ip, r) for ip, r in data.items()}


def _record(ip: str, raw: Mapping[str, Any]) -> Record:
    strikes = raw.get("strikes", 0)
    if not isinstance(strikes, int) or isinstance(strikes, bool) or strikes < 0:
        raise ValueError(f"record for {ip}: strikes {strikes!r} is not a count")
    until = raw.get("cooldownUntil", "")
    if not isinstance(until, str):
        raise ValueError(f"record for {ip}: cooldownUntil {until!r} is not a time")
    return Record(str(raw.get("pod", "")), str(raw.get("podUid", "")), until, strikes)


def records_json(records: Mapping[str, Record]) -> str | None:
    """The value for ``status.allocatedIPs``: null when empty (upstream's deletion signal)."""
    if not records:
        return None
    return json.dumps({ip: r.to_json() for ip, r in records.items()}, separators=(",", ":"))


@record
class Summary:
    """What a pool LIST without records tells: enough to expand globs and find default pools."""

    name: str
    family: int  # 0 when it cannot be told (the pool is then parsed, and refused, when used)
    default: bool
    disable: bool

    @classmethod
    def of(cls, pool: Pool) -> Summary:
        return cls(pool.name, pool.family, pool.default, pool.disable)

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> list[Summary] | None:
        """Rows of a meta.k8s.io Table of pools; None when the printer columns lack what we need.

        Columns are found by name (upstream's CRD and ours both print VERSION, SUBNET and
        DEFAULT); the family falls back to the subnet's, as upstream's webhook infers it.
        """
        names = [c.get("name", "") for c in table.get("columnDefinitions") or []]
        need = ("Name", "SUBNET", "DEFAULT")
        if not all(n in names for n in need):
            return None
        out = []
        for row in table.get("rows") or []:
            cell = dict(zip(names, row.get("cells") or []))
            out.append(
                cls(
                    str(cell["Name"]),
                    _family(cell.get("VERSION"), cell.get("SUBNET")),
                    cell.get("DEFAULT") is True,
                    cell.get("DISABLE") is True,
                )
            )
        return out


def _family(version: object, subnet: object) -> int:
    if str(version) in ("4", "6"):
        return int(str(version))
    try:
        return ipaddress.ip_network(str(subnet), strict=False).version
    except ValueError:
        return 0


def reserved_ranges(objs: Iterable[Mapping[str, Any]]) -> dict[int, RangeSet]:
    """Union of these SpiderReservedIPs per family (terminating ones no longer count).

    The family is each entry's own, as upstream's webhook infers ``spec.ipVersion``
    from the first entry: users write reserved IPs without it, and an entry
    of the other family than ``ipVersion`` says is still reserved in its own. An
    object we cannot read is ``BadInput`` naming it (code 7) (an ADD then fails: its addresses might
    protect a router or a VIP, and handing them out would be an outage).
    """
    out = {4: RangeSet(4), 6: RangeSet(6)}
    for obj in objs:
        if obj.get("metadata", {}).get("deletionTimestamp"):
            continue
        name = obj.get("metadata", {}).get("name", "")
        for item in (obj.get("spec") or {}).get("ips") or []:
            try:
                family = parse_ip(str(item).split("-")[0].strip())[0]
                out[family] = out[family].union(RangeSet.parse([item], family))
            except (RangeError, ValueError) as e:
                raise BadInput(f"SpiderReservedIP {name} spec.ips", f"{item!r}: {e}") from None
    return out
