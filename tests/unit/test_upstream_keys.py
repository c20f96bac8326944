"""Every key upstream Spiderpool's three plugins decode is accepted by ours and read, so
none is reported as unknown; a misspelt key is.

Key lists are upstream's Go structs (cmd/coordinator/cmd/cni_types.go Config,
cmd/ifacer/cmd/types.go Ifacer/Bond, cmd/spiderpool/cmd/cni_types.go IPAMConfig: reference
§1.1, §2.1, §4.1), with values in the shapes upstream's docs write them.

| plugin      | config                                   | expectation                           |
|-------------|------------------------------------------|---------------------------------------|
| coordinator | every upstream key, detectOptions and    | parses; no unknown key                |
|             | logOptions with all their sub-keys       |                                       |
| ifacer      | interfaces, vlanID, bond{name,mode,      | parses; no unknown key                |
|             | options}, one interface with a bond      |                                       |
| spiderpool  | every upstream ipam key, macvlan's own   | parses; no unknown key (macvlan's     |
|             | keys around it                           | keys are macvlan's business)          |
| each        | a misspelt key at the top, nested and in | exactly that key is named, by path    |
|             | the ipam section                         |                                       |
"""

from __future__ import annotations

from typing import Any

import pytest

from spidernet.coordinator import config as coordinator_config
from spidernet.ifacer import config as ifacer_config
from spidernet.ipam import config as ipam_config
from spidernet.types import netconf

COORDINATOR = {
    "type": "coordinator",
    "mode": "auto",
    "podDefaultCniNic": "eth0",
    "overlayPodCIDR": ["10.244.0.0/16"],
    "serviceCIDR": ["10.96.0.0/12"],
    "hijackCIDR": ["169.254.0.0/16"],
    "policyRoutes": [{"dst": "10.7.0.0/16", "gw": "10.6.0.1"}],
    "tunePodRoutes": True,
    "podDefaultRouteNic": "",
    "hostRuleTable": 500,
    "hostRPFilter": 0,
    "podRPFilter": 0,
    "txQueueLen": 0,
    "podMACPrefix": "0a:1b",
    "vethLinkAddress": "169.254.200.1",
    "vethMTU": 1500,
    "multusNicPrefix": "net",
    "detectIPConflict": True,
    "detectGateway": True,
    "detectOptions": {"retries": 3, "interval": "10ms", "timeout": "100ms"},
    "logOptions": {
        "logLevel": "debug",
        "logFile": "/var/log/spidernet/coordinator.log",
        "logMaxSize": 100,
        "logMaxAge": 30,
        "logMaxCount": 10,
    },
}
IFACER = {
    "type": "ifacer",
    "interfaces": ["ens1", "ens2"],
    "vlanID": 100,
    "bond": {"name": "sp_bond0", "mode": 1, "options": "miimon=100"},
}
IPAM = {
    "type": "spiderpool",
    "log_level": "DEBUG",
    "log_file_path": "/var/log/spidernet/spiderpool.log",
    "log_file_max_size": "100",
    "log_file_max_age": "30",
    "log_file_max_count": "7",
    "default_ipv4_ippool": ["default-v4-ippool"],
    "default_ipv6_ippool": ["default-v6-ippool"],
    "clean_gateway": False,
    "match_master_subnet": False,
    "ipam_unix_socket_path": "/var/run/spidernet/spiderpool.sock",
}
MACVLAN = {"type": "macvlan", "master": "ens1", "mode": "bridge", "mtu": 1500}


def conf_of(raw: dict[str, Any]) -> netconf.NetConf:
    return netconf.parse({"cniVersion": "0.3.1", "name": "net", **raw}, "0.3.1")


def test_every_upstream_coordinator_key_is_known() -> None:
    conf = conf_of(COORDINATOR)
    coordinator_config.parse(conf)
    assert conf.unknown_keys() == []


@pytest.mark.parametrize(
    "raw",
    [IFACER, {"type": "ifacer", "interfaces": ["ens1"], "vlanID": 5, "bond": {"mode": 1}}],
    ids=["bond", "one-interface-ignores-bond"],
)
def test_every_upstream_ifacer_key_is_known(raw: dict[str, Any]) -> None:
    conf = conf_of(raw)
    ifacer_config.parse(conf)
    assert conf.unknown_keys() == []


def test_every_upstream_ipam_key_is_known_and_the_main_plugins_keys_are_not_ours() -> None:
    conf = conf_of({**MACVLAN, "ipam": IPAM})
    ipam_config.parse(conf)
    assert conf.unknown_keys() == []


@pytest.mark.parametrize(
    ("raw", "parse", "unknown"),
    [
        ({**COORDINATOR, "detectIPConflit": True}, coordinator_config.parse, "detectIPConflit"),
        (
            {**COORDINATOR, "detectOptions": {"retry": 3}},
            coordinator_config.parse,
            "detectOptions.retry",
        ),
        (
            {
                **COORDINATOR,
                "policyRoutes": [{"dst": "10.7.0.0/16", "gw": "10.6.0.1", "dev": "eth0"}],
            },
            coordinator_config.parse,
            "policyRoutes[0].dev",
        ),
        ({**IFACER, "vlanId": 100}, ifacer_config.parse, "vlanId"),
        (
            {**IFACER, "bond": {"mode": 1, "option": "miimon=100"}},
            ifacer_config.parse,
            "bond.option",
        ),
        (
            {**MACVLAN, "ipam": {**IPAM, "default_ipv4_ipool": ["p"]}},
            ipam_config.parse,
            "ipam.default_ipv4_ipool",
        ),
    ],
)
def test_a_misspelt_key_is_named_by_its_path(raw: dict[str, Any], parse: Any, unknown: str) -> None:
    conf = conf_of(raw)
    parse(conf)
    assert conf.unknown_keys() == [unknown]
