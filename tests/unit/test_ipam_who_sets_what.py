"""Who sets which IPAM key: a NAD (its namespace's users) or the cluster IPAM config (the
administrator), through spidernet/ipam/config.py and spidernet/ipam/cluster.py.

| keys                       | NAD sets a value               | expectation                        |
|----------------------------|--------------------------------|------------------------------------|
| every key of config.KEYS   | all at once                    | every one read, none unknown;      |
|                            |                                | nothing read that KEYS does not    |
|                            |                                | classify                           |
| cluster (kubeconfig,       | another value, ADD             | code 7 naming ipam.<key> and the   |
| lock_dir, ...)             |                                | file                               |
| cluster                    | another value, DEL/CHECK/...   | the cluster's value, a warning     |
| cluster                    | the cluster's own value        | accepted, no warning               |
| bounded (timeouts, cool-   | above the ceiling / below /    | the ceiling with a warning / its   |
| down)                      | none                           | own / the default, never above the |
|                            |                                | ceiling                            |
| cluster-log (log path,     | any other value                | the cluster's, a warning; the      |
| size, count)               |                                | level is the network's             |
| cluster IPAM config file   | absent / keys / unknown key /  | the defaults / the values / a      |
|                            | bad type / relative path / not | warning / code 7 naming            |
|                            | JSON                           | <file>.<key> / code 7 / code 7     |
|                            |                                | naming the file                    |
| installer/manifests/ipam-  | the shipped ConfigMap          | exactly the defaults               |
| config.yaml                |                                |                                    |
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from spidernet.ipam import cluster, config
from spidernet.protocol import errors, logs
from spidernet.types import netconf
from tools.testbed import paths

NAD_VALUES: dict[str, Any] = {
    "type": "spiderpool",
    "default_ipv4_ippool": ["a"],
    "default_ipv6_ippool": ["b"],
    "clean_gateway": True,
    "log_level": "debug",
    "match_master_subnet": False,
    "ipam_unix_socket_path": "/var/run/spidernet/spiderpool.sock",
    "log_file_max_age": 30,
    "allocation_timeout": 20,
    "release_timeout": 20,
    "failed_add_cooldown": 10,
    "kubeconfig": cluster.DEFAULT_KUBECONFIG,
    "lock_dir": cluster.DEFAULT_LOCK_DIR,
    "state_dir": cluster.DEFAULT_STATE_DIR,
    "multus_namespace": "kube-system",
    "log_file_path": "/tmp/tenant.log",
    "log_file_max_size": 1,
    "log_file_max_count": 0,
}
CLUSTER_KEYS = [k for k, rule in config.KEYS.items() if rule == "cluster"]
OTHER_VALUE = {
    "kubeconfig": "/var/lib/kubelet/pods/u/volumes/x/kubeconfig",
    "lock_dir": "/tmp/elsewhere",
    "state_dir": "/etc/cron.d",
    "multus_namespace": "tenant-a",
}


def nad(**ipam: Any) -> netconf.NetConf:
    raw = {
        "cniVersion": "1.0.0",
        "name": "net",
        "type": "macvlan",
        "ipam": {"type": "spiderpool", **ipam},
    }
    return netconf.parse(raw, "1.0.0")


@pytest.fixture(autouse=True)
def no_held_records() -> Any:
    logs.LOG.held.clear()
    yield
    logs.LOG.held.clear()


def warnings() -> list[str]:
    return [str(r["msg"]) for r in logs.LOG.held if r["level"] == "WARNING"]


def test_every_key_a_nad_can_set_is_classified_and_read() -> None:
    assert set(NAD_VALUES) == set(config.KEYS)
    conf = nad(**NAD_VALUES)
    config.parse(conf, cluster.ClusterConf(), adding=True)
    assert conf.unknown_keys() == []
    read = {k for f in conf.reads.objects if f.prefix == "ipam" for k in f.read}
    assert read == set(config.KEYS)


@pytest.mark.parametrize("key", CLUSTER_KEYS)
def test_a_cluster_key_the_nad_sets_to_another_value_refuses_the_add(key: str) -> None:
    with pytest.raises(errors.InvalidConfig) as e:
        config.parse(nad(**{key: OTHER_VALUE[key]}), cluster.ClusterConf(), adding=True)
    assert e.value.code == 7 and e.value.field == f"ipam.{key}"
    assert cluster.DEFAULT_PATH in e.value.msg and "a network may not change it" in e.value.msg


@pytest.mark.parametrize("key", CLUSTER_KEYS)
def test_other_verbs_go_on_with_the_clusters_value_of_a_cluster_key(key: str) -> None:
    got = config.parse(nad(**{key: OTHER_VALUE[key]}), cluster.ClusterConf(), adding=False)
    assert getattr(got, key) == getattr(cluster.ClusterConf(), key)
    assert any(f"ipam.{key}" in w for w in warnings())


def test_a_nad_spelling_the_clusters_own_values_is_accepted_without_a_word() -> None:
    mine = cluster.ClusterConf(lock_dir="/run/x", multus_namespace="multus", source="/f.json")
    got = config.parse(nad(lock_dir="/run/x", multus_namespace="multus"), mine, adding=True)
    assert (got.lock_dir, got.multus_namespace) == ("/run/x", "multus") and warnings() == []


@pytest.mark.parametrize(
    ("key", "ceiling", "default"),
    [
        ("allocation_timeout", "max_allocation_timeout", 60.0),
        ("release_timeout", "max_release_timeout", 60.0),
        ("failed_add_cooldown", "max_failed_add_cooldown", 30.0),
    ],
)
def test_a_bounded_key_never_exceeds_the_clusters_ceiling(
    key: str, ceiling: str, default: float
) -> None:
    limits = cluster.ClusterConf(**{ceiling: 5})
    assert getattr(config.parse(nad(**{key: 600}), limits), key) == 5.0
    assert any(f"ipam.{key} 600 is above" in w for w in warnings())
    assert getattr(config.parse(nad(**{key: 3}), limits), key) == 3.0
    assert getattr(config.parse(nad(), limits), key) == 5.0  # the default is capped too
    assert getattr(config.parse(nad(), cluster.ClusterConf()), key) == default


def test_the_log_is_the_clusters_and_only_its_level_the_networks() -> None:
    mine = cluster.ClusterConf(log_file_path="/var/log/x.log", log_file_max_count=3)
    got = config.parse(
        nad(
            log_file_path="/etc/passwd", log_file_max_size=1, log_file_max_count=0, log_level="WARN"
        ),
        mine,
        adding=True,
    )
    assert got.log == logs.LogOptions("/var/log/x.log", "warn", 100, 3)
    assert len([w for w in warnings() if "the network's value is ignored" in w]) == 3


# ---------------------------------------------------------------- the file


def test_no_file_means_the_defaults(tmp_path: Path) -> None:
    assert cluster.load(str(tmp_path / "absent.json")) == cluster.ClusterConf()
    assert cluster.path_from({}) == cluster.DEFAULT_PATH
    assert cluster.path_from({cluster.ENV: "/x.json"}) == "/x.json"


def test_the_file_sets_every_key_and_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    want = cluster.ClusterConf(
        kubeconfig="/k",
        lock_dir="/l",
        state_dir="/s",
        log_file_path="/log",
        log_file_max_size=7,
        log_file_max_count=2,
        multus_namespace="multus",
        multus_default_networks=("sriov",),
        multus_system_namespaces=(),
        max_allocation_timeout=9,
        max_release_timeout=8,
        max_failed_add_cooldown=0,
        source=str(path),
    )
    path.write_text(json.dumps(cluster.to_json(want)))
    assert cluster.load(str(path)) == want
    assert want.where == str(path) and want.allocation_budget() == 9.0


def test_an_unknown_key_in_the_file_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"max_allocation_timeout": 5, "from_a_newer_installer": 1}))
    assert cluster.load(str(path)).max_allocation_timeout == 5
    assert warnings() == [f"{path}: unknown key 'from_a_newer_installer' ignored"]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"max_allocation_timeout": 0}', ".max_allocation_timeout"),
        ('{"max_allocation_timeout": 601}', ".max_allocation_timeout"),
        ('{"lock_dir": "relative/dir"}', ".lock_dir"),
        ('{"multus_default_networks": "one"}', ".multus_default_networks"),
        ("[]", ""),
        ("not json", ""),
    ],
)
def test_a_file_that_cannot_be_used_is_code_7_naming_it(
    tmp_path: Path, text: str, field: str
) -> None:
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(errors.InvalidConfig) as e:
        cluster.load(str(path))
    assert e.value.code == 7 and str(path) in e.value.field and e.value.field.endswith(field)


def test_the_shipped_configmap_spells_out_exactly_the_defaults() -> None:
    path = paths.REPO / "installer" / "manifests" / "ipam-config.yaml"
    text = yaml.safe_load(path.read_text())["data"]["cluster-ipam.json"]
    assert json.loads(text) == cluster.to_json(cluster.ClusterConf())
