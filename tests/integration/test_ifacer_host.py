"""The frozen ifacer on a node whose kernel has neither 8021q nor bonding (this host's,
docs/testbed.md): a kernel refusal is code 120 and names no config field.

| config                             | kernel answer                   | expectation              |
|------------------------------------|---------------------------------|--------------------------|
| one NIC, vlanID 100 (no bond in    | EOPNOTSUPP                      | 120, no details; NIC     |
| the config)                        |                                 | left down                |
| two NICs, bond without options     | EOPNOTSUPP                      | 120, no details; NICs    |
|                                    |                                 | left down                |
| two NICs, bond with options        | EOPNOTSUPP (no driver, not the  | 120, as above            |
|                                    | options)                        |                          |

Each case first checks that the kernel really lacks the driver (a throwaway netns), and
skips with the reason where it does not. A node netns with veth NICs stands in for the node.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tools.testbed import cni, netns

pytestmark = pytest.mark.netns

KIND_OF = {
    "vlan": ("link", "add", "link", "x1", "name", "x1.5", "type", "vlan", "id", "5"),
    "bond": ("link", "add", "b0", "type", "bond"),
}


def kernel_has(kind: str) -> bool:
    scratch = netns.Netns.create("probe")
    try:
        netns.ip("link", "add", "x1", "type", "veth", "peer", "name", "x2", netns=scratch.name)
        return netns.ip(*KIND_OF[kind], netns=scratch.name, check=False).returncode == 0
    finally:
        scratch.delete()


@pytest.fixture
def node() -> Iterator[netns.Netns]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    ns = netns.Netns.create("ifnode")
    try:
        for nic in ("ens1", "ens2"):
            netns.ip("link", "add", nic, "type", "veth", "peer", "name", f"{nic}p", netns=ns.name)
        yield ns
    finally:
        ns.delete()


def links(node: netns.Netns) -> dict[str, tuple[Any, ...]]:
    return {
        link["ifname"]: (link.get("master"), "UP" in link["flags"])
        for link in netns.ip_json("link", "show", netns=node.name)
    }


@pytest.mark.parametrize(
    ("kind", "conf"),
    [
        ("vlan", {"interfaces": ["ens1"], "vlanID": 100}),
        ("bond", {"interfaces": ["ens1", "ens2"], "bond": {"mode": 1}}),
        (
            "bond",
            {
                "interfaces": ["ens1", "ens2"],
                "vlanID": 7,
                "bond": {"mode": 1, "options": "miimon=100"},
            },
        ),
    ],
    ids=["vlan", "bond", "bond-with-options"],
)
def test_a_kernel_without_the_driver_is_code_120_naming_no_field(
    node: netns.Netns, bundle_bin: Path, kind: str, conf: dict[str, Any]
) -> None:
    if kernel_has(kind):
        pytest.skip(f"this kernel has the {kind} driver; tests/uml_guest covers the refusals there")
    before = links(node)
    config = {"cniVersion": "1.0.0", "name": "n", "type": "ifacer", **conf}
    env = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/absent", "CNI_IFNAME": "eth0"}
    result = cni.exec_plugin(bundle_bin / "ifacer", "ADD", config, env=env, node=node)
    err = result.json()
    assert (result.returncode, err["code"], "details" in err) == (1, 120, False), err
    assert "Operation not supported" in err["msg"]
    assert links(node) == before  # the NICs the ADD brought up went down again
