"""protocol.errors and protocol.versions: the code table, the JSON form, verb gating.

Case matrix:

    errors     every class -> its spec code (1-8, 11, 50, 51, 999); PluginError keeps
               a code >= 100 and refuses < 100; to_json omits empty details;
               InvalidConfig / UnsupportedField name the field in details
    versions   parse "1.0.0" ok, "1.0" / "1.0.x" / "" refused; SUPPORTED and LATEST;
               require(verb, version) for every verb x every supported version, and an
               unsupported version for every verb -> IncompatibleVersion
"""

from __future__ import annotations

import pytest

from spidernet.protocol import errors, versions


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (errors.CniError, 999),
        (errors.IncompatibleVersion, 1),
        (errors.UnknownContainer, 3),
        (errors.InvalidEnv, 4),
        (errors.IOFailure, 5),
        (errors.DecodingFailure, 6),
        (errors.InvalidNetNS, 8),
        (errors.TryAgainLater, 11),
        (errors.PluginNotAvailable, 50),
        (errors.LimitedConnectivity, 51),
    ],
)
def test_each_error_class_carries_its_spec_code(cls: type[errors.CniError], code: int) -> None:
    err = cls("something failed")
    assert err.code == code
    assert err.to_json("1.0.0") == {"cniVersion": "1.0.0", "code": code, "msg": "something failed"}


def test_details_appear_in_json_only_when_given() -> None:
    assert (
        errors.TryAgainLater("later", "conflict budget spent").to_json("1.1.0")["details"]
        == "conflict budget spent"
    )
    assert "details" not in errors.TryAgainLater("later").to_json("1.1.0")


def test_invalid_config_names_the_field_in_msg_and_details() -> None:
    err = errors.InvalidConfig("bond.mode", "7 is outside [0, 6]")
    assert (err.code, err.field, err.details) == (7, "bond.mode", "field: bond.mode")
    assert "bond.mode" in err.msg


def test_unsupported_field_names_key_and_value() -> None:
    err = errors.UnsupportedField("mode", "l3s")
    assert (err.code, err.field, err.details) == (2, "mode", "field: mode")
    assert "mode='l3s'" in err.msg


@pytest.mark.parametrize("code", [100, 101, 250])
def test_plugin_error_keeps_a_code_from_100(code: int) -> None:
    err = errors.PluginError(code, "pool exhausted", "pool a")
    assert err.to_json("0.4.0") == {
        "cniVersion": "0.4.0",
        "code": code,
        "msg": "pool exhausted",
        "details": "pool a",
    }


@pytest.mark.parametrize("code", [0, 7, 99])
def test_plugin_error_refuses_codes_below_100(code: int) -> None:
    with pytest.raises(ValueError, match="100"):
        errors.PluginError(code, "x")


def test_supported_versions_are_the_spec_list_with_1_1_0_latest() -> None:
    assert versions.SUPPORTED == ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
    assert versions.LATEST == "1.1.0"


@pytest.mark.parametrize("text", ["1.0", "1.0.0.0", "1.x.0", "", "v1.0.0", "1.0.0-rc1"])
def test_malformed_versions_do_not_parse(text: str) -> None:
    with pytest.raises(ValueError):
        versions.parse(text)


def test_versions_compare_numerically() -> None:
    assert versions.parse("0.10.0") > versions.parse("0.4.0")
    assert versions.at_least("1.1.0", "1.0.0") and not versions.at_least("0.4.0", "1.0.0")


_FIRST = {"ADD": "0.3.0", "DEL": "0.3.0", "CHECK": "0.4.0", "STATUS": "1.1.0", "GC": "1.1.0"}


@pytest.mark.parametrize("version", versions.SUPPORTED)
@pytest.mark.parametrize("verb", list(_FIRST))
def test_require_allows_a_verb_from_its_first_version(verb: str, version: str) -> None:
    if versions.at_least(version, _FIRST[verb]):
        versions.require(verb, version)
    else:
        with pytest.raises(errors.IncompatibleVersion, match=verb):
            versions.require(verb, version)


@pytest.mark.parametrize("version", ["0.1.0", "0.2.0", "1.2.0", "2.0.0", "junk"])
@pytest.mark.parametrize("verb", list(_FIRST))
def test_require_refuses_versions_we_do_not_speak(verb: str, version: str) -> None:
    with pytest.raises(errors.IncompatibleVersion, match="incompatible"):
        versions.require(verb, version)
