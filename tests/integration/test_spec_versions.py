"""Every plugin's verbs with each spec version's prevResult shape.

The shapes differ (the CNI spec's changelog): 0.3.0, 0.3.1 and 0.4.0 carry ``ips[].version``; 1.0.0
does not; 1.1.0 adds interface ``mtu``/``socketPath``/``pciID`` and route ``mtu``/``advmss``/
``priority``/``table``/``scope``. Versions up to 1.0.0 go through libcni with Debian's macvlan
producing the prevResult, as in a cluster; 1.1.0 (which this libcni lacks) is exec'd directly with a
1.1.0-shaped copy of a real result.

| version        | how                                   | expectation                             |
|----------------|---------------------------------------|-----------------------------------------|
| 0.3.0 .. 1.0.0 | libcni: ifacer ->                     | ADD result in that version              |
|                | macvlan(+spiderpool) -> coordinator;  | (ips[].version iff < 1.0.0); CHECK      |
|                | ADD, CHECK (from 0.4.0), DEL          | passes; DEL removes the host veth and   |
|                |                                       | frees the address                       |
| 1.1.0          | each frozen plugin exec'd:            | ADD returns the 1.1.0 prevResult with   |
|                | coordinator ADD (re-ADD), CHECK, DEL; | its 1.1.0 fields kept; CHECK passes;    |
|                | spiderpool CHECK and DEL with         | DEL cleans up as above                  |
|                | macvlan's config                      |                                         |
| every version  | ifacer ADD / CHECK / DEL exec'd with  | ADD passes the prevResult through in    |
|                | a prevResult of that version's shape  | its version unchanged; CHECK, DEL       |
|                |                                       | succeed                                 |
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.integration.coordinator_env import CoordinatorEnv
from tools.testbed import cni, netns, paths

pytestmark = [pytest.mark.apiserver, pytest.mark.netns]

LIBCNI_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]  # what Debian's libcni 1.1.2 runs
ALL_VERSIONS = [*LIBCNI_VERSIONS, "1.1.0"]


def shaped(result: dict[str, Any], version: str) -> dict[str, Any]:
    """A real 1.0.0 result rewritten in ``version``'s shape (1.1.0 gains its new fields)."""
    out = copy.deepcopy(result)
    out["cniVersion"] = version
    for ip in out.get("ips", []):
        ip.pop("version", None)
        if version < "1.0.0":
            ip["version"] = "6" if ":" in ip["address"] else "4"
    if version == "1.1.0":
        for iface in (i for i in out.get("interfaces", []) if i.get("sandbox")):
            iface.update(mtu=1500, socketPath="/run/vhost.sock", pciID="0000:00:1f.6")
        out["routes"] = [
            *out.get("routes", []),
            {
                "dst": "10.250.0.0/16",
                "gw": out["ips"][0]["gateway"],
                "mtu": 1400,
                "advmss": 1360,
                "priority": 10,
                "table": 254,
                "scope": 0,
            },
        ]
    return out


def chain(e: CoordinatorEnv, pool: str, version: str) -> dict[str, Any]:
    conflist = e.conflist([pool], version=version)
    ifacer = {
        "type": "ifacer",
        "interfaces": ["ens1"],
        "logOptions": {"logFile": str(e.config.dir / "ifacer.log")},
    }
    conflist["plugins"].insert(0, ifacer)
    return conflist


def exec_in_node(
    e: CoordinatorEnv,
    plugin: str,
    command: str,
    conf: dict[str, Any],
    ref: cni.PodRef,
    pod: netns.Netns,
) -> cni.ExecResult:
    env = {
        "CNI_CONTAINERID": ref.container_id,
        "CNI_NETNS": pod.path,
        "CNI_IFNAME": "eth0",
        "CNI_ARGS": ref.cni_args(),
        **e.config.env,
    }
    return cni.exec_plugin(paths.BUNDLE_BIN / plugin, command, conf, env=env, node=e.node)


def assert_gone(e: CoordinatorEnv, ref: cni.PodRef, pool: str) -> None:
    assert not e.node.has_link(f"veth{ref.container_id[:11]}")
    assert e.cluster.holders(pool) == {}


@pytest.mark.parametrize("version", LIBCNI_VERSIONS)
def test_the_chain_runs_add_check_and_del_in_each_libcni_version(
    make_env: Any, version: str
) -> None:
    e = make_env(f"10.17{LIBCNI_VERSIONS.index(version)}.0.2/24")
    net = f"10.17{LIBCNI_VERSIONS.index(version)}.0"
    pool = e.pool("p", f"{net}.0/24", [f"{net}.10"], gateway=f"{net}.1")
    rt = e.runtime(chain(e, pool, version))
    ref, pod = e.pod("a")
    result = rt.add(ref.container_id, pod.path, pod=ref)
    assert result["cniVersion"] == version
    assert [ip.get("version") for ip in result["ips"]] == (["4"] if version < "1.0.0" else [None])
    assert pod.has_link("veth0")
    if version >= "0.4.0":
        rt.check(ref.container_id, pod.path, pod=ref)  # every plugin gets the cached prevResult
    e.cluster.delete_pod(e.ns, "a")
    rt.delete(ref.container_id, pod.path, pod=ref)
    assert_gone(e, ref, pool)


def test_every_plugin_takes_a_1_1_0_prev_result_with_its_new_fields(make_env: Any) -> None:
    e = make_env("10.175.0.2/24")
    pool = e.pool("p", "10.175.0.0/24", ["10.175.0.10"], gateway="10.175.0.1")
    conflist = chain(e, pool, "1.0.0")
    ref, pod = e.pod("a")
    prev = shaped(e.runtime(conflist).add(ref.container_id, pod.path, pod=ref), "1.1.0")
    macvlan, coordinator = conflist["plugins"][1], conflist["plugins"][2]
    head = {"cniVersion": "1.1.0", "name": conflist["name"], "prevResult": prev}
    again = exec_in_node(e, "coordinator", "ADD", {**head, **coordinator}, ref, pod)
    assert again.returncode == 0, again.stdout
    assert again.json() == prev  # the 1.1.0 fields survive the round trip
    for plugin, conf in (("coordinator", coordinator), ("spiderpool", macvlan)):
        checked = exec_in_node(e, plugin, "CHECK", {**head, **conf}, ref, pod)
        assert (checked.returncode, checked.stdout) == (0, ""), (plugin, checked.stdout)
    e.cluster.delete_pod(e.ns, "a")
    for plugin, conf in (("coordinator", coordinator), ("spiderpool", macvlan)):
        deleted = exec_in_node(e, plugin, "DEL", {**head, **conf}, ref, pod)
        assert (deleted.returncode, deleted.stdout) == (0, ""), (plugin, deleted.stdout)
    assert_gone(e, ref, pool)


def prev_of(version: str) -> dict[str, Any]:
    base = {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "eth0", "mac": "02:00:00:00:00:05", "sandbox": "/var/run/netns/p"}],
        "ips": [
            {"address": "10.176.0.10/24", "gateway": "10.176.0.1", "interface": 0},
            {"address": "fd76::10/64", "gateway": "fd76::1", "interface": 0},
        ],
        "routes": [{"dst": "0.0.0.0/0", "gw": "10.176.0.1"}],
        "dns": {"nameservers": ["10.96.0.10"], "search": ["svc.cluster.local"]},
    }
    return shaped(base, version)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_ifacer_passes_each_versions_prev_result_through_and_checks_and_deletes(
    tmp_path: Path, bundle_bin: Path, version: str
) -> None:
    node = netns.Netns.create("ifv")
    try:
        netns.ip("link", "add", "ens1", "type", "veth", "peer", "name", "ens1p", netns=node.name)
        netns.ip("link", "set", "ens1", "up", netns=node.name)
        prev = prev_of(version)
        conf = {
            "cniVersion": version,
            "name": "n",
            "type": "ifacer",
            "interfaces": ["ens1"],
            "prevResult": prev,
            "logOptions": {"logFile": str(tmp_path / "ifacer.log")},
        }
        env = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/absent", "CNI_IFNAME": "eth0"}
        added = cni.exec_plugin(bundle_bin / "ifacer", "ADD", conf, env=env, node=node)
        assert (added.returncode, added.json()) == (0, prev), added.stdout
        for command in ("CHECK", "DEL") if version >= "0.4.0" else ("DEL",):
            done = cni.exec_plugin(bundle_bin / "ifacer", command, conf, env=env, node=node)
            assert (done.returncode, done.stdout) == (0, ""), (command, done.stdout)
    finally:
        node.delete()
