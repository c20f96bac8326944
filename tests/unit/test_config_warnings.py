"""What a plugin says about config it will not use: unknown keys and a DEL's
unreadable prevResult, through types.netconf, protocol.skel and protocol.logs.

Case matrix:

    unknown keys (Fields over NetConf.fields())
      a key no reader asked for              named by its dotted path, once
      nested objects (sub, objects)          "logOptions.logFiel", "policyRoutes[1].via"
      spec and runtime keys                  never named (cniVersion, prevResult, args, ...)
      ignore(key)                            known, not named
      section "ipam"                         only the section's keys; its "type" is known
      one object read by two Fields          each key named once, reads shared
      plain Fields(data)                     not tracked
    skel
      handler succeeds / fails with 11       one warning per unknown key, in the plugin's log
      handler fails with 7 or 2              no warning (it stopped reading at the bad key)
    prevResult that does not parse
      DEL                                    handler runs with prev_result None, raw keeps
                                             it, the warning is in the plugin's log file
      ADD, CHECK                             code 7 naming the field, handler not run
    log records from before setup()
      setup() follows                        written first to the file, with the context
      setup() never comes                    on stderr at the end of the exec, naming
                                             the plugin
      below the configured level             dropped
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from spidernet.protocol import errors, logs, skel
from spidernet.protocol.env import CmdArgs
from spidernet.types import netconf
from spidernet.types.netconf import Fields, NetConf
from spidernet.types.results import Result

ENV = {
    "CNI_CONTAINERID": "ctr-1",
    "CNI_NETNS": "/var/run/netns/spidernet-unit-absent",
    "CNI_IFNAME": "eth0",
    "CNI_PATH": "/opt/cni/bin",
}


def conf_of(raw: dict[str, Any], version: str = "1.0.0") -> NetConf:
    return netconf.parse({"cniVersion": version, "name": "n", **raw}, version)


# ---------------------------------------------------------------- tracking


def test_a_key_no_reader_asked_for_is_named() -> None:
    conf = conf_of({"type": "coordinator", "detectIPConflit": True, "mode": "auto"})
    f = conf.fields()
    f.str("mode")
    f.bool("detectIPConflict")
    assert conf.unknown_keys() == ["detectIPConflit"]


def test_nested_unknown_keys_carry_their_path() -> None:
    conf = conf_of(
        {
            "logOptions": {"logFiel": "/x", "logLevel": "info"},
            "policyRoutes": [
                {"dst": "10.0.0.0/8", "gw": "10.0.0.1"},
                {"dst": "::/0", "via": "fe80::1"},
            ],
        }
    )
    f = conf.fields()
    f.sub("logOptions").str("logLevel")
    for route in f.objects("policyRoutes"):
        route.str("dst"), route.str("gw")
    assert conf.unknown_keys() == ["logOptions.logFiel", "policyRoutes[1].via"]


def test_spec_and_runtime_keys_are_never_named() -> None:
    raw = {
        key: {}
        for key in (
            "capabilities",
            "runtimeConfig",
            "args",
            "cni.dev/valid-attachments",
            "cni.dev/attachments",
        )
    }
    conf = conf_of({"type": "t", "prevResult": {"cniVersion": "1.0.0", "ips": []}, **raw})
    conf.fields()
    assert conf.unknown_keys() == []


def test_an_ignored_key_is_known() -> None:
    conf = conf_of({"bond": {"mode": 1}})
    conf.fields().ignore("bond")
    assert conf.unknown_keys() == []


def test_an_ipam_section_names_only_its_own_keys() -> None:
    conf = conf_of(
        {"type": "macvlan", "master": "eth0", "ipam": {"type": "spiderpool", "log_levle": "debug"}}
    )
    conf.fields("ipam").str("log_level")
    assert conf.unknown_keys() == ["ipam.log_levle"]


def test_a_missing_ipam_section_is_code_7_naming_it() -> None:
    with pytest.raises(errors.InvalidConfig) as caught:
        conf_of({"type": "macvlan"}).fields("ipam")
    assert caught.value.field == "ipam"


def test_one_object_read_by_two_fields_names_each_key_once() -> None:
    conf = conf_of({"a": 1, "b": 2, "zz": 3})
    conf.fields().int("a")
    conf.fields().int("b")
    assert conf.unknown_keys() == ["zz"]


def test_plain_fields_are_not_tracked() -> None:
    conf = conf_of({"whatever": 1})
    Fields(conf.raw).int("other")
    assert conf.unknown_keys() == []


# ---------------------------------------------------------------- through skel


def plugin(
    tmp_path: Path, *, fail: errors.CniError | None = None, read: tuple[str, ...] = ("mode",)
) -> tuple[skel.Plugin, list[NetConf]]:
    """A plugin that sets up its log in tmp_path, reads ``read`` through conf.fields(), then
    raises ``fail``; and the list of the NetConfs it was given."""
    seen: list[NetConf] = []

    def handle(cmd: CmdArgs, conf: NetConf) -> None:
        seen.append(conf)
        logs.setup(
            "fake",
            logs.LogOptions(path=str(tmp_path / "fake.log")),
            {"containerID": cmd.container_id},
        )
        f = conf.fields()
        for key in read:
            f.str(key)
        if fail is not None:
            raise fail

    def add(cmd: CmdArgs, conf: NetConf) -> Result:
        handle(cmd, conf)
        return Result()

    return skel.Plugin(name="fake", add=add, delete=handle, check=handle), seen


def run(p: skel.Plugin, command: str, conf: dict[str, Any]) -> tuple[int, str]:
    out = io.StringIO()
    raw = json.dumps({"cniVersion": "1.0.0", "name": "n", "type": "fake", **conf}).encode()
    status = skel.run(p, environ={"CNI_COMMAND": command, **ENV}, stdin=io.BytesIO(raw), stdout=out)
    return status, out.getvalue()


def log_lines(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "fake.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def warnings(tmp_path: Path) -> list[str]:
    return [line["msg"] for line in log_lines(tmp_path) if line["level"] == "WARNING"]


@pytest.mark.parametrize("fail", [None, errors.TryAgainLater("later")], ids=["success", "code-11"])
@pytest.mark.parametrize("command", ["ADD", "DEL", "CHECK"])
def test_each_unknown_key_is_logged_once_in_the_plugins_log(
    tmp_path: Path, command: str, fail: errors.CniError | None
) -> None:
    run(
        plugin(tmp_path, fail=fail)[0],
        command,
        {"mode": "auto", "detectIPConflit": True, "podMACPrefx": "0a:1b"},
    )
    assert warnings(tmp_path) == [
        "config key detectIPConflit is not one fake knows: ignored (misspelt?)",
        "config key podMACPrefx is not one fake knows: ignored (misspelt?)",
    ]


@pytest.mark.parametrize(
    "fail", [errors.InvalidConfig("mode", "bad"), errors.UnsupportedField("mode", 1)]
)
def test_no_unknown_key_warning_after_a_config_error(tmp_path: Path, fail: errors.CniError) -> None:
    status, out = run(plugin(tmp_path, fail=fail)[0], "ADD", {"mode": "x", "later": 1})
    assert (status, json.loads(out)["code"]) == (1, fail.code)
    assert warnings(tmp_path) == []


BAD_PREV = {"cniVersion": "0.4.0", "ips": [{"address": "10.0.0.5/24"}]}  # 0.4.0 needs ips[].version


def test_a_del_whose_prev_result_does_not_parse_still_runs_without_it(tmp_path: Path) -> None:
    p, seen = plugin(tmp_path)
    out = io.StringIO()
    raw = json.dumps(
        {"cniVersion": "0.4.0", "name": "n", "type": "fake", "prevResult": BAD_PREV}
    ).encode()
    status = skel.run(p, environ={"CNI_COMMAND": "DEL", **ENV}, stdin=io.BytesIO(raw), stdout=out)
    assert (status, out.getvalue()) == (0, "")
    (conf,) = seen
    assert conf.prev_result is None and conf.raw["prevResult"] == BAD_PREV
    (line,) = [x for x in log_lines(tmp_path) if x["level"] == "WARNING"]
    assert line["msg"].startswith(
        "DEL: prevResult ignored, it cannot be parsed (invalid config: prevResult.ips[0].version"
    )
    assert (
        line["containerID"] == "ctr-1"
    )  # held until the plugin set up its log, then written there


@pytest.mark.parametrize("command", ["ADD", "CHECK"])
def test_add_and_check_still_refuse_a_prev_result_that_does_not_parse(
    tmp_path: Path, command: str
) -> None:
    p, seen = plugin(tmp_path)
    out = io.StringIO()
    raw = json.dumps(
        {"cniVersion": "0.4.0", "name": "n", "type": "fake", "prevResult": BAD_PREV}
    ).encode()
    assert (
        skel.run(p, environ={"CNI_COMMAND": command, **ENV}, stdin=io.BytesIO(raw), stdout=out) == 1
    )
    assert json.loads(out.getvalue())["details"] == "field: prevResult.ips[0].version"
    assert seen == []


# ---------------------------------------------------------------- records from before setup()


def test_records_from_before_setup_go_to_the_file_first_with_the_context(tmp_path: Path) -> None:
    logs.LOG.warning("early %d", 1)
    logs.LOG.info("early info is dropped: the default level before setup is WARNING")
    log = logs.setup("p", logs.LogOptions(path=str(tmp_path / "p.log")), {"containerID": "c9"})
    log.info("later")
    lines = [json.loads(x) for x in (tmp_path / "p.log").read_text().splitlines()]
    assert [(x["msg"], x["plugin"], x["containerID"]) for x in lines] == [
        ("early 1", "p", "c9"),
        ("later", "p", "c9"),
    ]


def test_held_records_below_the_configured_level_are_dropped(tmp_path: Path) -> None:
    logs.LOG.warning("a warning")
    logs.LOG.error("an error")
    logs.setup("p", logs.LogOptions(path=str(tmp_path / "p.log"), level="error"), {})
    assert [json.loads(x)["msg"] for x in (tmp_path / "p.log").read_text().splitlines()] == [
        "an error"
    ]


def test_records_held_when_setup_never_comes_reach_stderr_at_the_end(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.LOG.warning("never set up")
    assert capsys.readouterr().err == ""
    logs.LOG.flush()
    assert json.loads(capsys.readouterr().err)["msg"] == "never set up"


def test_records_of_an_exec_that_never_set_up_its_log_name_the_plugin(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def refuse(cmd: CmdArgs, conf: NetConf) -> None:
        raise errors.TryAgainLater("later")

    p = skel.Plugin(name="fake", add=lambda c, n: Result(), delete=refuse)
    raw = json.dumps({"cniVersion": "1.0.0", "name": "n", "type": "fake"}).encode()
    assert (
        skel.run(
            p, environ={"CNI_COMMAND": "DEL", **ENV}, stdin=io.BytesIO(raw), stdout=io.StringIO()
        )
        == 1
    )
    (line,) = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    assert (line["plugin"], line["msg"]) == ("fake", "DEL failed: code 11: later")
