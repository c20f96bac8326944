"""CHECK and STATUS of the spiderpool IPAM (docs/ipam.md). Does I/O via Store (reads only).

CHECK: the endpoint's detail for this interface names this container, each of its
addresses is recorded in its pool for the pod's UID, and (when the runtime sent one)
is in ``prevResult``; else code 102. STATUS: the API answers and some candidate pool
(CNI defaults, else ``spec.default`` pools) has a free address; else code 50.
"""

from __future__ import annotations

import time

from spidernet.alloc import choosing, selection
from spidernet.alloc.failures import AllocationMissing, NotReady
from spidernet.alloc.pools import Pool
from spidernet.ipam import endpoints, pods
from spidernet.ipam.config import IpamConf
from spidernet.ipam.recording import reserved_ranges
from spidernet.ipam.store import Store
from spidernet.protocol.env import CmdArgs
from spidernet.types.netconf import NetConf


def check(cmd: CmdArgs, conf: IpamConf, netconf: NetConf, store: Store) -> None:
    who = pods.identity(cmd.args)
    where = f"{who.key if who else '?'} {cmd.ifname}"
    ep = store.endpoint(who.namespace, who.name) if who else None
    detail = endpoints.detail_for(ep, cmd.ifname)
    if detail is None or endpoints.container_of(detail) != cmd.container_id:
        raise AllocationMissing(f"no allocation recorded for {where} in this container")
    in_result = {
        ip.address.split("/")[0] for ip in (netconf.prev_result.ips if netconf.prev_result else ())
    }
    for pool_name, ip in endpoints.addresses(detail):
        obj = store.pool(pool_name)
        record = Pool.parse(obj).records.get(ip) if obj else None
        if record is None or not record.holds_for(endpoints.uid(ep)):
            raise AllocationMissing(f"pool {pool_name} no longer records {ip} for {where}")
        if netconf.prev_result is not None and ip not in in_result:
            raise AllocationMissing(f"{ip} of {where} is not in prevResult")


def status(conf: IpamConf, store: Store) -> None:
    """Ready (exit 0) when the API answers and some candidate pool has a free address; else 50."""
    summaries = store.pool_summaries()
    named = set(conf.default_v4) | set(conf.default_v6)
    names = sorted(s.name for s in summaries)
    wanted = (
        set(selection.expand(sorted(named), names))
        if named
        else {s.name for s in summaries if s.default}
    )
    reserved = reserved_ranges(store)
    now = time.time()
    for name in sorted(wanted):
        obj = store.pool(name)
        p = Pool.parse(obj) if obj else None
        if p is None or p.broken or p.disable or p.terminating:
            continue
        if choosing.free_count(p, reserved[p.family], now) > 0:
            return
    raise NotReady(f"no free address in the candidate pools {sorted(wanted) or '(none)'}")
