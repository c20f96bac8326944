"""IPAM safety: each way one address reached two pods, or got lost, reproduced.

Frozen spiderpool binary against the real apiserver; exec'd directly as a main plugin
would (tests/integration/ipam_exec.py, with libcni's result-cache behaviour), or through
libcni + Debian macvlan where the real runtime's cache matters (the re-sent DEL).
Invariants are read back from the API after each step (tools/testbed/invariants.py).

| case | scenario                                           | expectation                         |
|------|----------------------------------------------------|-------------------------------------|
| 1    | DEL of sandbox n ∥ ADD of sandbox n+1, same live   | no endpoint address unrecorded; no  |
|      | pod, 12x                                           | sharing                             |
| 2    | ADD, DEL (kept), re-sent DEL without prevResult    | kept; the next sandbox gets it;     |
|      | (libcni)                                           | nobody else                         |
| 4    | eth0 + net1, net1 leaves the annotation, DEL net1  | net1 released; eth0 keeps address   |
|      | twice                                              | and detail                          |
| 4    | sandbox rebuilt: DEL net1, DEL eth0 (prevResult),  | both NICs get their addresses back  |
|      | new ADDs                                           |                                     |
| 5a   | no UID: late ADD on the old node for a pod         | code 3, nothing allocated           |
|      | re-created elsewhere                               |                                     |
| 5b   | no UID: DEL after a force delete, endpoint already | record released (the node's note    |
|      | gone                                               | knows it)                           |
| 5c   | no UID: crashed ADD, pod re-created elsewhere,     | the old UID's record released, the  |
|      | late DEL                                           | new kept                            |
| 6    | case-folded Multus annotation naming another       | code 101 naming multusName; nothing |
|      | tenant's NAD                                       | recorded                            |
| 7a   | spec.default pools and globs                       | no LIST of pools with records on    |
|      |                                                    | the path                            |
| 7b   | GC verb with one attachment it cannot settle       | the others settled; code 11 naming  |
|      |                                                    | that one                            |
| 7c   | CNI_ARGS with '?x=1' or CR/LF in the pod name      | code 4, before any request          |
| 8    | SIGKILL after net1's pool write; runtime DEL of    | net1's record released; eth0        |
|      | net1                                               | untouched                           |
| 9    | endpoint changed under DELs (409 on its            | every DEL succeeds (never 999);     |
|      | precondition)                                      | nothing left                        |
| 10a  | an ADD stalled after reading its pod alive; the    | code 3; the successor's endpoint    |
|      | pod deleted and re-created elsewhere, the          | and record untouched; nobody else   |
|      | successor ADDed                                    | gets its address                    |
| 10b  | the same for a StatefulSet pod's next sandbox      | the same, after the old node's DELs |
|      |                                                    | too                                 |
| 11   | StatefulSet successor on a node its pool's         | an address from the pool that       |
|      | nodeName excludes / with labels its podAffinity no | serves it there / code 101 naming   |
|      | longer matches                                     | podAffinity; the old record gone    |
| 12   | take-over by eth0's ADD; net1's pool is its own    | net1 keeps its address; the other   |
|      | NAD's default; another pod ADDs net1 in between    | pod gets another                    |
| 13   | no UID: the old node's DELs after a take-over, no  | the successor's endpoint and        |
|      | cached result                                      | inherited net1 stay; its net1 ADD   |
|      |                                                    | claims the same address             |
| 14   | net1's ADD fails with code 11; the runtime DELs    | eth0: kept (StatefulSet) / free,    |
|      | both NICs (eth0 with its cached result)            | not cooling (plain pod)             |
| 15   | Multus's default network (cluster IPAM config) is  | net1: code 101 naming multusName;   |
|      | net1; the annotation's network is net2; a pool     | net2: the address, kept across a    |
|      | with its multusName                                | sandbox rebuild                     |
| 16   | StatefulSet: a successor's ADD killed after moving | the next successor keeps the        |
|      | the record, before its claim; it is replaced too   | address; no record left for the GC  |
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.integration.ipam_exec import Runtime, Stalled, exec_ipam
from tests.integration.ipam_scenarios import Scenario
from tools.testbed import cni, invariants, netns
from tools.testbed.cluster import Cluster, NodeConfig

pytestmark = [pytest.mark.apiserver]
GROUP = "/apis/spiderpool.spidernet.io/v2beta1"
NETWORKS = "k8s.v1.cni.cncf.io/networks"


@dataclasses.dataclass
class Env:
    cluster: Cluster
    base: Path
    ns: str

    def node(self, index: int) -> NodeConfig:
        name = f"{self.ns}-node{index}"
        self.cluster.node(name)
        return NodeConfig.create(self.cluster.cp, name, self.base)

    def pool(self, what: str, subnet: str, ips: list[str], **spec: Any) -> str:
        name = f"{self.ns}-{what}"
        self.cluster.pool(name, subnet, ips, **spec)
        return name

    def pod(self, name: str, node: NodeConfig, cid: str = "", **kw: Any) -> cni.PodRef:
        obj = self.cluster.pod(self.ns, name, node.name, **kw)
        return cni.PodRef(self.ns, name, obj["metadata"]["uid"], cid or f"c-{name}")

    def check(self, *pools: str) -> invariants.Snapshot:
        snap = invariants.snapshot(self.cluster.cp, list(pools), self.ns)
        assert snap.violations() == []
        return snap

    def delete_endpoint(self, name: str) -> None:
        self.cluster.cp.request("DELETE", f"{GROUP}/namespaces/{self.ns}/spiderendpoints/{name}")


@pytest.fixture
def env(cluster: Cluster, tmp_path: Path, bundle_bin: Path) -> Env:
    ns = f"s{os.urandom(3).hex()}"
    cluster.namespace(ns)
    return Env(cluster, tmp_path, ns)


def holders_of(env: Env, pool: str) -> dict[str, str]:
    return {ip: r["podUid"] for ip, r in env.cluster.holders(pool).items()}


def endpoint_uid(env: Env, name: str) -> str:
    ep = env.cluster.endpoint(env.ns, name)
    return str(ep["status"]["current"]["uid"]) if ep else ""


# ------------------------------------------------------------------- case 1


def test_a_del_racing_the_next_sandboxs_add_of_the_same_pod_never_leaves_an_unrecorded_address(
    env: Env,
) -> None:
    pool = env.pool("p", "10.200.0.0/24", ["10.200.0.10-10.200.0.40"])
    node = env.node(0)
    rt = Runtime(node, ipam={"default_ipv4_ippool": [pool]})
    ref = env.pod("a", node, "c-a-0")
    assert rt.add(ref, ref.container_id).ok
    rounds, lost = 12, 0
    for n in range(1, rounds + 1):
        old, new = ref.container_id, f"c-a-{n}"
        rt.cache.pop(
            (old, "eth0"), None
        )  # its ADD "failed later in the chain": the DEL carries no prevResult
        with ThreadPoolExecutor(2) as ex:
            d = ex.submit(rt.delete, ref, old)
            a = ex.submit(rt.add, ref, new)
        assert d.result().ok, d.result().result
        added = a.result()
        assert added.ok, added.result
        ref = dataclasses.replace(ref, container_id=new)
        env.check(pool)
        assert holders_of(env, pool).get(added.ips()[0]) == ref.uid
        other = env.pod(f"o{n}", node)
        got = rt.add(other, other.container_id)
        assert got.ok and got.ips() != added.ips()
        lost += added.ips()[0] not in holders_of(env, pool)
    print(f"\n{rounds} rounds of DEL || ADD of one pod: {lost} sandboxes without a record")


# ------------------------------------------------------------------- case 2


@pytest.fixture
def sc(
    cluster: Cluster, api_underlay: netns.Underlay, tmp_path: Path, bundle_bin: Path
) -> Scenario:
    return Scenario(cluster, api_underlay, tmp_path)


@pytest.mark.netns
@pytest.mark.parametrize("version", ["1.0.0", "0.4.0"])
def test_a_re_sent_del_keeps_what_the_first_del_kept(sc: Scenario, version: str) -> None:
    pool = sc.name("p")
    sc.cluster.pool(pool, "10.201.0.0/24", ["10.201.0.10-10.201.0.20"])
    node = sc.node()
    rt = node.runtime(default_ipv4_ippool=[pool], version=version)
    ref, pod = sc.pod("a", node)
    ip = rt.add(ref.container_id, pod.path, pod=ref)["ips"][0]["address"]
    rt.delete(ref.container_id, pod.path, pod=ref)  # with the cached result: pod alive, kept
    rt.delete(ref.container_id, pod.path, pod=ref)  # libcni dropped its cache: no prevResult now
    assert [r["podUid"] for r in sc.cluster.holders(pool).values()] == [ref.uid]
    other, other_pod = sc.pod("b", node)
    assert rt.add(other.container_id, other_pod.path, pod=other)["ips"][0]["address"] != ip
    again = dataclasses.replace(ref, container_id="c-a-2")
    assert rt.add(again.container_id, pod.path, pod=again)["ips"][0]["address"] == ip


# ------------------------------------------------------------------- case 4


def test_unplugging_one_nic_releases_only_that_nic(env: Env) -> None:
    pool = env.pool("p", "10.202.0.0/24", ["10.202.0.10-10.202.0.20"])
    node = env.node(0)
    eth0 = Runtime(node, network="net-a", ipam={"default_ipv4_ippool": [pool]})
    net1 = Runtime(node, network="net-b", ipam={"default_ipv4_ippool": [pool]})
    ref = env.pod("a", node, annotations={NETWORKS: f"{env.ns}/net-b@net1"})
    first, second = eth0.add(ref, ref.container_id, "eth0"), net1.add(ref, ref.container_id, "net1")
    assert first.ok and second.ok
    # Multus dynamic networks: the annotation drops net1, then the controller DELs it
    path = f"/api/v1/namespaces/{env.ns}/pods/a"
    env.cluster.cp.request(
        "PATCH",
        path,
        {"metadata": {"annotations": {NETWORKS: "[]"}}},
        content_type="application/merge-patch+json",
    )
    for _ in range(2):  # the unplug, then the same DEL again
        assert net1.delete(ref, ref.container_id, "net1").ok
        assert holders_of(env, pool) == {first.ips()[0]: ref.uid}
        ep = env.cluster.endpoint(env.ns, "a")
        assert ep is not None and [d["interface"] for d in ep["status"]["current"]["ips"]] == [
            "eth0"
        ]
    env.check(pool)
    env.cluster.delete_pod(env.ns, "a")
    assert eth0.delete(ref, ref.container_id, "eth0").ok
    assert holders_of(env, pool) == {} and env.cluster.endpoint(env.ns, "a") is None


def test_a_sandbox_rebuild_keeps_every_nic_the_pod_still_asks_for(env: Env) -> None:
    pool = env.pool("p", "10.202.1.0/24", ["10.202.1.10-10.202.1.20"])
    node = env.node(0)
    eth0 = Runtime(node, network="net-a", ipam={"default_ipv4_ippool": [pool]})
    net1 = Runtime(node, network="net-b", ipam={"default_ipv4_ippool": [pool]})
    ref = env.pod(
        "a", node, annotations={NETWORKS: json.dumps([{"name": "net-b", "interface": "net1"}])}
    )
    got = {
        nic: rt.add(ref, ref.container_id, nic).ips()[0]
        for nic, rt in (("eth0", eth0), ("net1", net1))
    }
    for nic, rt in (
        ("net1", net1),
        ("eth0", eth0),
    ):  # the runtime tears the sandbox down, NICs in reverse
        assert rt.delete(ref, ref.container_id, nic).ok
    new = dataclasses.replace(ref, container_id="c-a-2")
    assert {
        nic: rt.add(new, new.container_id, nic).ips()[0]
        for nic, rt in (("eth0", eth0), ("net1", net1))
    } == got
    env.check(pool)


# ------------------------------------------------------------------- case 5


def test_without_a_uid_a_late_add_on_the_old_node_for_a_re_created_pod_is_refused(env: Env) -> None:
    pool = env.pool("p", "10.203.0.0/24", ["10.203.0.10-10.203.0.20"])
    old, new = env.node(0), env.node(1)
    ipam = {"default_ipv4_ippool": [pool]}
    first = env.pod("a", old)
    assert Runtime(old, ipam=ipam).add(first, "c-old", with_uid=False).ok
    env.cluster.delete_pod(env.ns, "a")
    env.delete_endpoint("a")  # the pod's endpoint goes with it (ownerReference, kube GC)
    second = env.pod("a", new)
    assert Runtime(new, ipam=ipam).add(second, "c-new", with_uid=False).ok
    late = Runtime(old, ipam=ipam).add(second, "c-late", with_uid=False)
    assert late.code == 3 and "bound to node" in late.result["msg"]  # type: ignore[index]
    assert sorted(holders_of(env, pool).values()).count(second.uid) == 1


def test_without_a_uid_a_del_after_a_force_delete_releases_the_record(env: Env) -> None:
    pool = env.pool("p", "10.204.0.0/24", ["10.204.0.10-10.204.0.20"])
    node = env.node(0)
    rt = Runtime(node, ipam={"default_ipv4_ippool": [pool]})
    ref = env.pod("a", node)
    assert rt.add(ref, ref.container_id, with_uid=False).ok
    env.cluster.delete_pod(env.ns, "a")
    env.delete_endpoint("a")
    assert rt.delete(ref, ref.container_id, with_uid=False).ok
    assert holders_of(env, pool) == {}


def test_without_a_uid_a_late_del_releases_the_old_uids_record_not_the_successors(env: Env) -> None:
    pool = env.pool("p", "10.205.0.0/24", ["10.205.0.10-10.205.0.20"])
    old, new = env.node(0), env.node(1)
    ipam = {"default_ipv4_ippool": [pool]}
    first = env.pod("a", old)
    crashed = Runtime(old, ipam=ipam).add(
        first, "c-old", with_uid=False, failpoint="after-pool-write"
    )
    assert crashed.killed and holders_of(env, pool) == {"10.205.0.10": first.uid}
    env.cluster.delete_pod(env.ns, "a")
    second = env.pod("a", new)
    assert Runtime(new, ipam=ipam).add(second, "c-new", with_uid=False).ok
    assert Runtime(old, ipam=ipam).delete(first, "c-old", with_uid=False).ok
    assert holders_of(env, pool) == {"10.205.0.11": second.uid}
    env.check(pool)


# ------------------------------------------------------------------- case 6


def test_a_case_folded_multus_annotation_cannot_reach_another_tenants_pool(env: Env) -> None:
    pool = env.pool(
        "secure",
        "10.206.0.0/24",
        ["10.206.0.10-10.206.0.20"],
        multusName=["kube-system/secure-net"],
    )
    node = env.node(0)
    attack = json.dumps(
        [{"name": "secure-net", "namespace": "kube-system", "Name": "general", "Namespace": env.ns}]
    )
    ref = env.pod("a", node, annotations={"k8s.v1.cni.cncf.io/networks": attack})
    got = Runtime(node, ipam={"default_ipv4_ippool": [pool]}).add(ref, ref.container_id, "net1")
    assert got.code == 101
    assert f"does not include network '{env.ns}/general'" in got.result["msg"]  # type: ignore[index]
    assert holders_of(env, pool) == {}
    honest = env.pod(
        "b", node, annotations={"k8s.v1.cni.cncf.io/networks": "kube-system/secure-net"}
    )
    assert (
        Runtime(node, ipam={"default_ipv4_ippool": [pool]})
        .add(honest, honest.container_id, "net1")
        .ok
    )


# ------------------------------------------------------------------- case 7


def _requests(node: NodeConfig) -> list[str]:
    text = (node.dir / "spiderpool.log").read_text()
    return [
        r
        for line in re.findall(r'api requests=\d+ [^:]*: ([^"]*)"', text)
        for r in line.split("; ")
    ]


@pytest.mark.parametrize("how", ["spec.default", "glob"])
def test_default_pools_and_globs_read_no_pool_records_beyond_the_pools_they_use(
    env: Env, how: str
) -> None:
    pools = [
        env.pool(f"d{i}", f"10.207.{i}.0/24", [f"10.207.{i}.10"], default=(how == "spec.default"))
        for i in range(3)
    ]
    node = env.node(0)
    ipam = {"default_ipv4_ippool": [f"{env.ns}-d*"]} if how == "glob" else {}
    ref = env.pod("a", node)
    assert Runtime(node, ipam=ipam).add(ref, ref.container_id).ok
    lists = [
        r
        for r in _requests(node)
        if r.startswith("GET") and r.split("?")[0].endswith("/spiderippools")
    ]
    assert lists and all(r.endswith("(table)") for r in lists), lists
    if (
        how == "glob"
    ):  # spec.default pools of other tests share the cluster and may serve it instead
        assert sum(1 for p in pools if holders_of(env, p)) == 1


def test_the_gc_verb_settles_the_rest_when_one_attachment_fails(env: Env) -> None:
    pool = env.pool("p", "10.208.0.0/24", ["10.208.0.10-10.208.0.20"])
    node = env.node(0)
    rt = Runtime(node, ipam={"default_ipv4_ippool": [pool]})
    refs = [env.pod(n, node) for n in ("a", "b", "c")]
    for ref in refs:
        assert rt.add(ref, ref.container_id).ok
    (node.dir / "locks").mkdir(exist_ok=True)
    held = os.open(node.dir / "locks" / f"pod_{env.ns}_b.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)  # another verb of pod b is "running"
    try:
        res = exec_ipam(
            node,
            "GC",
            None,
            "gc",
            version="1.1.0",
            ipam=rt.ipam,
            extra={"cni.dev/valid-attachments": []},
        )
    finally:
        os.close(held)
    assert res.code == 11 and f"{env.ns}/b" in res.result["msg"], res.result  # type: ignore[index]
    assert list(holders_of(env, pool).values()) == [refs[1].uid]


@pytest.mark.parametrize("name", ["a?x=1", "a\r\nX-Injected: 1", "../../nodes/n1"])
def test_cni_args_that_are_not_kubernetes_names_are_code_4(env: Env, name: str) -> None:
    node = env.node(0)
    got = exec_ipam(node, "ADD", cni.PodRef(env.ns, name, "", "c1"), "c1")
    assert got.code == 4 and "K8S_POD_NAME" in got.result["msg"]  # type: ignore[index]


# ------------------------------------------------------------------- case 8


def test_a_crashed_add_of_a_second_nic_is_released_by_its_del(env: Env) -> None:
    pool = env.pool("p", "10.209.0.0/24", ["10.209.0.10-10.209.0.20"])
    node = env.node(0)
    eth0 = Runtime(node, network="net-a", ipam={"default_ipv4_ippool": [pool]})
    net1 = Runtime(node, network="net-b", ipam={"default_ipv4_ippool": [pool]})
    ref = env.pod("a", node)
    first = eth0.add(ref, ref.container_id, "eth0")
    assert first.ok
    assert net1.add(ref, ref.container_id, "net1", failpoint="after-pool-write").killed
    assert len(holders_of(env, pool)) == 2
    assert net1.delete(ref, ref.container_id, "net1").ok  # the runtime's DEL after the failed ADD
    assert holders_of(env, pool) == {first.ips()[0]: ref.uid}
    env.check(pool)


# ------------------------------------------------------------------- case 9


def test_dels_whose_endpoint_changes_under_them_succeed_and_leave_nothing(env: Env) -> None:
    pool = env.pool("p", "10.210.0.0/24", ["10.210.0.10-10.210.0.40"])
    node = env.node(0)
    rt = Runtime(node, ipam={"default_ipv4_ippool": [pool]})
    refs = [env.pod(f"p{i}", node) for i in range(8)]
    for ref in refs:
        assert rt.add(ref, ref.container_id).ok
        env.cluster.delete_pod(env.ns, ref.name)
    stop = threading.Event()

    def churn() -> None:  # another writer of the endpoints: every DEL's precondition may fail
        while not stop.is_set():
            for ref in refs:
                path = f"{GROUP}/namespaces/{env.ns}/spiderendpoints/{ref.name}"
                env.cluster.cp.request(
                    "PATCH",
                    path,
                    {"metadata": {"labels": {"churn": os.urandom(2).hex()}}},
                    content_type="application/merge-patch+json",
                )

    writer = threading.Thread(target=churn)
    writer.start()
    try:
        with ThreadPoolExecutor(4) as ex:
            outs = list(ex.map(lambda r: rt.delete(r, r.container_id), refs))
    finally:
        stop.set()
        writer.join()
    assert [o.returncode for o in outs] == [0] * len(refs), [o.result for o in outs]
    changed = (node.dir / "spiderpool.log").read_text().count("changed under this DEL")
    print(f"\n{len(refs)} DELs, {changed} re-decided after the endpoint changed under them")
    assert holders_of(env, pool) == {} and env.cluster.endpoints(env.ns) == []


# ------------------------------------------------------------------ successors and take-overs


def test_a_late_add_of_a_deleted_pod_never_touches_its_live_successors_address(env: Env) -> None:
    pool = env.pool("p", "10.211.0.0/24", ["10.211.0.10-10.211.0.40"])
    old, new = env.node(0), env.node(1)
    ipam = {"default_ipv4_ippool": [pool]}
    first = env.pod("a", old)
    late = Stalled(old, "ADD", first, "c-late", at="after-pod-read", ipam=ipam)  # read it alive
    env.cluster.delete_pod(env.ns, "a")
    second = env.pod("a", new)
    got = Runtime(new, ipam=ipam).add(second, "c-new")
    assert got.ok, got
    answer = late.resume()
    assert answer.code == 3 and "no longer the live pod" in str(answer.result), answer
    assert holders_of(env, pool) == {got.ips()[0]: second.uid}
    assert endpoint_uid(env, "a") == second.uid
    env.check(pool)
    third = env.pod("b", new)
    assert Runtime(new, ipam=ipam).add(third, "c-b").ips() != got.ips()


def test_a_late_add_of_a_deleted_statefulset_pod_never_takes_its_successors_address(
    env: Env,
) -> None:
    pool = env.pool("p", "10.211.1.0/24", ["10.211.1.10-10.211.1.40"])
    old, new = env.node(0), env.node(1)
    ipam = {"default_ipv4_ippool": [pool]}
    sts = env.cluster.statefulset(env.ns, "db", replicas=1)
    first = env.pod("db-0", old, owner=sts)
    on_old = Runtime(old, ipam=ipam)
    assert on_old.add(first, "c-1").ok
    late = Stalled(old, "ADD", first, "c-2", at="after-pod-read", ipam=ipam)  # its next sandbox
    env.cluster.delete_pod(env.ns, "db-0")
    second = env.pod("db-0", new, owner=sts)
    got = Runtime(new, ipam=ipam).add(second, "c-3")  # takes its predecessor's address over
    assert got.ok, got
    answer = late.resume()
    assert answer.code == 3, answer
    for cid in ("c-2", "c-1"):  # the old node's runtime tears both sandboxes down
        assert on_old.delete(first, cid).ok
    assert holders_of(env, pool) == {got.ips()[0]: second.uid}
    assert endpoint_uid(env, "db-0") == second.uid
    env.check(pool)
    third = env.pod("other", new)
    assert Runtime(new, ipam=ipam).add(third, "c-o").ips() != got.ips()


@pytest.mark.parametrize("change", ["node", "labels"])
def test_a_statefulset_successor_keeps_its_address_only_where_the_pool_would_give_it_one(
    env: Env, change: str
) -> None:
    """Moved to a node the pool's nodeName excludes, or with labels its podAffinity no longer
    matches: judged as a fresh pod there would be (a new address from the pool that serves
    it, or the ADD refused naming the rule), and the old record goes."""
    here = env.pool(
        "here", "10.212.0.0/24", ["10.212.0.10-10.212.0.20"], nodeName=[f"{env.ns}-node0"]
    )
    there = env.pool(
        "there", "10.212.1.0/24", ["10.212.1.10-10.212.1.20"], nodeName=[f"{env.ns}-node1"]
    )
    vault = env.pool(
        "vault",
        "10.212.2.0/24",
        ["10.212.2.10-10.212.2.20"],
        podAffinity={"matchLabels": {"app": "db"}},
    )
    pools = [here, there] if change == "node" else [vault]
    anno = {"ipam.spidernet.io/ippool": json.dumps({"ipv4": pools})}
    sts = env.cluster.statefulset(env.ns, "db", replicas=1)
    n0, n1 = env.node(0), env.node(1)
    first = env.pod("db-0", n0, owner=sts, annotations=anno, labels={"app": "db"})
    before = Runtime(n0).add(first, "c-1")
    assert before.ok, before
    env.cluster.delete_pod(env.ns, "db-0")
    node, labels = (n1, {"app": "db"}) if change == "node" else (n0, {"app": "web"})
    second = env.pod("db-0", node, owner=sts, annotations=anno, labels=labels)
    after = Runtime(node).add(second, "c-2")
    if change == "node":
        assert after.ok and after.ips()[0].startswith("10.212.1."), after
        assert holders_of(env, here) == {} and holders_of(env, there) == {
            after.ips()[0]: second.uid
        }
    else:
        assert after.code == 101 and f"{vault}: podAffinity" in str(after.result), after
        assert holders_of(env, vault) == {}
    env.check(*pools)


def test_a_statefulset_take_over_judges_each_nic_by_its_own_networks_config(env: Env) -> None:
    pa = env.pool("pa", "10.213.0.0/24", ["10.213.0.10-10.213.0.20"])
    pb = env.pool("pb", "10.213.1.0/24", ["10.213.1.10-10.213.1.20"])
    n0, n1 = env.node(0), env.node(1)
    anno = {NETWORKS: json.dumps([{"name": "net-b", "interface": "net1"}])}
    sts = env.cluster.statefulset(env.ns, "db", replicas=1)

    def nics(node: NodeConfig) -> tuple[Runtime, Runtime]:
        return (
            Runtime(node, network="net-a", ipam={"default_ipv4_ippool": [pa]}),
            Runtime(node, network="net-b", ipam={"default_ipv4_ippool": [pb]}),
        )

    first = env.pod("db-0", n0, owner=sts, annotations=anno)
    eth0, net1 = nics(n0)
    fixed = {nic: rt.add(first, "c-1", nic).ips() for nic, rt in (("eth0", eth0), ("net1", net1))}
    env.cluster.delete_pod(env.ns, "db-0")
    second = env.pod("db-0", n1, owner=sts, annotations=anno)
    eth0, net1 = nics(n1)
    assert eth0.add(second, "c-2", "eth0").ips() == fixed["eth0"]  # takes the endpoint over
    other = env.pod("other", n1, annotations=anno)  # a pod of the same network meanwhile
    assert net1.add(other, "c-o", "net1").ips() != fixed["net1"]
    assert net1.add(second, "c-2", "net1").ips() == fixed["net1"]
    env.check(pa, pb)


def test_a_del_without_a_uid_from_the_old_node_leaves_a_taken_over_endpoint_alone(
    env: Env,
) -> None:
    pa = env.pool("pa", "10.214.0.0/24", ["10.214.0.10-10.214.0.20"])
    pb = env.pool("pb", "10.214.1.0/24", ["10.214.1.10-10.214.1.20"])
    n0, n1 = env.node(0), env.node(1)
    anno = {NETWORKS: json.dumps([{"name": "net-b", "interface": "net1"}])}
    sts = env.cluster.statefulset(env.ns, "db", replicas=1)
    runtimes = {
        (node.name, nic): Runtime(node, network=net, ipam={"default_ipv4_ippool": [pool]})
        for node in (n0, n1)
        for nic, net, pool in (("eth0", "net-a", pa), ("net1", "net-b", pb))
    }
    first = env.pod("db-0", n0, owner=sts, annotations=anno)
    fixed = {
        nic: runtimes[(n0.name, nic)].add(first, "c-1", nic, with_uid=False).ips()[0]
        for nic in ("eth0", "net1")
    }
    env.cluster.delete_pod(env.ns, "db-0")
    second = env.pod("db-0", n1, owner=sts, annotations=anno)
    assert runtimes[(n1.name, "eth0")].add(second, "c-2", "eth0", with_uid=False).ok
    for nic in ("net1", "eth0"):  # the old node tears the dead sandbox down, nothing cached
        runtimes[(n0.name, nic)].cache.clear()
        assert runtimes[(n0.name, nic)].delete(first, "c-1", nic, with_uid=False).ok
    ep = env.cluster.endpoint(env.ns, "db-0")
    assert ep is not None and ep["status"]["current"]["uid"] == second.uid
    assert sorted(d["interface"] for d in ep["status"]["current"]["ips"]) == ["eth0", "net1"]
    assert holders_of(env, pb) == {fixed["net1"]: first.uid}  # still inherited: not moved yet
    got = runtimes[(n1.name, "net1")].add(second, "c-2", "net1", with_uid=False)
    assert got.ips() == [fixed["net1"]] and holders_of(env, pb) == {fixed["net1"]: second.uid}
    env.check(pa, pb)


@pytest.mark.parametrize("stateful", [True, False], ids=["statefulset", "plain"])
def test_a_transient_failure_on_one_nic_never_cools_another_nics_address(
    env: Env, stateful: bool
) -> None:
    """net1's ADD gives up on a lock (code 11) and the runtime tears the sandbox down: eth0's
    address is implicated by nothing. A StatefulSet pod keeps it for its next sandbox; a
    plain pod releases it at once (multi-NIC is all-or-nothing), never into cool-down."""
    pa = env.pool("pa", "10.215.0.0/24", ["10.215.0.10-10.215.0.20"])
    pb = env.pool("pb", "10.215.1.0/24", ["10.215.1.10-10.215.1.20"])
    node = env.node(0)
    anno = {NETWORKS: json.dumps([{"name": "net-b", "interface": "net1"}])}
    owner = {"owner": env.cluster.statefulset(env.ns, "db", replicas=1)} if stateful else {}
    ref = env.pod("db-0", node, annotations=anno, **owner)
    eth0 = Runtime(node, network="net-a", ipam={"default_ipv4_ippool": [pa]})
    net1 = Runtime(
        node, network="net-b", ipam={"default_ipv4_ippool": [pb], "allocation_timeout": 1}
    )
    fixed = eth0.add(ref, "c-1", "eth0").ips()[0]
    (node.dir / "locks").mkdir(exist_ok=True)
    held = os.open(node.dir / "locks" / f"{pb}.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)  # another ADD on this node holds net1's pool
    try:
        failed = net1.add(ref, "c-1", "net1")
    finally:
        os.close(held)
    assert failed.code == 11, failed
    for nic, rt in (("net1", net1), ("eth0", eth0)):  # the runtime undoes every NIC
        assert rt.delete(ref, "c-1", nic).ok
    records = env.cluster.records(pa)
    if stateful:
        assert holders_of(env, pa) == {fixed: ref.uid}
        assert eth0.add(ref, "c-2", "eth0").ips() == [fixed]
    else:
        assert records == {}, records  # released, not cooling
    env.check(pa, pb)


# ------------------------------------------------------------------- case 15


def test_multus_default_networks_shift_the_annotations_nics_and_their_pools_follow(
    env: Env,
) -> None:
    """Multus's default network (the cluster IPAM config) is net1, so the annotation's first
    network is net2: its pool serves net2, never the default network's NIC, and a sandbox
    rebuild keeps net2's address (it is still asked for)."""
    secure = env.pool(
        "secure",
        "10.216.0.0/24",
        ["10.216.0.10-10.216.0.20"],
        multusName=[f"{env.ns}/secure-net"],
    )
    node = env.node(0)
    node.write_cluster(multus_default_networks=["monitor"])
    ref = env.pod("a", node, annotations={NETWORKS: "secure-net"})
    ipam = {"default_ipv4_ippool": [secure]}
    wrong = Runtime(node, network="monitor", ipam=ipam).add(ref, "c-1", "net1")
    assert wrong.code == 101 and "multusName" in str(wrong.result), wrong
    right = Runtime(node, network="secure-net", ipam=ipam)
    got = right.add(ref, "c-1", "net2")
    assert got.ok, got
    assert right.delete(ref, "c-1", "net2").ok  # the sandbox is rebuilt: net2 is kept
    assert right.add(ref, "c-2", "net2").ips() == got.ips()
    env.check(secure)


# ------------------------------------------------------------------- case 16


def test_a_statefulset_pod_keeps_the_address_its_predecessor_died_claiming(env: Env) -> None:
    """The first successor's ADD moves the record to its UID and is killed before it claims
    the detail; that successor is deleted in turn. The next one takes the endpoint over and
    keeps the address: the record moves from the UID that holds it now (the middle pod's),
    and none of the middle pod's records is left behind for the GC."""
    pool = env.pool("p", "10.217.0.0/24", ["10.217.0.10-10.217.0.20"])
    ipam = {"default_ipv4_ippool": [pool]}
    sts = env.cluster.statefulset(env.ns, "db", replicas=1)
    nodes = [env.node(i) for i in range(3)]
    first = env.pod("db-0", nodes[0], owner=sts)
    fixed = Runtime(nodes[0], ipam=ipam).add(first, "c-1").ips()
    env.cluster.delete_pod(env.ns, "db-0")
    middle = env.pod("db-0", nodes[1], owner=sts)
    on_middle = Runtime(nodes[1], ipam=ipam)
    died = on_middle.add(middle, "c-2", failpoint="after-pool-write")  # the record's move
    assert died.killed, died
    assert holders_of(env, pool) == {fixed[0]: middle.uid}
    assert on_middle.delete(middle, "c-2").ok  # the runtime tears the sandbox down
    env.cluster.delete_pod(env.ns, "db-0")
    last = env.pod("db-0", nodes[2], owner=sts)
    got = Runtime(nodes[2], ipam=ipam).add(last, "c-3")
    assert got.ips() == fixed, got
    assert holders_of(env, pool) == {fixed[0]: last.uid}
    env.check(pool)
