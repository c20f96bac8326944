"""NADs written the way upstream Spiderpool writes them run unchanged, and no key of theirs
is reported as unknown (the coordinator's part of the upstream-compatibility tests).

| NAD                                              | expectation                                  |
|--------------------------------------------------|----------------------------------------------|
| what upstream's SpiderMultusConfig renders for   | ADD and DEL pass; veth0 in the pod; no       |
| macvlan (cniVersion 0.3.1 as its default; the    | unknown-key warning in the coordinator's or  |
| coordinator block with every key it writes,      | the IPAM's log                               |
| empty strings included)                          |                                              |
| a hand-written upstream-style coordinator block  | as above; the gateway probe passes; the MAC  |
| with the probe keys and detectOptions as Go      | prefix is applied                            |
| duration strings                                 |                                              |

VLAN and bond chains need kernel drivers only UML has: tests/uml_guest/test_ifacer_chain.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration import coordinator_env as env
from tests.integration.coordinator_env import CoordinatorEnv

pytestmark = [pytest.mark.apiserver, pytest.mark.netns]

# cmd/spiderpool-controller's SpiderMultusConfig -> NAD for cniType macvlan:
# these are the coordinator keys it writes; podMACPrefix and friends as empty strings.
SMC_COORDINATOR = {
    "mode": "auto",
    "hijackCIDR": ["169.254.0.0/16"],
    "podMACPrefix": "",
    "podDefaultRouteNic": "",
    "vethLinkAddress": "",
    "vethMTU": 1500,
    "tunePodRoutes": True,
    "txQueueLen": 0,
    "podRPFilter": 0,
}
HAND_WRITTEN = {
    "mode": "underlay",
    "tunePodRoutes": True,
    "podDefaultRouteNic": "eth0",
    "detectGateway": True,
    "detectIPConflict": True,
    "detectOptions": {"retries": 2, "interval": "10ms", "timeout": "200ms"},
    "podMACPrefix": "0a:1b",
    "hostRuleTable": 500,
    "hostRPFilter": 0,
    "multusNicPrefix": "net",
    "logOptions": {"logLevel": "debug", "logMaxSize": 100, "logMaxAge": 30, "logMaxCount": 10},
}


def unknown_key_warnings(e: CoordinatorEnv) -> list[str]:
    out = []
    for log in ("coordinator.log", "spiderpool.log"):
        path = e.config.dir / log
        lines = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
        out += [x["msg"] for x in lines if x["level"] == "WARNING" and "is not one" in x["msg"]]
    return out


@pytest.mark.parametrize(
    "coordinator", [SMC_COORDINATOR, HAND_WRITTEN], ids=["smc-rendered", "hand-written"]
)
def test_an_upstream_shaped_nad_runs_and_none_of_its_keys_is_unknown(
    make_env: Any, coordinator: dict[str, Any]
) -> None:
    e: CoordinatorEnv = make_env("10.178.0.2/24")
    e.underlay.add_peer(f"gw{e.ns[-4:]}", ("10.178.0.1/24",))
    pool = e.pool("p", "10.178.0.0/24", ["10.178.0.10"], gateway="10.178.0.1")
    conflist = e.conflist([pool], coordinator=coordinator, version="0.3.1")
    log = conflist["plugins"][1]["logOptions"]
    conflist["plugins"][1]["logOptions"] = {**coordinator.get("logOptions", {}), **log}
    rt = e.runtime(conflist)
    ref, pod = e.pod("a")
    result = rt.add(ref.container_id, pod.path, pod=ref)
    assert result["ips"][0]["address"] == "10.178.0.10/24" and pod.has_link("veth0")
    if coordinator.get("podMACPrefix"):
        assert env.link(pod, "eth0")["address"].startswith("0a:1b:")
    e.cluster.delete_pod(e.ns, "a")
    rt.delete(ref.container_id, pod.path, pod=ref)
    assert unknown_key_warnings(e) == []
