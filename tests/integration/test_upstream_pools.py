"""Pools, reserved IPs and IPAM configs written the way upstream's documentation writes them.

Users move to us with their YAML. Upstream's mutating webhook fills ``spec.ipVersion``
in from ``subnet`` (pools) or the first entry of ``ips`` (reserved IPs), so their objects
usually lack it. Frozen binary through libcni + Debian macvlan, real apiserver.

| object / config                                      | expectation                               |
|------------------------------------------------------|-------------------------------------------|
| IPv4 and IPv6 pools without ipVersion (upstream      | accepted by the CRDs; dual-stack ADD      |
| examples)                                            |                                           |
| SpiderReservedIP without ipVersion, v4 and v6        | never handed out, even as the last free   |
| every upstream ipam key (numeric strings where its   | ADD and DEL pass; no unknown-key warning; |
| docs                                                 |                                           |
| write them, match_master_subnet false, the socket    | the log written where log_file_path says  |
| path)                                                |                                           |
| a misspelt key (default_ipv4_ipool)                  | a warning naming it, once                 |
| a SpiderReservedIP whose ips cannot be read          | code 7 naming it; nothing allocated       |
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.ipam_scenarios import Scenario
from tools.testbed import cni, netns
from tools.testbed.cluster import GROUP, Cluster

pytestmark = [pytest.mark.apiserver, pytest.mark.netns]


@pytest.fixture
def sc(
    cluster: Cluster, api_underlay: netns.Underlay, tmp_path: Path, bundle_bin: Path
) -> Scenario:
    return Scenario(cluster, api_underlay, tmp_path)


def upstream_pool(sc: Scenario, name: str, subnet: str, ips: list[str], **spec: object) -> None:
    """A pool as upstream's docs write it: no ipVersion."""
    body = {
        "apiVersion": "spiderpool.spidernet.io/v2beta1",
        "kind": "SpiderIPPool",
        "metadata": {"name": name},
        "spec": {"subnet": subnet, "ips": ips, **spec},
    }
    status, reply = sc.cluster.cp.request("POST", f"{GROUP}/spiderippools", body)
    assert status == 201, reply
    assert "ipVersion" not in reply["spec"]


def test_pools_and_reserved_ips_without_ip_version_work_as_upstream_documents_them(
    sc: Scenario,
) -> None:
    v4, v6 = sc.name("v4"), sc.name("v6")
    upstream_pool(sc, v4, "172.18.40.0/24", ["172.18.40.40-172.18.40.42"], gateway="172.18.40.1")
    upstream_pool(
        sc, v6, "fc00:f853:ccd:e793::/64", ["fc00:f853:ccd:e793::40-fc00:f853:ccd:e793::41"]
    )
    sc.cluster.reserved(sc.name("r4"), None, ["172.18.40.41"])
    sc.cluster.reserved(sc.name("r6"), None, ["fc00:f853:ccd:e793::41"])
    node = sc.node()
    rt = node.runtime(default_ipv4_ippool=[v4], default_ipv6_ippool=[v6])
    ref, pod = sc.pod("a", node)
    got = sorted(i["address"] for i in rt.add(ref.container_id, pod.path, pod=ref)["ips"])
    assert got == ["172.18.40.40/24", "fc00:f853:ccd:e793::40/64"]
    ref2, pod2 = sc.pod("b", node)
    with pytest.raises(cni.CniFailure) as failure:  # v6: ::41, the last free one, is reserved
        rt.add(ref2.container_id, pod2.path, pod=ref2)
    assert failure.value.code == 100 and "IPv6" in failure.value.msg
    held = set(sc.cluster.holders(v4)) | set(sc.cluster.holders(v6))
    assert held == {"172.18.40.40", "fc00:f853:ccd:e793::40"}  # .41 reserved; b's .42 rolled back


UPSTREAM_IPAM_KEYS = {
    "log_level": "DEBUG",
    "log_file_max_size": "100",
    "log_file_max_age": "30",
    "log_file_max_count": "7",
    "clean_gateway": False,
    "match_master_subnet": False,
    "ipam_unix_socket_path": "/var/run/spidernet/spiderpool.sock",
}


def test_every_upstream_ipam_key_is_accepted_and_none_is_reported_unknown(sc: Scenario) -> None:
    pool = sc.name("p")
    upstream_pool(sc, pool, "172.19.0.0/24", ["172.19.0.10"])
    node = sc.node()
    rt = node.runtime(default_ipv4_ippool=[pool], default_ipv6_ippool=[], **UPSTREAM_IPAM_KEYS)
    ref, pod = sc.pod("a", node)
    rt.add(ref.container_id, pod.path, pod=ref)
    sc.cluster.delete_pod(sc.ns, "a")
    rt.delete(ref.container_id, pod.path, pod=ref)
    log = (node.config.dir / "spiderpool.log").read_text()
    assert "unknown" not in log.lower(), [
        line for line in log.splitlines() if "unknown" in line.lower()
    ]
    assert sc.cluster.holders(pool) == {}


def test_a_misspelt_ipam_key_is_accepted_with_a_warning_naming_it(sc: Scenario) -> None:
    pool = sc.name("p")
    upstream_pool(sc, pool, "172.20.0.0/24", ["172.20.0.10"])
    node = sc.node()
    rt = node.runtime(default_ipv4_ippool=[pool], default_ipv4_ipool=["typo"])
    ref, pod = sc.pod("a", node)
    rt.add(ref.container_id, pod.path, pod=ref)
    warnings = [
        json.loads(line)
        for line in (node.config.dir / "spiderpool.log").read_text().splitlines()
        if "default_ipv4_ipool" in line
    ]
    assert len(warnings) == 1 and warnings[0]["level"] in ("WARNING", "WARN"), warnings


def test_a_reserved_ip_object_that_cannot_be_read_refuses_the_add_naming_it(sc: Scenario) -> None:
    pool = sc.name("p")
    upstream_pool(sc, pool, "172.21.0.0/24", ["172.21.0.10-172.21.0.12"])
    bad = sc.name("bad")
    sc.cluster.reserved(bad, None, ["172.21.0.12-172.21.0.10"])  # shaped like a range, backwards
    try:  # while it exists every ADD of the cluster is refused: other tests share it
        node = sc.node()
        ref, pod = sc.pod("a", node)
        with pytest.raises(cni.CniFailure) as failure:
            node.runtime(default_ipv4_ippool=[pool]).add(ref.container_id, pod.path, pod=ref)
        assert failure.value.code == 7 and bad in failure.value.msg
        assert sc.cluster.records(pool) == {}
    finally:
        sc.cluster.cp.request("DELETE", f"{GROUP}/spiderreservedips/{bad}")
