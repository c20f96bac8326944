"""``ip release IP [--force]``: free one address through the IPAM's own release path. Does I/O.

    read   the pools (which record holds IP), the pod, its SpiderEndpoint, its StatefulSet
    judge  holders.refusal: never while the pod is alive with that UID
    write  the endpoint first (the address leaves it; the endpoint goes with its last
           address), then the record by the IPAM's compare-and-swap on the pod UID
           (``spidernet.ipam.recording.release_uid``): in that order no endpoint ever names an
           address its pool does not record (I1, docs/ipam.md)
    say    what was released, from which pool, held by whom, and what became of the endpoint

A record that changed between the read and the write is not released (the CAS checks
the UID in the pool's fresh copy), and the command says so.
"""

from __future__ import annotations

import argparse
import urllib.parse
from typing import Any

from spidernet.alloc.pools import Pool, Record
from spidernet.cli import failures, holders, showing
from spidernet.cli.connecting import Session, session
from spidernet.cli.console import Console
from spidernet.ipam import endpoints, pods
from spidernet.ipam.recording import release_uid
from spidernet.ipam.store import GROUP
from spidernet.k8s import errors as kerr


def _q(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def ip_release(args: argparse.Namespace, console: Console) -> int:
    ip = showing.parse_ip(args.ip)
    with session(args) as s:
        pool, key, record = _the_record(s, ip, args.pool)
        ns, _, name = record.pod.partition("/")
        ep = s.get(f"{GROUP}/namespaces/{_q(ns)}/spiderendpoints/{_q(name)}")
        pod = s.get(f"/api/v1/namespaces/{_q(ns)}/pods/{_q(name)}")
        h = holders.holding(pool, key, record, ep, pod)
        why = holders.refusal(
            h,
            statefulset_keeps=_statefulset_keeps(s, ep, record),
            successor_alive=_successor_alive(h, ep, pod, record),
            force=args.force,
        )
        if why:
            raise failures.Refused(f"not released: {why}")
        endpoint_done = _drop_from_endpoint(s, ep, ip) if h.endpoint else "none named it"
        _release(s, pool, key, record)
    _say(console, args, h, endpoint_done)
    return failures.OK


def _the_record(s: Session, ip: str, pool: str | None) -> tuple[str, str, Record]:
    found = [f for f in showing.find(s, ip) if pool is None or f[0] == pool]
    if not found:
        where = f" in SpiderIPPool {pool}" if pool else ""
        raise failures.NotFound(f"{ip} is not allocated{where}: nothing to release")
    if len(found) > 1:
        names = ", ".join(f[0] for f in found)
        raise failures.Refused(
            f"{ip} is recorded in {len(found)} pools ({names}): name one with --pool"
        )
    return found[0]


def _statefulset_keeps(s: Session, ep: dict[str, Any] | None, record: Record) -> str:
    """The StatefulSet that still has a place for the record's pod name, or ""."""
    if ep is None or not endpoints.stateful(ep) or record.cooling:
        return ""
    meta = ep["metadata"]
    owner = endpoints.owner_name(ep)
    sts = s.get(f"/apis/apps/v1/namespaces/{_q(meta['namespace'])}/statefulsets/{_q(owner)}")
    return "" if pods.stateful_place(meta["name"], sts) else f"{meta['namespace']}/{owner}"


def _successor_alive(
    h: holders.Holding, ep: dict[str, Any] | None, pod: dict[str, Any] | None, record: Record
) -> bool:
    """A live pod of the record's name whose endpoint (another UID) names the address."""
    if not h.endpoint or ep is None or pod is None or endpoints.uid(ep) == record.pod_uid:
        return False
    info = pods.info(pod)
    return info.alive and info.uid == endpoints.uid(ep)


def _drop_from_endpoint(s: Session, ep: dict[str, Any] | None, ip: str) -> str:
    if ep is None:
        return "none named it"
    rest = holders.without_address(ep, ip)
    try:
        if rest is None:
            s.store.delete_endpoint(ep)
            return "deleted (it named no other address)"
        s.store.replace_endpoint(rest)
    except kerr.Conflict:
        raise failures.Refused(
            "not released: the SpiderEndpoint changed while this command ran; run it again"
        ) from None
    return "updated (the address left it; its other addresses stay)"


def _release(s: Session, pool: str, key: str, record: Record) -> None:
    if record.cooling:
        released = s.store.update_pool(pool, lambda p: _without_if_same(p, key, record))
    else:
        released = release_uid(s.store, pool, record.pod_uid, {key})
    if not released:
        raise failures.Refused(
            f"not released: the record of {key} in SpiderIPPool {pool} changed while this "
            "command ran (someone released or re-used it); look again with ip show"
        )


def _without_if_same(p: Pool, key: str, record: Record) -> tuple[dict[str, Record] | None, int]:
    if p.records.get(key) != record:
        return None, 0
    return {k: r for k, r in p.records.items() if k != key}, 1


def _say(
    console: Console, args: argparse.Namespace, h: holders.Holding, endpoint_done: str
) -> None:
    if args.output in ("json", "yaml"):
        console.emit({**h.to_json(), "released": True, "endpoint": endpoint_done}, args.output)
        return
    was = f"{h.status}, {h.detail}" if h.detail else h.status
    console.line(
        f"released {h.ip} from SpiderIPPool {h.pool}: it was held by pod {h.pod} "
        f"(UID {h.pod_uid}; {was})"
    )
    if h.endpoint:
        console.line(f"SpiderEndpoint {h.endpoint}: {endpoint_done}")
