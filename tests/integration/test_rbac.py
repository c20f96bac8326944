"""The ClusterRoles of installer/manifests/rbac.yaml are sufficient and minimal, proven on a
real API server that audits every request of the accounts under test.

The IPAM plugin runs frozen and the GC as its CronJob runs it (gc/main.py), each with a
kubeconfig the installer rendered from a real ServiceAccount token (TokenRequest) of
its account; the CLI runs as a person bound to its role would run it.

| account        | case                             | expected                                     |
|----------------|----------------------------------|----------------------------------------------|
| spidernet-node | ADD, re-ADD (new sandbox),       | every call succeeds                          |
| (IPAM)         | CHECK, STATUS, GC, DEL, over     |                                              |
|                | pools with node and namespace    |                                              |
|                | rules; a StatefulSet pod's DEL   |                                              |
|                | once its set is scaled to 0      |                                              |
| spidernet-node | the audited requests of that run | exactly the rules of spidernet-ipam, each    |
| (IPAM)         |                                  | one used                                     |
| spidernet-node | requests outside the role (list  | 403                                          |
| (IPAM)         | pods, delete a pool, create a    |                                              |
|                | reserved IP, watch)              |                                              |
| spidernet-gc's | ADD                              | fails naming the refusal; nothing allocated  |
| token in the   |                                  |                                              |
| IPAM           |                                  |                                              |
| spidernet-gc   | two passes over a zombie         | both succeed, the zombie's record and        |
| (GC)           | (sighted and remembered, then    | endpoint gone, one NAD updated, one deleted, |
|                | released), two                   | the pool's finalizer added, the webhook's    |
|                | SpiderMultusConfigs (one changed,| Secret made then renewed, its caBundles set  |
|                | one deleted between the passes), |                                              |
|                | the webhook's configurations and |                                              |
|                | TLS Secret (damaged in between)  |                                              |
| spidernet-gc   | the audited requests of those    | exactly the rules of spidernet-gc and        |
| (GC)           | passes                           | spidernet-gc-state, but the pool GET a pass  |
|                |                                  | needs only to retry a lost compare-and-swap  |
| spidernet-gc   | requests outside its roles (get  | 403                                          |
| (GC)           | or delete a pod, watch, another  |                                              |
|                | ConfigMap, reserved IPs)         |                                              |
| spidernet-cli  | pools, ip show, ip list, ip      | every command succeeds                       |
| (bound to a    | release (a StatefulSet's and a   |                                              |
| test account)  | dual-stack pod's addresses),     |                                              |
|                | multus apply twice               |                                              |
| spidernet-cli  | the audited requests of those    | exactly the rules of spidernet-cli, each one |
|                | commands                         | used                                         |
| spidernet-cli  | writes outside its role (a       | 403                                          |
|                | pool's spec, a pod, a NAD's      |                                              |
|                | delete, secrets)                 |                                              |
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from installer import credentials
from installer.settings import Settings
from spidernet.smc import reconciling
from tests.integration import accounts, gc_process
from tests.integration.accounts import AuditedControlPlane
from tests.integration.gc_scenarios import quick_budget
from tests.integration.ipam_calls import Plugin
from tools.testbed import crds, manifests, paths
from tools.testbed.cluster import GROUP, Cluster
from tools.testbed.cni import PodRef

NS = "kube-system"
IPAM_USER = accounts.username(NS, "spidernet-node")
GC_USER = accounts.username(NS, "spidernet-gc")
CLI_USER = accounts.username(NS, "spidernet-cli-test")
SP = "spiderpool.spidernet.io"


@pytest.fixture(scope="module")
def audited() -> Iterator[Cluster]:
    with AuditedControlPlane(audited_users=(IPAM_USER, GC_USER, CLI_USER)) as cp:
        crds.install(cp)
        accounts.apply_rbac(cp)
        yield Cluster(cp)


def role_rules(name: str, kind: str = "ClusterRole") -> set[tuple[str, str, str]]:
    """(group, resource[/subresource], verb) for every rule of the role ``name``."""
    role = next(
        o
        for o in manifests.listed(manifests.MANIFESTS)
        if o["kind"] == kind and o["metadata"]["name"] == name
    )
    return {
        (g, r, v)
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }


def used(cp: AuditedControlPlane, user: str, since: int = 0) -> set[tuple[str, str, str]]:
    """What ``user`` was let do: its audited requests from event ``since`` on, but the refused
    (403)."""
    found = set()
    for event in cp.requests_by(user)[since:]:
        if event.get("responseStatus", {}).get("code") == 403:
            continue
        if not event.get("objectRef"):  # discovery (/apis...): every account may, no role needed
            continue
        ref = event.get("objectRef") or {}
        resource = ref.get("resource", "") + (
            f"/{ref['subresource']}" if ref.get("subresource") else ""
        )
        found.add((ref.get("apiGroup", ""), resource, event["verb"]))
    return found


def plugin_for(cluster: Cluster, tmp_path: Path, bundle_bin: Path, account: str) -> Plugin:
    """The frozen IPAM with credentials the installer rendered from ``account``'s token."""
    sa = accounts.ProjectedDir(tmp_path / "sa")
    sa.write(accounts.token(cluster.cp, NS, account), cluster.cp.ca_file.read_bytes())
    s = Settings(
        cni_conf_dir=str(tmp_path / "net.d"),
        token_file=str(sa.token_file),
        ca_file=str(sa.ca_file),
        api_server=cluster.cp.server,
        node_name="node-a",
        identity="test",
    )
    credentials.Renewer(s).sync()
    return Plugin(
        bundle_bin / "spiderpool",
        tmp_path / "net.d" / "spiderpool.d" / "spiderpool.kubeconfig",
        tmp_path,
    )


def raw(cluster: Cluster, bearer: str, method: str, path: str, body: Any = None) -> int:
    """Status of one request made with ``bearer`` instead of the admin token."""
    admin = cluster.cp.token
    cluster.cp.token = bearer
    try:
        return cluster.cp.request(method, path, body)[0]
    finally:
        cluster.cp.token = admin


def scenario(cluster: Cluster, plugin: Plugin) -> None:
    """Every IPAM verb, over a pool chosen by a namespace annotation and kept to nodes by label."""
    ns = f"r{secrets.token_hex(3)}"
    cluster.node("node-a", labels={"rack": "a"})
    pool_ns = f"{ns}-by-ns"
    cluster.namespace(ns, annotations={"ipam.spidernet.io/default-ipv4-ippool": f'["{pool_ns}"]'})
    cluster.pool(
        pool_ns,
        "10.210.0.0/24",
        ["10.210.0.10-10.210.0.20"],
        nodeAffinity={"matchLabels": {"rack": "a"}},
    )
    pod = cluster.pod(ns, "p", "node-a")
    ref = PodRef(ns, "p", uid=pod["metadata"]["uid"], container_id="c-1")
    add = plugin.call("ADD", ref)
    assert add.returncode == 0, add.stdout + add.stderr
    readd = plugin.call(
        "ADD", PodRef(ns, "p", uid=ref.uid, container_id="c-2")
    )  # the sandbox was re-created
    assert readd.returncode == 0, readd.stdout
    again = PodRef(ns, "p", uid=ref.uid, container_id="c-2")
    assert plugin.call("CHECK", again, prev=readd.json()).returncode == 0
    assert (
        plugin.call("STATUS", None, version="1.1.0", default_ipv4_ippool=[pool_ns]).returncode == 0
    )
    valid = [{"containerID": "c-2", "ifname": "eth0"}]
    assert (
        plugin.call(
            "GC", None, version="1.1.0", extra={"cni.dev/valid-attachments": valid}
        ).returncode
        == 0
    )
    cluster.delete_pod(ns, "p")  # else DEL keeps the address for the pod's next sandbox
    delete = plugin.call("DEL", again, prev=readd.json())
    assert delete.returncode == 0, delete.stdout
    stateful_pod_deleted(cluster, plugin, ns)
    assert cluster.records(pool_ns) == {} and cluster.endpoint(ns, "p") is None


def stateful_pod_deleted(cluster: Cluster, plugin: Plugin, ns: str) -> None:
    """A StatefulSet pod's DEL after its pod is gone reads the StatefulSet (a place for
    its ordinal keeps the address); scaled to 0, it has none: the address goes."""
    sts = cluster.statefulset(ns, "db", replicas=1)
    pod = cluster.pod(ns, "db-0", "node-a", owner=sts)
    ref = PodRef(ns, "db-0", uid=pod["metadata"]["uid"], container_id="s-1")
    add = plugin.call("ADD", ref)
    assert add.returncode == 0, add.stdout + add.stderr
    cluster.scale(ns, "db", 0)
    cluster.delete_pod(ns, "db-0")
    delete = plugin.call("DEL", ref, prev=add.json())
    assert delete.returncode == 0, delete.stdout
    assert cluster.endpoint(ns, "db-0") is None


def test_the_ipam_plugin_needs_every_rule_of_its_role_and_nothing_more(
    audited: Cluster, tmp_path: Path, bundle_bin: Path
) -> None:
    assert isinstance(audited.cp, AuditedControlPlane)
    since = len(audited.cp.requests_by(IPAM_USER))
    scenario(audited, plugin_for(audited, tmp_path, bundle_bin, "spidernet-node"))
    assert used(audited.cp, IPAM_USER, since) == role_rules("spidernet-ipam")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/pods"),
        ("GET", "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1"),
        ("DELETE", f"{GROUP}/spiderippools/any"),
        ("POST", f"{GROUP}/spiderreservedips"),
        ("GET", "/api/v1/namespaces/kube-system/secrets"),
    ],
)
def test_a_request_outside_the_ipam_role_is_refused(
    audited: Cluster, method: str, path: str
) -> None:
    bearer = accounts.token(audited.cp, NS, "spidernet-node")
    body = (
        {
            "apiVersion": f"{SP}/v2beta1",
            "kind": "SpiderReservedIP",
            "metadata": {"name": "x"},
            "spec": {"ipVersion": 4, "ips": ["10.0.0.1"]},
        }
        if method == "POST"
        else None
    )
    assert raw(audited, bearer, method, path, body) == 403


@pytest.mark.answers_999("the API server refusing the node's account is 999 naming the remedy")
def test_the_ipam_with_another_components_token_fails_naming_the_refusal(
    audited: Cluster, tmp_path: Path, bundle_bin: Path
) -> None:
    plugin = plugin_for(audited, tmp_path, bundle_bin, "spidernet-gc")
    ns = f"r{secrets.token_hex(3)}"
    audited.namespace(ns)
    audited.node("node-a")
    audited.pool(f"{ns}-p", "10.212.0.0/24", ["10.212.0.10"])
    pod = audited.pod(ns, "p", "node-a")
    res = plugin.call(
        "ADD",
        PodRef(ns, "p", uid=pod["metadata"]["uid"], container_id="c-1"),
        default_ipv4_ippool=[f"{ns}-p"],
    )
    assert res.returncode != 0
    assert "403" in res.stdout or "forbidden" in res.stdout.lower(), res.stdout
    assert audited.records(f"{ns}-p") == {}


def _allowed(audited: Cluster, bearer: str, method: str, path: str, body: Any = None) -> bool:
    """Authorised: anything but 403 (a 404 or 409 means RBAC let the request through)."""
    return raw(audited, bearer, method, path, body) != 403


def gc_pass(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """One pass of the real GC (the CronJob's command), with ``kubeconfig``."""
    return gc_process.run(
        kubeconfig,
        "--state-namespace",
        NS,
        "--ipam-config",
        quick_budget(Path(tempfile.mkdtemp())),
        *args,
    )


def multus_config(ns: str, name: str, vlan: int = 100) -> dict[str, Any]:
    return {
        "apiVersion": f"{SP}/v2beta1",
        "kind": "SpiderMultusConfig",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"cniType": "macvlan", "macvlan": {"master": ["ens1"], "vlanID": vlan}},
    }


def inert_webhooks(cp: Any) -> None:
    """webhook.yaml's two configurations, their webhooks matching no resource at all."""
    for obj in yaml.safe_load_all((manifests.MANIFESTS / "webhook.yaml").read_text()):
        if not obj.get("kind", "").endswith("WebhookConfiguration"):
            continue
        for hook in obj["webhooks"]:
            hook["rules"] = [{**hook["rules"][0], "apiGroups": ["nothing.invalid"]}]
            hook["clientConfig"] = {"url": "https://127.0.0.1:1/none"}
            hook["failurePolicy"] = "Ignore"
        assert manifests.apply(cp, obj, dry_run=False)[0] in (200, 201)


def damage_webhook_tls(cp: Any) -> None:
    path = "/api/v1/namespaces/kube-system/secrets/spidernet-webhook-tls"
    secret = cp.request("GET", path)[1]
    secret["data"].pop("tls.crt")
    assert cp.request("PUT", path, secret)[0] == 200


def changed(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    obj = cluster.cp.request("GET", reconciling.smc_path(ns, name))[1]
    obj["spec"]["macvlan"]["vlanID"] = 200
    return dict(obj)


# Rules a pass uses only when it has to retry: the pool is read again when a compare-
# and-swap loses (a node wrote it meanwhile) or the lock was busy.
GC_RETRY_ONLY = {(SP, "spiderippools", "get")}


def test_the_gc_needs_every_rule_of_its_roles_and_nothing_more(
    audited: Cluster, tmp_path: Path, bundle_bin: Path
) -> None:
    ipam = plugin_for(audited, tmp_path / "ipam", bundle_bin, "spidernet-node")
    gc = plugin_for(audited, tmp_path / "gc", bundle_bin, "spidernet-gc")
    ns = f"g{secrets.token_hex(3)}"
    audited.namespace(ns)
    audited.node("node-a")
    pool = audited.pool(f"{ns}-p", "10.217.0.0/24", ["10.217.0.10-10.217.0.20"])["metadata"]["name"]
    pod = audited.pod(ns, "zombie", "node-a")
    added = ipam.call(
        "ADD",
        PodRef(ns, "zombie", uid=pod["metadata"]["uid"], container_id="c-z"),
        default_ipv4_ippool=[pool],
    )
    assert added.returncode == 0, added.stdout
    audited.delete_pod(ns, "zombie")  # its record and endpoint stay: a zombie
    crds.install_multus(audited.cp)
    for name in ("kept", "dropped"):  # the pass writes their NADs
        assert (
            audited.cp.request("POST", reconciling.smc_path(ns), multus_config(ns, name))[0] == 201
        )
    inert_webhooks(audited.cp)  # the pass keeps their caBundle and backfills pool finalizers
    assert isinstance(audited.cp, AuditedControlPlane)
    since = len(audited.cp.requests_by(GC_USER))
    first = gc_pass(gc.kubeconfig, "--min-age", "1")  # sighted, remembered in the ConfigMap
    assert first.returncode == 0, first.stdout + first.stderr
    assert json.loads(first.stdout)["finalizers"] == [{"pool": pool, "action": "add"}]
    audited.cp.request("PUT", reconciling.smc_path(ns, "kept"), changed(audited, ns, "kept"))
    audited.cp.request("DELETE", reconciling.smc_path(ns, "dropped"))
    damage_webhook_tls(audited.cp)  # the second pass renews it
    time.sleep(2.5)  # past min-age and the allocation budget (2 s here)
    second = gc_pass(gc.kubeconfig, "--min-age", "1")  # confirmed: released
    assert second.returncode == 0, second.stdout + second.stderr
    assert audited.records(pool) == {} and audited.endpoint(ns, "zombie") is None
    actions = [
        (n["networkAttachmentDefinition"], n["action"])
        for n in json.loads(second.stdout)["networks"]
    ]
    assert actions == [(f"{ns}/kept", "updated"), (f"{ns}/dropped", "deleted")]
    granted = role_rules("spidernet-gc") | role_rules("spidernet-gc-state", kind="Role")
    assert used(audited.cp, GC_USER, since) == granted - GC_RETRY_ONLY


def test_a_request_outside_the_gc_roles_is_refused(audited: Cluster) -> None:
    bearer = accounts.token(audited.cp, NS, "spidernet-gc")
    refused = [
        ("GET", "/api/v1/namespaces/default/pods/x"),
        ("DELETE", "/api/v1/namespaces/default/pods/x"),
        ("DELETE", f"{GROUP}/spiderippools/x"),
        ("GET", "/api/v1/pods?watch=true"),
        ("GET", "/api/v1/secrets"),
        ("GET", f"/api/v1/namespaces/{NS}/configmaps/other"),
        ("POST", f"{GROUP}/spiderreservedips"),
    ]
    assert [r for r in refused if _allowed(audited, bearer, *r)] == []


def cli_account(audited: Cluster, tmp_path: Path) -> Path:
    """A kubeconfig with a token of an account bound to spidernet-cli, as a person would get."""
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "spidernet-cli-test"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "spidernet-cli",
        },
        "subjects": [{"kind": "ServiceAccount", "name": "spidernet-cli-test", "namespace": NS}],
    }
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "spidernet-cli-test", "namespace": NS},
    }
    for obj in (account, binding):
        assert manifests.apply(audited.cp, obj, dry_run=False)[0] in (200, 201)
    cfg = json.loads(audited.cp.kubeconfig.read_text())
    cfg["users"][0]["user"]["token"] = accounts.token(audited.cp, NS, "spidernet-cli-test")
    path = tmp_path / "cli.kubeconfig"
    path.write_text(json.dumps(cfg))
    return path


def cli(kubeconfig: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spidernet.cli", "--kubeconfig", str(kubeconfig), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=paths.REPO,
        env={**os.environ, "PYTHONPATH": str(paths.REPO)},
    )


def test_the_cli_needs_every_rule_of_its_role_and_nothing_more(
    audited: Cluster, tmp_path: Path, bundle_bin: Path
) -> None:
    """Every command that talks to the cluster, as a person bound to spidernet-cli runs it."""
    kubeconfig = cli_account(audited, tmp_path)
    ipam = plugin_for(audited, tmp_path / "ipam", bundle_bin, "spidernet-node")
    crds.install_multus(audited.cp)
    ns = f"l{secrets.token_hex(3)}"
    audited.namespace(ns)
    audited.node("node-a")
    v4 = audited.pool(f"{ns}-v4", "10.218.0.0/24", ["10.218.0.10-10.218.0.20"])["metadata"]["name"]
    v6 = audited.pool(f"{ns}-v6", "fd00:218::/64", ["fd00:218::10-fd00:218::11"])["metadata"][
        "name"
    ]
    sts = audited.statefulset(ns, "db", replicas=1)
    ips = {}
    for name, owner in (("db-0", sts), ("dual", None)):
        pod = audited.pod(ns, name, "node-a", owner=owner)
        ref = PodRef(ns, name, uid=pod["metadata"]["uid"], container_id=f"c-{name}")
        added = ipam.call("ADD", ref, default_ipv4_ippool=[v4], default_ipv6_ippool=[v6])
        assert added.returncode == 0, added.stdout
        ips[name] = [str(ip["address"]).split("/")[0] for ip in added.json()["ips"]]
        audited.delete_pod(ns, name)
    smc = tmp_path / "smc.yaml"
    assert isinstance(audited.cp, AuditedControlPlane)
    since = len(audited.cp.requests_by(CLI_USER))
    runs = [
        cli(kubeconfig, "pools"),
        cli(kubeconfig, "ip", "show", ips["dual"][0]),
        cli(kubeconfig, "ip", "list", "--pool", v4),
        cli(kubeconfig, "ip", "list"),
        cli(kubeconfig, "ip", "release", ips["db-0"][0], "--force"),  # the StatefulSet read
        cli(kubeconfig, "ip", "release", ips["db-0"][1], "--force"),  # its last: endpoint deleted
        cli(kubeconfig, "ip", "release", ips["dual"][0]),  # the endpoint keeps the other: updated
    ]
    for vlan in (100, 200):  # the CR and its NAD created, then both updated
        smc.write_text(json.dumps(multus_config(ns, "net", vlan)))
        runs.append(cli(kubeconfig, "multus", "apply", str(smc)))
    assert [(r.returncode, r.stderr) for r in runs if r.returncode] == []
    assert used(audited.cp, CLI_USER, since) == role_rules("spidernet-cli")


def test_a_request_outside_the_cli_role_is_refused(audited: Cluster, tmp_path: Path) -> None:
    cli_account(audited, tmp_path)
    bearer = accounts.token(audited.cp, NS, "spidernet-cli-test")
    pool = audited.pool(f"cli{secrets.token_hex(3)}", "10.214.0.0/24", ["10.214.0.10"])
    name = pool["metadata"]["name"]
    refused = [
        ("PUT", f"{GROUP}/spiderippools/{name}", pool),
        ("DELETE", f"{GROUP}/spiderippools/{name}"),
        ("DELETE", "/api/v1/namespaces/default/pods/x"),
        ("GET", "/api/v1/namespaces/kube-system/secrets"),
        ("DELETE", reconciling.nad_path("default", "x")),
    ]
    assert [r[:2] for r in refused if _allowed(audited, bearer, *r)] == []
