"""The libcni driver runs real conflists into real network namespaces.

Cases (each through Debian's libcni 1.1.2, inside a simulated node netns):
- Debian macvlan + host-local: ADD puts the address in the pod netns, CHECK passes,
  DEL removes the interface; spec versions 0.4.0 and 1.0.0.
- our frozen plugin answers VERSION through libcni with our version list;
- a malformed config through libcni yields the code README.md's "CNI behaviour" prescribes: an empty
  `interfaces` -> 7 naming the field; an unsupported cniVersion -> 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.testbed import cni, netns, paths

pytestmark = pytest.mark.netns


def macvlan_hostlocal(version: str, data_dir: Path) -> dict[str, object]:
    return {
        "cniVersion": version,
        "name": "demo-net",
        "plugins": [
            {
                "type": "macvlan",
                "master": "ens1",
                "mode": "bridge",
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(data_dir),
                    "ranges": [
                        [
                            {
                                "subnet": "10.77.0.0/24",
                                "rangeStart": "10.77.0.10",
                                "rangeEnd": "10.77.0.20",
                            }
                        ]
                    ],
                },
            }
        ],
    }


@pytest.mark.parametrize("version", ["0.4.0", "1.0.0"])
def test_macvlan_host_local_chain_add_check_del(
    underlay: netns.Underlay, tmp_path: Path, version: str
) -> None:
    node = underlay.add_node()
    pod = underlay.add_pod("a")
    runtime = cni.Runtime(macvlan_hostlocal(version, tmp_path / "ipam"), node=node)
    ref = cni.PodRef("default", "pod-a", uid="uid-a", container_id="c0ffee01")

    result = runtime.add("c0ffee01", pod.path, pod=ref)
    address = result["ips"][0]["address"]
    assert address.startswith("10.77.0.")
    assert pod.addresses("eth0") == [address]

    runtime.check("c0ffee01", pod.path, pod=ref)

    runtime.delete("c0ffee01", pod.path, pod=ref)
    assert not pod.has_link("eth0")


@pytest.mark.parametrize("plugin", ["ifacer", "spiderpool", "coordinator"])
def test_frozen_plugin_answers_version_through_libcni(bundle_bin: Path, plugin: str) -> None:
    assert cni.plugin_versions(plugin) == ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]


@pytest.mark.parametrize(
    ("conf", "code", "needle"),
    [
        ({"cniVersion": "1.0.0", "type": "ifacer", "interfaces": []}, 7, "interfaces"),
        (
            {"cniVersion": "1.0.0", "type": "ifacer", "interfaces": ["ens1"], "vlanID": 5000},
            7,
            "vlanID",
        ),
        ({"cniVersion": "0.2.0", "type": "ifacer", "interfaces": ["ens1"]}, 1, "incompatible"),
    ],
)
def test_malformed_config_through_libcni_yields_its_code(
    bundle_bin: Path, underlay: netns.Underlay, conf: dict[str, object], code: int, needle: str
) -> None:
    node = underlay.add_node()
    pod = underlay.add_pod("bad")
    runtime = cni.Runtime(
        {"cniVersion": conf["cniVersion"], "name": "bad", "plugins": [conf]}, node=node
    )
    with pytest.raises(cni.CniFailure) as failure:
        runtime.add("c0ffee02", pod.path)
    assert failure.value.code == code
    assert needle in failure.value.msg


def test_cni_path_lists_our_bundles_before_the_reference_plugins() -> None:
    assert paths.cni_path().split(":") == [str(paths.BUNDLE_BIN), "/usr/lib/cni"]
