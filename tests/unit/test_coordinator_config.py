"""coordinator.config: every key of docs/coordinator.md, its default and its refusals.

Case matrix (every refusal is InvalidConfig, code 7, naming the key):

    key                     accepted                                refused
    mode                    auto (default), underlay, overlay,      "bridge", 3
                            disable, disabled (-> disable)
    podDefaultCniNic        default eth0, any name                  non-string
    overlayPodCIDR/         v4 and v6 CIDRs, host bits dropped      "10.0.0.0/33", "x", [1]
    serviceCIDR/hijackCIDR  (all three joined in hijack_routes)
    policyRoutes            bare IP -> /32, CIDR                    dst/gw missing or bad,
                                                                    families differ, not a list,
                                                                    a zone index (also in CIDRs)
    tunePodRoutes           default true                            "yes"
    hostRuleTable           default 500, 0 -> 500                   253/254/255, -1
    podRPFilter             default -1, 0..2, negative              3
    txQueueLen              default 0, up to 2**32-1                -1, 2**32
    podMACPrefix            "0a:1b", "0A-1B"                        multicast bit, 3 bytes, "zz:00"
    vethLinkAddress         IPv4                                    IPv6, garbage
    vethMTU                 default 1500, 68-65535 (a veth's)       0, 67, 65536, 2**40
    detectIPConflict/       default false, true                     "true"
    detectGateway
    detectOptions           default 3 / "100ms" / "0s"; Go          retries -1, 11, "3"; timeout
                            durations ("1.5s", "250ms", "1m",       "0s", "100", "1x", "11s", 5;
                            "1m30s", "500us"); retries 0 -> 3;      interval "-1s", "bad"; not
                            "" -> default                           an object
    logOptions              default level debug, file; keys mapped  bad level, bad size,
                                                                    5000-digit size, count 10**12
    parse_for_delete        a config that parses: as parse; keys that do not parse take their
                            defaults (one problem each, the others kept, unknown keys as before)
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from spidernet.coordinator import config
from spidernet.protocol import errors
from spidernet.types import netconf


def parse(**keys: Any) -> config.CoordinatorConf:
    raw = {"cniVersion": "1.0.0", "name": "net", "type": "coordinator", **keys}
    return config.parse(netconf.parse(raw, "1.0.0"))


def refused_field(**keys: Any) -> str:
    with pytest.raises(errors.InvalidConfig) as exc:
        parse(**keys)
    assert exc.value.code == 7
    return exc.value.field


def test_an_empty_config_yields_upstreams_defaults() -> None:
    c = parse()
    assert (c.mode, c.pod_default_cni_nic, c.tune_pod_routes, c.host_rule_table) == (
        "auto",
        "eth0",
        True,
        500,
    )
    assert (c.pod_rp_filter, c.tx_queue_len, c.pod_mac_prefix, c.veth_mtu) == (-1, 0, b"", 1500)
    assert (c.detect_ip_conflict, c.detect_gateway, c.veth_link_address) == (False, False, None)
    assert c.hijack_routes == () and c.policy_routes == ()
    assert (c.log.path, c.log.level) == (config.DEFAULT_LOG, "debug")


@pytest.mark.parametrize(
    ("given", "mode"),
    [
        ("auto", "auto"),
        ("underlay", "underlay"),
        ("overlay", "overlay"),
        ("disable", "disable"),
        ("disabled", "disable"),
    ],
)
def test_every_upstream_mode_is_accepted_and_disabled_means_disable(given: str, mode: str) -> None:
    assert parse(mode=given).mode == mode


@pytest.mark.parametrize("bad", ["bridge", 3, ""])
def test_an_unknown_mode_is_refused_naming_mode(bad: object) -> None:
    if bad == "":
        assert parse(mode=bad).mode == "auto"  # empty reads as absent, as upstream
    else:
        assert refused_field(mode=bad) == "mode"


def test_the_three_cidr_lists_are_joined_in_order_with_host_bits_dropped() -> None:
    c = parse(
        overlayPodCIDR=["10.244.1.7/16"],
        serviceCIDR=["10.96.0.0/12", "fd96::/108"],
        hijackCIDR=["169.254.0.0/16"],
    )
    assert [str(n) for n in c.hijack_routes] == [
        "10.244.0.0/16",
        "10.96.0.0/12",
        "fd96::/108",
        "169.254.0.0/16",
    ]


@pytest.mark.parametrize("key", ["overlayPodCIDR", "serviceCIDR", "hijackCIDR"])
@pytest.mark.parametrize(
    ("value", "field_suffix"),
    [(["10.0.0.0/33"], "[0]"), (["ok", "x"], "[0]"), ([1], "[0]"), ("10.0.0.0/8", "")],
)
def test_a_bad_cidr_is_refused_naming_the_list_item(
    key: str, value: object, field_suffix: str
) -> None:
    assert refused_field(**{key: value}) == key + field_suffix


def test_policy_routes_accept_a_bare_ip_as_a_host_route() -> None:
    c = parse(
        policyRoutes=[{"dst": "10.7.0.5", "gw": "10.6.0.1"}, {"dst": "fd00::/64", "gw": "fd06::1"}]
    )
    assert c.policy_routes[0] == config.PolicyRoute(
        ipaddress.ip_network("10.7.0.5/32"), ipaddress.ip_address("10.6.0.1")
    )
    assert str(c.policy_routes[1].dst) == "fd00::/64"


@pytest.mark.parametrize(
    ("routes", "field"),
    [
        ([{"gw": "10.0.0.1"}], "policyRoutes[0].dst"),
        ([{"dst": "10.0.0.0/8"}], "policyRoutes[0].gw"),
        (
            [{"dst": "10.0.0.0/8", "gw": "10.0.0.1"}, {"dst": "nope", "gw": "10.0.0.1"}],
            "policyRoutes[1].dst",
        ),
        ([{"dst": "10.0.0.0/8", "gw": "10.0.0.300"}], "policyRoutes[0].gw"),
        ([{"dst": "10.0.0.0/8", "gw": "fd00::1"}], "policyRoutes[0]"),
        ({"dst": "10.0.0.0/8"}, "policyRoutes"),
        (["10.0.0.0/8"], "policyRoutes[0]"),
    ],
)
def test_a_bad_policy_route_is_refused_naming_it(routes: object, field: str) -> None:
    assert refused_field(policyRoutes=routes) == field


def test_tune_pod_routes_defaults_to_true_and_must_be_a_bool() -> None:
    assert parse(tunePodRoutes=False).tune_pod_routes is False
    assert refused_field(tunePodRoutes="yes") == "tunePodRoutes"


@pytest.mark.parametrize(("value", "expected"), [(0, 500), (600, 600), (1000, 1000)])
def test_host_rule_table_zero_reads_as_the_default(value: int, expected: int) -> None:
    assert parse(hostRuleTable=value).host_rule_table == expected


@pytest.mark.parametrize("bad", [253, 254, 255, -1, "500"])
def test_host_rule_table_refuses_kernel_tables_and_non_integers(bad: object) -> None:
    assert refused_field(hostRuleTable=bad) == "hostRuleTable"


@pytest.mark.parametrize("value", [0, 1, 2, -1, -5])
def test_pod_rp_filter_takes_0_to_2_or_negative(value: int) -> None:
    assert parse(podRPFilter=value).pod_rp_filter == value


def test_pod_rp_filter_above_2_is_refused() -> None:
    assert refused_field(podRPFilter=3) == "podRPFilter"


def test_tx_queue_len_is_the_kernels_unsigned_32_bits() -> None:
    assert parse(txQueueLen=2000).tx_queue_len == 2000
    assert parse(txQueueLen=2**32 - 1).tx_queue_len == 2**32 - 1
    assert refused_field(txQueueLen=-1) == "txQueueLen"
    assert refused_field(txQueueLen=2**32) == "txQueueLen"


@pytest.mark.parametrize(
    ("text", "prefix"), [("0a:1b", b"\x0a\x1b"), ("0A-1B", b"\x0a\x1b"), ("fe:00", b"\xfe\x00")]
)
def test_a_unicast_mac_prefix_is_read_as_two_bytes(text: str, prefix: bytes) -> None:
    assert parse(podMACPrefix=text).pod_mac_prefix == prefix


@pytest.mark.parametrize("bad", ["01:00", "0b:1b", "ff:ff", "0a:1b:2c", "zz:00", "0a1b", 12])
def test_a_mac_prefix_with_the_multicast_bit_or_a_bad_shape_is_refused(bad: object) -> None:
    assert refused_field(podMACPrefix=bad) == "podMACPrefix"


def test_the_multicast_refusal_says_why() -> None:
    with pytest.raises(errors.InvalidConfig, match="multicast"):
        parse(podMACPrefix="03:00")


def test_veth_link_address_must_be_ipv4() -> None:
    assert str(parse(vethLinkAddress="169.254.100.1").veth_link_address) == "169.254.100.1"
    assert refused_field(vethLinkAddress="fe80::1") == "vethLinkAddress"
    assert refused_field(vethLinkAddress="x") == "vethLinkAddress"


@pytest.mark.parametrize("bad", [0, -1, 67, 65536, 2**40, "9000"])
def test_veth_mtu_must_be_one_the_kernel_takes_for_a_veth(bad: object) -> None:
    assert parse(vethMTU=9000).veth_mtu == 9000
    assert (parse(vethMTU=68).veth_mtu, parse(vethMTU=65535).veth_mtu) == (68, 65535)
    assert refused_field(vethMTU=bad) == "vethMTU"


@pytest.mark.parametrize("key", ["detectIPConflict", "detectGateway"])
def test_probe_switches_are_bools(key: str) -> None:
    assert refused_field(**{key: "true"}) == key


def test_probe_switches_turn_on() -> None:
    c = parse(detectIPConflict=True, detectGateway=True)
    assert (c.detect_ip_conflict, c.detect_gateway) == (True, True)


def test_log_options_use_upstreams_key_names() -> None:
    c = parse(
        logOptions={
            "logLevel": "info",
            "logFile": "/tmp/c.log",
            "logMaxSize": "10",
            "logMaxCount": 2,
            "logMaxAge": 5,
        }
    )
    assert (c.log.path, c.log.level, c.log.max_size_mb, c.log.max_count) == (
        "/tmp/c.log",
        "info",
        10,
        2,
    )


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"logLevel": "loud"}, "logOptions.logLevel"),
        ({"logMaxSize": "big"}, "logOptions.logMaxSize"),
        ({"logMaxSize": "9" * 5000}, "logOptions.logMaxSize"),
        ({"logMaxCount": 10**12}, "logOptions.logMaxCount"),
        ("debug", "logOptions"),
    ],
)
def test_bad_log_options_are_refused_naming_the_key(options: object, field: str) -> None:
    assert refused_field(logOptions=options) == field


def test_unused_upstream_keys_are_accepted() -> None:
    parse(hostRPFilter=0, multusNicPrefix="net")


def test_detect_options_default_to_three_tries_of_100_ms_back_to_back() -> None:
    assert parse().detect_options == config.DetectOptions(retries=3, timeout=0.1, interval=0.0)
    assert parse(detectOptions={}).detect_options == config.DetectOptions()
    assert (
        parse(detectOptions={"retries": 0, "timeout": "", "interval": ""}).detect_options
        == config.DetectOptions()
    )


def test_detect_options_are_read_as_upstream_writes_them() -> None:
    c = parse(detectOptions={"retries": 5, "timeout": "250ms", "interval": "1.5s"})
    assert c.detect_options == config.DetectOptions(retries=5, timeout=0.25, interval=1.5)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("100ms", 0.1),
        ("1.5s", 1.5),
        ("1m", 60.0),
        ("1m30s", 90.0),
        ("500us", 0.0005),
        ("500\u00b5s", 0.0005),
        ("2h", 7200.0),
        (".5s", 0.5),
        ("0", 0.0),
        ("-1s", -1.0),
        ("+3ms", 0.003),
    ],
)
def test_durations_are_gos(text: str, seconds: float) -> None:
    assert config.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "100", "1x", "s", "1.2.3s", "1 s", "ms100"])
def test_malformed_durations_are_none(text: str) -> None:
    assert config.parse_duration(text) is None


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"retries": -1}, "detectOptions.retries"),
        ({"retries": 11}, "detectOptions.retries"),
        ({"retries": "3"}, "detectOptions.retries"),
        ({"timeout": "0s"}, "detectOptions.timeout"),
        ({"timeout": "100"}, "detectOptions.timeout"),
        ({"timeout": "1x"}, "detectOptions.timeout"),
        ({"timeout": "11s"}, "detectOptions.timeout"),
        ({"timeout": 5}, "detectOptions.timeout"),
        ({"interval": "-1s"}, "detectOptions.interval"),
        ({"interval": "bad"}, "detectOptions.interval"),
        ("3", "detectOptions"),
    ],
)
def test_bad_detect_options_are_refused_naming_the_key(options: object, field: str) -> None:
    assert refused_field(detectOptions=options) == field


def test_a_del_goes_on_with_defaults_for_the_keys_that_do_not_parse() -> None:
    """A runtime stops a chain's DEL at the first plugin that fails: a key refused at ADD
    must not also stop the IPAM's release behind the coordinator."""
    conf = netconf.parse(
        {
            "cniVersion": "1.0.0",
            "name": "n",
            "type": "coordinator",
            "vethMTU": 70000,
            "detectOptions": {"retries": "x"},
            "hostRuleTable": 600,
            "misspelt": 1,
        },
        "1.0.0",
    )
    c, problems = config.parse_for_delete(conf)
    assert (c.veth_mtu, c.detect_options.retries, c.host_rule_table) == (1500, 3, 600)
    assert [p.split(":")[1].strip() for p in problems] == ["vethMTU", "detectOptions.retries"]
    assert conf.unknown_keys() == ["misspelt"]  # the keys after a bad one are not "unknown"


def test_a_del_of_a_config_that_parses_has_no_problems() -> None:
    conf = netconf.parse({"cniVersion": "1.0.0", "name": "n", "hostRuleTable": 600}, "1.0.0")
    assert config.parse_for_delete(conf) == (config.parse(conf), [])


@pytest.mark.parametrize(
    ("keys", "field"),
    [
        ({"hijackCIDR": ["fe80::%eth0/64"]}, "hijackCIDR[0]"),
        ({"policyRoutes": [{"dst": "fd00::/64", "gw": "fe80::1%eth0"}]}, "policyRoutes[0].gw"),
        ({"policyRoutes": [{"dst": "fe80::%2/64", "gw": "fe80::1"}]}, "policyRoutes[0].dst"),
    ],
)
def test_an_ipv6_zone_index_is_refused_naming_the_field(keys: dict[str, Any], field: str) -> None:
    with pytest.raises(errors.InvalidConfig, match="zone index") as e:
        parse(**keys)
    assert e.value.field == field
