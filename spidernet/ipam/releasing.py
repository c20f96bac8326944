"""DEL, CHECK, STATUS and GC of the spiderpool IPAM (SPEC §2). Does I/O via Store.

DEL releases the pod's addresses when its SpiderEndpoint's containerID and interface
match this DEL, unless the pod still exists alive with the same UID and this sandbox's
ADD completed (sandbox re-creation keeps the IP). A runtime caches a result only for an
ADD that succeeded and hands it back as ``prevResult`` on DEL (spec >= 0.4.0), so a DEL
without one follows an ADD that failed further down the chain (the coordinator's
conflict probe, say): that IP is released, or the pod's retry would get it back. A DEL for an older sandbox, an unknown container, a
missing pool or netns is a success: the runtime calls DEL after failed ADDs too. No
endpoint (a crash between pool write and endpoint write): once the pod is gone, the
records carrying its UID are released from every pool.
"""

from __future__ import annotations

from typing import Any

from spidernet.alloc import choosing
from spidernet.alloc.selection import expand
from spidernet.alloc.pools import Pool
from spidernet.ipam import endpoints, pods
from spidernet.ipam.config import IpamConf
from spidernet.ipam.store import Store, release_endpoint, release_uid, reserved_ranges
from spidernet.protocol import errors, logs, versions
from spidernet.protocol.env import CmdArgs
from spidernet.types.netconf import NetConf

log = logs.LOG

ALLOCATION_MISSING = 102  # CHECK: the pool no longer records this container's address


def add_completed(netconf: NetConf) -> bool:
    """Did the runtime record a successful ADD for this sandbox? Below 0.4.0 no runtime
    passes ``prevResult`` on DEL, so we cannot tell and assume it did (keep the IP)."""
    return netconf.prev_result is not None or not versions.at_least(netconf.cni_version, "0.4.0")


def delete(cmd: CmdArgs, conf: IpamConf, store: Store, *, completed: bool = True) -> None:
    ns, name = cmd.args.get("K8S_POD_NAMESPACE", ""), cmd.args.get("K8S_POD_NAME", "")
    if not ns or not name:
        return  # not a Kubernetes sandbox: we never allocated for it
    pod_obj = store.pod(ns, name)
    pod = pods.info(pod_obj) if pod_obj else None
    ep = store.endpoint(ns, name)
    if ep is None:
        _release_orphan_records(cmd, store, pod, completed)
        return
    if endpoints.container_id(ep) != cmd.container_id or endpoints.detail_for(ep, cmd.ifname) is None:
        log.info("DEL for an older sandbox or another interface of %s/%s: kept", ns, name)
        return
    if completed and pod is not None and pod.alive and pod.uid == endpoints.uid(ep):
        log.info("pod %s/%s is alive: sandbox re-creation keeps its addresses", ns, name)
        return
    release_endpoint(store, ep)
    log.info("released the addresses of %s/%s", ns, name)


def _release_orphan_records(cmd: CmdArgs, store: Store, pod: pods.PodInfo | None, completed: bool) -> None:
    uid = cmd.args.get("K8S_POD_UID", "") or (pod.uid if pod else "")
    if not uid or (completed and pod is not None and pod.alive and pod.uid == uid):
        return  # unknown container, or a live pod whose retried ADD will reuse its record
    for obj in store.pools():
        if any(r.pod_uid == uid for r in Pool.parse(obj).records.values()):
            released = release_uid(store, obj["metadata"]["name"], uid)
            log.info("released %d record(s) of pod UID %s without endpoint", released, uid)


def check(cmd: CmdArgs, conf: IpamConf, netconf: NetConf, store: Store) -> None:
    ns, name = cmd.args.get("K8S_POD_NAMESPACE", ""), cmd.args.get("K8S_POD_NAME", "")
    ep = store.endpoint(ns, name) if ns and name else None
    detail = endpoints.detail_for(ep, cmd.ifname)
    if ep is None or detail is None or endpoints.container_id(ep) != cmd.container_id:
        raise errors.PluginError(ALLOCATION_MISSING, f"no allocation recorded for {ns}/{name} {cmd.ifname}")
    in_result = {ip.address.split("/")[0] for ip in (netconf.prev_result.ips if netconf.prev_result else ())}
    for pool_name, ip in endpoints.addresses(detail):
        obj = store.pool(pool_name)
        record = Pool.parse(obj).records.get(ip) if obj else None
        if record is None or record.pod_uid != endpoints.uid(ep):
            raise errors.PluginError(ALLOCATION_MISSING, f"pool {pool_name} no longer records {ip} for {ns}/{name}")
        if netconf.prev_result is not None and ip not in in_result:
            raise errors.PluginError(ALLOCATION_MISSING, f"{ip} of {ns}/{name} is not in prevResult")


def status(conf: IpamConf, store: Store) -> None:
    """Ready (exit 0) when the API answers and some candidate pool has a free address; else 50."""
    pools = [Pool.parse(o) for o in store.pools()]
    named = set(conf.default_v4) | set(conf.default_v6)
    wanted = set(expand(sorted(named), sorted(p.name for p in pools))) if named else {p.name for p in pools if p.default}
    reserved = reserved_ranges(store)
    for p in pools:
        if p.name in wanted and not (p.broken or p.disable or p.terminating):
            if choosing.free_count(p, reserved[p.family]) > 0:
                return
    raise errors.PluginNotAvailable(f"no free address in the candidate pools {sorted(wanted) or '(none)'}")


def _valid_attachments(netconf: NetConf) -> set[tuple[str, str]]:
    raw: Any = netconf.raw.get("cni.dev/valid-attachments", netconf.raw.get("cni.dev/attachments"))
    if not isinstance(raw, list):
        raise errors.InvalidConfig("cni.dev/valid-attachments", "GC needs the list of valid attachments")
    return {(str(a.get("containerID", "")), str(a.get("ifname", ""))) for a in raw if isinstance(a, dict)}


def gc(conf: IpamConf, netconf: NetConf, store: Store) -> None:
    """Release this node's attachments of this network that the runtime no longer knows."""
    valid = _valid_attachments(netconf)
    node = pods.local_node_name(conf.kubeconfig)
    failures = []
    for ep in store.endpoints_on(node):
        stale = [d for d in endpoints.details(ep)
                 if d.get("network") == conf.network and (endpoints.container_id(ep), d.get("interface")) not in valid]  # fmt: skip
        try:
            _release_details(store, ep, stale)
        except errors.CniError as e:
            failures.append(f"{ep['metadata']['namespace']}/{ep['metadata']['name']}: {e.msg}")
    if failures:  # keep going on errors, report them all at the end (spec §GC)
        raise errors.TryAgainLater(f"GC left {len(failures)} endpoint(s): {'; '.join(failures)}")


def _release_details(store: Store, ep: dict[str, Any], stale: list[endpoints.Detail]) -> None:
    if not stale:
        return
    if len(stale) == len(endpoints.details(ep)):
        release_endpoint(store, ep)
        return
    owner = endpoints.uid(ep)
    for d in stale:
        for pool, ip in endpoints.addresses(d):
            release_uid(store, pool, owner, {ip})
        ep = endpoints.without_interface(ep, d["interface"])
    store.replace_endpoint(ep)
