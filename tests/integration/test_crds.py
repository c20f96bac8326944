"""The CRD manifests in installer/manifests/crds install on the real 1.20 apiserver and validate.

Case matrix (every case against etcd + kube-apiserver, CRDs installed by tools/testbed/crds.py):

| resource         | case                                                   | expect               |
|------------------|--------------------------------------------------------|----------------------|
| all four         | install from the kustomization list                    | Established, served  |
| all four         | discovery: scope, shortName, category, /status         | as upstream          |
|                  | subresource                                            |                      |
| SpiderIPPool     | valid pool (v4 ranges, affinities, routes)             | 201, defaults false  |
| SpiderIPPool     | status PUT via /status with the read resourceVersion   | 200, stored          |
| SpiderIPPool     | status PUT with allocatedIPs null (no records)         | 200, field absent    |
| SpiderIPPool     | status sent on the main resource                       | ignored              |
| SpiderIPPool     | unknown spec field                                     | pruned               |
| SpiderIPPool     | IPv6 pool with a range                                 | 201                  |
| SpiderIPPool     | ipVersion 5                                            | 422 naming the field |
| SpiderIPPool     | ips item not an address or range                       | 422 naming spec.ips  |
| SpiderIPPool     | subnet missing                                         | 422 naming the field |
| SpiderIPPool     | matchExpressions operator outside the enum             | 422 naming the field |
| SpiderIPPool     | negative allocatedIPCount through /status              | 422 naming the field |
| SpiderIPPool     | table view                                             | upstream's columns   |
| SpiderEndpoint   | status.current with our per-NIC containerID/network    | 201, kept verbatim   |
| SpiderEndpoint   | plain PUT rewrites status; /status does not exist      | 200; 404             |
| SpiderEndpoint   | status.current without uid                             | 422 naming the field |
| SpiderEndpoint   | vlan 4095                                              | 422 naming the field |
| SpiderEndpoint   | table view                                             | columns from ips[0]  |
| SpiderReservedIP | valid v4 reservation                                   | 201                  |
| SpiderReservedIP | ipVersion 5                                            | 422 naming the field |
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from tools.testbed import crds
from tools.testbed.controlplane import ControlPlane

pytestmark = pytest.mark.apiserver

GROUP, VERSION = "spiderpool.spidernet.io", "v2beta1"
API = f"/apis/{GROUP}/{VERSION}"
POOLS = f"{API}/spiderippools"
RESERVED = f"{API}/spiderreservedips"
NAMESPACE = "crd-test"
ENDPOINTS = f"{API}/namespaces/{NAMESPACE}/spiderendpoints"
CRD_BASE = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


@pytest.fixture(scope="module")
def cp(control_plane: ControlPlane) -> ControlPlane:
    crds.install(control_plane)
    status, reply = control_plane.request(
        "POST", "/api/v1/namespaces", {"metadata": {"name": NAMESPACE}}
    )
    assert status in (201, 409), reply
    return control_plane


def pool(name: str, **spec: Any) -> dict[str, Any]:
    body = {"subnet": "10.20.0.0/24", "ipVersion": 4, "ips": ["10.20.0.10-10.20.0.50"], **spec}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SpiderIPPool",
        "metadata": {"name": name},
        "spec": body,
    }


def endpoint(name: str, current: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SpiderEndpoint",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {"spiderpool.spidernet.io/node": "node-1"},
        },
        "status": {
            "current": current,
            "ownerControllerType": "Deployment",
            "ownerControllerName": "web",
        },
    }


CURRENT = {
    "uid": "0b6e3c9a-1111-2222-3333-444455556666",
    "node": "node-1",
    "ips": [
        {
            "interface": "eth0",
            "containerID": "c0ffee" * 10 + "abcd",
            "network": "macvlan-underlay",
            "ipv4": "10.20.0.10/24",
            "ipv4Pool": "crdtest-pool",
            "ipv4Gateway": "10.20.0.1",
            "ipv6": "fd00:20::10/64",
            "ipv6Pool": "crdtest-pool6",
            "ipv6Gateway": "fd00:20::1",
            "vlan": 0,
            "cleanGateway": False,
            "routes": [{"dst": "10.30.0.0/16", "gw": "10.20.0.1"}],
        }
    ],
}


def unindexed(path: str) -> str:
    """1.20's schema validator names list items without their index (`spec.ips`, not
    `spec.ips[1]`)."""
    return re.sub(r"\[\d+\]", "", path)


def assert_invalid(status: int, reply: Any, field: str, value: object = None) -> None:
    """422 Invalid whose message and causes name `field` (index-free on 1.20) and the bad value."""
    assert status == 422, reply
    assert reply["reason"] == "Invalid", reply
    assert unindexed(field) in unindexed(reply["message"]), reply["message"]
    fields = [unindexed(c.get("field", "")) for c in reply.get("details", {}).get("causes", [])]
    assert unindexed(field) in fields, reply
    if value is not None:
        assert str(value) in reply["message"], reply["message"]


def table(cp: ControlPlane, path: str) -> dict[str, Any]:
    status, reply = cp.request("GET", path, accept=TABLE)
    assert status == 200, f"{path}: HTTP {status}: {reply!r}"
    return dict(reply)


def row(tbl: dict[str, Any], name: str) -> dict[str, Any]:
    names = [c["name"] for c in tbl["columnDefinitions"]]
    for r in tbl["rows"]:
        if r["object"]["metadata"]["name"] == name:
            return dict(zip(names, r["cells"], strict=True))
    raise AssertionError(f"{name} not in table")


# ------------------------------------------------------------------ installation


def test_every_crd_installs_from_the_kustomization_and_becomes_established(
    cp: ControlPlane,
) -> None:
    names = [c["metadata"]["name"] for c in crds.load_all()]
    assert names == [
        f"spiderippools.{GROUP}",
        f"spiderendpoints.{GROUP}",
        f"spiderreservedips.{GROUP}",
        f"spidermultusconfigs.{GROUP}",
    ]
    for name in names:
        status, crd = cp.request("GET", f"{CRD_BASE}/{name}")
        assert status == 200, crd
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True", conditions
        assert conditions.get("NamesAccepted") == "True", conditions
        assert conditions.get("NonStructuralSchema") in (None, "False"), conditions


def test_discovery_shows_scopes_short_names_categories_and_only_the_pool_status_subresource(
    cp: ControlPlane,
) -> None:
    status, disco = cp.request("GET", API)
    assert status == 200, disco
    res = {r["name"]: r for r in disco["resources"]}
    expected = {
        "spiderippools": (False, "sp"),
        "spiderendpoints": (True, "se"),
        "spiderreservedips": (False, "sr"),
        "spidermultusconfigs": (True, "smc"),
    }
    for plural, (namespaced, short) in expected.items():
        assert res[plural]["namespaced"] is namespaced
        assert res[plural]["shortNames"] == [short]
        assert res[plural]["categories"] == ["spiderpool"]
    assert "spiderippools/status" in res
    assert "spiderendpoints/status" not in res
    assert "spiderreservedips/status" not in res
    assert "spidermultusconfigs/status" not in res


# ------------------------------------------------------------------ SpiderIPPool


def test_a_valid_pool_is_accepted_and_default_and_disable_default_to_false(
    cp: ControlPlane,
) -> None:
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}],
    }
    body = pool(
        "crdtest-valid",
        ips=["10.20.0.10-10.20.0.50", "10.20.0.60"],
        excludeIPs=["10.20.0.20"],
        gateway="10.20.0.1",
        routes=[{"dst": "10.30.0.0/16", "gw": "10.20.0.1"}],
        podAffinity=selector,
        namespaceAffinity={"matchLabels": {"team": "a"}},
        nodeAffinity={"matchExpressions": [{"key": "zone", "operator": "Exists"}]},
        namespaceName=["default"],
        nodeName=["node-1"],
        multusName=["kube-system/macvlan"],
    )
    status, created = cp.request("POST", POOLS, body)
    assert status == 201, created
    assert created["spec"]["default"] is False
    assert created["spec"]["disable"] is False
    assert created["spec"]["podAffinity"] == selector
    assert created["spec"]["ips"] == ["10.20.0.10-10.20.0.50", "10.20.0.60"]


def test_pool_status_is_written_through_the_status_subresource_with_the_read_resource_version(
    cp: ControlPlane,
) -> None:
    status, created = cp.request("POST", POOLS, pool("crdtest-status"))
    assert status == 201, created
    records = {
        "10.20.0.10": {"pod": "default/web-1", "podUid": "0b6e3c9a-1111-2222-3333-444455556666"}
    }
    written = {
        **created,
        "status": {"allocatedIPs": json.dumps(records), "allocatedIPCount": 1, "totalIPCount": 41},
    }
    status, updated = cp.request("PUT", f"{POOLS}/crdtest-status/status", written)
    assert status == 200, updated
    assert updated["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]

    status, fetched = cp.request("GET", f"{POOLS}/crdtest-status")
    assert status == 200, fetched
    assert json.loads(fetched["status"]["allocatedIPs"]) == records
    assert fetched["status"]["allocatedIPCount"] == 1
    assert fetched["status"]["totalIPCount"] == 41


def test_pool_status_with_null_allocated_ips_is_accepted_and_reads_back_absent(
    cp: ControlPlane,
) -> None:
    """Upstream's "no records" is a null allocatedIPs; the plugin writes exactly that on the last
    release."""
    status, created = cp.request("POST", POOLS, pool("crdtest-null"))
    assert status == 201, created
    written = {
        **created,
        "status": {"allocatedIPs": None, "allocatedIPCount": 0, "totalIPCount": 41},
    }
    status, updated = cp.request("PUT", f"{POOLS}/crdtest-null/status", written)
    assert status == 200, updated
    assert updated["status"].get("allocatedIPs") is None
    assert updated["status"]["allocatedIPCount"] == 0


def test_status_sent_on_the_main_pool_resource_is_ignored(cp: ControlPlane) -> None:
    body = {**pool("crdtest-main-status"), "status": {"allocatedIPCount": 7}}
    status, created = cp.request("POST", POOLS, body)
    assert status == 201, created
    assert "allocatedIPCount" not in created.get("status", {})


def test_an_unknown_spec_field_is_pruned_because_the_schema_is_structural(cp: ControlPlane) -> None:
    status, created = cp.request("POST", POOLS, pool("crdtest-pruned", bogus="x"))
    assert status == 201, created
    assert "bogus" not in created["spec"]


def test_an_ipv6_pool_with_a_range_and_a_gateway_is_accepted(cp: ControlPlane) -> None:
    body = pool(
        "crdtest-v6",
        ipVersion=6,
        subnet="fd00:20::/64",
        ips=["fd00:20::10-fd00:20::ff", "fd00:20::1:0"],
        gateway="fd00:20::1",
        routes=[{"dst": "fd00:30::/64", "gw": "fd00:20::1"}],
    )
    status, created = cp.request("POST", POOLS, body)
    assert status == 201, created


def test_a_pool_with_ip_version_5_is_rejected_naming_spec_ip_version(cp: ControlPlane) -> None:
    status, reply = cp.request("POST", POOLS, pool("crdtest-v5", ipVersion=5))
    assert_invalid(status, reply, "spec.ipVersion", 5)


@pytest.mark.parametrize(
    "item", ["10.20.0.10/32", "ten.twenty", "10.20.0.10 - 10.20.0.20", "10.20.0.10,10.20.0.11"]
)
def test_an_ips_item_that_is_neither_an_address_nor_a_range_is_rejected_naming_spec_ips(
    cp: ControlPlane, item: str
) -> None:
    status, reply = cp.request("POST", POOLS, pool("crdtest-badips", ips=["10.20.0.5", item]))
    assert_invalid(status, reply, "spec.ips[1]", item)


def test_a_pool_without_a_subnet_is_rejected_naming_spec_subnet(cp: ControlPlane) -> None:
    body = pool("crdtest-nosubnet")
    del body["spec"]["subnet"]
    status, reply = cp.request("POST", POOLS, body)
    assert_invalid(status, reply, "spec.subnet")


def test_a_selector_operator_outside_the_enum_is_rejected_naming_the_field(
    cp: ControlPlane,
) -> None:
    body = pool(
        "crdtest-badop", nodeAffinity={"matchExpressions": [{"key": "zone", "operator": "Equals"}]}
    )
    status, reply = cp.request("POST", POOLS, body)
    assert_invalid(status, reply, "spec.nodeAffinity.matchExpressions[0].operator", "Equals")


def test_a_negative_allocated_ip_count_is_rejected_by_the_status_subresource(
    cp: ControlPlane,
) -> None:
    status, created = cp.request("POST", POOLS, pool("crdtest-negative"))
    assert status == 201, created
    status, reply = cp.request(
        "PUT", f"{POOLS}/crdtest-negative/status", {**created, "status": {"allocatedIPCount": -1}}
    )
    assert_invalid(status, reply, "status.allocatedIPCount", -1)


def test_the_pool_table_view_has_upstreams_columns(cp: ControlPlane) -> None:
    status, created = cp.request("POST", POOLS, pool("crdtest-table", default=True))
    assert status == 201, created
    status, _ = cp.request(
        "PUT",
        f"{POOLS}/crdtest-table/status",
        {**created, "status": {"allocatedIPCount": 0, "totalIPCount": 41}},
    )
    assert status == 200
    tbl = table(cp, POOLS)
    columns = [(c["name"], c["priority"]) for c in tbl["columnDefinitions"]]
    assert columns == [
        ("Name", 0),
        ("VERSION", 0),
        ("SUBNET", 0),
        ("ALLOCATED-IP-COUNT", 0),
        ("TOTAL-IP-COUNT", 0),
        ("DEFAULT", 0),
        ("DISABLE", 1),
        ("NODENAME", 1),
        ("MULTUSNAME", 1),
    ]
    cells = row(tbl, "crdtest-table")
    assert cells["VERSION"] == "4"
    assert cells["SUBNET"] == "10.20.0.0/24"
    assert cells["ALLOCATED-IP-COUNT"] == 0
    assert cells["TOTAL-IP-COUNT"] == 41
    assert cells["DEFAULT"] is True
    assert cells["DISABLE"] is False


# ------------------------------------------------------------------ SpiderEndpoint


def test_an_endpoint_with_status_current_is_created_in_a_namespace_and_kept_verbatim(
    cp: ControlPlane,
) -> None:
    status, created = cp.request("POST", ENDPOINTS, endpoint("web-1", CURRENT))
    assert status == 201, created
    assert created["metadata"]["namespace"] == NAMESPACE
    assert created["status"]["current"] == CURRENT
    assert created["status"]["ownerControllerType"] == "Deployment"
    status, listed = cp.request(
        "GET", f"{API}/spiderendpoints?labelSelector=spiderpool.spidernet.io%2Fnode%3Dnode-1"
    )
    assert status == 200, listed
    assert [i["metadata"]["name"] for i in listed["items"]] == ["web-1"]


def test_an_endpoint_is_rewritten_with_a_plain_put_and_has_no_status_subresource(
    cp: ControlPlane,
) -> None:
    status, created = cp.request("POST", ENDPOINTS, endpoint("web-2", CURRENT))
    assert status == 201, created
    newer: Any = copy.deepcopy(CURRENT)
    newer["ips"][0]["containerID"] = "feed" * 16
    status, updated = cp.request(
        "PUT", f"{ENDPOINTS}/web-2", {**created, "status": {**created["status"], "current": newer}}
    )
    assert status == 200, updated
    assert updated["status"]["current"]["ips"][0]["containerID"] == "feed" * 16
    status, reply = cp.request("PUT", f"{ENDPOINTS}/web-2/status", updated)
    assert status == 404, reply


def test_an_endpoint_without_a_pod_uid_is_rejected_naming_the_field(cp: ControlPlane) -> None:
    current = {k: v for k, v in CURRENT.items() if k != "uid"}
    status, reply = cp.request("POST", ENDPOINTS, endpoint("web-nouid", current))
    assert_invalid(status, reply, "status.current.uid")


def test_an_endpoint_with_vlan_4095_is_rejected_naming_the_field(cp: ControlPlane) -> None:
    current = {**CURRENT, "ips": [{**CURRENT["ips"][0], "vlan": 4095}]}
    status, reply = cp.request("POST", ENDPOINTS, endpoint("web-vlan", current))
    assert_invalid(status, reply, "status.current.ips[0].vlan", 4095)


def test_the_endpoint_table_view_shows_the_first_interface_and_the_node(cp: ControlPlane) -> None:
    status, created = cp.request("POST", ENDPOINTS, endpoint("web-table", CURRENT))
    assert status == 201, created
    cells = row(table(cp, ENDPOINTS), "web-table")
    assert cells["INTERFACE"] == "eth0"
    assert (cells["IPV4POOL"], cells["IPV4"]) == ("crdtest-pool", "10.20.0.10/24")
    assert (cells["IPV6POOL"], cells["IPV6"]) == ("crdtest-pool6", "fd00:20::10/64")
    assert cells["NODE"] == "node-1"


# ------------------------------------------------------------------ SpiderReservedIP


def reserved(name: str, ip_version: int, ips: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SpiderReservedIP",
        "metadata": {"name": name},
        "spec": {"ipVersion": ip_version, "ips": ips},
    }


def test_a_reserved_ip_object_is_created(cp: ControlPlane) -> None:
    status, created = cp.request(
        "POST", RESERVED, reserved("crdtest-reserved", 4, ["10.20.0.11", "10.20.0.40-10.20.0.45"])
    )
    assert status == 201, created
    assert created["spec"] == {"ipVersion": 4, "ips": ["10.20.0.11", "10.20.0.40-10.20.0.45"]}
    cells = row(table(cp, RESERVED), "crdtest-reserved")
    assert cells["VERSION"] == "4"


def test_a_reserved_ip_object_with_ip_version_5_is_rejected_naming_the_field(
    cp: ControlPlane,
) -> None:
    status, reply = cp.request("POST", RESERVED, reserved("crdtest-reserved5", 5, ["10.20.0.11"]))
    assert_invalid(status, reply, "spec.ipVersion", 5)
