"""The IPAM's invariants (docs/ipam.md), checked from what the API server holds. Does I/O (reads).

Used after every round of the fault suite, by the safety tests and by the benchmarks
(duplicates and leaks are read back from pools and endpoints, never from a harness's
own bookkeeping):
- one holder per address: no address is held by records of two pools (pools in a test
  are disjoint), and no two endpoints of different pod UIDs name one address;
- I1: every address an endpoint names is recorded in its pool for the endpoint's UID
  (a detail a StatefulSet successor took over and has not claimed: for the UID it names,
  or for the successor's, when the ADD that moved the records stopped before its claim);
- every holding record's pod UID is alive, or releasable: no live pod has that UID.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tools.testbed.controlplane import ControlPlane

GROUP = "/apis/spiderpool.spidernet.io/v2beta1"


@dataclass
class Snapshot:
    records: dict[str, dict[str, dict[str, Any]]]  # pool -> ip -> record
    endpoints: list[dict[str, Any]]
    live_uids: set[str]
    pod_uids: dict[str, str] = field(default_factory=dict)  # "ns/name" -> uid of the pod object

    def holders(self) -> dict[tuple[str, str], str]:
        """(pool, ip) -> pod UID, for records that hold an address (not cooling)."""
        return {
            (p, ip): r["podUid"]
            for p, recs in self.records.items()
            for ip, r in recs.items()
            if "cooldownUntil" not in r
        }

    def violations(self) -> list[str]:
        out: list[str] = []
        by_ip: dict[str, set[str]] = defaultdict(set)
        for (pool, ip), uid in self.holders().items():
            by_ip[ip].add(f"{pool}:{uid}")
        out += [f"{ip} held by {sorted(h)}" for ip, h in by_ip.items() if len(h) > 1]
        named: dict[str, set[str]] = defaultdict(set)
        holders = self.holders()
        for ep in self.endpoints:
            cur = (ep.get("status") or {}).get("current") or {}
            key = f"{ep['metadata']['namespace']}/{ep['metadata']['name']}"
            for d in cur.get("ips") or []:
                for fam in ("ipv4", "ipv6"):
                    if d.get(fam):
                        ip = d[fam].split("/")[0]
                        named[ip].add(cur.get("uid", ""))
                        # a detail taken over and not claimed yet: under the UID it names,
                        # or already moved to the pod's (an ADD stopped before its claim)
                        owners = {d.get("inheritedFrom") or cur.get("uid"), cur.get("uid")}
                        if holders.get((d.get(f"{fam}Pool", ""), ip)) not in owners:
                            out.append(
                                f"I1: endpoint {key} ({cur.get('uid')}) names {ip} in "
                                f"{d.get(f'{fam}Pool')},"
                                f" recorded for {holders.get((d.get(f'{fam}Pool', ''), ip))}"
                            )
        out += [f"{ip} named by endpoints of {sorted(u)}" for ip, u in named.items() if len(u) > 1]
        return out

    def leaked(self) -> list[str]:
        """Holding records and endpoints whose pod UID is no longer alive (GC's work, or a
        DEL's)."""
        dead = [
            f"{p} {ip} {uid}"
            for (p, ip), uid in self.holders().items()
            if uid not in self.live_uids
        ]
        dead += [
            f"endpoint {e['metadata']['namespace']}/{e['metadata']['name']}"
            for e in self.endpoints
            if ((e.get("status") or {}).get("current") or {}).get("uid") not in self.live_uids
        ]
        return dead


def _get(cp: ControlPlane, path: str) -> Any:
    status, reply = cp.request("GET", path)
    if status >= 300:
        raise RuntimeError(f"GET {path}: HTTP {status}: {reply}")
    return reply


def snapshot(cp: ControlPlane, pools: list[str], namespace: str | None = None) -> Snapshot:
    """Pools, endpoints, pods. Three reads are not one moment: take it when no verb is in flight."""
    records = {}
    for name in pools:
        raw = (_get(cp, f"{GROUP}/spiderippools/{name}").get("status") or {}).get("allocatedIPs")
        records[name] = json.loads(raw) if raw else {}
    ep_path = (
        f"{GROUP}/namespaces/{namespace}/spiderendpoints"
        if namespace
        else f"{GROUP}/spiderendpoints"
    )
    endpoints = list(_get(cp, ep_path)["items"])
    pod_path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
    pods = _get(cp, pod_path)["items"]
    live = {
        p["metadata"]["uid"]
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    }
    uids = {
        f"{p['metadata']['namespace']}/{p['metadata']['name']}": p["metadata"]["uid"] for p in pods
    }
    return Snapshot(records, endpoints, live, uids)
