"""The frozen plugins at the edges of their input, exec'd as a runtime would.

| case                                        | plugin(s)    | expectation                         |
|---------------------------------------------|--------------|-------------------------------------|
| DEL whose prevResult does not parse (0.4.0  | ifacer,      | exit 0, nothing on stdout; the host |
| ips without version; a list), after a real  | coordinator, | veth is gone and the address free;  |
| ADD                                         | spiderpool   | the warning is in each plugin's log |
| ADD / CHECK with that prevResult            | coordinator  | 7 naming the prevResult field       |
| a misspelt key                              | each         | one warning naming it, in its log   |
| stdin nested 100000 levels deep             | each         | 6                                   |
| the cluster IPAM config's kubeconfig is     | spiderpool   | 7, details "field: <cluster IPAM    |
| YAML that does not parse                    |              | config>.kubeconfig"                 |
| the log file is a FIFO nobody reads         | each         | no hang; the verb's usual answer;   |
|                                             |              | stderr says the log is unusable     |
| the kubeconfig, its token file, CA file or  | spiderpool   | 7 naming <cluster IPAM config>.     |
| client certificate is a FIFO                |              | kubeconfig and the FIFO, at once    |
| lock_dir is a regular file (ADD)            | spiderpool   | 7 naming <cluster IPAM config>.     |
|                                             |              | lock_dir                            |
| state_dir is a regular file (GC; ADD with   | spiderpool   | 7 naming <cluster IPAM config>.     |
| a live API)                                 |              | state_dir; the ADD leaves no record |
| a 5000-digit numeric string (log size; a    | each; ifacer | ADD: 7 naming the key, a short      |
| bond option)                                |              | message; the coordinator's DEL: 0   |
| vethMTU 70000, txQueueLen 2**32 (chain ADD) | coordinator  | 7 naming the key; the node as it    |
|                                             |              | was; the chain's DEL frees the IP   |
| a pod annotation 5000 levels deep (ADD)     | spiderpool   | 7 naming the annotation; no record  |
| a prevResult of 50000 addresses             | coordinator  | 7 naming prevResult.ips             |
| a lone surrogate escape (\\ud800) in stdin  | each         | 6                                   |
| CNI_IFNAME with a byte that is not UTF-8    | spiderpool   | 4; no record, no endpoint           |
| a zone index (%eth0) in hijackCIDR, a       | coordinator  | 7 naming the field                  |
| policy route's gw, prevResult's gateway or  |              |                                     |
| route dst                                   |              |                                     |
| a zone index in the route annotation (ADD)  | spiderpool   | 7 naming it, not a dropped route    |

Every exec here has ``BUDGET`` seconds (the plugins' budgets are 1 s): a hang fails the
test instead of holding up the suite.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.integration.coordinator_env import CoordinatorEnv, host_state
from tests.integration.ipam_scenarios import Scenario
from tools.testbed import cni, netns, paths
from tools.testbed.cluster import Cluster

pytestmark = [pytest.mark.apiserver, pytest.mark.netns]

PLUGINS = ("ifacer", "spiderpool", "coordinator")
BAD_PREVS = {
    "no-ip-version": {"cniVersion": "0.4.0", "ips": [{"address": "10.177.0.10/24"}]},
    "a-list": [1, 2],
}


BUDGET = 30  # s per exec: far above what any verb here takes, even on a busy machine


def exec_plugin(
    plugin: str,
    command: str,
    conf: dict[str, Any] | bytes,
    *,
    node: netns.Netns,
    env: dict[str, str],
) -> cni.ExecResult:
    return cni.exec_plugin(
        paths.BUNDLE_BIN / plugin, command, conf, env=env, node=node, timeout=BUDGET
    )


def cluster_env(tmp_path: Path) -> dict[str, str]:
    """Points the IPAM at the cluster IPAM config ``configs`` wrote."""
    return {"SPIDERNET_IPAM_CONFIG": str(tmp_path / "cluster-ipam.json")}


def warnings(log: Path) -> list[str]:
    return [
        x["msg"] for x in map(json.loads, log.read_text().splitlines()) if x["level"] == "WARNING"
    ]


@pytest.mark.parametrize("bad", list(BAD_PREVS))
def test_a_del_whose_prev_result_does_not_parse_still_cleans_up_in_every_plugin(
    make_env: Any, bad: str
) -> None:
    e: CoordinatorEnv = make_env("10.177.0.2/24")
    pool = e.pool("p", "10.177.0.0/24", ["10.177.0.10"], gateway="10.177.0.1")
    conflist = e.conflist([pool], version="0.4.0")
    ref, pod = e.pod("a")
    e.runtime(conflist).add(ref.container_id, pod.path, pod=ref)
    e.cluster.delete_pod(e.ns, "a")
    env = {
        "CNI_CONTAINERID": ref.container_id,
        "CNI_NETNS": pod.path,
        "CNI_IFNAME": "eth0",
        "CNI_ARGS": ref.cni_args(),
        **e.config.env,
    }
    head = {"cniVersion": "0.4.0", "name": conflist["name"], "prevResult": BAD_PREVS[bad]}
    ifacer = {
        "type": "ifacer",
        "interfaces": ["ens1"],
        "logOptions": {"logFile": str(e.config.dir / "ifacer.log")},
    }
    for plugin, conf in (
        ("coordinator", conflist["plugins"][1]),
        ("spiderpool", conflist["plugins"][0]),
        ("ifacer", ifacer),
    ):  # the runtime's order: last plugin first
        done = exec_plugin(plugin, "DEL", {**head, **conf}, node=e.node, env=env)
        assert (done.returncode, done.stdout) == (0, ""), (plugin, done.stdout)
    assert not e.node.has_link(f"veth{ref.container_id[:11]}")
    assert e.cluster.holders(pool) == {}
    for log in (
        "coordinator.log",
        "spiderpool.log",
    ):  # ifacer's DEL does not read its config, nor its log options
        assert any(w.startswith("DEL: prevResult ignored") for w in warnings(e.config.dir / log)), (
            log
        )


@pytest.mark.parametrize("command", ["ADD", "CHECK"])
def test_add_and_check_still_refuse_that_prev_result_naming_the_field(
    make_env: Any, command: str
) -> None:
    e: CoordinatorEnv = make_env()
    pod = e.underlay.add_pod(f"{e.ns[-4:]}p")
    conf = {
        "cniVersion": "0.4.0",
        "name": "n",
        "type": "coordinator",
        "prevResult": BAD_PREVS["no-ip-version"],
    }
    env = {"CNI_CONTAINERID": "c1", "CNI_NETNS": pod.path, "CNI_IFNAME": "eth0"}
    err = exec_plugin("coordinator", command, conf, node=e.node, env=env).json()
    assert (err["code"], err["details"]) == (7, "field: prevResult.ips[0].version")


@pytest.fixture
def node() -> Any:
    ns = netns.Netns.create("edge")
    netns.ip("link", "add", "ens1", "type", "veth", "peer", "name", "ens1p", netns=ns.name)
    yield ns
    ns.delete()


def unreachable_kubeconfig(tmp_path: Path) -> str:
    """A valid kubeconfig for a server nobody listens on: the IPAM gets as far as the API."""
    path = tmp_path / "unreachable.kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [
                    {
                        "name": "k",
                        "cluster": {
                            "server": "https://127.0.0.1:1",
                            "insecure-skip-tls-verify": True,
                        },
                    }
                ],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
            }
        )
    )
    return str(path)


def configs(tmp_path: Path, kubeconfig: str) -> dict[str, dict[str, Any]]:
    """A config per plugin that reads everything and logs to tmp_path/<plugin>.log.

    The IPAM's host paths are the cluster's: written to the cluster IPAM config that
    ``cluster_env`` names."""
    log = {k: str(tmp_path / f"{k}.log") for k in PLUGINS}
    cluster = {
        "kubeconfig": kubeconfig,
        "log_file_path": log["spiderpool"],
        "lock_dir": str(tmp_path / "locks"),
        "state_dir": str(tmp_path / "state"),
    }
    (tmp_path / "cluster-ipam.json").write_text(json.dumps(cluster))
    ipam = {"type": "spiderpool", "release_timeout": 1, "allocation_timeout": 1}
    return {
        "ifacer": {
            "type": "ifacer",
            "interfaces": ["ens1"],
            "logOptions": {"logFile": log["ifacer"]},
        },
        "coordinator": {"type": "coordinator", "logOptions": {"logFile": log["coordinator"]}},
        "spiderpool": {"type": "macvlan", "master": "ens1", "ipam": ipam},
    }


# A verb per plugin that reads its whole config: ifacer's DEL does not read it at all.
VERB = {"ifacer": "ADD", "coordinator": "DEL", "spiderpool": "ADD"}
MISSPELT = {
    "ifacer": ("vlanId", "vlanId"),
    "coordinator": ("detectIPConflit", "detectIPConflit"),
    "spiderpool": ("default_ipv4_ipool", "ipam.default_ipv4_ipool"),
}


@pytest.mark.parametrize("plugin", PLUGINS)
def test_a_misspelt_key_is_one_warning_naming_it_in_the_plugins_log(
    node: netns.Netns, tmp_path: Path, plugin: str
) -> None:
    conf = configs(tmp_path, unreachable_kubeconfig(tmp_path))[plugin]
    key, path = MISSPELT[plugin]
    (conf["ipam"] if plugin == "spiderpool" else conf)[key] = 5
    env = {
        "CNI_CONTAINERID": "c1",
        "CNI_NETNS": "/var/run/netns/absent",
        "CNI_IFNAME": "eth0",
        "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p",
        **cluster_env(tmp_path),
    }
    result = exec_plugin(
        plugin, VERB[plugin], {"cniVersion": "1.0.0", "name": "n", **conf}, node=node, env=env
    )
    assert result.returncode == 0 or result.json()["code"] == 11, (
        result.stdout
    )  # the IPAM stops at the API
    assert [w for w in warnings(tmp_path / f"{plugin}.log") if "not one" in w] == [
        f"config key {path} is not one {plugin} knows: ignored (misspelt?)"
    ]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_stdin_nested_too_deeply_is_code_6(node: netns.Netns, plugin: str) -> None:
    deep = b'{"cniVersion": "1.0.0", "name": "n", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    env = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/absent", "CNI_IFNAME": "eth0"}
    result = exec_plugin(plugin, "ADD", deep, node=node, env=env)
    assert (result.returncode, result.json()["code"]) == (1, 6), result.stdout


def test_a_yaml_kubeconfig_that_does_not_parse_is_code_7_naming_the_kubeconfig_key(
    node: netns.Netns, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.kubeconfig"
    broken.write_text("clusters: [\n  - name: k\n  cluster: {server: https://s\n")
    conf = {"cniVersion": "1.0.0", "name": "n", **configs(tmp_path, str(broken))["spiderpool"]}
    env = {
        "CNI_CONTAINERID": "c1",
        "CNI_NETNS": "/var/run/netns/absent",
        "CNI_IFNAME": "eth0",
        "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p",
        **cluster_env(tmp_path),
    }
    err = exec_plugin("spiderpool", "ADD", conf, node=node, env=env).json()
    field = f"{tmp_path / 'cluster-ipam.json'}.kubeconfig"
    assert (err["code"], err["details"]) == (7, f"field: {field}"), err
    assert "not valid YAML" in err["msg"]


# ---------------------------------------------------------------- configured paths

POD_ENV = {
    "CNI_CONTAINERID": "c1",
    "CNI_NETNS": "/var/run/netns/absent",
    "CNI_IFNAME": "eth0",
    "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p",
}


def pod_env(tmp_path: Path) -> dict[str, str]:
    """POD_ENV, and the cluster IPAM config ``configs`` wrote (the IPAM's paths)."""
    return {**POD_ENV, **cluster_env(tmp_path)}


def cluster_key(tmp_path: Path, key: str) -> str:
    """How an error names a key of the cluster IPAM config ``configs`` wrote."""
    return f"field: {tmp_path / 'cluster-ipam.json'}.{key}"


@pytest.mark.parametrize("plugin", PLUGINS)
def test_a_log_file_that_is_a_fifo_never_blocks_the_exec(
    node: netns.Netns, tmp_path: Path, plugin: str
) -> None:
    conf = configs(tmp_path, unreachable_kubeconfig(tmp_path))[plugin]
    os.mkfifo(tmp_path / f"{plugin}.log")  # nobody reads it
    env = pod_env(tmp_path)
    result = exec_plugin(
        plugin, VERB[plugin], {"cniVersion": "1.0.0", "name": "n", **conf}, node=node, env=env
    )
    assert result.returncode == 0 or result.json()["code"] == 11, result.stdout  # IPAM: no API
    assert f"{plugin}.log: is a FIFO, not a regular file" in result.stderr


def kubeconfig_naming(tmp_path: Path, which: str, path: str) -> str:
    """A kubeconfig whose ``which`` (a file it names) is ``path``."""
    cluster: dict[str, Any] = {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}
    user: dict[str, Any] = {"token": "t"}
    if which == "certificate-authority":
        cluster = {"server": cluster["server"], which: path}
    elif which == "tokenFile":
        user = {which: path}
    elif which == "client-certificate":
        (tmp_path / "key.pem").write_text("")
        user = {which: path, "client-key": str(tmp_path / "key.pem")}
    kc = tmp_path / "named.kubeconfig"
    kc.write_text(
        json.dumps(
            {
                "current-context": "c",
                "clusters": [{"name": "k", "cluster": cluster}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
            }
        )
    )
    return str(kc)


@pytest.mark.parametrize(
    "which", ["kubeconfig", "tokenFile", "certificate-authority", "client-certificate"]
)
def test_a_kubeconfig_file_that_is_a_fifo_is_code_7_at_once(
    node: netns.Netns, tmp_path: Path, which: str
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # nobody writes it
    kc = str(fifo) if which == "kubeconfig" else kubeconfig_naming(tmp_path, which, str(fifo))
    conf = {"cniVersion": "1.0.0", "name": "n", **configs(tmp_path, kc)["spiderpool"]}
    err = exec_plugin("spiderpool", "ADD", conf, node=node, env=pod_env(tmp_path)).json()
    assert (err["code"], err["details"]) == (7, cluster_key(tmp_path, "kubeconfig")), err
    assert f"{fifo}: is a FIFO, not a regular file" in err["msg"]


@pytest.mark.parametrize(("key", "verb"), [("lock_dir", "ADD"), ("state_dir", "GC")])
def test_a_node_directory_that_is_a_regular_file_is_code_7_naming_its_key(
    node: netns.Netns, tmp_path: Path, key: str, verb: str
) -> None:
    conf = {
        "cniVersion": "1.1.0",
        "name": "n",
        **configs(tmp_path, unreachable_kubeconfig(tmp_path))["spiderpool"],
    }
    (tmp_path / "a-file").write_text("")
    cluster = tmp_path / "cluster-ipam.json"
    cluster.write_text(
        json.dumps({**json.loads(cluster.read_text()), key: str(tmp_path / "a-file")})
    )
    conf["cni.dev/valid-attachments"] = []  # what a GC needs
    err = exec_plugin("spiderpool", verb, conf, node=node, env=pod_env(tmp_path)).json()
    assert (err["code"], err["details"]) == (7, cluster_key(tmp_path, key)), err
    assert f"{tmp_path / 'a-file'}: is a regular file, not a directory" in err["msg"]


def test_an_add_whose_state_dir_is_a_regular_file_is_code_7_and_leaves_no_record(
    make_env: Any,
) -> None:
    e: CoordinatorEnv = make_env("10.178.0.2/24")
    pool = e.pool("p", "10.178.0.0/24", ["10.178.0.10"], gateway="10.178.0.1")
    (e.config.dir / "a-file").write_text("")
    e.config.write_cluster(state_dir=str(e.config.dir / "a-file"))
    rt = e.runtime(e.conflist([pool]))
    ref, pod = e.pod("a")
    with pytest.raises(cni.CniFailure) as failure:
        rt.add(ref.container_id, pod.path, pod=ref)
    field = f"field: {e.config.cluster_file}.state_dir"
    assert (failure.value.code, failure.value.error["details"]) == (7, field)
    assert e.cluster.records(pool) == {}


# ---------------------------------------------------------------- numbers

HUGE = "9" * 5000  # past Python's 4300-digit limit for int(): it used to be a 999
LOG_SIZE = {
    "ifacer": ("logOptions", "logMaxSize"),
    "coordinator": ("logOptions", "logMaxSize"),
    "spiderpool": ("ipam", "log_file_max_size"),
}


@pytest.mark.parametrize("plugin", PLUGINS)
def test_a_huge_numeric_string_is_code_7_naming_the_key(
    node: netns.Netns, tmp_path: Path, plugin: str
) -> None:
    conf = configs(tmp_path, unreachable_kubeconfig(tmp_path))[plugin]
    section, key = LOG_SIZE[plugin]
    conf[section][key] = HUGE
    conf = {"cniVersion": "1.0.0", "name": "n", **conf}
    err = exec_plugin(plugin, "ADD", conf, node=node, env=pod_env(tmp_path)).json()
    assert (err["code"], err["details"]) == (7, f"field: {section}.{key}"), err
    assert len(err["msg"]) < 200
    if plugin == "coordinator":  # its DEL goes on with the default (docs/coordinator.md)
        assert exec_plugin(plugin, "DEL", conf, node=node, env=POD_ENV).returncode == 0


def test_a_bond_option_of_5000_digits_is_code_7_naming_bond_options(
    node: netns.Netns, tmp_path: Path
) -> None:
    conf = configs(tmp_path, "")["ifacer"]
    conf.update(interfaces=["ens1", "ens2"], bond={"mode": 1, "options": f"miimon={HUGE}"})
    err = exec_plugin(
        "ifacer", "ADD", {"cniVersion": "1.0.0", "name": "n", **conf}, node=node, env=POD_ENV
    ).json()
    assert (err["code"], err["details"]) == (7, "field: bond.options"), err


@pytest.mark.parametrize(("key", "value"), [("vethMTU", 70000), ("txQueueLen", 2**32)])
def test_a_number_the_kernel_would_refuse_is_code_7_before_any_netlink_work(
    make_env: Any, key: str, value: int
) -> None:
    e: CoordinatorEnv = make_env("10.179.0.2/24")
    pool = e.pool("p", "10.179.0.0/24", ["10.179.0.10"], gateway="10.179.0.1")
    rt = e.runtime(e.conflist([pool], coordinator={key: value}))
    ref, pod = e.pod("a")
    before = host_state(e.node, shared_rule_table="500")
    with pytest.raises(cni.CniFailure) as failure:
        rt.add(ref.container_id, pod.path, pod=ref)
    assert (failure.value.code, failure.value.error["details"]) == (7, f"field: {key}")
    assert host_state(e.node, shared_rule_table="500") == before
    rt.delete(ref.container_id, pod.path, pod=ref)
    assert e.cluster.holders(pool) == {}


# ---------------------------------------------------------------- depth, size, encoding


def test_a_pod_annotation_nested_thousands_deep_is_code_7_naming_it(
    cluster: Cluster, api_underlay: netns.Underlay, tmp_path: Path
) -> None:
    sc = Scenario(cluster, api_underlay, tmp_path)
    pool = sc.name("p")
    cluster.pool(pool, "10.180.0.0/24", ["10.180.0.10"])
    node = sc.node(0)
    deep = "[" * 5000 + "]" * 5000  # the decoder's own guard would be a RecursionError
    ref, pod = sc.pod("a", node, annotations={"ipam.spidernet.io/ippool": deep})
    rt = node.runtime(default_ipv4_ippool=[pool])
    with pytest.raises(cni.CniFailure) as failure:
        rt.add(ref.container_id, pod.path, pod=ref)
    error = failure.value.error
    assert (error["code"], error["details"]) == (
        7,
        "field: pod annotation ipam.spidernet.io/ippool",
    ), error
    assert "nested more than 64 levels deep" in error["msg"]
    rt.delete(ref.container_id, pod.path, pod=ref)
    assert cluster.records(pool) == {}


def test_a_prev_result_of_50000_addresses_is_code_7_naming_the_list(
    node: netns.Netns, tmp_path: Path
) -> None:
    ips = [{"address": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}/8"} for i in range(50_000)]
    prev = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0"}], "ips": ips}
    conf = {
        "cniVersion": "1.0.0",
        "name": "n",
        **configs(tmp_path, "")["coordinator"],
        "prevResult": prev,
    }
    err = exec_plugin("coordinator", "ADD", conf, node=node, env=POD_ENV).json()
    assert (err["code"], err["details"]) == (7, "field: prevResult.ips"), err
    assert "50000 entries, more than the 1024 taken" in err["msg"]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_a_lone_surrogate_escape_in_stdin_is_code_6(
    node: netns.Netns, tmp_path: Path, plugin: str
) -> None:
    """JSON's "\\ud800" decodes into a string no UTF-8 consumer can hold: the log path
    (each plugin) or an interface name (ifacer) failed where it was first encoded, as a
    UnicodeEncodeError (999)."""
    conf = configs(tmp_path, unreachable_kubeconfig(tmp_path))[plugin]
    section, key = (
        ("ipam", "log_file_path") if plugin == "spiderpool" else ("logOptions", "logFile")
    )
    conf[section][key] = str(tmp_path / "log\ud800")
    if plugin == "ifacer":
        conf["interfaces"] = ["ens\udfff"]
    conf = {"cniVersion": "1.0.0", "name": "n", **conf}  # json.dumps writes "\\ud800"
    result = exec_plugin(plugin, "ADD", conf, node=node, env=POD_ENV)
    assert (result.returncode, result.json()["code"]) == (1, 6), result.stdout
    assert "surrogate" in result.json()["msg"]


def test_an_ifname_that_is_not_utf8_is_code_4_before_anything_is_allocated(
    cluster: Cluster, api_underlay: netns.Underlay, tmp_path: Path
) -> None:
    """It used to be allocated, stored mangled in the SpiderEndpoint (the API server keeps
    UTF-8 only), and then no DEL could find it: a leak only the GC might catch."""
    sc = Scenario(cluster, api_underlay, tmp_path)
    pool = sc.name("p")
    cluster.pool(pool, "10.181.0.0/24", ["10.181.0.10"])
    node = sc.node(0)
    ref, pod = sc.pod("a", node)
    conf = {
        "cniVersion": "1.0.0",
        "name": "n",
        "type": "macvlan",
        "ipam": node.config.ipam(default_ipv4_ippool=[pool]),
    }
    env = {
        "CNI_CONTAINERID": ref.container_id,
        "CNI_NETNS": pod.path,
        "CNI_IFNAME": "eth\udcff",  # subprocess passes the byte 0xff
        "CNI_ARGS": ref.cni_args(),
    }
    err = exec_plugin("spiderpool", "ADD", conf, node=node.netns, env=env).json()
    assert err["code"] == 4 and "CNI_IFNAME b'eth\\xff' must be printable ASCII" in err["msg"]
    assert cluster.records(pool) == {} and cluster.endpoint(sc.ns, "a") is None


# ---------------------------------------------------------------- IPv6 zone indices

ZONED = {
    "hijackCIDR[0]": {"hijackCIDR": ["fd00:10::%eth0/64"]},
    "policyRoutes[0].gw": {"policyRoutes": [{"dst": "fd00:20::/64", "gw": "fe80::1%eth0"}]},
    "prevResult.ips[0].gateway": {
        "prevResult": {
            "cniVersion": "1.0.0",
            "interfaces": [{"name": "eth0"}],
            "ips": [{"address": "fd00:30::5/64", "gateway": "fe80::1%eth0", "interface": 0}],
        }
    },
    "prevResult.routes[0].dst": {
        "prevResult": {
            "cniVersion": "1.0.0",
            "ips": [{"address": "fd00:30::5/64"}],
            "routes": [{"dst": "fe80::%eth0/64"}],
        }
    },
}


@pytest.mark.parametrize("field", list(ZONED))
def test_a_zone_index_in_a_coordinator_address_is_code_7_naming_it(
    node: netns.Netns, tmp_path: Path, field: str
) -> None:
    conf = {"cniVersion": "1.0.0", "name": "n", **configs(tmp_path, "")["coordinator"]}
    conf.update(ZONED[field])
    err = exec_plugin("coordinator", "ADD", conf, node=node, env=POD_ENV).json()
    assert (err["code"], err["details"]) == (7, f"field: {field}"), err
    assert "zone index" in err["msg"]


def test_a_zone_index_in_a_route_annotation_is_code_7_not_a_dropped_route(
    cluster: Cluster, api_underlay: netns.Underlay, tmp_path: Path
) -> None:
    sc = Scenario(cluster, api_underlay, tmp_path)
    pool = sc.name("p")
    cluster.pool(pool, "fd00:182::/64", ["fd00:182::10"])
    node = sc.node(0)
    routes = json.dumps([{"dst": "fd00:99::/64", "gw": "fe80::1%eth0"}])
    ref, pod = sc.pod("a", node, annotations={"ipam.spidernet.io/routes": routes})
    rt = node.runtime(default_ipv6_ippool=[pool])
    with pytest.raises(cni.CniFailure) as failure:
        rt.add(ref.container_id, pod.path, pod=ref)
    error = failure.value.error
    assert (error["code"], error["details"]) == (
        7,
        "field: pod annotation ipam.spidernet.io/routes",
    ), error
    assert "zone index" in error["msg"]
    rt.delete(ref.container_id, pod.path, pod=ref)
    assert cluster.records(pool) == {}
