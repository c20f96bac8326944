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
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.ipam_scenarios import Scenario
from tools.testbed import cni, netns
from tools.testbed.cluster import Cluster, macvlan_conflist

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
    rt = cni.Runtime(macvlan_conflist(node.config, name="general", **ipam), node=node.netns)
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
