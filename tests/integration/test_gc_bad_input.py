"""The GC on bad input: each problem reported with the object named, the rest processed, exit 1.

| input                              | expected                                                   |
|------------------------------------|------------------------------------------------------------|
| the apiserver unreachable          | exit 1 within seconds, the server named, nothing released  |
| a pool whose status.allocatedIPs   | that pool named and left as it was; a zombie elsewhere     |
| is not JSON                        | released                                                   |
| a record without podUid            | pool and address named, the record kept; the next zombie   |
|                                    | released                                                   |
| RBAC: no update on                 | the pool named; the zombie's endpoint gone, its record     |
| spiderippools/status               | kept (I1 order)                                            |
| RBAC: no list on nodes             | LIST nodes named; a terminating pod kept (node-unknown), a |
|                                    | gone pod's record released                                 |
| RBAC: no access to the GC's        | the ConfigMap named; nothing confirmed, nothing released   |
| ConfigMap, min-age 120             |                                                            |
| the installer's spidernet-gc       | no error: its first sighting remembered, released next     |
| roles, a default pass              | pass                                                       |
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration import accounts
from tests.integration.gc_scenarios import GcEnv, gc_cluster  # noqa: F401 (a fixture)
from tools.testbed.cluster import Cluster
from tools.testbed.controlplane import free_port

pytestmark = [pytest.mark.apiserver]
SP = "spiderpool.spidernet.io"
# What a GC pass does (docs/gc.md, "RBAC"), rule by rule, so a test can take one away.
GC_RULES = [
    {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["list"]},
    {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": ["list"]},
    {"apiGroups": [SP], "resources": ["spiderippools", "spiderendpoints"], "verbs": ["list"]},
    {"apiGroups": [SP], "resources": ["spiderippools"], "verbs": ["get"]},
    {"apiGroups": [SP], "resources": ["spiderippools/status"], "verbs": ["update"]},
    {"apiGroups": [SP], "resources": ["spiderendpoints"], "verbs": ["delete"]},
    {"apiGroups": [SP], "resources": ["spiderreservedips"], "verbs": ["list"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "create", "update"]},
    {"apiGroups": [SP], "resources": ["spidermultusconfigs"], "verbs": ["list", "get"]},
    {
        "apiGroups": ["k8s.cni.cncf.io"],
        "resources": ["network-attachment-definitions"],
        "verbs": ["list", "get", "create", "update", "delete"],
    },
    {"apiGroups": [SP], "resources": ["spiderippools"], "verbs": ["update"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "create", "update"]},
    {
        "apiGroups": ["admissionregistration.k8s.io"],
        "resources": ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"],
        "verbs": ["get", "update"],
    },
]


@pytest.fixture
def env(gc_cluster: Cluster, tmp_path: Path, bundle_bin: Path) -> GcEnv:  # noqa: F811
    return GcEnv(gc_cluster, tmp_path)


def kubeconfig(env: GcEnv, token: str, server: str = "") -> str:
    cfg = json.loads(env.cp.kubeconfig.read_text())
    cfg["users"][0]["user"] = {"token": token}
    if server:
        cfg["clusters"][0]["cluster"]["server"] = server
    path = env.base / f"kubeconfig-{time.monotonic_ns()}"
    path.write_text(json.dumps(cfg))
    return str(path)


def account_without(env: GcEnv, resource: str, verb: str) -> str:
    """A kubeconfig whose token's ClusterRole is the GC's minus one verb on one resource."""
    rules: list[dict[str, Any]] = []
    for rule in GC_RULES:
        if resource in rule["resources"]:
            rest = [r for r in rule["resources"] if r != resource]
            if rest:
                rules.append({**rule, "resources": rest})
            verbs = [v for v in rule["verbs"] if v != verb]
            if verbs:
                rules.append({**rule, "resources": [resource], "verbs": verbs})
        else:
            rules.append(rule)
    name = env.name(f"no-{verb}-{resource.replace('/', '-')}")
    objs = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": env.ns},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": env.ns}],
        },
    ]
    paths = [
        f"/api/v1/namespaces/{env.ns}/serviceaccounts",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    ]
    for path, obj in zip(paths, objs):
        status, reply = env.cp.request("POST", path, obj)
        assert status == 201, reply
    return kubeconfig(env, accounts.token(env.cp, env.ns, name))


def zombie(env: GcEnv, pool: str, name: str) -> str:
    """A pod that had an address and was deleted without its DEL: its record and endpoint remain."""
    node = env.name("n1")
    ref, ip = env.running_pod(name, node)
    env.delete_pod(ref)
    return ip


def setup_pool(env: GcEnv, subnet: str = "10.250.0") -> str:
    pool = env.name("pool")
    env.cluster.pool(pool, f"{subnet}.0/24", [f"{subnet}.10-{subnet}.40"])
    env.node("n1", pool=pool)
    return pool


def test_an_unreachable_apiserver_is_named_and_the_pass_exits_non_zero_quickly(env: GcEnv) -> None:
    dead = kubeconfig(env, env.cp.token, server=f"https://127.0.0.1:{free_port()}")
    started = time.monotonic()
    result = env.gc("--retry-for", "1", kubeconfig=dead)
    assert result.rc == 1 and time.monotonic() - started < 15
    errors = result.report["errors"]  # the zombie pass's, then the SpiderMultusConfig pass's
    assert errors[0]["object"].startswith("LIST ")
    assert errors and all("127.0.0.1" in e["message"] for e in errors)
    assert result.report["released"] == [] and "gc: error:" in result.err


def test_a_pool_with_a_malformed_status_is_named_and_left_while_the_rest_is_collected(
    env: GcEnv,
) -> None:
    pool = setup_pool(env)
    bad = env.name("bad")
    env.cluster.pool(bad, "10.251.0.0/24", ["10.251.0.10"])
    obj = env.cluster.get_pool(bad)
    obj["status"] = {
        "allocatedIPs": '{"10.251.0.10": {"pod": "x/y", "podUid": ',
        "allocatedIPCount": 1,
    }
    assert env.cp.request("PUT", f"/apis/{SP}/v2beta1/spiderippools/{bad}/status", obj)[0] == 200
    ip = zombie(env, pool, "z")
    result = env.gc()
    assert result.rc == 1
    assert [e["object"] for e in result.errors_about(bad)] == [f"SpiderIPPool/{bad}"]
    assert env.cluster.get_pool(bad)["status"]["allocatedIPs"] == obj["status"]["allocatedIPs"]
    assert result.about(pool, ip) == {"released": ["pod-gone"]}
    env.cluster.delete_pool(bad)  # the later tests' passes would report it too


def test_a_record_without_pod_uid_is_named_and_kept_while_the_next_zombie_goes(env: GcEnv) -> None:
    pool = setup_pool(env)
    ip = zombie(env, pool, "z")
    records = env.cluster.records(pool)
    env.write_records(pool, {**records, "10.250.0.39": {"pod": f"{env.ns}/nobody"}})
    result = env.gc()
    assert result.rc == 1
    [error] = result.errors_about(pool)
    assert (error["object"], error["ip"]) == (
        f"SpiderIPPool/{pool}",
        "10.250.0.39",
    ) and "podUid" in error["message"]
    assert "10.250.0.39" in env.cluster.records(pool)
    assert result.about(pool, ip) == {"released": ["pod-gone"]}
    env.cluster.delete_pool(pool)  # the later tests' passes would report it too


def test_without_update_on_pool_status_the_pool_is_named_and_its_record_stays(env: GcEnv) -> None:
    pool = setup_pool(env)
    ip = zombie(env, pool, "z")
    result = env.gc(kubeconfig=account_without(env, "spiderippools/status", "update"))
    assert result.rc == 1
    [error] = result.errors_about(f"SpiderIPPool/{pool}")
    assert "403" in error["message"] and result.report["released"] == []
    assert result.endpoint(f"{env.ns}/z") == {
        "endpointsDeleted": ["pod-gone"]
    }  # the endpoint first (I1)...
    assert ip in env.holders(
        pool
    )  # ...the record only by a write RBAC refused: it stays for the next pass
    assert env.gc().about(pool, ip) == {"released": ["pod-gone-no-endpoint"]}


def test_without_list_on_nodes_no_verdict_needs_a_node_and_the_others_are_taken(env: GcEnv) -> None:
    pool = setup_pool(env)
    gone = zombie(env, pool, "gone")
    ref, held = env.running_pod("dying", env.name("n1"), hold=True)
    env.delete_pod(ref)  # Terminating past its deadline: releasable, if its node could be read
    result = env.gc(kubeconfig=account_without(env, "nodes", "list"))
    assert result.rc == 1 and [e["object"] for e in result.errors_about("nodes")] == [
        "LIST /api/v1/nodes"
    ]
    assert result.about(pool, gone) == {"released": ["pod-gone"]}
    assert result.about(pool, held) == {"kept": ["node-unknown"]} and held in env.holders(pool)
    env.release_hold(ref)


def test_without_the_configmap_no_zombie_is_confirmed_and_none_released(env: GcEnv) -> None:
    pool = setup_pool(env)
    ip = zombie(env, pool, "z")
    result = env.gc("--min-age", "120", kubeconfig=account_without(env, "configmaps", "get"))
    assert result.rc == 1 and [e["object"] for e in result.errors_about("ConfigMap")] == [
        f"ConfigMap/{env.ns}/spidernet-gc-state"
    ]
    assert result.about(pool, ip) == {"kept": ["min-age"]} and ip in env.holders(pool)


def test_the_installers_gc_role_runs_a_default_pass_without_errors(env: GcEnv) -> None:
    accounts.apply_rbac(env.cp)
    pool = setup_pool(env)
    ip = zombie(env, pool, "z")
    token = accounts.token(env.cp, "kube-system", "spidernet-gc")
    config = kubeconfig(env, token)
    first = env.gc("--min-age", "1", "--state-namespace", "kube-system", kubeconfig=config)
    assert first.rc == 0, first.report["errors"]
    assert first.about(pool, ip) == {"kept": ["min-age"]}
    time.sleep(2.1)  # past min-age and the allocation budget (2 s here) since the first sighting
    second = env.gc("--min-age", "1", "--state-namespace", "kube-system", kubeconfig=config)
    assert second.rc == 0, second.report["errors"]
    assert second.about(pool, ip) == {"released": ["pod-gone"]}
