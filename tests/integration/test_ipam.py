"""spiderpool IPAM against the real apiserver, as the frozen binary through libcni + macvlan.

Case matrix (each ADD/DEL goes kubelet-style through libcni: macvlan execs our IPAM):
| case                                    | expectation                                            |
|-----------------------------------------|--------------------------------------------------------|
| repeated ADD                            | same IP, one record                                    |
| DEL of an unknown container             | success                                                |
| DEL with stale containerID after re-ADD | IP kept                                                |
| pod deleted, then DEL                   | pool and endpoints empty                               |
| exhausted pool                          | code 100, pool named, no new record                    |
| disabled pool / missing pool            | code 101, each pool named with its reason              |
| unreachable API server                  | code 11                                                |
| malformed ippool annotation             | code 7 naming the annotation, no record                |
| SIGKILL before the pool write           | no record; retry gets a distinct IP, no duplicate      |
| SIGKILL after pool write, no endpoint   | retried ADD reuses the IP; DEL after pod delete frees  |
|                                         | it                                                     |
| a later plugin fails the ADD, then DEL  | IP cooling although the pod lives; retry rotates       |
| IPAM killed before its answer, then DEL | IP free at once (it reached no interface), no cooling  |
| GC verb (spec 1.1, exec'd directly)     | only this node's stale attachments released            |
| STATUS                                  | 0 with free addresses, 50 when the pool is full        |
| dual-stack, 0.3.1 and 1.0.0             | one v4 + one v6, ips[].version only in 0.3.1           |
| namespace default pools / spec.default  | chosen when no pod annotation                          |
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tests.integration.ipam_scenarios import Scenario, SimNode
from tools.testbed import cni, netns, paths
from tools.testbed.cluster import Cluster, macvlan_conflist

pytestmark = [pytest.mark.apiserver, pytest.mark.netns]


@pytest.fixture
def sc(
    cluster: Cluster, api_underlay: netns.Underlay, tmp_path: Path, bundle_bin: Path
) -> Scenario:
    return Scenario(cluster, api_underlay, tmp_path)


def add_ip(rt: cni.Runtime, ref: cni.PodRef, pod: netns.Netns, ifname: str = "eth0") -> str:
    result = rt.add(ref.container_id, pod.path, ifname, pod=ref)
    return str(result["ips"][0]["address"])


def test_repeated_add_returns_the_same_ip_and_one_record(sc: Scenario) -> None:
    pool = sc.name("p")
    sc.cluster.pool(pool, "10.90.0.0/24", ["10.90.0.10-10.90.0.20"], gateway="10.90.0.1")
    node = sc.node()
    rt = node.runtime(default_ipv4_ippool=[pool])
    ref, pod = sc.pod("a", node)
    first = add_ip(rt, ref, pod)
    rt.delete(ref.container_id, pod.path, pod=ref)  # pod alive: sandbox re-creation keeps the IP
    second = add_ip(rt, ref, pod)
    assert first == second == "10.90.0.10/24"
    assert list(sc.cluster.records(pool)) == ["10.90.0.10"]
    rt.check(ref.container_id, pod.path, pod=ref)


def test_del_of_an_unknown_container_succeeds(sc: Scenario) -> None:
    node = sc.node()
    rt = node.runtime(default_ipv4_ippool=[sc.name("nothing")])
    pod = sc.underlay.add_pod("ghost")
    rt.delete(
        "never-added",
        pod.path,
        pod=cni.PodRef(sc.ns, "ghost", uid="0000", container_id="never-added"),
    )


def test_del_with_a_stale_container_id_after_a_re_add_keeps_the_ip(sc: Scenario) -> None:
    pool = sc.name("p")
    sc.cluster.pool(pool, "10.91.0.0/24", ["10.91.0.10-10.91.0.20"])
    node = sc.node()
    rt = node.runtime(default_ipv4_ippool=[pool])
    ref, pod = sc.pod("a", node)
    old = cni.PodRef(ref.namespace, ref.name, ref.uid, container_id="sandbox-1")
    new = cni.PodRef(ref.namespace, ref.name, ref.uid, container_id="sandbox-2")
    ip = rt.add("sandbox-1", pod.path, pod=old)["ips"][0]["address"]
    pod2 = sc.underlay.add_pod(f"{sc.ns[-4:]}a2")
    assert rt.add("sandbox-2", pod2.path, pod=new)["ips"][0]["address"] == ip
    sc.cluster.delete_pod(sc.ns, "a")
    rt.delete("sandbox-1", pod.path, pod=old)  # the old sandbox's DEL arrives late
    assert list(sc.cluster.records(pool)) == [ip.split("/")[0]]
    rt.delete("sandbox-2", pod2.path, pod=new)
    assert sc.cluster.records(pool) == {}
    assert sc.cluster.endpoint(sc.ns, "a") is None


def test_exhausted_pool_is_code_100_naming_the_pool(sc: Scenario) -> None:
    pool = sc.name("small")
    sc.cluster.pool(pool, "10.92.0.0/24", ["10.92.0.10"])
    node = sc.node()
    rt = node.runtime(default_ipv4_ippool=[pool])
    ref, pod = sc.pod("a", node)
    add_ip(rt, ref, pod)
    ref2, pod2 = sc.pod("b", node)
    with pytest.raises(cni.CniFailure) as failure:
        add_ip(rt, ref2, pod2)
    assert failure.value.code == 100
    assert pool in failure.value.msg and "exhausted" in failure.value.msg
    assert [r["pod"] for r in sc.cluster.records(pool).values()] == [f"{sc.ns}/a"]
    assert sc.cluster.endpoint(sc.ns, "b") is None


@pytest.mark.parametrize("problem", ["disabled", "missing"])
def test_unusable_pools_are_code_101_each_named_with_its_reason(sc: Scenario, problem: str) -> None:
    good, bad = sc.name("good"), sc.name("bad")
    sc.cluster.pool(good, "10.93.0.0/24", ["10.93.0.10"], nodeName=["some-other-node"])
    if problem == "disabled":
        sc.cluster.pool(bad, "10.94.0.0/24", ["10.94.0.10"], disable=True)
    node = sc.node()
    rt = node.runtime(default_ipv4_ippool=[bad, good])
    ref, pod = sc.pod("a", node)
    with pytest.raises(cni.CniFailure) as failure:
        add_ip(rt, ref, pod)
    assert failure.value.code == 101
    msg = failure.value.msg
    assert f"{bad}: {'disabled' if problem == 'disabled' else 'not found'}" in msg
    assert f"{good}: nodeName" in msg
    assert sc.cluster.records(good) == {}


def test_unreachable_api_server_is_code_11(sc: Scenario) -> None:
    node = sc.node()
    dead = node.config.dir / "dead.kubeconfig"
    cfg = json.loads(Path(node.config.kubeconfig).read_text())
    cfg["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
    dead.write_text(json.dumps(cfg))
    node.config.write_cluster(kubeconfig=str(dead))  # the node's credentials: the cluster's
    rt = node.runtime(default_ipv4_ippool=["any"], allocation_timeout=2)
    ref, pod = sc.pod("a", node)
    with pytest.raises(cni.CniFailure) as failure:
        add_ip(rt, ref, pod)
    assert failure.value.code == 11
    assert "unreachable" in failure.value.msg


def test_malformed_ippool_annotation_is_code_7_naming_it(sc: Scenario) -> None:
    pool = sc.name("p")
    sc.cluster.pool(pool, "10.95.0.0/24", ["10.95.0.10-10.95.0.11"])
    node = sc.node()
    rt = node.runtime(default_ipv4_ippool=[pool])
    ref, pod = sc.pod("a", node, annotations={"ipam.spidernet.io/ippool": '{"ipv4": "not-a-list"}'})
    with pytest.raises(cni.CniFailure) as failure:
        add_ip(rt, ref, pod)
    assert failure.value.code == 7
    assert "ipam.spidernet.io/ippool" in failure.value.msg
    assert sc.cluster.records(pool) == {}


def test_pod_annotation_beats_namespace_default_which_beats_cni_default(sc: Scenario) -> None:
    anno, nsdef, cnidef = sc.name("anno"), sc.name("nsdef"), sc.name("cnidef")
    for i, name in enumerate((anno, nsdef, cnidef)):
        sc.cluster.pool(name, f"10.96.{i}.0/24", [f"10.96.{i}.10-10.96.{i}.20"])
    sc.cluster.namespace(
        sc.ns, annotations={"ipam.spidernet.io/default-ipv4-ippool": json.dumps([nsdef])}
    )
    node = sc.node()
    rt = node.runtime(default_ipv4_ippool=[cnidef])
    ref, pod = sc.pod(
        "a", node, annotations={"ipam.spidernet.io/ippool": json.dumps({"ipv4": [anno]})}
    )
    assert add_ip(rt, ref, pod).startswith("10.96.0.")
    ref2, pod2 = sc.pod("b", node)
    assert add_ip(rt, ref2, pod2).startswith("10.96.1.")
    # a named ippools annotation must name this interface (upstream's rule): code 7, nothing
    # recorded
    other_nic = json.dumps([{"interface": "net1", "ipv4": [anno]}])
    ref3, pod3 = sc.pod("c", node, annotations={"ipam.spidernet.io/ippools": other_nic})
    with pytest.raises(cni.CniFailure) as failure:
        add_ip(rt, ref3, pod3)
    assert failure.value.code == 7 and "interface eth0 must be specified" in failure.value.msg
    # an empty list for this interface yields nothing: the namespace rule decides
    empty = json.dumps([{"interface": "eth0", "ipv4": []}])
    ref4, pod4 = sc.pod("d", node, annotations={"ipam.spidernet.io/ippools": empty})
    assert add_ip(rt, ref4, pod4).startswith("10.96.1.")


@pytest.mark.parametrize(("version", "has_version_field"), [("0.3.1", True), ("1.0.0", False)])
def test_dual_stack_add_returns_one_v4_and_one_v6(
    sc: Scenario, version: str, has_version_field: bool
) -> None:
    v4, v6 = sc.name("v4"), sc.name("v6")
    sc.cluster.pool(v4, "10.97.0.0/24", ["10.97.0.10-10.97.0.20"], gateway="10.97.0.1")
    sc.cluster.pool(v6, "fd97::/64", ["fd97::10-fd97::ffff:ffff:ffff:ffff"], gateway="fd97::1")
    node = sc.node()
    rt = node.runtime(default_ipv4_ippool=[v4], default_ipv6_ippool=[v6], version=version)
    ref, pod = sc.pod("a", node)
    result = rt.add(ref.container_id, pod.path, pod=ref)
    ips = [ip["address"] for ip in result["ips"]]
    assert ips == ["10.97.0.10/24", "fd97::10/64"]
    assert all(("version" in ip) == has_version_field for ip in result["ips"])
    assert {r["dst"] for r in result["routes"]} == {"0.0.0.0/0", "::/0"}
    assert sorted(pod.addresses("eth0")) == sorted(ips)


@dataclasses.dataclass
class Killed:
    """A pod whose first ADD was SIGKILLed at ``failpoint``, on a fresh pool of 11 addresses."""

    pool: str
    node: SimNode
    ref: cni.PodRef
    pod: netns.Netns
    killer: cni.Runtime


def killed_add(sc: Scenario, subnet: str, failpoint: str) -> Killed:
    pool, prefix = sc.name("p"), subnet.rsplit(".", 2)[0]
    sc.cluster.pool(pool, f"{subnet}/24", [f"{prefix}.0.10-{prefix}.0.20"])
    node = sc.node()
    ref, pod = sc.pod("a", node)
    killer = node.runtime(default_ipv4_ippool=[pool], env={"SPIDERNET_FAILPOINT": failpoint})
    with pytest.raises((cni.CniFailure, RuntimeError)):
        killer.add(ref.container_id, pod.path, pod=ref)
    return Killed(pool, node, ref, pod, killer)


def test_sigkill_before_the_pool_write_leaves_no_record_and_no_duplicate(sc: Scenario) -> None:
    k = killed_add(sc, "10.98.0.0", "before-pool-write")
    pool, node, ref, pod = k.pool, k.node, k.ref, k.pod
    assert sc.cluster.records(pool) == {}
    rt = node.runtime(default_ipv4_ippool=[pool])
    rt.delete(ref.container_id, pod.path, pod=ref)  # the runtime cleans up the failed ADD
    ref2, pod2 = sc.pod("b", node)
    ips = {add_ip(rt, ref, pod), add_ip(rt, ref2, pod2)}
    assert len(ips) == 2
    assert len(sc.cluster.records(pool)) == 2


def test_sigkill_after_the_pool_write_is_recovered_by_uid(sc: Scenario) -> None:
    k = killed_add(sc, "10.99.0.0", "after-pool-write")
    pool, node, ref, _pod, killer = k.pool, k.node, k.ref, k.pod, k.killer
    assert [r["podUid"] for r in sc.cluster.records(pool).values()] == [ref.uid]
    assert sc.cluster.endpoint(sc.ns, "a") is None
    rt = node.runtime(default_ipv4_ippool=[pool])
    # a new sandbox retried before any DEL reaches us reuses the record by UID
    retry = dataclasses.replace(ref, container_id="c-a-retry")
    assert add_ip(rt, retry, sc.underlay.add_pod(f"{sc.ns[-4:]}a2")) == "10.99.0.10/24"
    assert list(sc.cluster.records(pool)) == ["10.99.0.10"]
    # and a pod whose endpoint never got written is released by UID once it is gone
    ref2, pod2 = sc.pod("b", node)
    with pytest.raises((cni.CniFailure, RuntimeError)):
        killer.add(ref2.container_id, pod2.path, pod=ref2)
    sc.cluster.delete_pod(sc.ns, "b")
    rt.delete(ref2.container_id, pod2.path, pod=ref2)
    assert [r["pod"] for r in sc.cluster.records(pool).values()] == [f"{sc.ns}/a"]


def test_del_after_an_add_that_failed_later_in_the_chain_releases_the_ip_into_cool_down(
    sc: Scenario,
) -> None:
    """No prevResult on DEL means the runtime never recorded a successful ADD: the IP goes
    back, but cooling (I5), so the retry rotates to another address and nobody else gets
    this one at once (an address conflict would otherwise fail every pod that draws it)."""
    pool = sc.name("p")
    sc.cluster.pool(pool, "10.98.0.0/24", ["10.98.0.10-10.98.0.20"])
    node = sc.node()
    conflist = macvlan_conflist(node.config, default_ipv4_ippool=[pool])
    conflist["plugins"].append(
        {"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.no_such_knob": "1"}}
    )
    rt = cni.Runtime(conflist, node=node.netns, extra_env=node.config.env)
    ref, pod = sc.pod("a", node)
    with pytest.raises(cni.CniFailure):
        rt.add(ref.container_id, pod.path, pod=ref)
    assert list(sc.cluster.records(pool)) == ["10.98.0.10"]  # IPAM succeeded, tuning failed
    rt.delete(ref.container_id, pod.path, pod=ref)
    assert sc.cluster.holders(pool) == {}
    assert sc.cluster.records(pool)["10.98.0.10"]["strikes"] == 1
    assert sc.cluster.endpoint(sc.ns, "a") is None
    retry = node.runtime(default_ipv4_ippool=[pool])
    assert add_ip(retry, dataclasses.replace(ref, container_id="c-a-2"), pod) == "10.98.0.11/24"


def test_del_after_an_add_the_ipam_never_answered_frees_the_ip_at_once(sc: Scenario) -> None:
    """Killed after its pool and endpoint writes, before its answer: the address reached no
    interface, so nothing implicates it; cooling it would keep a pod of an IPs = pods pool
    from starting (seen in the dual-stack rebuild of docs/benchmark.md)."""
    k = killed_add(sc, "10.94.0.0", "after-endpoint-write")
    pool, node, ref, pod = k.pool, k.node, k.ref, k.pod
    assert [r["podUid"] for r in sc.cluster.records(pool).values()] == [ref.uid]
    rt = node.runtime(default_ipv4_ippool=[pool])
    rt.delete(ref.container_id, pod.path, pod=ref)  # the runtime's DEL of the failed sandbox
    assert sc.cluster.records(pool) == {}  # no cooling record
    assert sc.cluster.endpoint(sc.ns, "a") is None
    ref2, pod2 = sc.pod("b", node)
    assert add_ip(rt, ref2, pod2) == "10.94.0.10/24"


def _exec_ipam(node: SimNode, command: str, **extra: object) -> cni.ExecResult:
    conf = {
        "cniVersion": "1.1.0",
        "name": "macvlan-ens1",
        "type": "macvlan",
        "ipam": node.config.ipam(**extra.pop("ipam", {})),
        **extra,
    }
    return cni.exec_plugin(
        paths.BUNDLE_BIN / "spiderpool", command, conf, env=node.config.env, node=node.netns
    )


def test_gc_verb_releases_only_this_nodes_stale_attachments(sc: Scenario) -> None:
    pool = sc.name("p")
    sc.cluster.pool(pool, "10.100.0.0/24", ["10.100.0.10-10.100.0.20"])
    n0, n1 = sc.node(0), sc.node(1)
    refs = {}
    for name, node in (("keep", n0), ("stale", n0), ("other", n1)):
        ref, pod = sc.pod(name, node)
        add_ip(node.runtime(default_ipv4_ippool=[pool]), ref, pod)
        refs[name] = ref
    valid = [{"containerID": refs["keep"].container_id, "ifname": "eth0"}]
    res = _exec_ipam(n0, "GC", **{"cni.dev/valid-attachments": valid})
    assert res.returncode == 0, res.stdout
    assert res.stdout == ""
    owners = sorted(r["pod"].split("/")[1] for r in sc.cluster.records(pool).values())
    assert owners == ["keep", "other"]
    assert sc.cluster.endpoint(sc.ns, "stale") is None


def test_status_is_ready_with_free_addresses_and_50_when_full(sc: Scenario) -> None:
    pool = sc.name("p")
    sc.cluster.pool(pool, "10.101.0.0/24", ["10.101.0.10"])
    node = sc.node()
    assert _exec_ipam(node, "STATUS", ipam={"default_ipv4_ippool": [pool]}).returncode == 0
    ref, pod = sc.pod("a", node)
    add_ip(node.runtime(default_ipv4_ippool=[pool]), ref, pod)
    res = _exec_ipam(node, "STATUS", ipam={"default_ipv4_ippool": [pool]})
    assert (res.returncode, res.json()["code"]) == (1, 50)
