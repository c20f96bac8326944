"""The pool size ceiling through the frozen binary, libcni + macvlan, against the real apiserver.

Each pool is filled directly (a status PUT of records for pods that do not exist) to a
size chosen so that the plugin's next write lands exactly on the ceiling, or just past
it; the plugin then runs as a runtime runs it. docs/ipam.md, "Pool size ceiling".

| case                                                | expectation                          |
|-----------------------------------------------------|--------------------------------------|
| an ADD whose write is exactly the default ceiling   | succeeds; etcd stores the object     |
| the next ADD, one record past it                    | code 100: pool, size, limit named;   |
|                                                     | nothing written                      |
| the same, the network naming a second pool          | the address comes from the second    |
| a pool past an administrator's lower ceiling        | ADD code 100 naming that ceiling;    |
|                                                     | the DEL of a pod in it still frees   |
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spidernet.alloc import ceiling
from tests.integration.ipam_scenarios import Scenario, SimNode
from tools.testbed import cni, netns
from tools.testbed.cluster import GROUP, Cluster

pytestmark = [pytest.mark.apiserver, pytest.mark.netns]

FIRST_FREE = "0.1"  # the fillers sit from .64.0 up: an ADD takes the lowest free address


@pytest.fixture
def sc(
    cluster: Cluster, api_underlay: netns.Underlay, tmp_path: Path, bundle_bin: Path
) -> Scenario:
    return Scenario(cluster, api_underlay, tmp_path)


def encoded_size(obj: dict[str, Any]) -> int:
    return len(json.dumps(obj, separators=(",", ":")))


def with_record(obj: dict[str, Any], ip: str, pod: str, uid: str) -> dict[str, Any]:
    """The body the plugin PUTs when it adds this record to ``obj`` (Store._put_status)."""
    records = json.loads(obj["status"]["allocatedIPs"])
    records[ip] = {"pod": pod, "podUid": uid}
    return {**obj, "status": {**obj["status"], **status_of(records)}}


def status_of(records: dict[str, Any]) -> dict[str, Any]:
    held = sum(1 for r in records.values() if "cooldownUntil" not in r)
    return {"allocatedIPs": json.dumps(records, separators=(",", ":")), "allocatedIPCount": held}


def put_records(sc: Scenario, pool: str, records: dict[str, Any]) -> dict[str, Any]:
    obj = sc.cluster.get_pool(pool)
    obj["status"] = {**status_of(records), "totalIPCount": 65534}
    status, reply = sc.cluster.cp.request("PUT", f"{GROUP}/spiderippools/{pool}/status", obj)
    assert status == 200, reply
    return sc.cluster.get_pool(pool)


def fillers(sc: Scenario, prefix: str, holder: dict[str, Any], count: int, pad: int) -> Any:
    """``count`` records of the live pod ``holder`` (the full-pool wait finds no release due
    among them, so a refused ADD fails at once), and one of ``pad`` extra bytes, cooling
    until 2099: it holds its address for nobody, never frees it, and is never waited for."""
    meta = holder["metadata"]
    own = {"pod": f"{sc.ns}/{meta['name']}", "podUid": meta["uid"]}
    records = {f"{prefix}.{64 + i // 256}.{i % 256}": own for i in range(count)}
    padded = {"pod": f"{sc.ns}/pad{'x' * pad}", "podUid": "pad", "strikes": 1}
    records[f"{prefix}.250.1"] = {**padded, "cooldownUntil": "2099-01-01T00:00:00Z"}
    return records


def fill(sc: Scenario, pool: str, prefix: str, next_write: int, adding: tuple[str, str]) -> int:
    """Fill ``pool`` (``sc.cluster.records`` kept) so that the plugin's write adding
    ``adding`` (pod key, UID) at the lowest free address is ``next_write`` bytes; returns
    the records in the pool."""
    kept, ip = sc.cluster.records(pool), f"{prefix}.{FIRST_FREE}"
    holder = sc.cluster.pod(sc.ns, "holder", sc.name("node0"))

    def missing(count: int, pad: int) -> int:
        obj = put_records(sc, pool, {**fillers(sc, prefix, holder, count, pad), **kept})
        return next_write - encoded_size(with_record(obj, ip, *adding))

    empty = missing(0, 1)
    per = round((empty - missing(1000, 1)) / 1000)  # a record's bytes in the body
    count, pad = max(empty // per - 2, 0), 1
    for _ in range(8):  # each round corrects by the size the server's answer shows
        short = missing(count, pad)
        if short == 0:
            return count + 1 + len(kept)
        pad += short
        if pad < 1:  # too many records: fewer, and pad the rest
            count, pad = count - (per - pad) // per, pad + (per - pad) // per * per
        elif pad > 2 * per:  # pod names stay names: more records rather than length
            count, pad = count + (pad - 1) // per, 1 + (pad - 1) % per
    raise AssertionError(f"could not size pool {pool} to {next_write} bytes")


def big_pool(sc: Scenario, octet: int, *more: str) -> tuple[str, str, SimNode, cni.Runtime]:
    """A /16 pool (name, prefix) and a node whose network names it, then ``more`` pools."""
    pool, prefix = sc.name("big"), f"10.{octet}"
    sc.cluster.pool(pool, f"{prefix}.0.0/16", [f"{prefix}.0.1-{prefix}.255.254"])
    node = sc.node()
    return pool, prefix, node, node.runtime(default_ipv4_ippool=[pool, *more])


def refused_add(sc: Scenario, node: SimNode, rt: cni.Runtime, name: str, limit: int) -> str:
    """ADD a new pod ``name``: code 100 naming the ceiling ``limit``; returns the message."""
    ref, pod = sc.pod(name, node)
    with pytest.raises(cni.CniFailure) as failure:
        rt.add(ref.container_id, pod.path, "eth0", pod=ref)
    msg = failure.value.msg
    assert failure.value.code == 100, msg
    assert f"over the pool size ceiling of {limit:,} bytes" in msg
    assert sc.cluster.endpoint(sc.ns, name) is None
    return msg


def test_an_add_up_to_the_ceiling_is_stored_and_the_next_is_code_100_naming_the_pool(
    sc: Scenario,
) -> None:
    pool, prefix, node, rt = big_pool(sc, 170)
    a, pod_a = sc.pod("a", node)
    held = fill(sc, pool, prefix, ceiling.DEFAULT, (f"{sc.ns}/a", a.uid))
    got = rt.add(a.container_id, pod_a.path, "eth0", pod=a)
    assert got["ips"][0]["address"] == f"{prefix}.{FIRST_FREE}/16"
    stored = sc.cluster.get_pool(pool)  # plus the plugin's own managedFields entry
    assert f"{prefix}.{FIRST_FREE}" in json.loads(stored["status"]["allocatedIPs"])
    assert ceiling.DEFAULT <= encoded_size(stored) <= ceiling.DEFAULT + 1024
    msg = refused_add(sc, node, rt, "b", ceiling.DEFAULT)
    assert f"{pool}: exhausted (full for practical purposes" in msg
    assert "max_pool_bytes" in msg and "split the pool" in msg
    assert "waited" not in msg  # its records' pods are alive: no release is due
    assert len(sc.cluster.records(pool)) == held + 1


def test_a_pool_at_its_ceiling_sends_the_add_to_the_networks_next_pool(sc: Scenario) -> None:
    spare = sc.name("spare")
    sc.cluster.pool(spare, "10.172.0.0/24", ["10.172.0.10-10.172.0.20"])
    pool, prefix, node, rt = big_pool(sc, 171, spare)
    a, pod_a = sc.pod("a", node)
    held = fill(sc, pool, prefix, ceiling.DEFAULT + 1, (f"{sc.ns}/a", a.uid))
    got = rt.add(a.container_id, pod_a.path, "eth0", pod=a)
    assert got["ips"][0]["address"] == "10.172.0.10/24"
    assert len(sc.cluster.records(pool)) == held
    assert list(sc.cluster.records(spare)) == ["10.172.0.10"]


def test_a_pool_past_an_administrators_lower_ceiling_refuses_adds_and_still_releases(
    sc: Scenario,
) -> None:
    pool, prefix, node, rt = big_pool(sc, 173)
    a, pod_a = sc.pod("a", node)
    rt.add(a.container_id, pod_a.path, "eth0", pod=a)  # a small pool, the default ceiling
    fill(sc, pool, prefix, ceiling.LOWEST + 5000, ("x/y", "u"))
    node.config.write_cluster(max_pool_bytes=ceiling.LOWEST)
    refused_add(sc, node, rt, "b", ceiling.LOWEST)
    sc.cluster.delete_pod(sc.ns, "a")
    rt.delete(a.container_id, pod_a.path, pod=a)
    assert f"{prefix}.{FIRST_FREE}" not in sc.cluster.records(pool)
