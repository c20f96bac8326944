"""SpiderMultusConfig: its rules (spidernet.validation.multusconfigs) and the NAD it renders
(spidernet.smc.nads), pure.

Case matrix:

    byte for byte     the config strings upstream's docs print for macvlan, ipvlan, sriov
                      and sriov with RDMA; the KubeCon example (macvlan on VLAN 100 with a
                      pool) equals its printed chain as JSON
    chain shape       ifacer only with a VLAN or two or more masters (bond); master is
                      the NIC, the bond, with .<vlanID>; disableIPAM drops ipam; enableCoordinator
                      false drops the coordinator; chained plugins between the main plugin and
                      the coordinator, their keys sorted as Go's map; the coordinator keys set,
                      in upstream's order, none when the block is absent; ovs with vlan, trunk and
                      deviceID; custom verbatim and nothing else; cni-version and cr-name
                      annotations; NAD annotations (resourceName; last-applied dropped); owner
                      reference only for a stored CR; Go's HTML-safe escaping
    upstream's docs   every SpiderMultusConfig shape of upstream's docs we render is valid;
                      the ones we do not render are refused by name
    rules             by field: cniType unknown / unsupported; block missing; another type's
                      block; master missing; two masters without bond; bond mode missing / 7;
                      vlanID 5000; sriov resourceName missing, min > max; ovs bridge missing,
                      trunk min > max; customCNI not JSON / with another type; chain entry not
                      JSON / without type; matchMasterSubnet; unknown keys; annotations (NAD
                      name, CNI version); the plugins' own parsers: bond option, interface name
                      too long with its VLAN, MAC prefix multicast, coordinator mode; the NAD
                      name may not change on update
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from spidernet.smc import gojson, nads
from spidernet.validation import multusconfigs
from tools.testbed import paths


def smc(
    name: str = "net", annotations: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "kube-system"}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": nads.API_VERSION, "kind": nads.KIND, "metadata": meta, "spec": spec}


# Upstream's docs (docs/usage/spider-multus-config.md) print these config strings for the
# CRs beside them; ours must be the same bytes.
DOCS = [
    (
        smc(
            "macvlan-ens192",
            cniType="macvlan",
            enableCoordinator=True,
            macvlan={"master": ["ens192"]},
        ),
        '{"cniVersion":"0.3.1","name":"macvlan-ens192","plugins":[{"type":"macvlan","master":"ens192","mode":"bridge","ipam":{"type":"spiderpool"}},{"type":"coordinator"}]}',
    ),
    (
        smc(
            "ipvlan-ens192", cniType="ipvlan", enableCoordinator=True, ipvlan={"master": ["ens192"]}
        ),
        '{"cniVersion":"0.3.1","name":"ipvlan-ens192","plugins":[{"type":"ipvlan","master":"ens192","ipam":{"type":"spiderpool"}},{"type":"coordinator"}]}',
    ),
    (
        smc(
            "sriov-demo",
            cniType="sriov",
            enableCoordinator=True,
            sriov={"resourceName": "spidernet.io/sriov_netdeivce", "vlanID": 100},
        ),
        '{"cniVersion":"0.3.1","name":"sriov-demo","plugins":[{"vlan":100,"type":"sriov","ipam":{"type":"spiderpool"}},{"type":"coordinator"}]}',
    ),
    (
        smc(
            "sriov-rdma",
            cniType="sriov",
            enableCoordinator=True,
            sriov={
                "enableRdma": True,
                "resourceName": "spidernet.io/sriov_netdeivce",
                "vlanID": 100,
            },
        ),
        '{"cniVersion":"0.3.1","name":"sriov-rdma","plugins":[{"vlan":100,"type":"sriov","ipam":{"type":"spiderpool"}},{"type":"rdma"},{"type":"coordinator"}]}',
    ),
]


@pytest.mark.parametrize(("obj", "config"), DOCS, ids=[d[0]["metadata"]["name"] for d in DOCS])
def test_the_config_string_is_upstreams_byte_for_byte(obj: dict[str, Any], config: str) -> None:
    assert multusconfigs.problems(obj) == []
    assert nads.config(obj) == config


def test_the_kubecon_example_renders_the_chain_its_slide_shows() -> None:
    obj = smc(
        "macvlan-eno1",
        cniType="macvlan",
        macvlan={"master": ["eno1"], "vlanID": 100, "ippools": {"ipv4": ["eno1-net90"]}},
    )
    shown = {
        "cniVersion": "0.3.1",
        "name": "macvlan-eno1",
        "plugins": [
            {"type": "ifacer", "vlanID": 100, "interfaces": ["eno1"]},
            {
                "type": "macvlan",
                "master": "eno1.100",
                "mode": "bridge",
                "ipam": {"type": "spiderpool", "default_ipv4_ippool": ["eno1-net90"]},
            },
            {"type": "coordinator"},
        ],
    }
    assert json.loads(nads.config(obj) or "") == shown


def types(obj: dict[str, Any]) -> list[str]:
    return [p["type"] for p in nads.plugins(obj)]


def test_ifacer_comes_first_only_with_a_vlan_or_a_bond() -> None:
    assert types(smc(cniType="macvlan", macvlan={"master": ["eth1"]})) == ["macvlan", "coordinator"]
    assert types(smc(cniType="macvlan", macvlan={"master": ["eth1"], "vlanID": 0})) == [
        "macvlan",
        "coordinator",
    ]
    bonded = smc(
        cniType="ipvlan", ipvlan={"master": ["eth1", "eth2"], "bond": {"name": "bond0", "mode": 1}}
    )
    assert nads.plugins(bonded)[0] == {
        "type": "ifacer",
        "interfaces": ["eth1", "eth2"],
        "bond": {"name": "bond0", "mode": 1},
    }
    assert nads.plugins(bonded)[1]["master"] == "bond0"
    vlan = copy.deepcopy(bonded)
    vlan["spec"]["ipvlan"]["vlanID"] = 200
    assert nads.plugins(vlan)[1]["master"] == "bond0.200"


def test_ipam_and_coordinator_can_be_left_out() -> None:
    obj = smc(
        cniType="macvlan", disableIPAM=True, enableCoordinator=False, macvlan={"master": ["eth1"]}
    )
    assert nads.plugins(obj) == [{"type": "macvlan", "master": "eth1", "mode": "bridge"}]


def test_chained_plugins_sit_between_the_main_plugin_and_the_coordinator_keys_sorted() -> None:
    chain = '{"type": "tuning", "sysctl": {"net.core.somaxconn": "4096"}, "mtu": 1500.0}'
    obj = smc(cniType="macvlan", macvlan={"master": ["eth1"]}, chainCNIJsonData=[chain])
    assert types(obj) == ["macvlan", "tuning", "coordinator"]
    assert (
        gojson.dumps(nads.plugins(obj)[1])
        == '{"mtu":1500,"sysctl":{"net.core.somaxconn":"4096"},"type":"tuning"}'
    )


def test_the_coordinator_gets_the_keys_the_cr_sets_in_upstreams_order() -> None:
    block = {
        "podDefaultRouteNIC": "net1",
        "mode": "underlay",
        "detectGateway": True,
        "txQueueLen": 0,
        "hijackCIDR": ["169.254.0.0/16"],
        "hostRuleTable": 600,
        "podCIDRType": "cluster",
        "podMACPrefix": "",
    }
    got = nads.coordinator(block)
    assert list(got) == [
        "txQueueLen",
        "detectGateway",
        "mode",
        "type",
        "podDefaultRouteNic",
        "hijackCIDR",
        "hostRuleTable",
    ]
    assert nads.coordinator(None) == {"type": "coordinator"}


def test_ovs_carries_its_vlan_trunk_device_and_resource() -> None:
    obj = smc(
        cniType="ovs",
        ovs={
            "bridge": "br1",
            "vlan": 10,
            "deviceID": "0000:af:00.1",
            "trunk": [{"minID": 10, "maxID": 20}, {"id": 42}],
        },
    )
    assert nads.plugins(obj)[0] == {
        "vlan": 10,
        "type": "ovs",
        "bridge": "br1",
        "deviceID": "0000:af:00.1",
        "ipam": {"type": "spiderpool"},
        "trunk": [{"minID": 10, "maxID": 20}, {"id": 42}],
    }
    assert nads.render(obj)["metadata"]["annotations"] == {
        nads.ANNO_RESOURCE: "ovs-cni.network.kubevirt.io/br1"
    }


def test_custom_is_its_config_verbatim_and_nothing_else() -> None:
    text = '{"cniVersion": "1.0.0", "name": "x", "type": "bridge"}'
    assert nads.render(smc(cniType="custom", customCNI=text))["spec"] == {"config": text}
    assert nads.render(smc(cniType="custom"))["spec"] == {}


def test_annotations_name_the_nad_and_its_cni_version_and_are_copied_but_last_applied() -> None:
    annotations = {
        nads.ANNO_NAD_NAME: "other",
        nads.ANNO_CNI_VERSION: "1.0.0",
        nads.LAST_APPLIED: "{}",
        "team": "a",
    }
    obj = smc("net", annotations, cniType="macvlan", macvlan={"master": ["eth1"]})
    nad = nads.render(obj)
    assert (
        nad["metadata"]["name"] == "other"
        and json.loads(nad["spec"]["config"])["cniVersion"] == "1.0.0"
    )
    assert (
        nads.LAST_APPLIED not in nad["metadata"]["annotations"]
        and nad["metadata"]["annotations"]["team"] == "a"
    )


def test_only_a_stored_cr_owns_its_nad() -> None:
    obj = smc(cniType="macvlan", macvlan={"master": ["eth1"]})
    assert "ownerReferences" not in nads.render(obj)["metadata"]
    obj["metadata"]["uid"] = "u-1"
    assert nads.render(obj)["metadata"]["ownerReferences"] == [
        {
            "apiVersion": nads.API_VERSION,
            "kind": nads.KIND,
            "name": "net",
            "uid": "u-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def test_strings_are_escaped_as_go_escapes_them() -> None:
    assert gojson.dumps({"a": "<&>\u2028é"}) == '{"a":"\\u003c\\u0026\\u003e\\u2028é"}'


# ------------------------------------------------------------------ upstream's docs shapes

# The SpiderMultusConfig shapes upstream's docs use (install guides for macvlan, ipvlan,
# SR-IOV, OVS, the RDMA and multi-NIC guides, the reference page), written here in their
# shape: each renders.
UPSTREAM_SHAPES = [
    dict(
        cniType="macvlan",
        macvlan={
            "master": ["eth0"],
            "vlanID": 100,
            "ippools": {"ipv4": ["default-pool-v4"], "ipv6": ["default-pool-v6"]},
        },
    ),
    dict(cniType="macvlan", enableCoordinator=True, macvlan={"master": ["ens192"]}),
    dict(cniType="macvlan", macvlan={"master": ["ens192.100"], "ippools": {"ipv4": ["vlan100"]}}),
    dict(
        cniType="macvlan",
        macvlan={"master": ["ens192"]},
        chainCNIJsonData=['{"type": "tuning", "sysctl": {"net.core.somaxconn": "4096"}}'],
    ),
    dict(
        cniType="macvlan",
        macvlan={"master": ["eth1"], "ippools": {"ipv4": ["v4"]}},
        coordinator={"podDefaultRouteNIC": "net1", "mode": "underlay", "tunePodRoutes": True},
    ),
    dict(
        cniType="macvlan",
        macvlan={"master": ["eth0"]},
        coordinator={"mode": "overlay", "podCIDRType": "cluster", "hijackCIDR": ["169.254.0.0/16"]},
    ),
    dict(cniType="ipvlan", enableCoordinator=True, ipvlan={"master": ["ens192"], "vlanID": 100}),
    dict(
        cniType="ipvlan",
        ipvlan={"master": ["ens192", "ens224"], "bond": {"name": "bond0", "mode": 1}},
    ),
    dict(
        cniType="ipvlan",
        ipvlan={
            "master": ["ens192", "ens224"],
            "vlanID": 100,
            "bond": {"name": "bond0", "mode": 1, "options": "primary=ens192"},
        },
    ),
    dict(
        cniType="sriov",
        enableCoordinator=True,
        sriov={
            "resourceName": "spidernet.io/sriov_netdeivce",
            "vlanID": 100,
            "minTxRateMbps": 100,
            "maxTxRateMbps": 1000,
        },
    ),
    dict(
        cniType="sriov",
        sriov={
            "resourceName": "spidernet.io/mellanoxrdma",
            "enableRdma": True,
            "ippools": {"ipv4": ["v4-91"]},
        },
    ),
    dict(cniType="ovs", ovs={"bridge": "br1", "vlan": 30, "ippools": {"ipv4": ["vlan30"]}}),
    dict(cniType="custom", customCNI='{"cniVersion": "0.3.1", "name": "custom", "type": "bridge"}'),
    dict(cniType="macvlan", disableIPAM=True, macvlan={"master": ["eth1"]}),
]


@pytest.mark.parametrize(
    "spec", UPSTREAM_SHAPES, ids=[f"{s['cniType']}-{i}" for i, s in enumerate(UPSTREAM_SHAPES)]
)
def test_each_shape_of_upstreams_docs_is_valid_and_renders(spec: dict[str, Any]) -> None:
    obj = smc(**spec)
    assert multusconfigs.problems(obj) == []
    nad = nads.render(obj)
    if spec["cniType"] != "custom":
        conf = json.loads(nad["spec"]["config"])
        assert conf["name"] == "net" and conf["plugins"]


def test_our_example_multusconfigs_are_valid() -> None:
    import yaml

    text = (
        paths.REPO / "installer" / "manifests" / "examples" / "multusconfigs" / "multusconfigs.yaml"
    ).read_text()
    examples = [d for d in yaml.safe_load_all(text) if d]
    assert len(examples) == 5 and all(multusconfigs.problems(o) == [] for o in examples)


# ------------------------------------------------------------------ rules

RULES = [
    ("type-unknown", dict(cniType="weave"), "spec.cniType"),
    ("type-unrendered", dict(cniType="ib-sriov"), "spec.cniType"),
    ("block-missing", dict(cniType="macvlan"), "spec.macvlan"),
    (
        "other-block",
        dict(cniType="macvlan", macvlan={"master": ["a"]}, ipvlan={"master": ["a"]}),
        "spec.ipvlan",
    ),
    ("master-missing", dict(cniType="macvlan", macvlan={"master": []}), "spec.macvlan.master"),
    ("bond-missing", dict(cniType="macvlan", macvlan={"master": ["a", "b"]}), "spec.macvlan.bond"),
    (
        "bond-mode-missing",
        dict(cniType="macvlan", macvlan={"master": ["a", "b"], "bond": {"name": "b0"}}),
        "spec.macvlan.bond.mode",
    ),
    (
        "bond-mode-7",
        dict(cniType="macvlan", macvlan={"master": ["a", "b"], "bond": {"name": "b0", "mode": 7}}),
        "spec.macvlan.bond.mode",
    ),
    (
        "vlan-5000",
        dict(cniType="ipvlan", ipvlan={"master": ["a"], "vlanID": 5000}),
        "spec.ipvlan.vlanID",
    ),
    ("resource-missing", dict(cniType="sriov", sriov={"vlanID": 1}), "spec.sriov.resourceName"),
    (
        "rate-min-above-max",
        dict(cniType="sriov", sriov={"resourceName": "r", "minTxRateMbps": 10, "maxTxRateMbps": 5}),
        "spec.sriov.minTxRateMbps",
    ),
    ("bridge-missing", dict(cniType="ovs", ovs={"vlan": 1}), "spec.ovs.bridge"),
    (
        "trunk-min-above-max",
        dict(cniType="ovs", ovs={"bridge": "b", "trunk": [{"minID": 20, "maxID": 10}]}),
        "spec.ovs.trunk[0].minID",
    ),
    ("custom-not-json", dict(cniType="custom", customCNI="{nope"), "spec.customCNI"),
    (
        "custom-with-macvlan",
        dict(cniType="macvlan", macvlan={"master": ["a"]}, customCNI="{}"),
        "spec.customCNI",
    ),
    (
        "chain-not-json",
        dict(cniType="macvlan", macvlan={"master": ["a"]}, chainCNIJsonData=["nope"]),
        "spec.chainCNIJsonData[0]",
    ),
    (
        "chain-without-type",
        dict(cniType="macvlan", macvlan={"master": ["a"]}, chainCNIJsonData=['{"mtu": 9000}']),
        "spec.chainCNIJsonData[0]",
    ),
    (
        "match-master-subnet",
        dict(cniType="macvlan", macvlan={"master": ["a"], "ippools": {"matchMasterSubnet": True}}),
        "spec.macvlan.ippools.matchMasterSubnet",
    ),
    (
        "unknown-block-key",
        dict(cniType="macvlan", macvlan={"master": ["a"], "mtu": 9000}),
        "spec.macvlan.mtu",
    ),
    (
        "unknown-spec-key",
        dict(cniType="macvlan", macvlan={"master": ["a"]}, ibsriov={}),
        "spec.ibsriov",
    ),
    (
        "unknown-coordinator-key",
        dict(cniType="macvlan", macvlan={"master": ["a"]}, coordinator={"hostRuleTabel": 5}),
        "spec.coordinator.hostRuleTabel",
    ),
    (
        "bond-option",
        dict(
            cniType="macvlan",
            macvlan={
                "master": ["a", "b"],
                "bond": {"name": "b0", "mode": 1, "options": "miimon=x"},
            },
        ),
        "spec.macvlan.bond.options",
    ),
    (
        "vlan-name-too-long",
        dict(cniType="macvlan", macvlan={"master": ["enp0s31f6abc"], "vlanID": 1000}),
        "spec.macvlan.vlanID",
    ),
    (
        "mac-prefix-multicast",
        dict(cniType="macvlan", macvlan={"master": ["a"]}, coordinator={"podMACPrefix": "01:02"}),
        "spec.coordinator.podMACPrefix",
    ),
    (
        "coordinator-mode",
        dict(cniType="macvlan", macvlan={"master": ["a"]}, coordinator={"mode": "bridge"}),
        "spec.coordinator.mode",
    ),
]


@pytest.mark.parametrize(("spec", "field"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_each_multusconfig_rule_names_its_field(spec: dict[str, Any], field: str) -> None:
    problems = multusconfigs.problems(smc(**spec))
    assert field in [p.field for p in problems], problems


@pytest.mark.parametrize(
    ("annotations", "field"),
    [
        ({nads.ANNO_NAD_NAME: "Bad Name"}, nads.ANNO_NAD_NAME),
        ({nads.ANNO_CNI_VERSION: "0.2.0"}, nads.ANNO_CNI_VERSION),
    ],
)
def test_the_annotations_are_checked(annotations: dict[str, str], field: str) -> None:
    obj = smc("net", annotations, cniType="macvlan", macvlan={"master": ["a"]})
    assert [p.field for p in multusconfigs.problems(obj)] == [f"metadata.annotations[{field}]"]


def test_the_nad_name_may_not_change_on_update() -> None:
    old = smc("net", {nads.ANNO_NAD_NAME: "a"}, cniType="macvlan", macvlan={"master": ["a"]})
    new = copy.deepcopy(old)
    new["metadata"]["annotations"][nads.ANNO_NAD_NAME] = "b"
    assert [p.field for p in multusconfigs.update_problems(old, new)] == [
        f"metadata.annotations[{nads.ANNO_NAD_NAME}]"
    ]
    assert multusconfigs.update_problems(old, copy.deepcopy(old)) == []


def test_pools_at_spec_level_as_on_the_kubecon_slide_are_the_blocks_pools() -> None:
    slide = smc(
        "macvlan-eno1",
        cniType="macvlan",
        macvlan={"master": ["eno1"], "vlanID": 100},
        ippools={"ipv4": ["eno1-net90"]},
    )
    inside = smc(
        "macvlan-eno1",
        cniType="macvlan",
        macvlan={"master": ["eno1"], "vlanID": 100, "ippools": {"ipv4": ["eno1-net90"]}},
    )
    assert multusconfigs.problems(slide) == [] and nads.config(slide) == nads.config(inside)
    both = copy.deepcopy(inside)
    both["spec"]["ippools"] = {"ipv4": ["other"]}
    assert [p.field for p in multusconfigs.problems(both)] == ["spec.ippools"]
