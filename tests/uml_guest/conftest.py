"""Fixtures for tests that run inside the UML guest (see tests/e2e/test_in_uml.py).

A ``Host`` is a node netns with dummy NICs (``ens1``..``ens3``, down, as a NIC is before
anything uses it), where the frozen ifacer runs exactly as a runtime would exec it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tools.testbed import cni, netns, paths

NICS = ("ens1", "ens2", "ens3")


@dataclass
class Host:
    node: netns.Netns
    pod: netns.Netns

    def ifacer(self, command: str, **conf: Any) -> cni.ExecResult:
        config = {"cniVersion": "1.0.0", "name": "vlan-net", "type": "ifacer", **conf}
        env = {"CNI_CONTAINERID": "c-1", "CNI_NETNS": self.pod.path, "CNI_IFNAME": "eth0"}
        return cni.exec_plugin(
            paths.BUNDLE_BIN / "ifacer", command, config, env=env, node=self.node
        )

    def links(self) -> dict[str, dict[str, Any]]:
        """``ip -d -j link`` of the node, by name: what the kernel says, not what we think."""
        return {
            link["ifname"]: link
            for link in netns.ip_json("-d", "link", "show", netns=self.node.name)
        }

    def snapshot(self) -> dict[str, tuple[Any, ...]]:
        """Per link: kind, up, master. Equal snapshots mean the host was left as it was."""
        return {
            name: (
                (ln.get("linkinfo") or {}).get("info_kind"),
                "UP" in ln["flags"],
                ln.get("master"),
            )
            for name, ln in self.links().items()
        }

    def sh(self, *argv: str) -> None:
        netns.ip(*argv, netns=self.node.name)


@pytest.fixture
def host() -> Iterator[Host]:
    node, pod = netns.Netns.create("node"), netns.Netns.create("pod")
    try:
        for nic in NICS:
            netns.ip("link", "add", nic, "type", "dummy", netns=node.name)
        yield Host(node, pod)
    finally:
        pod.delete()
        node.delete()


def error_of(result: cni.ExecResult) -> dict[str, Any]:
    assert result.returncode != 0, f"expected a CNI error, got success: {result.stdout}"
    error = json.loads(result.stdout)
    assert isinstance(error, dict)
    return error
