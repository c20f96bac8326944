"""types.netconf: the Fields readers and parse() of the spec-level config keys.

Case matrix (every error is InvalidConfig, code 7, naming the dotted path):

    Fields()    non-object -> "config" (or the prefix)
    .int        absent -> default; in [lo, hi] inclusive; below lo / above hi; bool,
                float, string refused; numeric_string: "100", " 42 ", "-3" (then lo),
                "1e3" / "abc" / "" refused
    .str        absent -> default; required; non-string; choices
    .bool       absent -> default; true/false; "true" and 1 refused
    .strs       absent -> (); non-list; non-string item and empty item named by index;
                required -> at least 1; min_items
    .sub        nested paths "bond.mode", "ipam.routes.x"; non-object sub; required sub;
                absent sub reads as empty
    parse       spec keys into NetConf, raw kept; name missing / "" / not path-safe
                (incl. trailing newline) / not a string -> "name"; needs_name=False;
                type not a string; prevResult parsed in the config's version (0.3.1
                needs ips[].version, 1.0.0 does not), errors under "prevResult.";
                runtimeConfig and args.cni must be objects
"""

from __future__ import annotations

from typing import Any

import pytest

from spidernet.protocol import errors
from spidernet.types import netconf
from spidernet.types.netconf import Fields
from spidernet.types.results import IPConfig, Result


def field_of(call: Any) -> str:
    """Run ``call``; it must raise InvalidConfig; return the field it names."""
    with pytest.raises(errors.InvalidConfig) as exc:
        call()
    assert exc.value.code == 7
    assert exc.value.details == f"field: {exc.value.field}"
    return exc.value.field


# ---------------------------------------------------------------- Fields


@pytest.mark.parametrize(
    ("data", "prefix", "field"), [([], "", "config"), ("x", "ipam", "ipam"), (None, "", "config")]
)
def test_fields_of_a_non_object_name_the_prefix(data: object, prefix: str, field: str) -> None:
    assert field_of(lambda: Fields(data, prefix)) == field


@pytest.mark.parametrize(
    ("data", "kwargs", "expected"),
    [
        ({}, {"default": 7}, 7),
        ({"n": None}, {"default": 7}, 7),
        ({"n": 0}, {"lo": 0, "hi": 6}, 0),
        ({"n": 6}, {"lo": 0, "hi": 6}, 6),
        ({"n": -5}, {}, -5),
        ({"n": "100"}, {"numeric_string": True}, 100),
        ({"n": " 42 "}, {"numeric_string": True}, 42),
        ({"n": "-3"}, {"numeric_string": True}, -3),
        ({"n": 100}, {"numeric_string": True}, 100),
    ],
)
def test_int_reads_integers_in_range(
    data: dict[str, Any], kwargs: dict[str, Any], expected: int
) -> None:
    assert Fields(data).int("n", **kwargs) == expected


@pytest.mark.parametrize(
    ("value", "kwargs"),
    [
        (-1, {"lo": 0}),
        (7, {"lo": 0, "hi": 6}),
        (4095, {"hi": 4094}),
        (True, {}),
        (False, {"numeric_string": True}),
        (1.0, {}),
        ("100", {}),
        ("-3", {"lo": 0, "numeric_string": True}),
        ("1e3", {"numeric_string": True}),
        ("abc", {"numeric_string": True}),
        ("", {"numeric_string": True}),
        ([1], {}),
    ],
)
def test_int_refuses_non_integers_and_out_of_range(value: object, kwargs: dict[str, Any]) -> None:
    assert (
        field_of(lambda: Fields({"bond": {"mode": value}}).sub("bond").int("mode", **kwargs))
        == "bond.mode"
    )


def test_str_reads_default_value_and_choices() -> None:
    f = Fields({"mode": "auto", "empty": ""})
    assert f.str("mode", choices=("auto", "underlay")) == "auto"
    assert f.str("absent", "dflt") == "dflt"
    assert f.str("empty", "dflt") == ""


@pytest.mark.parametrize(
    ("data", "kwargs"),
    [
        ({}, {"required": True}),
        ({"mode": 1}, {}),
        ({"mode": "l2"}, {"choices": ("auto", "underlay")}),
    ],
    ids=["required", "not-string", "not-a-choice"],
)
def test_str_errors_name_the_field(data: dict[str, Any], kwargs: dict[str, Any]) -> None:
    f = Fields({"coordinator": data}).sub("coordinator")
    assert field_of(lambda: f.str("mode", **kwargs)) == "coordinator.mode"


@pytest.mark.parametrize(
    ("data", "expected"), [({}, True), ({"b": True}, True), ({"b": False}, False)]
)
def test_bool_reads_json_booleans(data: dict[str, Any], expected: bool) -> None:
    assert Fields(data).bool("b", default=True) is expected


@pytest.mark.parametrize("value", ["true", 1, 0, "false"])
def test_bool_refuses_strings_and_numbers(value: object) -> None:
    assert (
        field_of(lambda: Fields({"clean_gateway": value}).bool("clean_gateway")) == "clean_gateway"
    )


@pytest.mark.parametrize(
    ("data", "kwargs", "expected"),
    [
        ({}, {}, ()),
        ({"interfaces": []}, {}, ()),
        ({"interfaces": ["eth0"]}, {"required": True}, ("eth0",)),
        ({"interfaces": ["eth0", "eth1"]}, {"min_items": 2}, ("eth0", "eth1")),
    ],
)
def test_strs_reads_lists_of_strings(
    data: dict[str, Any], kwargs: dict[str, Any], expected: tuple[str, ...]
) -> None:
    assert Fields(data).strs("interfaces", **kwargs) == expected


@pytest.mark.parametrize(
    ("value", "kwargs", "field"),
    [
        ("eth0", {}, "ipam.interfaces"),
        ({"a": 1}, {}, "ipam.interfaces"),
        (["eth0", 1], {}, "ipam.interfaces[1]"),
        (["eth0", ""], {}, "ipam.interfaces[1]"),
        (None, {"required": True}, "ipam.interfaces"),
        ([], {"required": True}, "ipam.interfaces"),
        (["eth0"], {"min_items": 2}, "ipam.interfaces"),
    ],
    ids=[
        "string",
        "object",
        "non-string-item",
        "empty-item",
        "required-absent",
        "required-empty",
        "min-items",
    ],
)
def test_strs_errors_name_the_field_or_item(
    value: object, kwargs: dict[str, Any], field: str
) -> None:
    f = Fields({"ipam": {"interfaces": value}}).sub("ipam")
    assert field_of(lambda: f.strs("interfaces", **kwargs)) == field


def test_sub_builds_dotted_paths_at_any_depth() -> None:
    raw = {"ipam": {"routes": {"x": 5}}}
    assert field_of(lambda: Fields(raw).sub("ipam").sub("routes").str("x")) == "ipam.routes.x"
    assert Fields(raw, "plugins[2]").sub("ipam").path("k") == "plugins[2].ipam.k"


def test_absent_sub_reads_as_empty_and_required_sub_is_named() -> None:
    assert Fields({}).sub("bond").int("mode", 3) == 3
    assert field_of(lambda: Fields({}).sub("bond", required=True)) == "bond"
    assert field_of(lambda: Fields({"bond": "active-backup"}).sub("bond")) == "bond"


# ---------------------------------------------------------------- parse


def test_parse_reads_the_spec_keys_and_keeps_raw() -> None:
    raw = {
        "cniVersion": "1.0.0",
        "name": "macvlan-vlan100",
        "type": "ifacer",
        "interfaces": ["eth1"],
        "runtimeConfig": {"mac": "02:00:00:00:00:01"},
        "args": {"cni": {"ips": ["10.0.0.5/24"]}},
    }
    conf = netconf.parse(raw, "1.0.0")
    assert (conf.cni_version, conf.name, conf.type) == ("1.0.0", "macvlan-vlan100", "ifacer")
    assert conf.raw is raw
    assert conf.prev_result is None
    assert conf.runtime_config == {"mac": "02:00:00:00:00:01"}
    assert conf.args_cni == {"ips": ["10.0.0.5/24"]}


def test_parse_defaults_optional_sections_to_empty() -> None:
    conf = netconf.parse({"name": "n"}, "1.1.0")
    assert (conf.type, conf.runtime_config, conf.args_cni) == ("", {}, {})


@pytest.mark.parametrize(
    "name", [None, "", "a/b", "../etc", "-net", "_net", "net 1", "net\n", "net:1", 5]
)
def test_parse_refuses_a_missing_or_unsafe_name(name: object) -> None:
    raw: dict[str, Any] = {"type": "t"} if name is None else {"type": "t", "name": name}
    assert field_of(lambda: netconf.parse(raw, "1.0.0")) == "name"


@pytest.mark.parametrize("name", ["a", "net1", "Net_1.v-2", "0"])
def test_parse_accepts_path_safe_names(name: str) -> None:
    assert netconf.parse({"name": name}, "1.0.0").name == name


def test_parse_without_needs_name_accepts_a_missing_name() -> None:
    assert netconf.parse({"type": "t"}, "1.0.0", needs_name=False).name == ""
    assert field_of(lambda: netconf.parse({"name": "a/b"}, "1.0.0", needs_name=False)) == "name"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"name": "n", "type": 3}, "type"),
        ({"name": "n", "runtimeConfig": []}, "runtimeConfig"),
        ({"name": "n", "args": "K=V"}, "args"),
        ({"name": "n", "args": {"cni": ["x"]}}, "args.cni"),
    ],
)
def test_parse_refuses_malformed_spec_keys(raw: dict[str, Any], field: str) -> None:
    assert field_of(lambda: netconf.parse(raw, "1.0.0")) == field


V4 = {"address": "10.0.0.5/24", "gateway": "10.0.0.1"}


@pytest.mark.parametrize(
    ("version", "ip"),
    [
        ("0.3.1", {**V4, "version": "4"}),
        ("0.4.0", {**V4, "version": "4"}),
        ("1.0.0", V4),
        ("1.1.0", V4),
    ],
)
def test_prev_result_is_parsed_in_the_config_version(version: str, ip: dict[str, str]) -> None:
    raw = {"cniVersion": version, "name": "n", "prevResult": {"cniVersion": version, "ips": [ip]}}
    conf = netconf.parse(raw, version)
    assert conf.prev_result == Result(ips=(IPConfig(address="10.0.0.5/24", gateway="10.0.0.1"),))


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1", "0.4.0"])
def test_prev_result_without_ip_version_is_refused_before_1_0_0(version: str) -> None:
    raw = {"name": "n", "prevResult": {"ips": [V4]}}
    assert field_of(lambda: netconf.parse(raw, version)) == "prevResult.ips[0].version"


def test_prev_result_that_is_not_an_object_is_named() -> None:
    assert field_of(lambda: netconf.parse({"name": "n", "prevResult": []}, "1.0.0")) == "prevResult"
