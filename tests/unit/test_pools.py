"""alloc.pools: SpiderIPPool objects (upstream's shape) into Pool, broken pools, records.

Case matrix:

    parse ok        every spec field (ipVersion, subnet, ips, excludeIPs, gateway, routes,
                    default, disable, nodeName, namespaceName, multusName, node/namespace/pod
                    affinities), metadata (name, resourceVersion, deletionTimestamp), status
                    allocatedIPs as a JSON string; v6 /64; ipVersion omitted (from subnet);
                    absent optional fields; no ips; gateway excluded / outside ips but in subnet
    broken          one reason each, and a broken pool holds nothing usable, no subnet and no
                    records, keeps its name and selection data: subnet missing / garbage /
                    non-canonical (10.0.0.1/24) / ipVersion mismatch both ways; ips and
                    excludeIPs outside the subnet; malformed range (index named), wrong family,
                    CIDR in ips; gateway not an IP / outside subnet / other family / inside
                    usable ips; allocatedIPs unreadable: bad JSON, a list, a string, a number,
                    a non-object record, a key that is not an IP (never read as "no records")
                    family of a broken pool: ipVersion when it is 4 or 6, else 4
    records         parse_records: null / "" / missing -> {}; a dict is accepted as is;
                    records_json: None for no records, compact upstream keys ("pod", "podUid");
                    parse_records(records_json(r)) == r
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from spidernet.alloc import pools
from spidernet.alloc.pools import Pool, PoolRoute, Record
from spidernet.ipmath.ranges import RangeSet


def pool_obj(
    spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None, **meta: Any
) -> dict[str, Any]:
    """A SpiderIPPool as the apiserver returns it; ``spec`` overrides a valid v4 pool."""
    base_spec: dict[str, Any] = {
        "ipVersion": 4,
        "subnet": "10.6.0.0/24",
        "ips": ["10.6.0.1-10.6.0.20"],
        "excludeIPs": ["10.6.0.1"],
        "gateway": "10.6.0.1",
    }
    obj: dict[str, Any] = {
        "apiVersion": "spiderpool.spidernet.io/v2beta1",
        "kind": "SpiderIPPool",
        "metadata": {"name": "pool-a", "resourceVersion": "1234", **meta},
        "spec": {**base_spec, **(spec or {})},
    }
    if status is not None:
        obj["status"] = status
    return obj


RECORDS = {
    "10.6.0.2": {"pod": "default/web-0", "podUid": "uid-0"},
    "10.6.0.3": {"pod": "default/web-1", "podUid": "uid-1"},
}


# ---------------------------------------------------------------- parse ok


def test_parse_reads_every_upstream_field() -> None:
    node_aff = {"matchLabels": {"zone": "a"}}
    ns_aff = {"matchExpressions": [{"key": "team", "operator": "Exists"}]}
    pod_aff = {"matchLabels": {"app": "web"}}
    obj = pool_obj(
        {
            "excludeIPs": ["10.6.0.1", "10.6.0.10-10.6.0.12"],
            "routes": [{"dst": "172.16.0.0/16", "gw": "10.6.0.254"}],
            "default": True,
            "disable": False,
            "nodeName": ["node-1", "node-2"],
            "namespaceName": ["default"],
            "multusName": ["kube-system/macvlan-ens192"],
            "nodeAffinity": node_aff,
            "namespaceAffinity": ns_aff,
            "podAffinity": pod_aff,
        },
        {"allocatedIPs": json.dumps(RECORDS), "allocatedIPCount": 2, "totalIPCount": 16},
    )
    pool = Pool.parse(obj)
    assert pool.broken == ""
    assert pool.name == "pool-a" and pool.resource_version == "1234" and not pool.terminating
    assert (
        pool.family == 4
        and pool.subnet == ipaddress.ip_network("10.6.0.0/24")
        and pool.prefix_len == 24
    )
    assert pool.usable == RangeSet.parse(["10.6.0.2-10.6.0.9", "10.6.0.13-10.6.0.20"], 4)
    assert pool.gateway == "10.6.0.1"
    assert pool.routes == (PoolRoute("172.16.0.0/16", "10.6.0.254"),)
    assert pool.default and not pool.disable
    assert pool.node_name == ("node-1", "node-2")
    assert pool.namespace_name == ("default",)
    assert pool.multus_name == ("kube-system/macvlan-ens192",)
    assert (pool.node_affinity, pool.namespace_affinity, pool.pod_affinity) == (
        node_aff,
        ns_aff,
        pod_aff,
    )
    assert pool.records == {
        "10.6.0.2": Record("default/web-0", "uid-0"),
        "10.6.0.3": Record("default/web-1", "uid-1"),
    }


def test_parse_of_a_v6_slash_64_pool_keeps_the_whole_range_as_one_interval() -> None:
    obj = pool_obj(
        {
            "ipVersion": 6,
            "subnet": "fd00:6::/64",
            "ips": ["fd00:6::2-fd00:6::ffff:ffff:ffff:ffff"],
            "excludeIPs": [],
            "gateway": "fd00:6::1",
        }
    )
    pool = Pool.parse(obj)
    assert pool.broken == ""
    assert pool.family == 6 and pool.prefix_len == 64
    assert pool.usable.count() == 2**64 - 2


def test_parse_takes_the_family_from_the_subnet_when_ip_version_is_omitted() -> None:
    pool = Pool.parse(
        {"metadata": {"name": "v6"}, "spec": {"subnet": "fd00::/120", "ips": ["fd00::5"]}}
    )
    assert (pool.broken, pool.family, pool.prefix_len) == ("", 6, 120)


def test_parse_of_a_minimal_pool_gives_empty_defaults() -> None:
    pool = Pool.parse({"metadata": {"name": "bare"}, "spec": {"subnet": "10.0.0.0/30"}})
    assert pool.broken == ""
    assert not pool.usable and pool.gateway == "" and pool.routes == ()
    assert not (pool.default or pool.disable or pool.terminating)
    assert pool.node_name == pool.namespace_name == pool.multus_name == ()
    assert pool.node_affinity is pool.namespace_affinity is pool.pod_affinity is None
    assert pool.records == {} and pool.resource_version == ""


def test_parse_marks_a_pool_with_a_deletion_timestamp_as_terminating() -> None:
    assert Pool.parse(pool_obj(deletionTimestamp="2024-01-01T00:00:00Z")).terminating


@pytest.mark.parametrize(
    "spec",
    [
        {"gateway": "10.6.0.1"},  # excluded
        {"gateway": "10.6.0.254"},  # in the subnet, not in ips
        {"gateway": ""},
        {"excludeIPs": [], "ips": ["10.6.0.2-10.6.0.20"], "gateway": "10.6.0.1"},
    ],
)
def test_a_gateway_outside_the_usable_ips_is_fine(spec: dict[str, Any]) -> None:
    assert Pool.parse(pool_obj(spec)).broken == ""


# ---------------------------------------------------------------- broken


@pytest.mark.parametrize(
    ("spec", "status", "reason"),
    [
        ({"subnet": None}, None, "spec.subnet: "),
        ({"subnet": "10.6.0.0/33"}, None, "spec.subnet: "),
        ({"subnet": "not-a-subnet"}, None, "spec.subnet: "),
        ({"subnet": "10.6.0.1/24"}, None, "spec.subnet: 10.6.0.1/24 has host bits set"),
        ({"ipVersion": 6}, None, "spec.ipVersion 6 does not match spec.subnet 10.6.0.0/24"),
        (
            {"ipVersion": 4, "subnet": "fd00::/64", "ips": [], "excludeIPs": [], "gateway": ""},
            None,
            "spec.ipVersion 4 does not match spec.subnet fd00::/64",
        ),
        (
            {"ips": ["10.6.0.250-10.6.1.2"]},
            None,
            "spec.ips ['10.6.1.0-10.6.1.2'] outside spec.subnet 10.6.0.0/24",
        ),
        (
            {"excludeIPs": ["10.6.0.1", "10.7.0.1"]},
            None,
            "spec.excludeIPs ['10.7.0.1'] outside spec.subnet",
        ),
        (
            {"ips": ["10.6.0.2", "10.6.0.9-10.6.0.3"]},
            None,
            "spec.ips[1] '10.6.0.9-10.6.0.3': range start is after",
        ),
        ({"ips": ["fd00::1"]}, None, "spec.ips[0] 'fd00::1': not an IPv4 address"),
        ({"ips": ["10.6.0.0/28"]}, None, "spec.ips[0] '10.6.0.0/28': a CIDR is not allowed here"),
        ({"excludeIPs": ["garbage"]}, None, "spec.excludeIPs[0] 'garbage': "),
        ({"gateway": "gateway.local"}, None, "spec.gateway 'gateway.local' is not an IP address"),
        ({"gateway": "10.7.0.1"}, None, "spec.gateway 10.7.0.1 is outside spec.subnet"),
        ({"gateway": "fd00::1"}, None, "spec.gateway fd00::1 is outside spec.subnet"),
        (
            {"gateway": "10.6.0.5"},
            None,
            "spec.gateway 10.6.0.5 is inside spec.ips: add it to spec.excludeIPs",
        ),
        ({"excludeIPs": []}, None, "spec.gateway 10.6.0.1 is inside spec.ips"),
        ({}, {"allocatedIPs": "{not json"}, "status.allocatedIPs unreadable: "),
        (
            {},
            {"allocatedIPs": "[]"},
            "status.allocatedIPs unreadable: status.allocatedIPs is not a JSON object",
        ),
        ({}, {"allocatedIPs": '"10.6.0.2"'}, "status.allocatedIPs unreadable: "),
        ({}, {"allocatedIPs": "7"}, "status.allocatedIPs unreadable: "),
        (
            {},
            {"allocatedIPs": '{"10.6.0.2": "default/web-0"}'},
            "record for 10.6.0.2 is not a JSON object",
        ),
        ({}, {"allocatedIPs": '{"10.6.0.2": null}'}, "record for 10.6.0.2 is not a JSON object"),
        (
            {},
            {"allocatedIPs": '{"web-0": {"pod": "default/web-0", "podUid": "u"}}'},
            "status.allocatedIPs unreadable: 'web-0' does not appear to be an IPv4 or IPv6 address",
        ),
    ],
)
def test_a_broken_pool_says_why_and_offers_nothing(
    spec: dict[str, Any], status: dict[str, Any] | None, reason: str
) -> None:
    obj = pool_obj({**spec, "nodeName": ["node-1"], "default": True}, status)
    pool = Pool.parse(obj)
    assert reason in pool.broken
    assert pool.subnet is None and not pool.usable and pool.records == {}
    assert pool.prefix_len == (32 if pool.family == 4 else 128)
    # what selection needs to list and refuse it stays readable
    assert pool.name == "pool-a" and pool.node_name == ("node-1",) and pool.default


def test_unreadable_records_break_an_otherwise_valid_pool_rather_than_read_as_empty() -> None:
    good = Pool.parse(pool_obj(status={"allocatedIPs": json.dumps(RECORDS)}))
    bad = Pool.parse(pool_obj(status={"allocatedIPs": json.dumps(RECORDS)[:-1]}))
    assert good.broken == "" and len(good.records) == 2
    assert bad.broken.startswith("status.allocatedIPs unreadable")


@pytest.mark.parametrize(("ip_version", "family"), [(6, 6), (4, 4), (None, 4), ("6", 4), (5, 4)])
def test_a_broken_pool_keeps_its_declared_family_when_it_is_4_or_6(
    ip_version: object, family: int
) -> None:
    obj = pool_obj({"subnet": "bogus", "ipVersion": ip_version})
    pool = Pool.parse(obj)
    assert pool.broken and pool.family == family and pool.usable == RangeSet(family)


# ---------------------------------------------------------------- records


@pytest.mark.parametrize("status", [None, {}, {"allocatedIPs": None}, {"allocatedIPs": ""}])
def test_no_allocated_ips_reads_as_no_records(status: dict[str, Any] | None) -> None:
    pool = Pool.parse(pool_obj(status=status))
    assert pool.broken == "" and pool.records == {}


def test_parse_records_accepts_an_already_decoded_object() -> None:
    assert pools.parse_records(RECORDS) == pools.parse_records(json.dumps(RECORDS))


def test_parse_records_reads_missing_record_fields_as_empty_strings() -> None:
    assert pools.parse_records('{"10.6.0.2": {}}') == {"10.6.0.2": Record("", "")}


def test_records_json_is_none_for_no_records() -> None:
    assert pools.records_json({}) is None


def test_records_json_writes_upstream_keys_compactly_and_parses_back() -> None:
    records = {"10.6.0.2": Record("default/web-0", "uid-0"), "fd00::a": Record("ns/x", "uid-x")}
    text = pools.records_json(records)
    assert text is not None and " " not in text
    assert json.loads(text) == {
        "10.6.0.2": {"pod": "default/web-0", "podUid": "uid-0"},
        "fd00::a": {"pod": "ns/x", "podUid": "uid-x"},
    }
    assert pools.parse_records(text) == records


def test_record_to_json_uses_upstream_field_names() -> None:
    assert Record("a/b", "u").to_json() == {"pod": "a/b", "podUid": "u"}
