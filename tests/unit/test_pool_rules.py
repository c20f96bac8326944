"""The admission rules for SpiderIPPool and SpiderReservedIP (spidernet.validation), pure.

Case matrix:

    one pool, valid      v4 and v6, every spec field, ipVersion absent (inferred), no ips,
                         gateway outside ips or excluded, upstream's docs pools, our examples
    one pool, invalid    each rule by field: name, spec missing, unknown key, subnet missing /
                         not a CIDR / not canonical, ipVersion 5 / mismatch, ips and excludeIPs
                         malformed / wrong family / start after end / outside the subnet,
                         gateway not an IP / outside / inside ips, routes default / duplicate /
                         wrong family / gw outside, podAffinity empty, bad selector operator,
                         values with Exists, a bad label key, bad node / namespace / multus names,
                         default not a bool; all problems of one pool reported at once
    overlap              nested subnets of one family; same subnet sharing addresses (named,
                         with the other pool); same subnet disjoint ips; excludeIPs removing the
                         overlap; other family; a pool against itself
    update               subnet / ipVersion changed; an allocated address leaving ips or entering
                         excludeIPs (pod named); a cooling address may leave; growing ips is
                         fine; a terminating pool's spec is frozen
    reserved IP          valid v4, v6, mixed families; ips missing / empty; entry of the other
                         family than ipVersion or the first entry; ipVersion 5; unknown key
    CRD agreement        the known spec keys are exactly those the CRD schema types
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from spidernet.validation import ippools, objects, reservedips
from spidernet.validation.problems import Problem
from tools.testbed import paths

CRDS = paths.REPO / "installer" / "manifests" / "crds"


def pool(name: str = "p", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"subnet": "10.6.0.0/24", "ips": ["10.6.0.10-10.6.0.20"]}
    return {
        "apiVersion": "spiderpool.spidernet.io/v2beta1",
        "kind": "SpiderIPPool",
        "metadata": {"name": name},
        "spec": {**base, **spec},
    }


def fields(problems: list[Problem]) -> list[str]:
    return [p.field for p in problems]


def test_a_pool_with_every_field_set_right_has_no_problem() -> None:
    obj = pool(
        ipVersion=4,
        excludeIPs=["10.6.0.15"],
        gateway="10.6.0.1",
        routes=[{"dst": "10.8.0.0/16", "gw": "10.6.0.2"}],
        podAffinity={"matchLabels": {"app": "web"}},
        namespaceAffinity={
            "matchExpressions": [{"key": "team", "operator": "In", "values": ["a"]}]
        },
        nodeAffinity={"matchExpressions": [{"key": "zone", "operator": "Exists"}]},
        nodeName=["node-1"],
        namespaceName=["default"],
        multusName=["kube-system/macvlan-ens1", "ipvlan"],
        default=True,
        disable=False,
    )
    assert ippools.problems(obj) == []


@pytest.mark.parametrize(
    "spec",
    [
        {"subnet": "fd00:6::/64", "ips": ["fd00:6::10-fd00:6::ff"], "gateway": "fd00:6::1"},
        {"subnet": "10.6.0.0/24", "ips": []},  # upstream allows a pool with no addresses yet
        {
            "subnet": "10.6.0.0/24",
            "ips": ["10.6.0.1-10.6.0.9"],
            "gateway": "10.6.0.1",
            "excludeIPs": ["10.6.0.1"],
        },
        # upstream's docs: fixed-ippool (KubeCon), without ipVersion
        {
            "subnet": "10.6.0.0/16",
            "ips": ["10.6.0.10-10.6.0.15"],
            "gateway": "10.6.0.1",
            "podAffinity": {"matchLabels": {"app": "server"}},
        },
    ],
    ids=["v6", "no-ips", "gateway-excluded", "upstream-fixed-ippool"],
)
def test_valid_pools_pass(spec: dict[str, Any]) -> None:
    obj = pool()
    obj["spec"] = spec
    assert ippools.problems(obj) == []


INVALID = [
    ("name", {}, {"metadata": {"name": "Bad_Name"}}, "metadata.name"),
    ("unknown-key", {"excludeIP": ["10.6.0.11"]}, {}, "spec.excludeIP"),
    ("subnet-missing", {"subnet": None}, {}, "spec.subnet"),
    ("subnet-garbage", {"subnet": "10.6.0/33"}, {}, "spec.subnet"),
    ("subnet-not-canonical", {"subnet": "10.6.0.1/24"}, {}, "spec.subnet"),
    ("ipversion-5", {"ipVersion": 5}, {}, "spec.ipVersion"),
    ("ipversion-mismatch", {"ipVersion": 6}, {}, "spec.ipVersion"),
    ("ips-garbage", {"ips": ["10.6.0.x"]}, {}, "spec.ips[0]"),
    ("ips-wrong-family", {"ips": ["fd00::1"]}, {}, "spec.ips[0]"),
    ("ips-reversed", {"ips": ["10.6.0.20-10.6.0.10"]}, {}, "spec.ips[0]"),
    ("ips-outside", {"ips": ["10.6.0.10", "10.7.0.1"]}, {}, "spec.ips[1]"),
    ("exclude-outside", {"excludeIPs": ["10.9.0.1"]}, {}, "spec.excludeIPs[0]"),
    ("gateway-garbage", {"gateway": "gw"}, {}, "spec.gateway"),
    ("gateway-outside", {"gateway": "10.7.0.1"}, {}, "spec.gateway"),
    ("gateway-handed-out", {"gateway": "10.6.0.12"}, {}, "spec.gateway"),
    (
        "route-default",
        {"routes": [{"dst": "0.0.0.0/0", "gw": "10.6.0.1"}]},
        {},
        "spec.routes[0].dst",
    ),
    (
        "route-twice",
        {"routes": [{"dst": "10.8.0.0/16", "gw": "10.6.0.1"}] * 2},
        {},
        "spec.routes[1].dst",
    ),
    (
        "route-family",
        {"routes": [{"dst": "fd00::/64", "gw": "10.6.0.1"}]},
        {},
        "spec.routes[0].dst",
    ),
    (
        "route-gw-outside",
        {"routes": [{"dst": "10.8.0.0/16", "gw": "10.9.0.1"}]},
        {},
        "spec.routes[0].gw",
    ),
    ("pod-affinity-empty", {"podAffinity": {}}, {}, "spec.podAffinity"),
    (
        "operator",
        {"nodeAffinity": {"matchExpressions": [{"key": "z", "operator": "Gt", "values": ["1"]}]}},
        {},
        "spec.nodeAffinity.matchExpressions[0].operator",
    ),
    (
        "exists-with-values",
        {
            "nodeAffinity": {
                "matchExpressions": [{"key": "z", "operator": "Exists", "values": ["1"]}]
            }
        },
        {},
        "spec.nodeAffinity.matchExpressions[0].values",
    ),
    (
        "label-key",
        {"podAffinity": {"matchLabels": {"-bad": "x"}}},
        {},
        "spec.podAffinity.matchLabels",
    ),
    ("node-name", {"nodeName": ["Node_1"]}, {}, "spec.nodeName[0]"),
    ("namespace-name", {"namespaceName": ["a.b"]}, {}, "spec.namespaceName[0]"),
    ("multus-name", {"multusName": ["a/b/c"]}, {}, "spec.multusName[0]"),
    ("default-not-bool", {"default": "yes"}, {}, "spec.default"),
]


@pytest.mark.parametrize(
    ("spec", "meta", "field"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_each_pool_rule_names_its_field(
    spec: dict[str, Any], meta: dict[str, Any], field: str
) -> None:
    obj = pool(**{k: v for k, v in spec.items() if v is not None})
    if spec.get("subnet", "") is None:
        del obj["spec"]["subnet"]
    obj.update(meta)
    assert field in fields(ippools.problems(obj))


def test_every_problem_of_a_pool_is_reported_at_once() -> None:
    obj = pool(ips=["10.6.0.x", "10.7.0.1"], gateway="10.9.0.1", excludeIP=["1"])
    assert fields(ippools.problems(obj)) == [
        "spec.excludeIP",
        "spec.ips[0]",
        "spec.ips[1]",
        "spec.gateway",
    ]


def test_a_spec_missing_entirely_is_one_problem() -> None:
    obj = pool()
    del obj["spec"]
    assert fields(ippools.problems(obj)) == ["spec"]


# ------------------------------------------------------------------ overlap


def verdicts(*pools: dict[str, Any]) -> dict[str, list[Problem]]:
    return {v.name: v.problems for v in objects.checked(list(pools))}


def test_nested_subnets_of_one_family_overlap_and_both_pools_say_which() -> None:
    found = verdicts(
        pool("a", subnet="10.6.0.0/16", ips=["10.6.0.10"]),
        pool("b", subnet="10.6.1.0/24", ips=["10.6.1.10"]),
    )
    assert fields(found["a"]) == ["spec.subnet"] and "SpiderIPPool b" in found["a"][0].message
    assert fields(found["b"]) == ["spec.subnet"] and "SpiderIPPool a" in found["b"][0].message


def test_pools_on_one_subnet_may_not_share_an_address() -> None:
    found = verdicts(pool("a", ips=["10.6.0.10-10.6.0.20"]), pool("b", ips=["10.6.0.18-10.6.0.30"]))
    assert fields(found["a"]) == ["spec.ips"]
    assert "10.6.0.18-10.6.0.20 also in SpiderIPPool b" in found["a"][0].message


def test_pools_on_one_subnet_with_disjoint_addresses_are_fine() -> None:
    found = verdicts(pool("a", ips=["10.6.0.10-10.6.0.20"]), pool("b", ips=["10.6.0.21-10.6.0.30"]))
    assert found == {"a": [], "b": []}


def test_an_excluded_address_is_not_an_overlap() -> None:
    found = verdicts(
        pool("a", ips=["10.6.0.10-10.6.0.20"], excludeIPs=["10.6.0.20"]),
        pool("b", ips=["10.6.0.20-10.6.0.30"]),
    )
    assert found == {"a": [], "b": []}


def test_pools_of_two_families_never_overlap() -> None:
    v6 = pool("b", subnet="fd00::/64", ips=["fd00::10"])
    assert verdicts(pool("a"), v6) == {"a": [], "b": []}


def test_a_pool_does_not_overlap_itself() -> None:
    extent = ippools.extent(pool("a"))
    assert extent is not None and ippools.overlaps(extent, [extent]) == []


# ------------------------------------------------------------------ update


def allocated(obj: dict[str, Any], records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj["status"] = {"allocatedIPs": json.dumps(records)}
    return obj


HELD = {"10.6.0.12": {"pod": "ns/web-0", "podUid": "u1"}}


def test_the_subnet_and_ip_version_never_change() -> None:
    old = pool(ipVersion=4)
    new = pool(ipVersion=4, subnet="10.6.1.0/24", ips=["10.6.1.10"])
    assert fields(ippools.update_problems(old, new)) == ["spec.subnet"]


def test_an_allocated_address_may_not_leave_ips() -> None:
    old = allocated(pool(), HELD)
    problems = ippools.update_problems(old, pool(ips=["10.6.0.13-10.6.0.20"]))
    assert fields(problems) == ["spec.ips"] and "pod ns/web-0 (UID u1)" in problems[0].message


def test_an_allocated_address_may_not_be_excluded() -> None:
    old = allocated(pool(), HELD)
    assert fields(ippools.update_problems(old, pool(excludeIPs=["10.6.0.12"]))) == [
        "spec.excludeIPs"
    ]


def test_a_cooling_address_may_leave_and_growing_is_fine() -> None:
    cooling = {"10.6.0.12": {"pod": "ns/a", "podUid": "u", "cooldownUntil": "2099-01-01T00:00:00Z"}}
    assert ippools.update_problems(allocated(pool(), cooling), pool(ips=["10.6.0.13"])) == []
    assert ippools.update_problems(allocated(pool(), HELD), pool(ips=["10.6.0.1-10.6.0.99"])) == []


def test_a_terminating_pools_spec_is_frozen() -> None:
    old = pool()
    old["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert fields(ippools.update_problems(old, pool(disable=True))) == ["spec"]
    assert ippools.update_problems(old, copy.deepcopy(old)) == []


# ------------------------------------------------------------------ reserved IPs


def reserved(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "spiderpool.spidernet.io/v2beta1",
        "kind": "SpiderReservedIP",
        "metadata": {"name": "r"},
        "spec": spec,
    }


@pytest.mark.parametrize(
    "spec",
    [{"ips": ["10.6.0.1", "10.6.0.5-10.6.0.9"]}, {"ipVersion": 6, "ips": ["fd00::1"]}],
    ids=["v4-inferred", "v6"],
)
def test_valid_reserved_ips_pass(spec: dict[str, Any]) -> None:
    assert reservedips.problems(reserved(**spec)) == []


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({}, "spec.ips"),
        ({"ips": []}, "spec.ips"),
        ({"ips": ["10.6.0.1", "fd00::1"]}, "spec.ips[1]"),
        ({"ipVersion": 6, "ips": ["10.6.0.1"]}, "spec.ips[0]"),
        ({"ipVersion": 5, "ips": ["10.6.0.1"]}, "spec.ipVersion"),
        ({"ips": ["10.6.0.9-10.6.0.1"]}, "spec.ips[0]"),
        ({"ips": ["10.6.0.1"], "subnet": "10.6.0.0/24"}, "spec.subnet"),
    ],
    ids=["missing", "empty", "mixed", "wrong-family", "version-5", "reversed", "unknown-key"],
)
def test_each_reserved_ip_rule_names_its_field(spec: dict[str, Any], field: str) -> None:
    assert field in fields(reservedips.problems(reserved(**spec)))


# ------------------------------------------------------------------ the CRDs


@pytest.mark.parametrize(
    ("crd", "known"),
    [("spiderippools.yaml", ippools.SPEC_KEYS), ("spiderreservedips.yaml", reservedips.SPEC_KEYS)],
)
def test_the_rules_know_exactly_the_spec_keys_the_crd_types(
    crd: str, known: frozenset[str]
) -> None:
    doc = yaml.safe_load((CRDS / crd).read_text())
    schema = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert set(schema["properties"]["spec"]["properties"]) == known
