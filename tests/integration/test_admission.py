"""The pools' admission webhook on a real API server: rules, overlap at any concurrency, delete
protection, failure modes.

A control plane of its own (the webhook's failurePolicy Fail would refuse the shared one's
pools while no webhook runs). The webhook configurations are installer/manifests/
webhook.yaml's, pointed at the server by ``clientConfig.url`` (127.0.0.1); their caBundle
and the serving certificate come from the GC's TLS step (spidernet/guard/provisioning.py)
as a pass makes them, and the certificate is written where kubelet would mount it. The
server is installer/webhook.py's, the one the installer daemon runs (also checked: the
daemon itself serves it).

| case                                               | expected                                    |
|----------------------------------------------------|---------------------------------------------|
| 24 objects that pass the CRD schema but break a    | each refused by the webhook, its message    |
| rule (pools, reserved IPs, SpiderMultusConfigs,    | naming the field (and the other pool)       |
| overlaps, updates)                                 |                                             |
| valid objects of each kind                         | created; a pool gets the finalizer          |
| two overlapping pools, either order; an update     | the second refused naming the first         |
| into an overlap                                    |                                             |
| two overlapping pools POSTed at the same moment,   | never both admitted                         |
| randomized rounds                                  |                                             |
| a pool in use deleted                              | Terminating, gives no address; after its    |
|                                                    | last DEL and a GC pass it is gone           |
| an update taking an allocated address out (ips,    | refused naming the address and its pod      |
| excludeIPs), or changing the subnet               | or the field; growing the pool admitted     |
| the webhook down                                   | pool creates refused (Fail); the IPAM's     |
|                                                    | status writes go on                         |
| the webhook accepting and never answering          | refused once its timeoutSeconds is up       |
| a malformed AdmissionReview, non-JSON, a body too  | 400 / 413 with the reason; the server goes  |
| large                                              | on serving                                  |
| a server-side dry run                              | admitted, no claim left in the ledger       |
| the webhook with the installer account's token     | reviews as with the admin's; that account   |
| (rbac.yaml, the ledger ConfigMap of webhook.yaml)  | cannot create a ConfigMap; a ledger gone    |
|                                                    | is an error naming the remedy               |
| python -m installer with SPIDERNET_WEBHOOK_PORT    | serves /healthz and reviews                 |
"""

from __future__ import annotations

import base64
import json
import os
import random
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from installer import webhook
from spidernet.guard import ledger, provisioning, reviewing
from spidernet.k8s import errors as kerr
from spidernet.k8s import kubeconfig
from spidernet.k8s.client import Client, Deadline
from spidernet.types import record
from tests.integration import accounts, gc_process
from tests.integration.ipam_calls import Plugin
from tools.testbed import cni, crds, manifests, paths
from tools.testbed.cluster import GROUP, Cluster, NodeConfig
from tools.testbed.controlplane import ControlPlane, free_port

pytestmark = pytest.mark.apiserver


@dataclass
class Guarded:
    cluster: Cluster
    hook: webhook.Webhook
    certs: Path
    ca: bytes

    @property
    def cp(self) -> ControlPlane:
        return self.cluster.cp

    def create(self, obj: dict[str, Any], query: str = "") -> tuple[int, Any]:
        kind = obj["kind"]
        base = {"SpiderIPPool": "spiderippools", "SpiderReservedIP": "spiderreservedips"}.get(kind)
        path = (
            f"{GROUP}/{base}"
            if base
            else f"{GROUP}/namespaces/{obj['metadata']['namespace']}/spidermultusconfigs"
        )
        return self.cp.request("POST", path + query, obj)


def transport(cp: ControlPlane) -> Client:
    return Client(kubeconfig.load(str(cp.kubeconfig)), Deadline(30))


def register(cp: ControlPlane, port: int) -> None:
    """webhook.yaml's configurations, each pointed at https://127.0.0.1:<port>, not the Service."""
    for obj in yaml.safe_load_all((manifests.MANIFESTS / "webhook.yaml").read_text()):
        if not obj.get("kind", "").endswith("WebhookConfiguration"):
            continue
        for hook in obj["webhooks"]:
            path = hook["clientConfig"]["service"]["path"]
            hook["clientConfig"] = {"url": f"https://127.0.0.1:{port}{path}"}
        status, reply = manifests.apply(cp, obj, dry_run=False)
        assert status in (200, 201), reply


def mount(cp: ControlPlane, directory: Path) -> bytes:
    """Write the GC-made Secret's certificate where kubelet would mount it; its CA bundle."""
    _, secret = cp.request("GET", "/api/v1/namespaces/kube-system/secrets/spidernet-webhook-tls")
    data = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    for name in ("tls.crt", "tls.key"):
        (directory / name).write_bytes(data[name])
    return data["ca.crt"]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guarded]:
    with ControlPlane() as cp:
        crds.install(cp)
        cluster = Cluster(cp)
        cluster.namespace("kube-system")
        certs = tmp_path_factory.mktemp("webhook-tls")
        hook = webhook.Webhook(0, str(certs), lambda: transport(cp), bind="127.0.0.1")
        register(cp, hook.port)
        admin = transport(cp)
        try:
            outcomes = provisioning.run(admin, provisioning.Settings(extra_ips=("127.0.0.1",)))
        finally:
            admin.close()
        assert [o.action for o in outcomes] == ["created", "injected", "injected"]
        ca = mount(cp, certs)
        hook.start()
        try:
            yield Guarded(cluster, hook, certs, ca)
        finally:
            hook.stop()


def pool(name: str, subnet: str, ips: list[str], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "spiderpool.spidernet.io/v2beta1",
        "kind": "SpiderIPPool",
        "metadata": {"name": name},
        "spec": {"subnet": subnet, "ips": ips, **spec},
    }


def reserved(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "spiderpool.spidernet.io/v2beta1",
        "kind": "SpiderReservedIP",
        "metadata": {"name": name},
        "spec": spec,
    }


def smc(name: str, annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "spiderpool.spidernet.io/v2beta1",
        "kind": "SpiderMultusConfig",
        "metadata": meta,
        "spec": spec,
    }


def u(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


# Each passes the CRD schema (so the webhook is what refuses it) and breaks one rule.
INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("subnet-not-canonical", pool(u("a"), "10.20.1.7/24", ["10.20.1.10"]), "spec.subnet"),
    (
        "ip-version-mismatch",
        pool(u("a"), "10.20.2.0/24", ["10.20.2.10"], ipVersion=6),
        "spec.ipVersion",
    ),
    ("ips-outside-subnet", pool(u("a"), "10.20.3.0/24", ["10.20.4.10"]), "spec.ips[0]"),
    ("ips-reversed", pool(u("a"), "10.20.5.0/24", ["10.20.5.20-10.20.5.10"]), "spec.ips[0]"),
    ("ips-wrong-family", pool(u("a"), "10.20.6.0/24", ["fd00::1"]), "spec.ips[0]"),
    (
        "exclude-outside",
        pool(u("a"), "10.20.7.0/24", ["10.20.7.10"], excludeIPs=["10.21.7.1"]),
        "spec.excludeIPs[0]",
    ),
    (
        "gateway-handed-out",
        pool(u("a"), "10.20.8.0/24", ["10.20.8.1-10.20.8.9"], gateway="10.20.8.1"),
        "spec.gateway",
    ),
    (
        "gateway-outside",
        pool(u("a"), "10.20.9.0/24", ["10.20.9.10"], gateway="10.21.9.1"),
        "spec.gateway",
    ),
    (
        "route-default",
        pool(
            u("a"),
            "10.20.10.0/24",
            ["10.20.10.10"],
            routes=[{"dst": "0.0.0.0/0", "gw": "10.20.10.1"}],
        ),
        "spec.routes[0].dst",
    ),
    (
        "route-twice",
        pool(
            u("a"),
            "10.20.11.0/24",
            ["10.20.11.10"],
            routes=[{"dst": "10.9.0.0/16", "gw": "10.20.11.1"}] * 2,
        ),
        "spec.routes[1].dst",
    ),
    (
        "route-gw-outside",
        pool(
            u("a"),
            "10.20.12.0/24",
            ["10.20.12.10"],
            routes=[{"dst": "10.9.0.0/16", "gw": "10.21.12.1"}],
        ),
        "spec.routes[0].gw",
    ),
    (
        "pod-affinity-empty",
        pool(u("a"), "10.20.13.0/24", ["10.20.13.10"], podAffinity={}),
        "spec.podAffinity",
    ),
    (
        "node-name",
        pool(u("a"), "10.20.14.0/24", ["10.20.14.10"], nodeName=["Node_1"]),
        "spec.nodeName[0]",
    ),
    (
        "multus-name",
        pool(u("a"), "10.20.15.0/24", ["10.20.15.10"], multusName=["a/b/c"]),
        "spec.multusName[0]",
    ),
    ("reserved-empty", reserved(u("r"), ips=[]), "spec.ips"),
    ("reserved-mixed", reserved(u("r"), ips=["10.0.0.1", "fd00::1"]), "spec.ips[1]"),
    ("reserved-mismatch", reserved(u("r"), ipVersion=6, ips=["10.0.0.1"]), "spec.ips[0]"),
    (
        "smc-bond-missing",
        smc(u("m"), cniType="macvlan", macvlan={"master": ["eth1", "eth2"]}),
        "spec.macvlan.bond",
    ),
    (
        "smc-unrendered-key",
        smc(u("m"), cniType="macvlan", macvlan={"master": ["eth1"], "mtu": 9000}),
        "spec.macvlan.mtu",
    ),
    ("smc-unrendered-type", smc(u("m"), cniType="ipoib"), "spec.cniType"),
    (
        "smc-chain-not-json",
        smc(u("m"), cniType="macvlan", macvlan={"master": ["eth1"]}, chainCNIJsonData=["{"]),
        "spec.chainCNIJsonData[0]",
    ),
    (
        "smc-bond-option",
        smc(
            u("m"),
            cniType="macvlan",
            macvlan={"master": ["a", "b"], "bond": {"name": "b0", "mode": 1, "options": "bogus=1"}},
        ),
        "spec.macvlan.bond.options",
    ),
    (
        "smc-mac-prefix",
        smc(
            u("m"),
            cniType="macvlan",
            macvlan={"master": ["eth1"]},
            coordinator={"podMACPrefix": "01:00"},
        ),
        "spec.coordinator.podMACPrefix",
    ),
    (
        "smc-nad-name",
        smc(
            u("m"),
            {"multus.spidernet.io/cr-name": "Bad_Name"},
            cniType="macvlan",
            macvlan={"master": ["eth1"]},
        ),
        "metadata.annotations",
    ),
]


@pytest.mark.parametrize(("obj", "field"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_an_object_breaking_a_rule_is_refused_naming_the_field(
    guarded: Guarded, obj: dict[str, Any], field: str
) -> None:
    status, reply = guarded.create(obj)
    assert status == 422, reply
    assert "denied the request" in reply["message"] and f"{field}" in reply["message"], reply[
        "message"
    ]


def test_valid_objects_of_each_kind_are_created_and_a_pool_gets_its_finalizer(
    guarded: Guarded,
) -> None:
    name = u("ok")
    status, created = guarded.create(
        pool(name, "10.22.0.0/24", ["10.22.0.10-10.22.0.20"], gateway="10.22.0.1")
    )
    assert status == 201, created
    assert created["metadata"]["finalizers"] == ["spiderpool.spidernet.io"]
    assert guarded.create(reserved(u("r"), ips=["10.22.0.30"]))[0] == 201
    assert (
        guarded.create(smc(u("m"), cniType="macvlan", macvlan={"master": ["eth1"], "vlanID": 100}))[
            0
        ]
        == 201
    )


def test_overlapping_pools_cannot_coexist_whatever_the_order(guarded: Guarded) -> None:
    orders = (
        ("10.23.0.0/24", ["10.23.0.10-10.23.0.20"], ["10.23.0.20-10.23.0.30"]),
        ("10.23.1.0/24", ["10.23.1.20-10.23.1.30"], ["10.23.1.10-10.23.1.20"]),
    )
    for subnet, first_ips, second_ips in orders:
        first, second = u("first"), u("second")
        assert guarded.create(pool(first, subnet, first_ips))[0] == 201
        status, reply = guarded.create(pool(second, subnet, second_ips))
        assert status == 403 and f"also in SpiderIPPool {first}" in reply["message"], reply
    nested = u("nested")
    status, reply = guarded.create(pool(nested, "10.23.0.0/16", ["10.23.9.10"]))
    assert status == 403 and "overlaps SpiderIPPool" in reply["message"]


def test_an_update_into_an_overlap_is_refused(guarded: Guarded) -> None:
    a, b = u("a"), u("b")
    assert guarded.create(pool(a, "10.24.0.0/24", ["10.24.0.10-10.24.0.20"]))[0] == 201
    assert guarded.create(pool(b, "10.24.0.0/24", ["10.24.0.30-10.24.0.40"]))[0] == 201
    patch = {"spec": {"ips": ["10.24.0.15-10.24.0.40"]}}
    status, reply = guarded.cp.request(
        "PATCH", f"{GROUP}/spiderippools/{b}", patch, content_type="application/merge-patch+json"
    )
    assert status == 403 and f"also in SpiderIPPool {a}" in reply["message"]


def merge_patch(guarded: Guarded, name: str, spec: dict[str, Any]) -> tuple[int, Any]:
    return guarded.cp.request(
        "PATCH",
        f"{GROUP}/spiderippools/{name}",
        {"spec": spec},
        content_type="application/merge-patch+json",
    )


def test_an_update_may_not_take_an_allocated_address_out_or_move_the_subnet(
    guarded: Guarded,
) -> None:
    name = u("held")
    assert guarded.create(pool(name, "10.31.0.0/24", ["10.31.0.10-10.31.0.20"]))[0] == 201
    obj = guarded.cluster.get_pool(name)
    obj["status"] = {"allocatedIPs": json.dumps({"10.31.0.12": {"pod": "ns/p", "podUid": "u-1"}})}
    assert guarded.cp.request("PUT", f"{GROUP}/spiderippools/{name}/status", obj)[0] == 200
    refused = [
        ({"ips": ["10.31.0.13-10.31.0.20"]}, "spec.ips: 10.31.0.12 is allocated to pod ns/p"),
        ({"excludeIPs": ["10.31.0.12"]}, "spec.excludeIPs: 10.31.0.12 is allocated to pod ns/p"),
        ({"subnet": "10.31.0.0/23"}, "spec.subnet: cannot change"),
    ]
    for spec, message in refused:
        status, reply = merge_patch(guarded, name, spec)
        assert status == 422 and message in reply["message"], (spec, reply)
    status, reply = merge_patch(guarded, name, {"ips": ["10.31.0.10-10.31.0.30"]})
    assert status == 200, reply
    status, reply = merge_patch(guarded, name, {"excludeIPs": ["10.31.0.13"]})
    assert status == 200, reply


def test_a_webhook_that_does_not_answer_in_time_refuses_the_pool(guarded: Guarded) -> None:
    """A listener that accepts and never answers, given the pools' webhook with a timeout of
    1 s: the create fails (failurePolicy Fail) when the API server gives up waiting."""
    path = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/spidernet"
    _, original = guarded.cp.request("GET", path)
    silent = socket.create_server(("127.0.0.1", 0))
    slow = json.loads(json.dumps(original))
    for hook in slow["webhooks"]:
        if hook["name"].startswith("spiderippools."):
            hook["clientConfig"]["url"] = f"https://127.0.0.1:{silent.getsockname()[1]}/validate"
            hook["timeoutSeconds"] = 1
    try:
        assert guarded.cp.request("PUT", path, slow)[0] == 200
        started = time.monotonic()
        status, reply = guarded.create(pool(u("slow"), "10.32.0.0/24", ["10.32.0.10"]))
        waited = time.monotonic() - started
        assert status >= 500 and "failed calling webhook" in reply["message"], reply
        print(f"\nrefused after {waited:.1f} s: {reply['message']}")
    finally:
        _, now = guarded.cp.request("GET", path)
        now["webhooks"] = original["webhooks"]
        assert guarded.cp.request("PUT", path, now)[0] == 200
        silent.close()


def test_overlapping_pools_posted_at_the_same_moment_are_never_both_admitted(
    guarded: Guarded,
) -> None:
    rng = random.Random(int.from_bytes(secrets.token_bytes(4), "big"))
    rounds, admitted_pairs, overlapping = 24, 0, 0
    for r in range(rounds):
        subnet = f"10.25.{r}.0/24"
        lo = rng.randint(10, 100)
        overlap = rng.random() < 0.75
        b_lo = lo + rng.randint(0, 9) if overlap else lo + 20
        objs = [
            pool(u("x"), subnet, [f"10.25.{r}.{lo}-10.25.{r}.{lo + 10}"]),
            pool(u("y"), subnet, [f"10.25.{r}.{b_lo}-10.25.{r}.{b_lo + 10}"]),
        ]
        results = together(guarded, objs)
        if overlap:
            overlapping += 1
            assert sorted(results) == [201, 403], (r, objs, results)
        else:
            assert results == [201, 201], (r, objs, results)
            admitted_pairs += 1
    print(
        f"\n{rounds} rounds of 2 concurrent creates: {overlapping} overlapping pairs, one "
        f"admitted each; {admitted_pairs} disjoint pairs, both admitted"
    )


def together(guarded: Guarded, objs: list[dict[str, Any]]) -> list[int]:
    """POST the objects from one thread each, released at the same moment; their statuses."""
    barrier = threading.Barrier(len(objs))
    results = [0] * len(objs)

    def post(i: int) -> None:
        barrier.wait()
        results[i] = guarded.create(objs[i])[0]

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(objs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_a_pool_in_use_stays_terminating_until_its_last_address_is_released(
    guarded: Guarded, tmp_path: Path, bundle_bin: Path
) -> None:
    cluster = guarded.cluster
    ns, node = u("del"), u("node")
    cluster.namespace(ns)
    cluster.node(node)
    name = u("inuse")
    assert guarded.create(pool(name, "10.26.0.0/24", ["10.26.0.10-10.26.0.20"]))[0] == 201
    plugin = Plugin(
        bundle_bin / "spiderpool",
        Path(NodeConfig.create(guarded.cp, node, tmp_path).kubeconfig),
        tmp_path,
    )
    pods = []
    for pod_name in ("a", "b"):
        obj = cluster.pod(ns, pod_name, node)
        pods.append(
            cni.PodRef(ns, pod_name, uid=obj["metadata"]["uid"], container_id=f"c-{pod_name}")
        )
    added = plugin.call("ADD", pods[0], default_ipv4_ippool=[name])
    assert added.returncode == 0, added.stdout
    assert guarded.cp.request("DELETE", f"{GROUP}/spiderippools/{name}")[0] == 200
    assert cluster.get_pool(name)["metadata"].get("deletionTimestamp")
    refused = plugin.call("ADD", pods[1], default_ipv4_ippool=[name])
    assert refused.returncode != 0 and "terminating" in refused.stdout, refused.stdout
    assert gc_pass(guarded.cp)["finalizers"] == []  # still in use: it stays
    cluster.delete_pod(ns, "a")
    assert plugin.call("DEL", pods[0], prev=added.json()).returncode == 0
    assert gc_pass(guarded.cp)["finalizers"] == [{"pool": name, "action": "remove"}]
    assert guarded.cp.request("GET", f"{GROUP}/spiderippools/{name}")[0] == 404


def gc_pass(cp: ControlPlane) -> dict[str, Any]:
    return gc_process.report(cp.kubeconfig, "--min-age", "0", "--webhook-ip", "127.0.0.1")


def test_with_the_webhook_down_pools_are_refused_and_pods_still_get_addresses(
    guarded: Guarded,
) -> None:
    name = u("before")
    assert guarded.create(pool(name, "10.27.0.0/24", ["10.27.0.10"]))[0] == 201
    guarded.hook.stop()
    try:
        status, reply = guarded.create(pool(u("during"), "10.27.1.0/24", ["10.27.1.10"]))
        assert status >= 500 and "failed calling webhook" in reply["message"], reply
        obj = guarded.cluster.get_pool(name)  # the IPAM's write: the status, which no webhook sees
        obj["status"] = {"allocatedIPs": json.dumps({"10.27.0.10": {"pod": "ns/p", "podUid": "u"}})}
        assert guarded.cp.request("PUT", f"{GROUP}/spiderippools/{name}/status", obj)[0] == 200
    finally:
        guarded.hook = webhook.Webhook(
            guarded.hook.port, str(guarded.certs), lambda: transport(guarded.cp), bind="127.0.0.1"
        )
        guarded.hook.start()


def node_account_connect(cp: ControlPlane) -> webhook.Connect:
    """The installer's account as the manifests make it (its roles and the ledger ConfigMap
    of webhook.yaml): a client with a token of kube-system/spidernet-node."""
    accounts.apply_rbac(cp)
    for obj in yaml.safe_load_all((manifests.MANIFESTS / "webhook.yaml").read_text()):
        if obj.get("kind") == "ConfigMap":
            assert manifests.apply(cp, obj, dry_run=False)[0] in (200, 201)
    token = accounts.token(cp, "kube-system", "spidernet-node")
    creds = kubeconfig.load(str(cp.kubeconfig))
    return lambda: Client(
        record.replace(creds, token=token, cert_file="", key_file="", cert_data=b"", key_data=b""),
        Deadline(30),
    )


def test_the_installer_account_may_review_and_may_not_create_configmaps(
    guarded: Guarded,
) -> None:
    connect = node_account_connect(guarded.cp)
    guarded.hook.stop()
    guarded.hook = webhook.Webhook(guarded.hook.port, str(guarded.certs), connect, bind="127.0.0.1")
    guarded.hook.start()
    try:
        first, second = u("node-a"), u("node-b")
        assert guarded.create(pool(first, "10.33.0.0/24", ["10.33.0.10-10.33.0.20"]))[0] == 201
        status, reply = guarded.create(pool(second, "10.33.0.0/24", ["10.33.0.20"]))
        assert status == 403 and f"also in SpiderIPPool {first}" in reply["message"], reply
        client = connect()
        try:
            with pytest.raises(kerr.Denied):
                client.request("POST", "/api/v1/namespaces/kube-system/configmaps", config_map(0))
            claims = "/api/v1/namespaces/kube-system/configmaps/spidernet-pool-claims"
            assert guarded.cp.request("DELETE", claims)[0] == 200
            review = pool_review(pool(u("z"), "10.34.0.0/24", ["10.34.0.10"]))
            with pytest.raises(reviewing.LedgerMissing, match="kubectl apply -k installer"):
                reviewing.review(client, review)
        finally:
            client.close()
            node_account_connect(guarded.cp)  # the ledger ConfigMap back
    finally:
        guarded.hook.stop()
        guarded.hook = webhook.Webhook(
            guarded.hook.port, str(guarded.certs), lambda: transport(guarded.cp), bind="127.0.0.1"
        )
        guarded.hook.start()


def post_raw(
    guarded: Guarded, path: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    ctx = ssl.create_default_context(cadata=guarded.ca.decode())
    req = urllib.request.Request(
        f"https://127.0.0.1:{guarded.hook.port}{path}",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_malformed_input_gets_a_clean_error_and_the_server_goes_on(guarded: Guarded) -> None:
    assert post_raw(guarded, "/validate", b"{not json")[0] == 400
    status, reply = post_raw(
        guarded,
        "/validate",
        json.dumps({"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"}).encode(),
    )
    assert status == 400 and "malformed AdmissionReview" in reply["error"]
    assert post_raw(guarded, "/validate", b"{}", {"Content-Length": str(10**9)})[0] in (400, 413)
    assert post_raw(guarded, "/elsewhere", b"{}")[0] == 404
    assert guarded.create(pool(u("after"), "10.28.0.0/24", ["10.28.0.10"]))[0] == 201


def test_a_dry_run_is_admitted_and_claims_nothing(guarded: Guarded) -> None:
    name = u("dry")
    status, _ = guarded.create(pool(name, "10.29.0.0/24", ["10.29.0.10"]), "?dryRun=All")
    assert status == 201
    _, cm = guarded.cp.request(
        "GET", "/api/v1/namespaces/kube-system/configmaps/spidernet-pool-claims"
    )
    assert name not in ledger.decode(cm.get("data"))
    assert guarded.cp.request("GET", f"{GROUP}/spiderippools/{name}")[0] == 404


def pool_review(obj: dict[str, Any]) -> dict[str, Any]:
    """An AdmissionReview of the pool's creation, as the API server sends it."""
    request = {"uid": "x", "kind": {"kind": "SpiderIPPool"}, "operation": "CREATE", "object": obj}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def test_the_installer_daemon_serves_the_webhook(guarded: Guarded, tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "token").write_text(guarded.cp.token)
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(paths.REPO),
        "SPIDERNET_BUNDLES": str(tmp_path / "no-bundles"),
        "SPIDERNET_CNI_BIN_DIR": str(tmp_path / "bin"),
        "SPIDERNET_CNI_CONF_DIR": str(tmp_path / "conf"),
        "SPIDERNET_TOKEN_FILE": str(tmp_path / "token"),
        "SPIDERNET_CA_FILE": str(guarded.cp.ca_file),
        "SPIDERNET_API_SERVER": guarded.cp.server,
        "SPIDERNET_READY_FILE": str(tmp_path / "ready"),
        "SPIDERNET_WEBHOOK_PORT": str(port),
        "SPIDERNET_WEBHOOK_CERT_DIR": str(guarded.certs),
        "NODE_NAME": "node-1",
        "SPIDERNET_HANDOVER_SECONDS": "0",  # no successor comes: exit at SIGTERM at once
    }
    log = (tmp_path / "installer.log").open("wb")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "installer"], env=env, cwd=paths.REPO, stdout=log, stderr=log
    )
    try:
        ctx = ssl.create_default_context(cadata=guarded.ca.decode())
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(
                    f"https://127.0.0.1:{port}/healthz", context=ctx, timeout=5
                ) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline and daemon.poll() is None, (
                    "the daemon never served"
                )
                time.sleep(0.3)
        review = pool_review(pool("z", "10.30.0.0/24", ["10.30.0.10"]))
        req = urllib.request.Request(
            f"https://127.0.0.1:{port}/validate",
            data=json.dumps(review).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            assert json.loads(resp.read())["response"]["allowed"] is True
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        log.close()


def percentiles(samples: list[float]) -> str:
    s = sorted(samples)

    def at(q: float) -> float:
        return s[min(len(s) - 1, int(q * len(s)))] * 1000

    return (
        f"p50 {at(0.5):.1f} ms, p90 {at(0.9):.1f} ms, p99 {at(0.99):.1f} ms, "
        f"max {s[-1] * 1000:.1f} ms"
    )


def many(prefix: str, octet: int, n: int) -> list[dict[str, Any]]:
    """``n`` pools of one address each, in /24s from 10.<octet>.0.0 up."""
    return [
        pool(
            f"{prefix}-{i}",
            f"10.{octet + i // 256}.{i % 256}.0/24",
            [f"10.{octet + i // 256}.{i % 256}.10"],
        )
        for i in range(n)
    ]


def create_timed(guarded: Guarded, obj: dict[str, Any]) -> float:
    started = time.perf_counter()
    status, reply = (
        guarded.create(obj)
        if obj["kind"] != "ConfigMap"
        else guarded.cp.request("POST", "/api/v1/namespaces/default/configmaps", obj)
    )
    elapsed = time.perf_counter() - started
    assert status == 201, reply
    return elapsed


def config_map(i: int) -> dict[str, Any]:
    """The floor's object: about a pool's size, of a kind no webhook sees."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"floor-{i}"},
        "data": {"subnet": f"10.120.{i % 256}.0/24", "ips": f"10.120.{i % 256}.10"},
    }


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_a_thousand_admissions_print_their_latency(guarded: Guarded) -> None:
    """Benchmark, no assertion on time. 1000 pool creates through the webhook (each review
    LISTs every pool there is, up to 1000, and writes the claims ledger), each followed by
    the create of a ConfigMap of about a pool's size that no webhook sees (the floor: the
    API server and etcd alone, under the same load at the same moment); then 1000 reviews
    posted to the webhook directly (its own latency, no API server in front)."""
    n = int(os.environ.get("SPIDERNET_ADMISSIONS", "1000"))
    load = os.getloadavg()[0]
    with_hook, floor = [], []
    for i, obj in enumerate(many("load", 100, n)):
        with_hook.append(create_timed(guarded, obj))
        floor.append(create_timed(guarded, config_map(i)))
    review = json.dumps(pool_review(pool("probe", "10.99.0.0/24", ["10.99.0.10"]))).encode()
    direct = []
    for _ in range(n):
        started = time.perf_counter()
        assert post_raw(guarded, "/validate", review)[0] == 200
        direct.append(time.perf_counter() - started)
    tenth = max(n // 10, 1)
    ratio = sorted(with_hook)[n // 2] / sorted(floor)[n // 2]
    print(f"\n{n} pool creates through the webhook: {percentiles(with_hook)}")
    print(f"  the first {tenth} (LISTs of < {tenth} pools): {percentiles(with_hook[:tenth])}")
    print(f"  the last {tenth} (LISTs of ~{n} pools): {percentiles(with_hook[-tenth:])}")
    print(f"{n} ConfigMap creates between them (floor): {percentiles(floor)}")
    print(
        f"p50 ratio to the floor: {ratio:.2f}x; load average at start {load:.1f}, "
        f"at end {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{n} reviews posted to the webhook directly ({n} pools listed each): {percentiles(direct)}"
    )
