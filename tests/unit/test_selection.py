"""alloc.selection: candidate pool names, globs, refusals with reasons, order, the NIC's network.

Case matrix:

    candidates   precedence: ippools > ippool > namespace annotations > CNI defaults > None;
                 a rule yielding nothing (NIC not listed, empty lists, "[]") falls through;
                 ns_annotations None (not fetched) skips the namespace rule; v4 only / v6 only
    ippools      named: eth0, net1; a NIC not listed is code 7 "interface X must be specified"
                 (upstream's rule); cleangateway true / false / absent;
                 unnamed: item n is eth0 / net<n>, a NIC beyond the list, a name without digits
    malformed    BadInput naming the annotation (code 7): ippools bad JSON / not a list /
                 empty / non-object items / mixed named and unnamed / duplicate interface /
                 interface not a string (regression: crashed with TypeError) / cleangateway
                 not a bool / ipv4 not a list / empty or non-string name / duplicate name;
                 ippool bad JSON / nested 5000 deep (was a RecursionError) / not an object /
                 duplicate; ippools nested 70 deep; namespace v4 and v6 bad JSON and
                 not a list; ippools for another NIC still validated as a whole
    expand       literals kept as given; globs (*, ?, [..]) expanded sorted, in place;
                 duplicates dropped (first wins); a glob matching nothing adds nothing
    refusal      ok; broken, terminating, disabled, wrong family (in that order); nodeName
                 in/out and it overrides nodeAffinity both ways; nodeAffinity match / no match
                 / labels not fetched; namespaceName vs namespaceAffinity likewise; podAffinity;
                 multusName "ns/name" and bare "name" (in Multus's namespace), no multusName needs
                 no network; the first failing rule is the one reported
    selector     matchLabels; In / NotIn / Exists / DoesNotExist with key present-in,
                 present-not-in, absent; unknown operator; empty selector; both parts ANDed
    order        every priority attribute outranks the ones after it; ties keep the user's order
                 (hypothesis: order == stable sort by priority over random attribute mixes)
    network_of   eth0: default-network "ns/name", bare name (Multus's namespace), JSON form,
                 none -> <multus ns>/<CNI network>; net<n>: JSON list and comma forms,
                 "interface" / "@if" naming, namespace default (the pod's), not listed / no
                 annotation -> "" (no multusName matches); eth0 ignores the networks
                 annotation; Multus's default networks are net1..netN, the annotation's after
                 them, none in a system namespace; what Multus refuses (bad JSON, wrong
                 types, bad names) is code 7
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spidernet.alloc import multus, selection
from spidernet.alloc.failures import BadInput
from spidernet.alloc.pools import Pool
from spidernet.alloc.selection import (
    ANNO_IPPOOL,
    ANNO_IPPOOLS,
    ANNO_NS_V4,
    ANNO_NS_V6,
    Candidates,
    PodView,
)

SRC_IPPOOLS = f"pod annotation {ANNO_IPPOOLS}"
SRC_IPPOOL = f"pod annotation {ANNO_IPPOOL}"
SRC_NS = "namespace default pools"
SRC_CONF = "CNI config default pools"


def cands(
    pod: dict[str, Any] | None = None,
    ns: dict[str, Any] | None = None,
    conf_v4: tuple[str, ...] = (),
    conf_v6: tuple[str, ...] = (),
    ifname: str = "eth0",
) -> Candidates | None:
    """candidates() with annotation values given as Python data (JSON-encoded here)."""

    def enc(values: dict[str, Any] | None) -> dict[str, str] | None:
        return (
            None
            if values is None
            else {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
        )

    return selection.candidates(
        ifname=ifname,
        pod_annotations=enc(pod) or {},
        ns_annotations=enc(ns),
        conf_v4=conf_v4,
        conf_v6=conf_v6,
    )


IPPOOLS_ETH0 = {ANNO_IPPOOLS: [{"interface": "eth0", "ipv4": ["multi-v4"], "ipv6": ["multi-v6"]}]}
IPPOOL = {ANNO_IPPOOL: {"ipv4": ["single-v4"]}}
NS = {ANNO_NS_V4: ["ns-v4"], ANNO_NS_V6: ["ns-v6"]}
CONF = {"conf_v4": ("conf-v4",), "conf_v6": ("conf-v6",)}

# ---------------------------------------------------------------- candidates: precedence


@pytest.mark.parametrize(
    ("pod", "ns", "conf", "expected"),
    [
        (
            {**IPPOOLS_ETH0, **IPPOOL},
            NS,
            CONF,
            Candidates(SRC_IPPOOLS, ("multi-v4",), ("multi-v6",)),
        ),
        (IPPOOL, NS, CONF, Candidates(SRC_IPPOOL, ("single-v4",))),
        ({}, NS, CONF, Candidates(SRC_NS, ("ns-v4",), ("ns-v6",))),
        ({}, {ANNO_NS_V6: ["ns-v6"]}, CONF, Candidates(SRC_NS, (), ("ns-v6",))),
        ({}, {}, CONF, Candidates(SRC_CONF, ("conf-v4",), ("conf-v6",))),
        ({}, None, CONF, Candidates(SRC_CONF, ("conf-v4",), ("conf-v6",))),
        ({}, {}, {"conf_v4": ("conf-v4",)}, Candidates(SRC_CONF, ("conf-v4",))),
        ({}, {}, {}, None),
        ({}, None, {}, None),
        # a rule that yields nothing falls through to the next
        (
            {ANNO_IPPOOLS: [{"interface": "eth0", "ipv4": []}]},
            NS,
            CONF,
            Candidates(SRC_NS, ("ns-v4",), ("ns-v6",)),
        ),
        (
            {ANNO_IPPOOL: {"ipv4": [], "ipv6": []}},
            NS,
            CONF,
            Candidates(SRC_NS, ("ns-v4",), ("ns-v6",)),
        ),
        (
            {ANNO_IPPOOL: {}},
            {ANNO_NS_V4: [], ANNO_NS_V6: ""},
            CONF,
            Candidates(SRC_CONF, ("conf-v4",), ("conf-v6",)),
        ),
        ({}, {"unrelated": "x"}, {}, None),
    ],
)
def test_candidates_take_the_first_rule_that_yields_pools(
    pod: dict[str, Any],
    ns: dict[str, Any] | None,
    conf: dict[str, tuple[str, ...]],
    expected: Candidates | None,
) -> None:
    assert cands(pod, ns, **conf) == expected


# ---------------------------------------------------------------- candidates: per interface

NAMED = [
    {"interface": "eth0", "ipv4": ["a4"], "ipv6": ["a6"], "cleangateway": False},
    {"interface": "net1", "ipv4": ["b4"], "cleangateway": True},
    {"interface": "vlan100", "ipv6": ["c6"]},
]
UNNAMED = [{"ipv4": ["a4"], "cleangateway": True}, {"ipv6": ["b6"]}]


@pytest.mark.parametrize(
    ("items", "ifname", "expected"),
    [
        (NAMED, "eth0", Candidates(SRC_IPPOOLS, ("a4",), ("a6",), False)),
        (NAMED, "net1", Candidates(SRC_IPPOOLS, ("b4",), (), True)),
        (NAMED, "vlan100", Candidates(SRC_IPPOOLS, (), ("c6",), None)),
        (UNNAMED, "eth0", Candidates(SRC_IPPOOLS, ("a4",), (), True)),
        (UNNAMED, "net1", Candidates(SRC_IPPOOLS, (), ("b6",), None)),
        (UNNAMED, "net2", Candidates(SRC_CONF, ("conf-v4",))),
        (UNNAMED, "lo", Candidates(SRC_CONF, ("conf-v4",))),
        ([{"interface": "", "ipv4": ["a4"]}], "eth0", Candidates(SRC_IPPOOLS, ("a4",))),
    ],
)
def test_ippools_gives_each_interface_its_own_pools_and_cleangateway(
    items: list[dict[str, Any]], ifname: str, expected: Candidates
) -> None:
    assert cands({ANNO_IPPOOLS: items}, None, ("conf-v4",), ifname=ifname) == expected


def test_ippool_annotation_leaves_cleangateway_to_the_cni_config() -> None:
    found = cands(IPPOOL)
    assert found is not None and found.clean_gateway is None


def test_candidates_names_by_family() -> None:
    c = Candidates("x", ("a",), ("b", "c"))
    assert c.names(4) == ("a",) and c.names(6) == ("b", "c") and c
    assert not Candidates("x")


# ---------------------------------------------------------------- candidates: malformed


@pytest.mark.parametrize(
    ("pod", "ns", "field", "ifname"),
    [
        ({ANNO_IPPOOLS: "[{"}, None, SRC_IPPOOLS, "eth0"),
        ({ANNO_IPPOOLS: {"ipv4": ["a"]}}, None, SRC_IPPOOLS, "eth0"),
        ({ANNO_IPPOOLS: []}, None, SRC_IPPOOLS, "eth0"),
        ({ANNO_IPPOOLS: ["a"]}, None, SRC_IPPOOLS, "eth0"),
        (
            {ANNO_IPPOOLS: [{"interface": "eth0", "ipv4": ["a"]}, {"ipv4": ["b"]}]},
            None,
            SRC_IPPOOLS,
            "eth0",
        ),
        ({ANNO_IPPOOLS: [{"interface": "eth0"}, {"interface": "eth0"}]}, None, SRC_IPPOOLS, "eth0"),
        ({ANNO_IPPOOLS: [{"interface": ["eth0"], "ipv4": ["a"]}]}, None, SRC_IPPOOLS, "eth0"),
        ({ANNO_IPPOOLS: [{"interface": 0, "ipv4": ["a"]}]}, None, SRC_IPPOOLS, "eth0"),
        (
            {ANNO_IPPOOLS: [{"interface": "eth0", "ipv4": ["a"], "cleangateway": "true"}]},
            None,
            f"{SRC_IPPOOLS}[0].cleangateway",
            "eth0",
        ),
        (
            {
                ANNO_IPPOOLS: [
                    {"interface": "eth0"},
                    {"interface": "net1", "ipv4": ["a"], "cleangateway": 1},
                ]
            },
            None,
            f"{SRC_IPPOOLS}[1].cleangateway",
            "net1",
        ),
        ({ANNO_IPPOOLS: [{"interface": "eth0", "ipv4": "a"}]}, None, f"{SRC_IPPOOLS}.ipv4", "eth0"),
        (
            {ANNO_IPPOOLS: [{"interface": "eth0", "ipv6": ["a", ""]}]},
            None,
            f"{SRC_IPPOOLS}.ipv6",
            "eth0",
        ),
        (
            {ANNO_IPPOOLS: [{"interface": "eth0", "ipv6": ["a", 7]}]},
            None,
            f"{SRC_IPPOOLS}.ipv6",
            "eth0",
        ),
        (
            {ANNO_IPPOOLS: [{"interface": "eth0", "ipv4": ["a", "a"]}]},
            None,
            f"{SRC_IPPOOLS}.ipv4",
            "eth0",
        ),
        (
            {ANNO_IPPOOLS: [{"interface": "net1"}, {"interface": "eth0"}, {}]},
            None,
            SRC_IPPOOLS,
            "net9",
        ),
        ({ANNO_IPPOOL: "{"}, None, SRC_IPPOOL, "eth0"),
        ({ANNO_IPPOOL: "[" * 5000 + "]" * 5000}, None, SRC_IPPOOL, "eth0"),  # was 999
        ({ANNO_IPPOOLS: "[" * 70 + "]" * 70}, None, SRC_IPPOOLS, "eth0"),
        ({ANNO_IPPOOL: ["a"]}, None, SRC_IPPOOL, "eth0"),
        ({ANNO_IPPOOL: {"ipv4": ["a", "a"]}}, None, f"{SRC_IPPOOL}.ipv4", "eth0"),
        ({ANNO_IPPOOL: {"ipv6": {"a": 1}}}, None, f"{SRC_IPPOOL}.ipv6", "eth0"),
        ({}, {ANNO_NS_V4: "[ns-v4]"}, f"namespace annotation {ANNO_NS_V4}", "eth0"),
        ({}, {ANNO_NS_V4: {"a": 1}}, f"namespace annotation {ANNO_NS_V4}", "eth0"),
        ({}, {ANNO_NS_V6: '"ns-v6"'}, f"namespace annotation {ANNO_NS_V6}", "eth0"),
        ({}, {ANNO_NS_V6: ["x", "x"]}, f"namespace annotation {ANNO_NS_V6}", "eth0"),
    ],
)
def test_malformed_annotations_raise_invalid_config_naming_the_annotation(
    pod: dict[str, Any], ns: dict[str, Any] | None, field: str, ifname: str
) -> None:
    with pytest.raises(BadInput) as exc:
        cands(pod, ns, ("conf-v4",), ifname=ifname)
    assert exc.value.field == field
    assert field in str(exc.value)


# ---------------------------------------------------------------- expand

ALL = ("default-v4", "default-v6", "team-a-v4", "team-b-v4", "team-b-v6", "zz")


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["zz", "default-v4"], ("zz", "default-v4")),
        (["missing"], ("missing",)),
        (["team-*-v4"], ("team-a-v4", "team-b-v4")),
        (["zz", "*-v6", "default-v4"], ("zz", "default-v6", "team-b-v6", "default-v4")),
        (["team-b-v4", "team-?-v4"], ("team-b-v4", "team-a-v4")),
        (
            ["team-[ab]-v4", "team-b-v4", "*"],
            ("team-a-v4", "team-b-v4", "default-v4", "default-v6", "team-b-v6", "zz"),
        ),
        (["nothing-*", "zz"], ("zz",)),
        (["zz", "zz"], ("zz",)),
        ([], ()),
    ],
)
def test_expand_replaces_globs_in_place_sorted_and_drops_duplicates(
    names: list[str], expected: tuple[str, ...]
) -> None:
    assert selection.expand(names, ALL) == expected


@pytest.mark.parametrize(
    ("name", "glob"), [("pool", False), ("pool-*", True), ("p?", True), ("p[12]", True)]
)
def test_is_glob_spots_shell_wildcards(name: str, glob: bool) -> None:
    assert selection.is_glob(name) is glob


# ---------------------------------------------------------------- refusal


def pool(**spec: Any) -> Pool:
    meta = {
        "name": "p",
        **({"deletionTimestamp": "2024-01-01T00:00:00Z"} if spec.pop("terminating", False) else {}),
    }
    return Pool.parse(
        {
            "metadata": meta,
            "spec": {"subnet": "10.0.0.0/24", "ips": ["10.0.0.10-10.0.0.20"], **spec},
        }
    )


def view(**kw: Any) -> PodView:
    base: dict[str, Any] = {
        "namespace": "team-a",
        "labels": {"app": "web"},
        "node": "node-1",
        "node_labels": {"zone": "east"},
        "ns_labels": {"tier": "prod"},
        "network": "kube-system/macvlan",
    }
    return PodView(**{**base, **kw})


ZONE_EAST = {"matchLabels": {"zone": "east"}}
ZONE_WEST = {"matchLabels": {"zone": "west"}}
PROD = {"matchLabels": {"tier": "prod"}}
DEV = {"matchLabels": {"tier": "dev"}}


@pytest.mark.parametrize(
    ("spec", "pod", "reason"),
    [
        ({}, {}, ""),
        ({"subnet": "10.0.0.1/24"}, {}, "broken: spec.subnet"),
        ({"subnet": "10.0.0.1/24", "disable": True, "terminating": True}, {}, "broken: "),
        ({"terminating": True, "disable": True}, {}, "terminating"),
        ({"disable": True, "ipVersion": 6, "subnet": "fd00::/64", "ips": []}, {}, "disabled"),
        ({"ipVersion": 6, "subnet": "fd00::/64", "ips": []}, {}, "is IPv6, wanted IPv4"),
        ({"nodeName": ["node-0", "node-1"]}, {}, ""),
        ({"nodeName": ["node-0"]}, {}, "nodeName ['node-0'] does not include node 'node-1'"),
        ({"nodeName": ["node-1"], "nodeAffinity": ZONE_WEST}, {}, ""),
        (
            {"nodeName": ["node-0"], "nodeAffinity": ZONE_EAST},
            {},
            "nodeName ['node-0'] does not include",
        ),
        ({"nodeAffinity": ZONE_EAST}, {}, ""),
        ({"nodeAffinity": ZONE_WEST}, {}, "nodeAffinity does not match node 'node-1'"),
        (
            {"nodeAffinity": ZONE_EAST},
            {"node_labels": None},
            "nodeAffinity does not match node 'node-1'",
        ),
        ({"nodeAffinity": {}}, {"node_labels": None}, ""),
        ({"namespaceName": ["team-a"]}, {}, ""),
        ({"namespaceName": ["team-b"]}, {}, "namespaceName ['team-b'] does not include 'team-a'"),
        ({"namespaceName": ["team-a"], "namespaceAffinity": DEV}, {}, ""),
        (
            {"namespaceName": ["team-b"], "namespaceAffinity": PROD},
            {},
            "namespaceName ['team-b'] does not include",
        ),
        ({"namespaceAffinity": PROD}, {}, ""),
        ({"namespaceAffinity": DEV}, {}, "namespaceAffinity does not match namespace 'team-a'"),
        (
            {"namespaceAffinity": PROD},
            {"ns_labels": None},
            "namespaceAffinity does not match namespace 'team-a'",
        ),
        ({"podAffinity": {"matchLabels": {"app": "web"}}}, {}, ""),
        (
            {"podAffinity": {"matchLabels": {"app": "db"}}},
            {},
            "podAffinity does not match the pod's labels",
        ),
        ({"multusName": ["kube-system/macvlan"]}, {}, ""),
        ({"multusName": ["other/x", "macvlan"]}, {}, ""),
        # an entry without a namespace means Multus's namespace, as upstream
        (
            {"multusName": ["macvlan"]},
            {"network": "team-a/macvlan"},
            "multusName ['macvlan'] does not include network 'team-a/macvlan'",
        ),
        (
            {"multusName": ["macvlan"]},
            {"network": "team-a/macvlan", "multus_namespace": "team-a"},
            "",
        ),
        (
            {"multusName": ["team-a/macvlan"]},
            {},
            "multusName ['team-a/macvlan'] does not include network 'kube-system/macvlan'",
        ),
        ({"multusName": ["ipvlan"]}, {}, "multusName ['ipvlan'] does not include network"),
        (
            {"multusName": ["macvlan"]},
            {"network": ""},
            "multusName ['macvlan'] does not include network ''",
        ),
        ({}, {"network": ""}, ""),
        # the first failing rule is reported: node, namespace, pod, multus
        (
            {"nodeName": ["x"], "namespaceName": ["x"], "podAffinity": DEV, "multusName": ["x"]},
            {},
            "nodeName",
        ),
        ({"namespaceName": ["x"], "podAffinity": DEV, "multusName": ["x"]}, {}, "namespaceName"),
        ({"podAffinity": DEV, "multusName": ["x"]}, {}, "podAffinity"),
    ],
)
def test_refusal_gives_the_reason_a_pool_may_not_serve_this_interface(
    spec: dict[str, Any], pod: dict[str, Any], reason: str
) -> None:
    got = selection.refusal(pool(**spec), 4, view(**pod))
    assert got.startswith(reason) if reason else got == ""


def test_refusal_for_ipv6_accepts_a_v6_pool_and_refuses_a_v4_one() -> None:
    assert (
        selection.refusal(pool(ipVersion=6, subnet="fd00::/64", ips=["fd00::5"]), 6, view()) == ""
    )
    assert selection.refusal(pool(), 6, view()) == "is IPv4, wanted IPv6"


# ---------------------------------------------------------------- selector_matches

LABELS = {"app": "web", "tier": "prod"}


def expr(op: str, key: str = "app", values: list[str] | None = None) -> dict[str, Any]:
    return {
        "matchExpressions": [
            {"key": key, "operator": op, **({"values": values} if values is not None else {})}
        ]
    }


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ({}, True),
        ({"matchLabels": {}, "matchExpressions": []}, True),
        ({"matchLabels": {"app": "web"}}, True),
        ({"matchLabels": {"app": "web", "tier": "prod"}}, True),
        ({"matchLabels": {"app": "db"}}, False),
        ({"matchLabels": {"zone": "east"}}, False),
        (expr("In", values=["db", "web"]), True),
        (expr("In", values=["db"]), False),
        (expr("In", key="zone", values=["east"]), False),
        (expr("NotIn", values=["web"]), False),
        (expr("NotIn", values=["db"]), True),
        (expr("NotIn", key="zone", values=["east"]), True),
        (expr("Exists"), True),
        (expr("Exists", key="zone"), False),
        (expr("DoesNotExist"), False),
        (expr("DoesNotExist", key="zone"), True),
        (expr("Gt", values=["1"]), False),
        (expr("in", values=["web"]), False),
        ({"matchLabels": {"app": "web"}, **expr("In", key="tier", values=["dev"])}, False),
        ({"matchLabels": {"app": "db"}, **expr("Exists", key="tier")}, False),
        ({"matchLabels": {"app": "web"}, **expr("Exists", key="tier")}, True),
        (
            {
                "matchExpressions": [
                    {"key": "app", "operator": "Exists"},
                    {"key": "zone", "operator": "Exists"},
                ]
            },
            False,
        ),
    ],
)
def test_selector_matches_follows_kubernetes_label_selector_semantics(
    selector: dict[str, Any], matches: bool
) -> None:
    assert selection.selector_matches(selector, LABELS) is matches


# ---------------------------------------------------------------- order

BY_PRIORITY = [  # highest first, one attribute each
    ("pod-affinity", {"podAffinity": {}}),
    ("node-name", {"nodeName": ["n"]}),
    ("node-affinity", {"nodeAffinity": {}}),
    ("namespace-name", {"namespaceName": ["ns"]}),
    ("namespace-affinity", {"namespaceAffinity": {}}),
    ("multus-name", {"multusName": ["m"]}),
    ("plain", {}),
]


def named(name: str, **spec: Any) -> Pool:
    return Pool.parse({"metadata": {"name": name}, "spec": {"subnet": "10.0.0.0/24", **spec}})


def test_order_follows_affinity_priority_whatever_the_input_order() -> None:
    pools = [named(n, **spec) for n, spec in reversed(BY_PRIORITY)]
    assert [p.name for p in selection.order(pools)] == [n for n, _ in BY_PRIORITY]


@pytest.mark.parametrize("index", range(len(BY_PRIORITY) - 1))
def test_one_attribute_outranks_every_combination_of_those_after_it(index: int) -> None:
    name, spec = BY_PRIORITY[index]
    lower = {k: v for _, s in BY_PRIORITY[index + 1 :] for k, v in s.items()}
    pools = [named("all-lower", **lower), named(name, **spec)]
    assert [p.name for p in selection.order(pools)] == [name, "all-lower"]


def test_order_keeps_the_users_order_among_equal_priorities() -> None:
    pools = [
        named("c"),
        named("a", nodeName=["n"]),
        named("b"),
        named("z", nodeName=["m"]),
        named("a2"),
    ]
    assert [p.name for p in selection.order(pools)] == ["a", "z", "c", "b", "a2"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.booleans(), min_size=len(BY_PRIORITY) - 1, max_size=len(BY_PRIORITY) - 1),
        max_size=8,
    )
)
def test_order_is_a_stable_sort_by_priority(flags: list[list[bool]]) -> None:
    pools = []
    for n, row in enumerate(flags):
        spec = {
            k: v for on, (_, s) in zip(row, BY_PRIORITY, strict=False) if on for k, v in s.items()
        }
        pools.append(named(f"p{n}", **spec))
    got = [p.name for p in selection.order(pools)]
    ranked = sorted(
        range(len(flags)), key=lambda n: tuple(not f for f in flags[n])
    )  # stable, highest first
    assert got == [f"p{n}" for n in ranked]


# ---------------------------------------------------------------- network_of

DEFAULT_NET = "v1.multus-cni.io/default-network"
NETWORKS = "k8s.v1.cni.cncf.io/networks"
JSON_NETS = json.dumps(
    [
        {"name": "macvlan-a", "namespace": "kube-system"},
        {"name": "sriov-b", "interface": "vf1"},
        {"name": "ipvlan-c"},
    ]
)
COMMA_NETS = "kube-system/macvlan-a, sriov-b@vf1 ,ipvlan-c"


@pytest.mark.parametrize(
    ("ifname", "annotations", "expected"),
    [
        ("eth0", {DEFAULT_NET: "kube-system/macvlan"}, "kube-system/macvlan"),
        # the default network's namespace defaults to Multus's own, as Multus does
        ("eth0", {DEFAULT_NET: "macvlan"}, "multus-ns/macvlan"),
        ("eth0", {DEFAULT_NET: '[{"name": "macvlan", "namespace": "team"}]'}, "team/macvlan"),
        ("eth0", {}, "multus-ns/conf-net"),
        ("eth0", {DEFAULT_NET: ""}, "multus-ns/conf-net"),
        ("eth0", {NETWORKS: COMMA_NETS}, "multus-ns/conf-net"),
        ("net1", {NETWORKS: JSON_NETS}, "kube-system/macvlan-a"),
        ("vf1", {NETWORKS: JSON_NETS}, "pod-ns/sriov-b"),
        ("net2", {NETWORKS: JSON_NETS}, ""),
        ("net3", {NETWORKS: JSON_NETS}, "pod-ns/ipvlan-c"),
        ("net1", {NETWORKS: COMMA_NETS}, "kube-system/macvlan-a"),
        ("vf1", {NETWORKS: COMMA_NETS}, "pod-ns/sriov-b"),
        ("net3", {NETWORKS: COMMA_NETS}, "pod-ns/ipvlan-c"),
        ("net1", {NETWORKS: "ipvlan-c"}, "pod-ns/ipvlan-c"),
        ("net4", {NETWORKS: COMMA_NETS}, ""),
        ("net1", {NETWORKS: "   "}, ""),
        ("net1", {}, ""),
    ],
)
def test_network_of_finds_the_nad_multus_used_for_the_interface(
    ifname: str, annotations: dict[str, str], expected: str
) -> None:
    got = selection.network_of(ifname, annotations, "pod-ns", "conf-net", multus.Setup("multus-ns"))
    assert got == expected


WITH_DEFAULTS = multus.Setup("multus-ns", ("monitor", "team/storage"), ("kube-system",))


@pytest.mark.parametrize(
    ("ifname", "namespace", "expected"),
    [
        ("net1", "pod-ns", "multus-ns/monitor"),  # Multus's default networks come first
        ("net2", "pod-ns", "team/storage"),
        ("net3", "pod-ns", "kube-system/macvlan-a"),  # then the annotation's, after them
        ("vf1", "pod-ns", "pod-ns/sriov-b"),
        ("net5", "pod-ns", "pod-ns/ipvlan-c"),
        ("net4", "pod-ns", ""),
        ("net1", "kube-system", "kube-system/macvlan-a"),  # a system namespace gets none
        ("net3", "kube-system", "kube-system/ipvlan-c"),
    ],
)
def test_multus_default_networks_take_the_first_nic_names(
    ifname: str, namespace: str, expected: str
) -> None:
    annotations = {NETWORKS: JSON_NETS}
    assert selection.network_of(ifname, annotations, namespace, "conf", WITH_DEFAULTS) == expected
    still = multus.still_requested(annotations, ifname, namespace, WITH_DEFAULTS)
    assert still == (expected != "")


@pytest.mark.parametrize(
    "raw", ["[{not json", '["x", 7]', '{"name": "a"}', "a/b/c", "a@b@c", "UPPER", '[{"name": 7}]']
)
def test_network_of_refuses_an_annotation_multus_would_refuse_with_code_7(raw: str) -> None:
    with pytest.raises(BadInput) as e:
        selection.network_of("net1", {NETWORKS: raw}, "pod-ns", "conf-net", multus.Setup())
    assert NETWORKS in str(e.value)


@pytest.mark.parametrize("ifname", ["net2", "eth1"])
def test_named_ippools_must_name_the_interface_being_added_as_upstream_requires(
    ifname: str,
) -> None:
    with pytest.raises(BadInput) as e:
        cands({ANNO_IPPOOLS: NAMED, **IPPOOL}, None, ifname=ifname)
    assert f"interface {ifname} must be specified" in str(e.value)
    assert ANNO_IPPOOLS in str(e.value)
