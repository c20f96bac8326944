"""The ClusterRoles of installer/manifests/rbac.yaml are sufficient and minimal, proven on a
real API server that audits every request of the accounts under test.

The IPAM plugin runs frozen, with a kubeconfig the installer rendered from a real
ServiceAccount token (TokenRequest) of ``spidernet-node``. The GC and the CLI do not
exist yet (issues 13 and later): their roles are checked request by request.

| account | case | expected |
|---|---|---|
| spidernet-node (IPAM) | ADD, re-ADD (new sandbox), CHECK, STATUS, GC, DEL, over pools with node and namespace rules | every call succeeds |
| spidernet-node (IPAM) | the audited requests of that run | exactly the rules of spidernet-ipam, each one used |
| spidernet-node (IPAM) | requests outside the role (list pods, delete a pool, create a reserved IP, watch) | 403 |
| spidernet-gc's token in the IPAM | ADD | fails naming the refusal; nothing allocated |
| spidernet-gc | each request the GC will make | allowed; outside requests 403 |
| spidernet-cli (bound to a test account) | each request the CLI will make | allowed; writes other than the pool status 403 |
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from installer import credentials
from installer.settings import Settings
from tests.integration.ipam_calls import Plugin
from tools.testbed import accounts, crds, manifests
from tools.testbed.accounts import AuditedControlPlane
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


def role_rules(name: str) -> set[tuple[str, str, str]]:
    """(group, resource[/subresource], verb) for every rule of the ClusterRole ``name``."""
    role = next(o for o in manifests.listed(manifests.MANIFESTS) if o["kind"] == "ClusterRole" and o["metadata"]["name"] == name)
    return {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


def used(cp: AuditedControlPlane, user: str) -> set[tuple[str, str, str]]:
    found = set()
    for event in cp.requests_by(user):
        ref = event.get("objectRef") or {}
        resource = ref.get("resource", "") + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        found.add((ref.get("apiGroup", ""), resource, event["verb"]))
    return found


def plugin_for(cluster: Cluster, tmp_path: Path, bundle_bin: Path, account: str) -> Plugin:
    """The frozen IPAM with credentials the installer rendered from ``account``'s token."""
    sa = accounts.ProjectedDir(tmp_path / "sa")
    sa.write(accounts.token(cluster.cp, NS, account), cluster.cp.ca_file.read_bytes())
    s = Settings(cni_conf_dir=str(tmp_path / "net.d"), token_file=str(sa.token_file), ca_file=str(sa.ca_file),
                 api_server=cluster.cp.server, node_name="node-a", identity="test")  # fmt: skip
    credentials.Renewer(s).sync()
    return Plugin(bundle_bin / "spiderpool", tmp_path / "net.d" / "spiderpool.d" / "spiderpool.kubeconfig", tmp_path)


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
    cluster.pool(pool_ns, "10.210.0.0/24", ["10.210.0.10-10.210.0.20"],
                 nodeAffinity={"matchLabels": {"rack": "a"}})  # fmt: skip
    pod = cluster.pod(ns, "p", "node-a")
    ref = PodRef(ns, "p", uid=pod["metadata"]["uid"], container_id="c-1")
    add = plugin.call("ADD", ref)
    assert add.returncode == 0, add.stdout + add.stderr
    readd = plugin.call("ADD", PodRef(ns, "p", uid=ref.uid, container_id="c-2"))  # the sandbox was re-created
    assert readd.returncode == 0, readd.stdout
    again = PodRef(ns, "p", uid=ref.uid, container_id="c-2")
    assert plugin.call("CHECK", again, prev=readd.json()).returncode == 0
    assert plugin.call("STATUS", None, version="1.1.0", default_ipv4_ippool=[pool_ns]).returncode == 0
    valid = [{"containerID": "c-2", "ifname": "eth0"}]
    assert plugin.call("GC", None, version="1.1.0", extra={"cni.dev/valid-attachments": valid}).returncode == 0
    cluster.delete_pod(ns, "p")  # else DEL keeps the address for the pod's next sandbox
    delete = plugin.call("DEL", again, prev=readd.json())
    assert delete.returncode == 0, delete.stdout
    assert cluster.records(pool_ns) == {} and cluster.endpoint(ns, "p") is None


def test_the_ipam_plugin_needs_every_rule_of_its_role_and_nothing_more(audited: Cluster, tmp_path: Path, bundle_bin: Path) -> None:
    scenario(audited, plugin_for(audited, tmp_path, bundle_bin, "spidernet-node"))
    assert isinstance(audited.cp, AuditedControlPlane)
    assert used(audited.cp, IPAM_USER) == role_rules("spidernet-ipam")


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/pods"),
    ("GET", "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1"),
    ("DELETE", f"{GROUP}/spiderippools/any"),
    ("POST", f"{GROUP}/spiderreservedips"),
    ("GET", "/api/v1/namespaces/kube-system/secrets"),
])  # fmt: skip
def test_a_request_outside_the_ipam_role_is_refused(audited: Cluster, method: str, path: str) -> None:
    bearer = accounts.token(audited.cp, NS, "spidernet-node")
    body = {"apiVersion": f"{SP}/v2beta1", "kind": "SpiderReservedIP", "metadata": {"name": "x"},
            "spec": {"ipVersion": 4, "ips": ["10.0.0.1"]}} if method == "POST" else None  # fmt: skip
    assert raw(audited, bearer, method, path, body) == 403


def test_the_ipam_with_another_components_token_fails_naming_the_refusal(audited: Cluster, tmp_path: Path, bundle_bin: Path) -> None:
    plugin = plugin_for(audited, tmp_path, bundle_bin, "spidernet-gc")
    ns = f"r{secrets.token_hex(3)}"
    audited.namespace(ns)
    audited.node("node-a")
    audited.pool(f"{ns}-p", "10.212.0.0/24", ["10.212.0.10"])
    pod = audited.pod(ns, "p", "node-a")
    res = plugin.call("ADD", PodRef(ns, "p", uid=pod["metadata"]["uid"], container_id="c-1"), default_ipv4_ippool=[f"{ns}-p"])
    assert res.returncode != 0
    assert "403" in res.stdout or "forbidden" in res.stdout.lower(), res.stdout
    assert audited.records(f"{ns}-p") == {}


def _allowed(audited: Cluster, bearer: str, method: str, path: str, body: Any = None) -> bool:
    """Authorised: anything but 403 (a 404 or 409 means RBAC let the request through)."""
    return raw(audited, bearer, method, path, body) != 403


def test_the_gc_role_allows_each_request_the_gc_makes_and_no_other(audited: Cluster) -> None:
    bearer = accounts.token(audited.cp, NS, "spidernet-gc")
    pool = audited.pool(f"gc{secrets.token_hex(3)}", "10.213.0.0/24", ["10.213.0.10"])
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "gc-", "namespace": "default"},
             "involvedObject": {"kind": "SpiderIPPool", "name": pool["metadata"]["name"]}, "reason": "Released",
             "message": "test", "type": "Normal"}  # fmt: skip
    allowed = [("GET", "/api/v1/pods"), ("GET", "/api/v1/nodes"), ("GET", "/apis/apps/v1/statefulsets"),
               ("GET", f"{GROUP}/spiderippools"), ("GET", f"{GROUP}/spiderendpoints"), ("GET", f"{GROUP}/spiderreservedips"),
               ("PUT", f"{GROUP}/spiderippools/{pool['metadata']['name']}/status", pool),
               ("PUT", f"{GROUP}/namespaces/default/spiderendpoints/none", {"apiVersion": f"{SP}/v2beta1",
                "kind": "SpiderEndpoint", "metadata": {"name": "none", "namespace": "default"}}),
               ("DELETE", f"{GROUP}/namespaces/default/spiderendpoints/none"),
               ("POST", "/api/v1/namespaces/default/events", event)]  # fmt: skip
    assert [r[:2] for r in allowed if not _allowed(audited, bearer, *r)] == []
    refused = [("GET", "/api/v1/namespaces/default/pods/x"), ("DELETE", "/api/v1/namespaces/default/pods/x"),
               ("DELETE", f"{GROUP}/spiderippools/{pool['metadata']['name']}"), ("GET", "/api/v1/pods?watch=true"),
               ("GET", "/api/v1/secrets")]  # fmt: skip
    assert [r for r in refused if _allowed(audited, bearer, *r)] == []


def test_the_cli_role_reads_and_releases_but_writes_nothing_else(audited: Cluster) -> None:
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": "spidernet-cli-test"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "spidernet-cli"},
               "subjects": [{"kind": "ServiceAccount", "name": "spidernet-cli-test", "namespace": NS}]}  # fmt: skip
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "spidernet-cli-test", "namespace": NS}}
    for obj in (account, binding):
        assert manifests.apply(audited.cp, obj, dry_run=False)[0] in (200, 201)
    bearer = accounts.token(audited.cp, NS, "spidernet-cli-test")
    pool = audited.pool(f"cli{secrets.token_hex(3)}", "10.214.0.0/24", ["10.214.0.10"])
    name = pool["metadata"]["name"]
    allowed = [("GET", f"{GROUP}/spiderippools"), ("GET", f"{GROUP}/spiderippools/{name}"),
               ("GET", f"{GROUP}/spiderendpoints"), ("GET", f"{GROUP}/spiderreservedips"), ("GET", "/api/v1/pods"),
               ("GET", "/api/v1/namespaces/default/pods/x"), ("PUT", f"{GROUP}/spiderippools/{name}/status", pool)]  # fmt: skip
    assert [r[:2] for r in allowed if not _allowed(audited, bearer, *r)] == []
    refused = [("PUT", f"{GROUP}/spiderippools/{name}", pool), ("DELETE", f"{GROUP}/spiderippools/{name}"),
               ("DELETE", f"{GROUP}/namespaces/default/spiderendpoints/x"), ("DELETE", "/api/v1/namespaces/default/pods/x")]  # fmt: skip
    assert [r[:2] for r in refused if _allowed(audited, bearer, *r)] == []
