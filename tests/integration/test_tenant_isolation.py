"""Tenant isolation as a security property, through libcni + macvlan + the frozen binary.

Pod and namespace annotations, pod labels and a tenant's own NetworkAttachmentDefinition
are written by namespace users. A pool restricted by affinity to another tenant must
never serve them, however they name it, and the refusal must say why. Each attack:
a victim pool restricted to the namespace ``victim`` (or to a NAD, node or label), an
attacker pod in its own namespace; the ADD is code 101 naming the rule, and the victim
pool holds no record and the attacker no endpoint afterwards.

| #  | attack                                                | stopped by                          |
|----|-------------------------------------------------------|-------------------------------------|
| 1  | ippool annotation with the glob "*" (may reach other  | namespaceName                       |
|    | tests' pools: never the victim's)                     |                                     |
| 2  | ippool annotation with the victim pool's exact name   | namespaceName                       |
| 3  | ippool annotation with a character-class glob "[v]*"  | namespaceName                       |
| 4  | ippools (multi-NIC) annotation naming it for eth0     | namespaceName                       |
| 5  | its own namespace's default-ipv4-ippool annotation    | namespaceName                       |
|    | naming it                                             |                                     |
| 6  | its own NAD's CNI config default_ipv4_ippool naming   | namespaceName                       |
|    | it                                                    |                                     |
| 7  | the victim pool is spec.default: a pod with no        | namespaceName                       |
|    | annotation (likewise)                                 |                                     |
| 8  | namespaceAffinity on the victim's label; the          | namespaceAffinity                   |
|    | attacker's differs                                    |                                     |
| 9  | podAffinity on labels the attacker's pod lacks        | podAffinity                         |
| 10 | multusName victim/secure-net; the attacker attaches   | multusName                          |
|    | its own NAD                                           |                                     |
| 11 | the case-folded annotation naming victim/secure-net   | multusName (decoded as Multus does) |
| 12 | multusName "secure-net" (Multus's namespace); its own | multusName                          |
|    | NAD of that name                                      |                                     |
| 13 | nodeName pins the pool to another node                | nodeName                            |
| 14 | nodeAffinity on a zone label the attacker's node      | nodeAffinity                        |
|    | lacks                                                 |                                     |

podAffinity (9) keeps a pod without the labels out, but pod labels are the tenant's to
write: it selects pods, it is not a boundary between tenants (docs/ipam.md).

A NAD's own ``ipam`` keys (docs/ipam.md, "Who sets what"; every key of
spidernet/ipam/config.py's KEYS has a row; the frozen plugin exec'd with the node's
cluster IPAM config, as a runtime would):

| key(s)                   | the tenant's NAD sets              | expectation                    |
|--------------------------|------------------------------------|--------------------------------|
| multus_namespace         | its own namespace, so that a bare  | code 7 naming the key; the     |
|                          | multusName "secure-net" means its  | victim pool holds nothing      |
|                          | own NAD of that name               |                                |
| kubeconfig               | a server of its own, the node's    | code 7; the server never hears |
|                          | token file                         | of it                          |
| lock_dir, state_dir      | directories of its choosing        | code 7; nothing created there  |
| log_file_path            | a file of its choosing             | ADD fine; that file never      |
|                          |                                    | written; the warning in the    |
|                          |                                    | cluster's log                  |
| log_file_max_size,       | 1 MB and 0 (truncate the log)      | the administrator's log keeps  |
| log_file_max_count       |                                    | its lines                      |
| allocation_timeout,      | 600 s, with a lock held by another | code 11 at the cluster's       |
| release_timeout          | verb                               | ceiling (2)                    |
| failed_add_cooldown      | 3600 s                             | the address cools for the      |
|                          |                                    | ceiling (5 s), not an hour     |
| default_ipv4/6_ippool,   | every one at once, aimed at the    | code 101 naming namespaceName  |
| clean_gateway,           | victim pool                        |                                |
| log_level,               |                                    |                                |
| match_master_subnet,     |                                    |                                |
| ipam_unix_socket_path,   |                                    |                                |
| log_file_max_age, type   |                                    |                                |
| name (outside ipam),     | "secure-net", the victim network's | code 101 naming multusName:    |
| args, runtimeConfig      | name; the victim pool's address    | the NIC is the NAD Multus      |
|                          | asked for in both                  | attached, whatever its config  |
|                          |                                    | calls itself                   |
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from spidernet.alloc import choosing
from spidernet.ipam import config
from tests.integration.ipam_exec import Outcome, exec_ipam
from tests.integration.ipam_scenarios import Scenario
from tools.testbed import cni, netns
from tools.testbed.cluster import Cluster, NodeConfig, macvlan_conflist

pytestmark = [pytest.mark.apiserver, pytest.mark.netns]
IPPOOL = "ipam.spidernet.io/ippool"
IPPOOLS = "ipam.spidernet.io/ippools"
NS_V4 = "ipam.spidernet.io/default-ipv4-ippool"
NETWORKS = "k8s.v1.cni.cncf.io/networks"


@dataclass(frozen=True)
class Attack:
    name: str
    pool: dict[
        str, Any
    ]  # the victim pool's restriction (VICTIM stands for its name in annotations)
    refusal: str
    pod_annotations: dict[str, str] = field(default_factory=dict)
    ns_annotations: dict[str, str] = field(default_factory=dict)
    ns_labels: dict[str, str] = field(default_factory=dict)
    conf_default: bool = False
    ifname: str = "eth0"
    exclusive: bool = (
        True  # False: the names reach other tests' pools too (one control plane per session)
    )


ONLY_VICTIM = {"namespaceName": ["VICTIMNS"]}
ATTACKS = [
    Attack("glob-star", ONLY_VICTIM, "namespaceName", {IPPOOL: '{"ipv4": ["*"]}'}, exclusive=False),
    Attack("exact-name", ONLY_VICTIM, "namespaceName", {IPPOOL: '{"ipv4": ["VICTIM"]}'}),
    Attack("class-glob", ONLY_VICTIM, "namespaceName", {IPPOOL: '{"ipv4": ["[V]*"]}'}),
    Attack(
        "ippools-eth0",
        ONLY_VICTIM,
        "namespaceName",
        {IPPOOLS: '[{"interface": "eth0", "ipv4": ["VICTIM"]}]'},
    ),
    Attack("ns-default", ONLY_VICTIM, "namespaceName", ns_annotations={NS_V4: '["VICTIM"]'}),
    Attack("nad-default", ONLY_VICTIM, "namespaceName", conf_default=True),
    Attack("spec-default", {**ONLY_VICTIM, "default": True}, "namespaceName", exclusive=False),
    Attack(
        "ns-affinity",
        {"namespaceAffinity": {"matchLabels": {"tenant": "victim"}}},
        "namespaceAffinity",
        {IPPOOL: '{"ipv4": ["VICTIM"]}'},
        ns_labels={"tenant": "attacker"},
    ),
    Attack(
        "pod-affinity",
        {"podAffinity": {"matchLabels": {"app": "vault"}}},
        "podAffinity",
        {IPPOOL: '{"ipv4": ["VICTIM"]}'},
    ),
    Attack(
        "multus-other-nad",
        {"multusName": ["VICTIMNS/secure-net"]},
        "multusName",
        {IPPOOL: '{"ipv4": ["VICTIM"]}', NETWORKS: "ATTACKERNS/general@net1"},
        ifname="net1",
    ),
    Attack(
        "multus-case-fold",
        {"multusName": ["VICTIMNS/secure-net"]},
        "multusName",
        {
            IPPOOL: '{"ipv4": ["VICTIM"]}',
            NETWORKS: json.dumps(
                [
                    {
                        "name": "secure-net",
                        "namespace": "VICTIMNS",
                        "Name": "general",
                        "Namespace": "ATTACKERNS",
                    }
                ]
            ),
        },
        ifname="net1",
    ),
    Attack(
        "multus-bare-name",
        {"multusName": ["secure-net"]},
        "multusName",
        {IPPOOL: '{"ipv4": ["VICTIM"]}', NETWORKS: "secure-net@net1"},
        ifname="net1",
    ),
    Attack(
        "node-name", {"nodeName": ["somewhere-else"]}, "nodeName", {IPPOOL: '{"ipv4": ["VICTIM"]}'}
    ),
    Attack(
        "node-affinity",
        {"nodeAffinity": {"matchLabels": {"zone": "vault"}}},
        "nodeAffinity",
        {IPPOOL: '{"ipv4": ["VICTIM"]}'},
    ),
]


@pytest.fixture
def sc(
    cluster: Cluster, api_underlay: netns.Underlay, tmp_path: Path, bundle_bin: Path
) -> Scenario:
    return Scenario(cluster, api_underlay, tmp_path)


def fill(value: Any, names: dict[str, str]) -> Any:
    text = json.dumps(value)
    for k, v in names.items():
        text = text.replace(k, v)
    return json.loads(text)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_an_attack_on_another_tenants_pool_is_refused_and_leaves_nothing(
    sc: Scenario, attack: Attack
) -> None:
    victim_ns, attacker_ns = sc.name("victim"), sc.ns
    victim = sc.name("vpool")
    names = {
        "VICTIMNS": victim_ns,
        "ATTACKERNS": attacker_ns,
        "[V]*": f"[{victim[0]}]{victim[1:]}",
        "VICTIM": victim,
    }
    sc.cluster.namespace(victim_ns, labels={"tenant": "victim"})
    sc.cluster.namespace(
        attacker_ns, annotations=fill(attack.ns_annotations, names), labels=attack.ns_labels
    )
    sc.cluster.pool(
        victim, "10.240.0.0/24", ["10.240.0.10-10.240.0.20"], **fill(attack.pool, names)
    )
    node = sc.node()
    ipam = {"default_ipv4_ippool": [victim]} if attack.conf_default else {}
    rt = cni.Runtime(
        macvlan_conflist(node.config, name="general", **ipam),
        node=node.netns,
        extra_env=node.config.env,
    )
    ref, pod = sc.pod(
        "mallory", node, annotations=fill(attack.pod_annotations, names), labels={"app": "web"}
    )
    try:
        got = rt.add(ref.container_id, pod.path, attack.ifname, pod=ref)
    except cni.CniFailure as failure:
        assert failure.code == 101, failure.msg
        assert f"{victim}: {attack.refusal}" in failure.msg
        assert sc.cluster.endpoint(attacker_ns, "mallory") is None
    else:  # only where the names also reach other tests' unrestricted pools
        assert not attack.exclusive, got
        assert not got["ips"][0]["address"].startswith("10.240.0."), got
    rt.delete(ref.container_id, pod.path, attack.ifname, pod=ref)
    assert sc.cluster.records(victim) == {}


# ---------------------------------------------------------------- a NAD's own keys


@dataclass
class KeyEnv:
    cluster: Cluster
    base: Path
    ns: str

    def node(self, **ceilings: Any) -> NodeConfig:
        name = f"{self.ns}-node"
        self.cluster.node(name)
        return NodeConfig.create(self.cluster.cp, name, self.base, **ceilings)

    def pod(self, name: str, node: NodeConfig, **kw: Any) -> cni.PodRef:
        obj = self.cluster.pod(self.ns, name, node.name, **kw)
        return cni.PodRef(self.ns, name, obj["metadata"]["uid"], f"c-{name}")

    def pool(self, what: str, third: int, **spec: Any) -> str:
        name = f"{self.ns}-{what}"
        net = f"10.241.{third}"
        self.cluster.pool(name, f"{net}.0/24", [f"{net}.10-{net}.20"], **spec)
        return name


@pytest.fixture
def keys(cluster: Cluster, tmp_path: Path, bundle_bin: Path) -> KeyEnv:
    ns = f"k{os.urandom(3).hex()}"
    cluster.namespace(ns)
    return KeyEnv(cluster, tmp_path, ns)


def refused(out: Outcome, key: str) -> bool:
    return out.code == 7 and f"ipam.{key}" in str((out.result or {}).get("msg"))


def test_a_nads_multus_namespace_cannot_make_another_networks_pool_its_own(keys: KeyEnv) -> None:
    victim = keys.pool("secure", 0, multusName=["secure-net"])  # Multus's namespace: the cluster's
    node = keys.node()
    ref = keys.pod("mallory", node, annotations={NETWORKS: "secure-net@net1"})  # its own NAD
    out = exec_ipam(
        node,
        "ADD",
        ref,
        ref.container_id,
        "net1",
        network="secure-net",
        ipam={"default_ipv4_ippool": [victim], "multus_namespace": keys.ns},
    )
    assert refused(out, "multus_namespace"), out
    assert keys.cluster.records(victim) == {}


class TokenCatcher:
    """A TLS server of the tenant's: records what the requests it gets carry."""

    def __init__(self, certs: Path) -> None:
        self.heard: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certs / "apiserver.crt", certs / "apiserver.key")
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
                with self.ctx.wrap_socket(conn, server_side=True) as tls:
                    self.heard.append(tls.recv(65536))
            except OSError:
                return


def test_a_nads_kubeconfig_never_takes_the_nodes_token_to_a_server_of_its_choosing(
    keys: KeyEnv,
) -> None:
    pool = keys.pool("p", 1)
    node = keys.node()
    token = node.dir / "token"
    token.write_text("the-nodes-secret")
    catcher = TokenCatcher(keys.cluster.cp.workdir / "certs")
    theirs = keys.base / "tenant.kubeconfig"  # e.g. in one of its pods' emptyDir volumes
    theirs.write_text(
        json.dumps(
            {
                "current-context": "c",
                "clusters": [
                    {
                        "name": "k",
                        "cluster": {"server": catcher.url, "insecure-skip-tls-verify": True},
                    }
                ],
                "users": [{"name": "u", "user": {"tokenFile": str(token)}}],
                "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
            }
        )
    )
    ref = keys.pod("mallory", node)
    out = exec_ipam(
        node,
        "ADD",
        ref,
        ref.container_id,
        ipam={"default_ipv4_ippool": [pool], "kubeconfig": str(theirs)},
    )
    catcher.sock.close()
    assert refused(out, "kubeconfig"), out
    assert catcher.heard == []


@pytest.mark.parametrize("key", ["lock_dir", "state_dir"])
def test_a_nad_cannot_point_the_plugin_at_host_directories(keys: KeyEnv, key: str) -> None:
    pool = keys.pool("p", 2)
    node = keys.node()
    target = keys.base / "tenant-chosen" / key
    ref = keys.pod("mallory", node)
    out = exec_ipam(
        node, "ADD", ref, ref.container_id, ipam={"default_ipv4_ippool": [pool], key: str(target)}
    )
    assert refused(out, key), out
    assert not target.exists() and keys.cluster.records(pool) == {}


def test_a_nads_log_file_path_is_ignored_and_the_clusters_log_says_so(keys: KeyEnv) -> None:
    pool = keys.pool("p", 3)
    node = keys.node()
    target = keys.base / "tenant-chosen.log"
    ref = keys.pod("mallory", node)
    ipam = {"default_ipv4_ippool": [pool], "log_file_path": str(target)}
    assert exec_ipam(node, "ADD", ref, ref.container_id, ipam=ipam).ok
    assert not target.exists()
    assert "ipam.log_file_path is the cluster's" in (node.dir / "spiderpool.log").read_text()


def test_a_nad_cannot_rotate_away_the_administrators_log(keys: KeyEnv) -> None:
    pool = keys.pool("p", 4)
    node = keys.node()
    log = node.dir / "spiderpool.log"
    history = '{"msg": "what happened before"}\n' * 40_000  # ~1.3 MB
    log.write_text(history)
    ref = keys.pod("mallory", node)
    ipam = {"default_ipv4_ippool": [pool], "log_file_max_size": 1, "log_file_max_count": 0}
    assert exec_ipam(node, "ADD", ref, ref.container_id, ipam=ipam).ok
    assert log.read_text().startswith(history)


@pytest.mark.parametrize("verb", ["ADD", "DEL"])
def test_a_nads_timeout_is_capped_by_the_clusters_ceiling(keys: KeyEnv, verb: str) -> None:
    pool = keys.pool("p", 5 if verb == "ADD" else 6)
    node = keys.node(max_allocation_timeout=2, max_release_timeout=2)
    ref = keys.pod("mallory", node)
    ipam = {"default_ipv4_ippool": [pool], "allocation_timeout": 600, "release_timeout": 600}
    if verb == "DEL":
        assert exec_ipam(node, "ADD", ref, ref.container_id, ipam=ipam).ok
    (node.dir / "locks").mkdir(exist_ok=True)
    held = os.open(node.dir / "locks" / f"pod_{keys.ns}_mallory.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)  # another verb of this pod is "running"
    try:
        out = exec_ipam(node, verb, ref, ref.container_id, ipam=ipam, timeout=60)
    finally:
        os.close(held)
    assert out.code == 11, out
    key = "allocation_timeout" if verb == "ADD" else "release_timeout"
    assert (
        f"ipam.{key} 600 is above the cluster's ceiling"
        in (node.dir / "spiderpool.log").read_text()
    )


def test_a_nads_cool_down_is_capped_by_the_clusters_ceiling(keys: KeyEnv) -> None:
    pool = keys.pool("p", 7)
    node = keys.node(max_failed_add_cooldown=5)
    ref = keys.pod("mallory", node)
    ipam = {"default_ipv4_ippool": [pool], "failed_add_cooldown": 3600}
    got = exec_ipam(node, "ADD", ref, ref.container_id, ipam=ipam)
    assert got.ok
    before = time.time()
    assert exec_ipam(node, "DEL", ref, ref.container_id, ipam=ipam).ok  # no prevResult: failed
    record = keys.cluster.records(pool)[got.ips()[0]]
    assert choosing.parse_time(record["cooldownUntil"]) <= before + 5 + 1, record


def test_every_key_a_nad_may_set_at_once_reaches_no_other_tenants_pool(keys: KeyEnv) -> None:
    victim = keys.pool("vpool", 8, namespaceName=["victim-only"])
    node = keys.node()
    mine = [k for k, rule in config.KEYS.items() if rule in ("network", "ignored")]
    ipam = {
        "default_ipv4_ippool": [victim],
        "default_ipv6_ippool": [victim],
        "clean_gateway": True,
        "log_level": "debug",
        "match_master_subnet": False,
        "ipam_unix_socket_path": "/var/run/spidernet/spiderpool.sock",
        "log_file_max_age": 30,
        "type": "spiderpool",
    }
    assert sorted(ipam) == sorted(mine)
    ref = keys.pod("mallory", node)
    out = exec_ipam(node, "ADD", ref, ref.container_id, ipam=ipam)
    assert out.code == 101 and f"{victim}: namespaceName" in str(out.result), out
    assert keys.cluster.records(victim) == {}


def test_a_nads_network_name_and_runtime_keys_reach_no_other_networks_pool(keys: KeyEnv) -> None:
    """Outside ``ipam``, a NAD's config carries keys the plugin reads too: ``name`` (which
    only the NAD's author chooses: never evidence of which NAD a NIC is), ``args`` and
    ``runtimeConfig`` (an address asked for there is taken from nowhere)."""
    victim = keys.pool("named", 9, multusName=["victim/secure-net", "secure-net"])
    node = keys.node()
    ref = keys.pod("mallory", node, annotations={NETWORKS: f"{keys.ns}/general@net1"})
    wanted = "10.241.9.10"
    out = exec_ipam(
        node,
        "ADD",
        ref,
        ref.container_id,
        "net1",
        network="secure-net",
        ipam={"default_ipv4_ippool": [victim]},
        extra={"args": {"cni": {"ips": [wanted]}}, "runtimeConfig": {"ips": [f"{wanted}/24"]}},
    )
    assert out.code == 101 and f"{victim}: multusName" in str(out.result), out
    assert keys.cluster.records(victim) == {}
