"""One GC pass against the API server: read, judge, release, refresh, remember. Does I/O.

    LIST pools -> LIST endpoints -> LIST pods -> LIST nodes, StatefulSets   (census, World)
    GET the GC's ConfigMap (first sightings; only when min_age > 0)         (suspects)
    judge (plan, pure)
    DELETE each zombie's endpoint (preconditions: UID + resourceVersion)
    one compare-and-swap per pool dropping the zombies' records by pod UID   (Store.update_pool)
    POST an Event on the pool per released address
    compare-and-swap the pools whose allocatedIPCount / totalIPCount are stale
    PUT the ConfigMap

Why this read order: an ADD writes its record only after it read its pod alive, so
the pod of any record in the pool LIST existed before that LIST; the pod LIST, read
after it, cannot miss it unless the pod really went (peers that listed pods first
freed the addresses of pods created in between). Every LIST is paginated
(``limit``/``continue``) and served by the server as one consistent snapshot; none is
read from a cache of an earlier pass.

Every write is conditional: the endpoint delete carries preconditions (a changed
endpoint is left for the next pass, and then nothing of its holder is released), and
a record goes only if, in the pool's fresh copy, it still holds its address for the
UID judged (``Record.holds_for``), so an address re-used meanwhile is never touched.
Anything that fails is reported with the object named and the pass goes on with
the rest; a LIST of pools, endpoints or pods that fails ends the pass with nothing
released (every verdict needs all three).
"""

from __future__ import annotations

import secrets
import socket
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from spidernet.alloc import choosing
from spidernet.alloc.failures import IpamFailure, NotFound
from spidernet.alloc.pools import Pool, Record
from spidernet.gc import census as census_mod
from spidernet.gc import finalizers, rules, suspects, usage
from spidernet.gc import plan as planning
from spidernet.gc.census import Census, Entry, World, take
from spidernet.gc.report import Report
from spidernet.ipam.store import GROUP, INT64_MAX, Store
from spidernet.k8s import errors as kerr
from spidernet.k8s import listing
from spidernet.k8s.transport import Transport

Progress = Callable[[str], None]
EVENT_REASON = "ZombieIPReleased"
COMPONENT = "spidernet-gc"


@dataclass(frozen=True)
class Options:
    knobs: rules.Knobs = field(default_factory=rules.Knobs)
    dry_run: bool = False
    page_size: int = 500
    event_namespace: str = "default"
    state_namespace: str = "kube-system"
    state_name: str = "spidernet-gc-state"


def run(
    transport: Transport,
    opts: Options,
    *,
    lock_dir: str,
    progress: Progress = lambda _: None,
    clock: Callable[[], float] = time.time,
) -> Report:
    """One pass. ``clock`` (this machine's) dates the report only: every decision takes
    its time from the API server (``server_now``)."""
    report = Report(started=choosing.rfc3339(clock()), dry_run=opts.dry_run)
    started = time.monotonic()
    try:
        _pass(transport, opts, Store(transport, lock_dir), report, progress)
    finally:
        report.seconds = time.monotonic() - started
    return report


def _pass(
    transport: Transport, opts: Options, store: Store, report: Report, progress: Progress
) -> None:
    state = (
        _recall(transport, opts, report)
        if opts.knobs.min_age > 0
        else _State(suspects.Suspects(), None, False)
    )
    judged = _judge(transport, opts, report, progress, state.memory)
    if judged is not None and judged[0].wait is not None and opts.knobs.min_age <= 0:
        # Nothing is remembered between runs at --min-age 0, so a zombie too young for the
        # allocation budget is waited for here (at most the budget), then judged afresh.
        wait = min(judged[0].wait, opts.knobs.allocation_budget)
        progress(f"waiting {wait:.0f} s: zombies may belong to ADDs still running")
        report.waited = wait
        time.sleep(wait)
        report.reset_findings()
        judged = _judge(transport, opts, report, progress, judged[0].suspects)
    if judged is None:
        return
    plan, census = judged
    report.kept += plan.kept
    report.endpoints_kept += plan.endpoints_kept
    if opts.dry_run:
        _would(report, plan)
        _stale_counts(store, census, report, written=set(), dry_run=True)
        finalizers.settle(transport, census, report, dry_run=True)
        return
    released, written = _execute(store, transport, plan, census, opts, report, progress)
    _stale_counts(store, census, report, written=written, dry_run=False)
    finalizers.settle(transport, census, report, dry_run=False)
    if state.writable:
        for uid in released:
            plan.suspects.since.pop(uid, None)
        _remember(transport, opts, state, plan.suspects, report)


def _judge(
    transport: Transport,
    opts: Options,
    report: Report,
    progress: Progress,
    memory: suspects.Suspects,
) -> tuple[planning.Plan, Census] | None:
    """Read, take the API server's time, decide; None when a pass cannot decide anything."""
    read = _read(transport, opts, report, progress)
    if read is None:
        return None
    census, world = read
    now = server_now(transport, opts, report)
    if now is None:
        return None
    report.server_time = choosing.rfc3339(now)
    report.inconsistencies = census.inconsistencies
    for p in census.problems:
        report.error(p.object, p.message, **({"ip": p.ip} if p.ip else {}))
    return planning.make(census, world, memory, opts.knobs, now), census


def server_now(transport: Transport, opts: Options, report: Report) -> float | None:
    """The API server's clock, read after the LISTs: the creationTimestamp it gives a
    ConfigMap in a dry-run create (nothing is stored; the GC's Role may create there). A
    pass that cannot read it decides nothing: judging by this machine's clock let a skew
    between CronJob runs release a terminating pod 2.3 s into its 30 s grace."""
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"generateName": f"{opts.state_name}-clock-"},
    }
    try:
        obj = transport.request("POST", _state_path(opts, named=False) + "?dryRun=All", body)
    except kerr.ApiError as e:
        report.error("the API server's clock", f"{e}: nothing was judged")
        return None
    created = census_mod.timestamp(((obj or {}).get("metadata") or {}).get("creationTimestamp"))
    if created is None:
        report.error("the API server's clock", "a dry-run create gave no creationTimestamp")
    return created


# ------------------------------------------------------------------ reading


def _read(
    transport: Transport, opts: Options, report: Report, progress: Progress
) -> tuple[Census, World] | None:
    """Pools, endpoints, pods (in that order: see the module docstring), then nodes and
    StatefulSets."""
    lists: dict[str, list[dict[str, Any]] | None] = {}
    for what, path in (
        ("pools", f"{GROUP}/spiderippools"),
        ("endpoints", f"{GROUP}/spiderendpoints"),
        ("pods", "/api/v1/pods"),
        ("nodes", "/api/v1/nodes"),
        ("statefulsets", "/apis/apps/v1/statefulsets"),
        ("reserved", f"{GROUP}/spiderreservedips"),
    ):
        try:
            lists[what] = listing.list_all(transport, path, opts.page_size, progress)
        except kerr.ApiError as e:
            lists[what] = None
            needed = what in ("pools", "endpoints", "pods")
            consequence = (
                "nothing was judged"
                if needed
                else "no pool was judged full"
                if what == "reserved"
                else f"no verdict that needs the {what} was taken"
            )
            report.error(f"LIST {path}", f"{e}: {consequence}")
            if needed:
                return None
    report.scanned = {what: len(items or []) for what, items in lists.items()}
    census = take(lists["pools"] or [], lists["endpoints"] or [], lists["reserved"])
    report.scanned.update(records=census.records, cooling=len(census.cooling))
    return census, World.of(lists["pods"] or [], lists["nodes"], lists["statefulsets"])


# ------------------------------------------------------------------ the GC's memory


@dataclass
class _State:
    memory: suspects.Suspects
    resource_version: str | None  # None: the ConfigMap does not exist yet
    writable: bool  # False when it could not be read: then it is not overwritten either
    data: dict[str, str] = field(default_factory=dict)


def _state_path(opts: Options, named: bool = True) -> str:
    base = f"/api/v1/namespaces/{urllib.parse.quote(opts.state_namespace, safe='')}/configmaps"
    return f"{base}/{urllib.parse.quote(opts.state_name, safe='')}" if named else base


def _recall(transport: Transport, opts: Options, report: Report) -> _State:
    where = f"ConfigMap/{opts.state_namespace}/{opts.state_name}"
    try:
        obj = transport.get(_state_path(opts))
    except kerr.NotFound:
        return _State(suspects.Suspects(), None, True)
    except kerr.ApiError as e:
        # Without the first sightings no zombie is confirmed in this pass: all count as new.
        report.error(where, f"{e}: no zombie could be confirmed in this pass")
        return _State(suspects.Suspects(), None, False)
    data = dict(obj.get("data") or {})
    try:
        memory = suspects.decode(data)
    except ValueError as e:
        report.error(
            where, f"unreadable ({e}): started afresh; no zombie could be confirmed in this pass"
        )
        memory = suspects.Suspects()
    return _State(memory, str(obj["metadata"]["resourceVersion"]), True, data)


def _remember(
    transport: Transport, opts: Options, state: _State, memory: suspects.Suspects, report: Report
) -> None:
    data, dropped = memory.encode()
    where = f"ConfigMap/{opts.state_namespace}/{opts.state_name}"
    if dropped:
        report.error(
            where,
            f"{dropped} zombie(s) beyond {suspects.MAX_ENTRIES} not remembered: seen afresh "
            "next pass",
        )
    if data == state.data or (state.resource_version is None and not memory.since):
        return
    meta: dict[str, Any] = {
        "name": opts.state_name,
        "namespace": opts.state_namespace,
        "labels": {"app.kubernetes.io/part-of": "spidernet", "app.kubernetes.io/name": COMPONENT},
    }
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}
    try:
        if state.resource_version is None:
            transport.request("POST", _state_path(opts, named=False), body)
        else:
            meta["resourceVersion"] = state.resource_version
            transport.request("PUT", _state_path(opts), body)
    except kerr.ApiError as e:
        report.error(where, f"not written ({e}): the next pass sees this pass's zombies afresh")


# ------------------------------------------------------------------ releasing


def _would(report: Report, plan: planning.Plan) -> None:
    for rel in plan.releases:
        report.would_release += [
            planning.entry_report(e, rel.verdict.reason, rel.verdict.detail) for e in rel.entries
        ]
    for e, new in plan.cooling_changes():
        _report_cooling(report, e, new)


def _report_cooling(report: Report, e: Entry, new: Record | None) -> None:
    if new is None:
        detail = f"cooling record, its cool-down ended at {e.record.cooldown_until}"
        report.cooling_dropped.append(planning.entry_report(e, "cooling-expired", detail))
        return
    detail = (
        f"cooling until {e.record.cooldown_until} in a pool with no free address: free now, "
        f"its {e.record.strikes} strike(s) kept"
    )
    report.cooling_reclaimed.append(planning.entry_report(e, "cooling-blocks-full-pool", detail))


def _execute(
    store: Store,
    transport: Transport,
    plan: planning.Plan,
    census: Census,
    opts: Options,
    report: Report,
    progress: Progress,
) -> tuple[set[str], set[str]]:
    """Endpoints first, then one CAS per pool; returns (UIDs wholly released, pools written)."""
    ready = [rel for rel in plan.releases if _drop_endpoint(store, rel, report)]
    targets: dict[str, dict[str, tuple[str, planning.Release]]] = defaultdict(dict)
    for rel in ready:
        for e in rel.entries:
            targets[e.pool][e.ip] = (e.record.pod_uid, rel)
    changes: dict[str, dict[str, tuple[Entry, Record | None]]] = defaultdict(dict)
    for e, new in plan.cooling_changes():
        changes[e.pool][e.ip] = (e, new)
    failed: set[str] = set()
    written: set[str] = set()
    events = _Events(transport, opts, report)
    names = sorted(set(targets) | set(changes))
    for n, name in enumerate(names, 1):
        mine, cooling = targets.get(name, {}), changes.get(name, {})
        gone, cooled, ok = _release_in_pool(store, census, name, mine, cooling, report)
        if not ok:
            failed |= {uid for uid, _ in mine.values()}
            continue
        written |= {name} if gone or cooled else set()
        for ip in gone:
            uid, rel = mine[ip]
            item = planning.entry_report(
                Entry(name, ip, Record(rel.holder.key, uid)), rel.verdict.reason, rel.verdict.detail
            )
            report.released.append(item)
            events.post(census.pools[name].obj, item)
        for ip in cooled:
            _report_cooling(report, *cooling[ip])
        progress(f"released in {n} of {len(names)} pools")
    return {rel.holder.uid for rel in ready} - failed, written


def _drop_endpoint(store: Store, rel: planning.Release, report: Report) -> bool:
    """The zombie's endpoint goes before its records (I1); False: leave the holder to the next
    pass."""
    ep, h = rel.holder.endpoint, rel.holder
    if ep is None:
        return True
    try:
        store.delete_endpoint(ep)
    except kerr.Conflict:
        report.kept += [
            planning.entry_report(
                e,
                "endpoint-changed",
                "its endpoint changed during the pass: judged again next pass",
            )
            for e in rel.entries
        ]
        report.endpoints_kept.append(
            {
                "endpoint": h.key,
                "uid": h.uid,
                "reason": "endpoint-changed",
                "detail": "it changed during the pass: judged again next pass",
            }
        )
        return False
    except kerr.ApiError as e:
        report.error(
            f"SpiderEndpoint/{h.key}", f"not deleted ({e}): nothing of UID {h.uid} released"
        )
        return False
    report.endpoints_deleted.append(
        {
            "endpoint": h.key,
            "uid": h.uid,
            "reason": rel.verdict.reason,
            "detail": rel.verdict.detail,
        }
    )
    return True


def _release_in_pool(
    store: Store,
    census: Census,
    name: str,
    targets: dict[str, tuple[str, planning.Release]],
    cooling: dict[str, tuple[Entry, Record | None]],
    report: Report,
) -> tuple[list[str], list[str], bool]:
    """One compare-and-swap: drop each target still held for its UID; drop or reclaim each
    cooling record still as read."""

    def decide(p: Pool) -> tuple[dict[str, Record] | None, tuple[list[str], list[str]]]:
        gone = sorted(
            ip
            for ip, (uid, _) in targets.items()
            if (r := p.records.get(ip)) is not None and r.holds_for(uid)
        )
        cooled = sorted(ip for ip, (e, _) in cooling.items() if p.records.get(ip) == e.record)
        if not gone and not cooled:
            return None, ([], [])
        new = {ip: cooling[ip][1] for ip in cooled}
        out = {ip: new.get(ip, r) for ip, r in p.records.items() if ip not in gone}
        return {ip: r for ip, r in out.items() if r is not None}, (gone, cooled)

    try:
        gone, cooled = store.update_pool(name, decide, snapshot=census.pools[name].obj)
    except NotFound:
        return [], [], True  # the pool went: so did its records
    except (kerr.ApiError, IpamFailure) as e:
        report.error(
            f"SpiderIPPool/{name}",
            f"records not released ({e}): {len(targets)} left for the next pass",
        )
        return [], [], False
    return gone, cooled, True


class _Events:
    """One Event per released address, on the pool (a cluster-scoped object: in
    ``event_namespace``)."""

    def __init__(self, transport: Transport, opts: Options, report: Report) -> None:
        self.transport, self.opts, self.report = transport, opts, report
        self.refused = 0

    def post(self, pool: dict[str, Any], item: dict[str, Any]) -> None:
        if self.refused:  # refused once (RBAC): do not send a thousand more to be refused
            self.refused += 1
            return
        ns = self.opts.event_namespace
        now = choosing.rfc3339(time.time())
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{item['pool']}.{secrets.token_hex(8)}", "namespace": ns},
            "involvedObject": {
                "apiVersion": "spiderpool.spidernet.io/v2beta1",
                "kind": "SpiderIPPool",
                "name": item["pool"],
                "uid": pool["metadata"].get("uid", ""),
            },
            "reason": EVENT_REASON,
            "type": "Normal",
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "message": f"released {item['ip']} of {item['pod']} (UID {item['uid']}): "
            f"{item['reason']}: {item['detail']}"[:1024],
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": socket.gethostname(),
        }
        try:
            self.transport.request(
                "POST", f"/api/v1/namespaces/{urllib.parse.quote(ns, safe='')}/events", body
            )
        except kerr.ApiError as e:
            self.refused = 1
            self.report.error(
                f"Event/{ns} on SpiderIPPool/{item['pool']}",
                f"not recorded ({e}); no further events are sent in this pass",
            )


# ------------------------------------------------------------------ counts


def _stale_counts(
    store: Store, census: Census, report: Report, *, written: set[str], dry_run: bool
) -> None:
    """A CAS write on each pool whose allocatedIPCount / totalIPCount are not what its records
    say; the usage of every pool into the report (for the pool gauges, usage.py)."""
    report.usage = usage.of(census)
    for name, state in sorted(census.pools.items()):
        if name in written or not state.writable:
            continue  # a pool this pass wrote has fresh counts (Store writes them with the records)
        status = state.obj.get("status") or {}
        want = (
            sum(1 for r in state.records.values() if not r.cooling),
            min(state.pool.usable.count(), INT64_MAX),
        )
        have = (status.get("allocatedIPCount"), status.get("totalIPCount"))
        if have == want:
            continue
        item = {
            "pool": name,
            "allocatedIPCount": [have[0], want[0]],
            "totalIPCount": [have[1], want[1]],
            "written": False,
        }
        report.counts.append(item)
        if dry_run:
            continue
        try:
            item["written"] = store.update_pool(
                name, lambda p: (dict(p.records), True), snapshot=state.obj
            )
        except NotFound:
            pass
        except (kerr.ApiError, IpamFailure) as e:
            report.error(f"SpiderIPPool/{name}", f"counts not refreshed ({e})")
