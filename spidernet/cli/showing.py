"""``pools``, ``ip show`` and ``ip list``: read-only views of the pools. Does I/O (reads).

Each reads what it needs in one go (a LIST of pools, of endpoints, of pods) and joins
it with ``usage`` and ``holders``; nothing is written.
"""

from __future__ import annotations

import argparse
import ipaddress
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

from spidernet.alloc import choosing
from spidernet.alloc.failures import BadInput
from spidernet.alloc.pools import Pool
from spidernet.cli import failures, holders, tables, usage
from spidernet.cli.connecting import Session, session
from spidernet.cli.console import Console
from spidernet.ipam import recording, store
from spidernet.ipam.endpoints import NODE_LABEL
from spidernet.ipmath.ranges import RangeSet

GROUP = store.GROUP
POOL_COLUMNS = (
    "NAME",
    "VERSION",
    "SUBNET",
    "ALLOCATED",
    "TOTAL",
    "FREE",
    "COOLING",
    "DEFAULT",
    "DISABLED",
    "AGE",
)
POOL_WIDE = ("GATEWAY", "NODE-NAME", "MULTUS-NAME", "NAMESPACE-NAME")
IP_COLUMNS = ("IP", "POOL", "POD", "NODE", "INTERFACE", "STATUS", "AGE")
IP_WIDE = ("POD-UID", "CONTAINER", "ENDPOINT")


def _q(text: str) -> str:
    return urllib.parse.quote(text, safe="")


# ------------------------------------------------------------------ pools


def pools(args: argparse.Namespace, console: Console) -> int:
    path = f"{GROUP}/spiderippools"
    if args.selector:
        path += f"?labelSelector={_q(args.selector)}"
    with session(args) as s:
        objs = sorted(s.list(path), key=lambda o: o["metadata"]["name"])
        reserved = _reserved(s, console)
    now = time.time()
    rows = [usage.of(o, reserved, now) for o in objs]
    for u in rows:
        if u.problem:
            console.warn(f"SpiderIPPool {u.name} cannot be used: {u.problem}")
    if args.output in ("json", "yaml"):
        console.emit({"kind": "PoolUsageList", "items": [u.to_json() for u in rows]}, args.output)
        return failures.OK
    wide = args.output == "wide"
    console.table(
        POOL_COLUMNS + (POOL_WIDE if wide else ()),
        [_pool_row(u, now, wide, console) for u in rows],
        empty="No SpiderIPPools found."
        if not args.selector
        else f"No SpiderIPPools match {args.selector}.",
    )
    return failures.OK


def _reserved(s: Session, console: Console) -> dict[int, RangeSet]:
    try:
        return recording.reserved_ranges(s.store)
    except BadInput as e:  # the IPAM refuses ADDs until it is fixed: say so
        console.warn(f"invalid config: {e}: FREE ignores every reserved address until it is fixed")
        return {}


def _pool_row(u: usage.PoolUsage, now: float, wide: bool, console: Console) -> list[object]:
    free: object = u.free
    if u.free == 0:
        free = console.paint("0", "red")
    row: list[object] = [
        u.name,
        u.version or "?",
        u.subnet,
        _num(u.allocated),
        _num(u.total),
        _num(free),
        _num(u.cooling),
        u.default,
        u.disabled,
        "Terminating" if u.terminating else tables.since(u.created, now),
    ]
    if wide:
        row += [
            u.gateway,
            ",".join(u.node_name),
            ",".join(u.multus_name),
            ",".join(u.namespace_name),
        ]
    return row


def _num(value: object) -> object:
    return "<invalid>" if value is None else value


# ------------------------------------------------------------------ ip show


def ip_show(args: argparse.Namespace, console: Console) -> int:
    ip = parse_ip(args.ip)
    with session(args) as s:
        found = find(s, ip)
        if not found:
            raise failures.NotFound(_not_held(s, ip))
        shown = [_holding(s, pool, key, record) for pool, key, record in found]
    if len(shown) > 1:
        console.warn(
            f"{ip} is recorded in {len(shown)} pools: the pools overlap (spiderpoolctl validate)"
        )
    if args.output in ("json", "yaml"):
        data = [h.to_json() for h in shown]
        console.emit(data[0] if len(data) == 1 else {"kind": "List", "items": data}, args.output)
        return failures.OK
    now = time.time()
    for n, h in enumerate(shown):
        if n:
            console.line()
        _describe(h, now, console)
    return failures.OK


def parse_ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise failures.Usage(f"{text!r} is not an IP address") from None


def find(s: Session, ip: str) -> list[tuple[str, str, Any]]:
    """(pool, key, record) for every record of ``ip`` in every pool."""
    objs = s.list(f"{GROUP}/spiderippools")
    return [
        (pool.name, key, record)
        for pool, key, record in holders.records(objs)
        if choosing.canonical(key) == ip
    ]


def _not_held(s: Session, ip: str) -> str:
    value = int(ipaddress.ip_address(ip))
    inside = [
        o["metadata"]["name"]
        for o in s.list(f"{GROUP}/spiderippools")
        if value in Pool.parse(o).usable
    ]
    where = (
        f": it is free in SpiderIPPool {', '.join(inside)}" if inside else ": no pool hands it out"
    )
    return f"{ip} is not allocated{where}"


def _holding(s: Session, pool: str, key: str, record: Any) -> holders.Holding:
    ns, _, name = record.pod.partition("/")
    endpoint = s.get(f"{GROUP}/namespaces/{_q(ns)}/spiderendpoints/{_q(name)}") if name else None
    pod = s.get(f"/api/v1/namespaces/{_q(ns)}/pods/{_q(name)}") if name else None
    return holders.holding(pool, key, record, endpoint, pod)


def _describe(h: holders.Holding, now: float, console: Console) -> None:
    colour = "green" if h.alive else "yellow"
    status = console.paint(h.status, colour) + (f" ({h.detail})" if h.detail else "")
    fields = [
        ("IP", h.ip),
        ("Pool", h.pool),
        ("Pod", h.pod),
        ("Pod UID", h.pod_uid),
        ("Status", status),
        ("Node", h.node or "<unknown>"),
        ("Interface", h.interface or "<unknown>"),
        ("Container ID", h.container_id or "<unknown>"),
        ("SpiderEndpoint", h.endpoint or "<none>: no endpoint names this address"),
        ("Since", f"{h.since} ({tables.since(h.since, now)} ago)" if h.since else "<unknown>"),
    ]
    width = max(len(k) for k, _ in fields) + 2
    for label, value in fields:
        console.line(f"{label + ':':<{width}}{value}")


# ------------------------------------------------------------------ ip list


def ip_list(args: argparse.Namespace, console: Console) -> int:
    with session(args) as s:
        shown = _listed(s, args, console)
    if args.output in ("json", "yaml"):
        console.emit({"kind": "List", "items": [h.to_json() for h in shown]}, args.output)
        return failures.OK
    now, wide = time.time(), args.output == "wide"
    rows = [_ip_row(h, now, wide) for h in sorted(shown, key=_order)]
    console.table(IP_COLUMNS + (IP_WIDE if wide else ()), rows, empty="No addresses found.")
    return failures.OK


def _order(h: holders.Holding) -> tuple[str, int, int]:
    addr = ipaddress.ip_address(h.ip)
    return h.pool, addr.version, int(addr)


def _listed(s: Session, args: argparse.Namespace, console: Console) -> list[holders.Holding]:
    if args.pool:
        obj = s.get(f"{GROUP}/spiderippools/{_q(args.pool)}")
        if obj is None:
            raise failures.NotFound(f"SpiderIPPool {args.pool} not found")
        pool_objs = [obj]
    else:
        pool_objs = s.list(f"{GROUP}/spiderippools", console.progress)
    eps = _by_key(s.list(_endpoint_path(args), console.progress))
    pods = _by_key(s.list(_pod_path(args), console.progress))
    if (
        args.pod
        and args.pod not in pods
        and not any(r.pod == args.pod for _, _, r in holders.records(pool_objs))
    ):
        raise failures.NotFound(f"pod {args.pod} holds no address (and does not exist)")
    out = []
    for pool, key, record in holders.records(pool_objs):
        if args.pod and record.pod != args.pod:
            continue
        h = holders.holding(pool.name, key, record, eps.get(record.pod), pods.get(record.pod))
        if args.node and h.node != args.node:
            continue
        out.append(h)
    return out


def _endpoint_path(args: argparse.Namespace) -> str:
    if args.pod:
        return f"{GROUP}/namespaces/{_q(args.pod.split('/')[0])}/spiderendpoints"
    if args.node:
        return f"{GROUP}/spiderendpoints?labelSelector={_q(f'{NODE_LABEL}={args.node}')}"
    return f"{GROUP}/spiderendpoints"


def _pod_path(args: argparse.Namespace) -> str:
    if args.pod:
        return f"/api/v1/namespaces/{_q(args.pod.split('/')[0])}/pods"
    if args.node:
        return f"/api/v1/pods?fieldSelector={_q(f'spec.nodeName={args.node}')}"
    return "/api/v1/pods"


def _by_key(objs: list[dict[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {f"{o['metadata'].get('namespace')}/{o['metadata']['name']}": o for o in objs}


def _ip_row(h: holders.Holding, now: float, wide: bool) -> list[object]:
    status = f"{h.status} {h.detail.split(' (')[0]}" if h.status == holders.COOLING else h.status
    row: list[object] = [
        h.ip,
        h.pool,
        h.pod,
        h.node,
        h.interface,
        status,
        tables.since(h.since, now) if h.since else "<unknown>",
    ]
    if wide:
        row += [h.pod_uid, h.container_id[:12], h.endpoint]
    return row
