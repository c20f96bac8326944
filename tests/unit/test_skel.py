"""skel.run end to end with injected environ, stdin and stdout; a fake plugin records calls.

Case matrix (code expected on stdout; "-" = nothing on stdout, exit 0):

    stage            input                                              code
    CNI_COMMAND      missing / empty / unknown ("FOO", lower-case "add")   4
    required env     ADD, CHECK: CONTAINERID NETNS IFNAME PATH, all listed  4
                     DEL: CONTAINERID IFNAME PATH (NETNS optional)          4
                     STATUS, GC: PATH                                       4
    CNI_CONTAINERID  leading "-"/"_"/".", "/", space, trailing newline,    4
                     a byte that is not UTF-8, 257 characters; 256 ok
    CNI_IFNAME       >15 bytes (ASCII and multi-byte), ".", "..", "/",      4
                     ":", space, tab, newline, DEL (0x7f), UTF-8 that is
                     not ASCII, a byte that is not UTF-8; 15 chars ok
    CNI_ARGS         unknown key, malformed item, "=v"                      4
                     unknown key with IgnoreUnknown=1/true/True             ok
    stdin            read() raises OSError                                  5
                     not JSON, invalid UTF-8, array, string, number,        6
                     nested deeper than the decoder's recursion guard or
                     than 64 levels, a lone surrogate (escape or CESU
                     bytes), more than MAX_STDIN bytes
    cniVersion       "0.2.0", "0.1.0", "2.0.0", "1.0", missing (= 0.1.0)    1
                     not a string (null included)                           7
    verb vs version  CHECK @0.3.0/0.3.1, STATUS/GC @0.4.0/1.0.0             1
                     CHECK @0.4.0+, STATUS/GC @1.1.0                        -
    network name     missing, "", "a/b", "-x", "net\\n"                    7 (field "name")
    own netns        ADD/CHECK/DEL with CNI_NETNS=/proc/self/ns/net         8
                     ... with CNI_NETNS_OVERRIDE=1/true/TRUE                ok
    handler raises   InvalidConfig (details name the field) 7, PluginError 100+,
                     TryAgainLater 11, PluginNotAvailable 50, RuntimeError 999
    VERSION          supportedVersions; echoes stdin cniVersion; empty,
                     non-JSON or unreadable stdin -> latest; ignores bad env

Throughout: errors and ADD results are exactly one JSON object on one line; DEL, CHECK,
STATUS and GC print nothing on success; exit status is 0 or 1; error objects carry
cniVersion (the config's, once known), code and msg; a handler's print() lands on
stderr, never on stdout; a traceback never reaches stdout.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

from spidernet.protocol import errors, skel, versions
from spidernet.protocol.env import CmdArgs
from spidernet.types.netconf import NetConf
from spidernet.types.results import Interface, IPConfig, Result, Route

RESULT = Result(
    interfaces=(Interface(name="eth0", mac="02:00:00:00:00:01", sandbox="/var/run/netns/pod"),),
    ips=(IPConfig(address="10.0.0.5/24", gateway="10.0.0.1", interface=0),),
    routes=(Route(dst="0.0.0.0/0", gw="10.0.0.1"),),
)

# A netns path that does not exist: the own-netns check stats it, fails, and moves on.
ABSENT_NETNS = "/var/run/netns/spidernet-unit-test-absent"

BASE_ENV = {
    "CNI_CONTAINERID": "ctr-1",
    "CNI_NETNS": ABSENT_NETNS,
    "CNI_IFNAME": "eth0",
    "CNI_PATH": "/opt/cni/bin:/usr/lib/cni",
}


@dataclass
class FakePlugin:
    """Records each call; ``fail`` is raised by every handler when set."""

    fail: BaseException | None = None
    chatty: bool = False
    calls: list[tuple[str, CmdArgs, NetConf]] = field(default_factory=list)

    def _handle(self, verb: str, cmd: CmdArgs, conf: NetConf) -> None:
        self.calls.append((verb, cmd, conf))
        if self.chatty:
            print("handler chatter that must not reach stdout")
            sys.stdout.write("more chatter\n")
        if self.fail is not None:
            raise self.fail

    def add(self, cmd: CmdArgs, conf: NetConf) -> Result:
        self._handle("ADD", cmd, conf)
        return RESULT

    def plugin(self, **overrides: Any) -> skel.Plugin:
        handlers: dict[str, Any] = {
            "delete": lambda c, n: self._handle("DEL", c, n),
            "check": lambda c, n: self._handle("CHECK", c, n),
            "status": lambda c, n: self._handle("STATUS", c, n),
            "gc": lambda c, n: self._handle("GC", c, n),
        }
        handlers.update(overrides)
        return skel.Plugin(name="fake", add=self.add, **handlers)


class Unreadable(io.RawIOBase):
    def read(self, size: int = -1) -> bytes:
        raise OSError(5, "Input/output error")


def config(version: str | None = "1.1.0", **extra: Any) -> bytes:
    conf: dict[str, Any] = {"name": "net1", "type": "fake", **extra}
    if version is not None:
        conf["cniVersion"] = version
    return json.dumps(conf).encode()


def env_for(command: str, **changes: str | None) -> dict[str, str]:
    env = {"CNI_COMMAND": command, **BASE_ENV}
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def invoke(
    env: dict[str, str], stdin: bytes | io.RawIOBase = b"", fake: FakePlugin | None = None
) -> tuple[int, str, FakePlugin]:
    fake = fake or FakePlugin()
    out = io.StringIO()
    stream = io.BytesIO(stdin) if isinstance(stdin, bytes) else stdin
    status = skel.run(fake.plugin(), environ=env, stdin=stream, stdout=out)  # type: ignore[arg-type]
    return status, out.getvalue(), fake


def one_json_object(out: str) -> dict[str, Any]:
    """stdout holds exactly one JSON object, on one newline-terminated line."""
    assert out.endswith("\n") and out.count("\n") == 1, out
    obj, end = json.JSONDecoder().raw_decode(out)
    assert out[end:] == "\n"
    assert isinstance(obj, dict)
    return obj


def assert_error(
    status: int, out: str, code: int, version: str = versions.LATEST
) -> dict[str, Any]:
    assert status == 1
    err = one_json_object(out)
    assert err["code"] == code
    assert err["cniVersion"] == version
    assert isinstance(err["msg"], str) and err["msg"]
    assert "Traceback" not in out
    return err


# ---------------------------------------------------------------- CNI_COMMAND


@pytest.mark.parametrize("env", [{}, {"CNI_COMMAND": ""}], ids=["absent", "empty"])
def test_missing_cni_command_is_code_4(env: dict[str, str]) -> None:
    status, out, fake = invoke({**BASE_ENV, **env}, config())
    err = assert_error(status, out, 4)
    assert "CNI_COMMAND" in err["msg"]
    assert fake.calls == []


@pytest.mark.parametrize("command", ["FOO", "add", "DELETE"])
def test_unknown_command_is_code_4(command: str) -> None:
    status, out, _ = invoke(env_for(command), config())
    err = assert_error(status, out, 4)
    assert command in err["msg"]


# ---------------------------------------------------------------- required variables


@pytest.mark.parametrize(
    ("command", "required"),
    [
        ("ADD", ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]),
        ("CHECK", ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]),
        ("DEL", ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"]),
        ("STATUS", ["CNI_PATH"]),
        ("GC", ["CNI_PATH"]),
    ],
)
def test_missing_required_vars_are_code_4_and_all_listed(command: str, required: list[str]) -> None:
    status, out, fake = invoke({"CNI_COMMAND": command}, config())
    err = assert_error(status, out, 4)
    for name in required:
        assert name in err["msg"]
    for name in {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"} - set(required):
        assert name not in err["msg"]
    assert fake.calls == []


@pytest.mark.parametrize("command", ["ADD", "DEL"])
def test_empty_required_var_counts_as_missing(command: str) -> None:
    status, out, _ = invoke(env_for(command, CNI_IFNAME=""), config())
    assert "CNI_IFNAME" in assert_error(status, out, 4)["msg"]


def test_del_without_netns_is_accepted() -> None:
    status, out, fake = invoke(env_for("DEL", CNI_NETNS=None), config())
    assert (status, out) == (0, "")
    assert fake.calls[0][1].netns == ""


@pytest.mark.parametrize("command", ["STATUS", "GC"])
def test_status_and_gc_need_only_cni_path(command: str) -> None:
    env = {"CNI_COMMAND": command, "CNI_PATH": "/opt/cni/bin"}
    status, out, fake = invoke(env, config("1.1.0"))
    assert (status, out) == (0, "")
    assert [c[0] for c in fake.calls] == [command]


# ---------------------------------------------------------------- container id and ifname


@pytest.mark.parametrize(
    "container_id",
    ["-abc", "_abc", ".abc", "a/b", "a b", "abc\n", "ab:c", "ab;c", "ab\udcff", "f" * 257],
)
def test_bad_container_id_is_code_4(container_id: str) -> None:
    status, out, _ = invoke(env_for("ADD", CNI_CONTAINERID=container_id), config())
    assert "CNI_CONTAINERID" in assert_error(status, out, 4)["msg"]


@pytest.mark.parametrize("container_id", ["a", "0", "abc_def.1-2", "f" * 64, "f" * 256])
def test_good_container_ids_are_accepted(container_id: str) -> None:
    status, _, fake = invoke(env_for("ADD", CNI_CONTAINERID=container_id), config())
    assert status == 0
    assert fake.calls[0][1].container_id == container_id


@pytest.mark.parametrize(
    "ifname",
    [
        "a" * 16,
        "é" * 8,  # 8 characters but 16 bytes: IFNAMSIZ counts bytes
        ".",
        "..",
        "eth/0",
        "eth:0",
        "eth 0",
        "eth\t0",
        "eth0\n",
        "é" * 7,  # valid UTF-8, 14 bytes, but not ASCII
        "eth\udcff",  # the byte 0xff, as os.environ decodes it
        "eth\x7f",
    ],
    ids=[
        "16-chars",
        "16-bytes",
        "dot",
        "dotdot",
        "slash",
        "colon",
        "space",
        "tab",
        "newline",
        "utf8",
        "not-utf8",
        "del-char",
    ],
)
@pytest.mark.parametrize("command", ["ADD", "DEL"])
def test_bad_ifname_is_code_4(command: str, ifname: str) -> None:
    status, out, fake = invoke(env_for(command, CNI_IFNAME=ifname), config())
    assert "CNI_IFNAME" in assert_error(status, out, 4)["msg"]
    assert fake.calls == []


@pytest.mark.parametrize("ifname", ["a" * 15, "eth0.100", "net1", "e~!@#$%^&*()_+"])
def test_good_ifnames_are_accepted(ifname: str) -> None:
    status, _, fake = invoke(env_for("ADD", CNI_IFNAME=ifname), config())
    assert status == 0
    assert fake.calls[0][1].ifname == ifname


# ---------------------------------------------------------------- CNI_ARGS


def test_cni_args_unknown_key_without_ignore_unknown_is_code_4() -> None:
    status, out, _ = invoke(env_for("ADD", CNI_ARGS="K8S_POD_NAME=p;FOO=bar"), config())
    assert "FOO" in assert_error(status, out, 4)["msg"]


@pytest.mark.parametrize("flag", ["1", "true", "True"])
def test_cni_args_unknown_key_is_dropped_with_ignore_unknown(flag: str) -> None:
    raw = f"IgnoreUnknown={flag};FOO=bar;K8S_POD_NAME=web-0;K8S_POD_NAMESPACE=default"
    status, _, fake = invoke(env_for("ADD", CNI_ARGS=raw), config())
    assert status == 0
    assert dict(fake.calls[0][1].args) == {"K8S_POD_NAME": "web-0", "K8S_POD_NAMESPACE": "default"}


@pytest.mark.parametrize("raw", ["K8S_POD_NAME", "K8S_POD_NAME=a;garbage", "=value"])
def test_malformed_cni_args_item_is_code_4(raw: str) -> None:
    status, out, _ = invoke(env_for("ADD", CNI_ARGS=raw), config())
    assert "CNI_ARGS" in assert_error(status, out, 4)["msg"]


# ---------------------------------------------------------------- stdin


@pytest.mark.parametrize("command", ["ADD", "DEL"])
def test_unreadable_stdin_is_code_5(command: str) -> None:
    status, out, fake = invoke(env_for(command), Unreadable())
    assert_error(status, out, 5)
    assert fake.calls == []


DEEP = 100_000  # far past the decoder's recursion guard (it used to be a RecursionError, 999)


@pytest.mark.parametrize(
    "stdin",
    [
        b"",
        b"not json",
        b'{"cniVersion": "1.1.0"',
        b"\x80\xff{}",
        b"[]",
        b'[{"cniVersion": "1.1.0"}]',
        b'"x"',
        b"42",
        b"[" * DEEP + b"]" * DEEP,
        b'{"cniVersion": "1.1.0", "name": "n", "x": '
        + b'{"a": ' * DEEP
        + b"1"
        + b"}" * DEEP
        + b"}",
        b'{"cniVersion": "1.1.0", "name": "n", "x": ' + b"[" * 64 + b"]" * 64 + b"}",
        b'{"cniVersion": "1.1.0", "name": "n", "x": "\\ud800"}',
        b'{"cniVersion": "1.1.0", "name": "n", "x": "\xed\xa0\x80"}',
        b'{"cniVersion": "1.1.0", "name": "n", "x": "' + b"x" * skel.MAX_STDIN + b'"}',
    ],
    ids=[
        "empty",
        "text",
        "truncated",
        "bad-utf8",
        "empty-array",
        "array",
        "string",
        "number",
        "deep-array",
        "deep-object",
        "65-deep",
        "lone-surrogate-escape",
        "cesu-surrogate-bytes",
        "over-4-MiB",
    ],
)
def test_undecodable_or_non_object_stdin_is_code_6(stdin: bytes) -> None:
    status, out, fake = invoke(env_for("ADD"), stdin)
    assert_error(status, out, 6)
    assert fake.calls == []


# ---------------------------------------------------------------- versions


@pytest.mark.parametrize("version", ["0.1.0", "0.2.0", "2.0.0", "1.0", "1.2.0", "", "latest"])
@pytest.mark.parametrize("command", ["ADD", "DEL"])
def test_unsupported_cni_version_is_code_1(command: str, version: str) -> None:
    status, out, fake = invoke(env_for(command), config(version))
    assert "incompatible" in assert_error(status, out, 1)["msg"]
    assert fake.calls == []


def test_missing_cni_version_is_treated_as_0_1_0_and_refused_with_code_1() -> None:
    status, out, _ = invoke(env_for("ADD"), config(None))
    assert "0.1.0" in assert_error(status, out, 1)["msg"]


@pytest.mark.parametrize("version", [1, 1.1, None, ["1.1.0"]], ids=["int", "float", "null", "list"])
def test_non_string_cni_version_is_code_7_naming_cni_version(version: object) -> None:
    stdin = json.dumps({"cniVersion": version, "name": "net1", "type": "fake"}).encode()
    status, out, _ = invoke(env_for("ADD"), stdin)
    # null too: libcni would read it as "" -> 0.1.0 -> code 1; either way it is refused.
    assert assert_error(status, out, 7)["details"] == "field: cniVersion"


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1"])
def test_check_before_0_4_0_is_code_1(version: str) -> None:
    status, out, fake = invoke(env_for("CHECK"), config(version))
    assert "CHECK" in assert_error(status, out, 1)["msg"]
    assert fake.calls == []


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1", "0.4.0", "1.0.0"])
@pytest.mark.parametrize("command", ["STATUS", "GC"])
def test_status_and_gc_before_1_1_0_are_code_1(command: str, version: str) -> None:
    status, out, fake = invoke(env_for(command), config(version))
    assert command in assert_error(status, out, 1)["msg"]
    assert fake.calls == []


@pytest.mark.parametrize(
    ("command", "version"),
    [
        ("CHECK", "0.4.0"),
        ("CHECK", "1.0.0"),
        ("CHECK", "1.1.0"),
        ("STATUS", "1.1.0"),
        ("GC", "1.1.0"),
    ],
)
def test_successful_del_check_status_gc_print_nothing(command: str, version: str) -> None:
    status, out, fake = invoke(env_for(command), config(version))
    assert (status, out) == (0, "")
    assert [c[0] for c in fake.calls] == [command]


@pytest.mark.parametrize("version", versions.SUPPORTED)
def test_del_in_every_supported_version_prints_nothing(version: str) -> None:
    status, out, fake = invoke(env_for("DEL"), config(version))
    assert (status, out) == (0, "")
    assert fake.calls[0][2].cni_version == version


@pytest.mark.parametrize("command", ["CHECK", "STATUS", "GC"])
def test_missing_optional_handler_answers_success(command: str) -> None:
    fake = FakePlugin()
    out = io.StringIO()
    plugin = fake.plugin(check=None, status=None, gc=None)
    status = skel.run(
        plugin, environ=env_for(command), stdin=io.BytesIO(config("1.1.0")), stdout=out
    )
    assert (status, out.getvalue()) == (0, "")


# ---------------------------------------------------------------- ADD results


@pytest.mark.parametrize("version", versions.SUPPORTED)
def test_add_prints_one_result_in_the_config_version(version: str) -> None:
    status, out, _ = invoke(env_for("ADD"), config(version))
    assert status == 0
    result = one_json_object(out)
    assert result["cniVersion"] == version
    assert result["ips"][0]["address"] == "10.0.0.5/24"
    has_version = version in ("0.3.0", "0.3.1", "0.4.0")
    assert ("version" in result["ips"][0]) is has_version
    if has_version:
        assert result["ips"][0]["version"] == "4"


def test_add_passes_parsed_env_and_config_to_the_handler() -> None:
    env = env_for("ADD", CNI_ARGS="K8S_POD_NAME=web-0;K8S_POD_UID=u-1")
    prev = {"cniVersion": "1.0.0", "ips": [{"address": "10.1.0.2/16"}]}
    stdin = config(
        "1.0.0", prevResult=prev, runtimeConfig={"mac": "02:00:00:00:00:09"}, args={"cni": {"a": 1}}
    )
    status, _, fake = invoke(env, stdin)
    assert status == 0
    verb, cmd, conf = fake.calls[0]
    assert verb == "ADD"
    assert cmd == CmdArgs(
        command="ADD",
        container_id="ctr-1",
        netns=ABSENT_NETNS,
        ifname="eth0",
        path=("/opt/cni/bin", "/usr/lib/cni"),
        args={"K8S_POD_NAME": "web-0", "K8S_POD_UID": "u-1"},
    )
    assert (conf.cni_version, conf.name, conf.type) == ("1.0.0", "net1", "fake")
    assert conf.prev_result == Result(ips=(IPConfig(address="10.1.0.2/16"),))
    assert conf.runtime_config == {"mac": "02:00:00:00:00:09"}
    assert conf.args_cni == {"a": 1}


# ---------------------------------------------------------------- network config


@pytest.mark.parametrize("name", [None, "", "a/b", "-net", ".net", "net 1", "net\n", 7])
@pytest.mark.parametrize("command", ["ADD", "DEL", "GC"])
def test_bad_network_name_is_code_7_naming_name(command: str, name: object) -> None:
    conf: dict[str, Any] = {"cniVersion": "1.1.0", "type": "fake"}
    if name is not None:
        conf["name"] = name
    status, out, fake = invoke(env_for(command), json.dumps(conf).encode())
    err = assert_error(status, out, 7, version="1.1.0")
    assert err["details"] == "field: name"
    assert fake.calls == []


def test_bad_prev_result_is_code_7_naming_its_path() -> None:
    prev = {"cniVersion": "0.4.0", "ips": [{"address": "10.0.0.5/24"}]}  # no ips[].version in 0.4.0
    status, out, _ = invoke(env_for("ADD"), config("0.4.0", prevResult=prev))
    err = assert_error(status, out, 7, version="0.4.0")
    assert err["details"] == "field: prevResult.ips[0].version"


# ---------------------------------------------------------------- handler errors


@pytest.mark.parametrize("command", ["ADD", "DEL", "CHECK"])
def test_handler_invalid_config_is_code_7_with_the_field_in_details(command: str) -> None:
    fake = FakePlugin(
        fail=errors.InvalidConfig("ipam.default_ipv4_ippool[1]", "must be a non-empty string")
    )
    status, out, _ = invoke(env_for(command), config("1.0.0"), fake)
    err = assert_error(status, out, 7, version="1.0.0")
    assert err["details"] == "field: ipam.default_ipv4_ippool[1]"
    assert "ipam.default_ipv4_ippool[1]" in err["msg"]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.PluginError(100, "pool exhausted", "pool default-v4: 0 free"), 100),
        (errors.PluginError(101, "no matching pool"), 101),
        (errors.TryAgainLater("apiserver unreachable"), 11),
        (errors.UnsupportedField("mode", "l3s"), 2),
        (errors.UnknownContainer("gone"), 3),
        (errors.InvalidNetNS("bad netns"), 8),
        (errors.PluginNotAvailable("no free address"), 50),
        (errors.LimitedConnectivity("degraded"), 51),
        (errors.CniError("generic"), 999),
    ],
    ids=lambda v: str(v) if isinstance(v, int) else type(v).__name__,
)
@pytest.mark.parametrize("command", ["ADD", "DEL", "STATUS"])
def test_handler_cni_errors_keep_their_code(
    command: str, error: errors.CniError, code: int
) -> None:
    status, out, _ = invoke(env_for(command), config("1.1.0"), FakePlugin(fail=error))
    err = assert_error(status, out, code, version="1.1.0")
    assert err["msg"] == error.msg
    assert err.get("details", "") == error.details


@pytest.mark.parametrize("command", ["ADD", "DEL", "GC"])
def test_unexpected_exception_is_code_999_without_traceback_on_stdout(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakePlugin(fail=RuntimeError("boom"))
    stdin = io.BytesIO(config("1.1.0"))
    status = skel.run(fake.plugin(), environ=env_for(command), stdin=stdin)  # real sys.stdout
    captured = capsys.readouterr()
    err = assert_error(status, captured.out, 999, version="1.1.0")
    assert "RuntimeError" in err["msg"] and "boom" in err["msg"]
    assert "Traceback" not in captured.out
    # before logs.setup the log goes to stderr: the traceback is there, as a JSON line
    logged = [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]
    assert any("RuntimeError: boom" in line.get("exception", "") for line in logged)


def test_result_that_cannot_be_written_is_code_999() -> None:
    class Broken(FakePlugin):
        def add(self, cmd: CmdArgs, conf: NetConf) -> Result:
            return "not a result"  # type: ignore[return-value]

    status, out, _ = invoke(env_for("ADD"), config(), Broken())
    assert_error(status, out, 999, version="1.1.0")


@pytest.mark.parametrize(("command", "ok_status"), [("ADD", 0), ("DEL", 0), ("ADD-fail", 1)])
def test_handler_print_goes_to_stderr_not_stdout(
    command: str, ok_status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    fail = errors.TryAgainLater("later") if command.endswith("fail") else None
    fake = FakePlugin(chatty=True, fail=fail)
    env = env_for(command.removesuffix("-fail"))
    status = skel.run(fake.plugin(), environ=env, stdin=io.BytesIO(config()))  # real sys.stdout
    captured = capsys.readouterr()
    assert status == ok_status
    assert "chatter" not in captured.out
    assert "handler chatter that must not reach stdout" in captured.err
    assert "more chatter" in captured.err
    if env["CNI_COMMAND"] == "ADD":
        one_json_object(captured.out)
    else:
        assert captured.out == ""


# ---------------------------------------------------------------- own netns


@pytest.mark.parametrize("command", ["ADD", "CHECK", "DEL"])
def test_own_netns_is_refused_with_code_8(command: str) -> None:
    status, out, fake = invoke(env_for(command, CNI_NETNS="/proc/self/ns/net"), config())
    assert_error(status, out, 8, version="1.1.0")
    assert fake.calls == []


@pytest.mark.parametrize("override", ["1", "true", "TRUE", "True"])
def test_own_netns_is_allowed_with_netns_override(override: str) -> None:
    env = env_for("ADD", CNI_NETNS="/proc/self/ns/net", CNI_NETNS_OVERRIDE=override)
    status, out, fake = invoke(env, config())
    assert status == 0
    one_json_object(out)
    assert fake.calls[0][1].netns_override is True


@pytest.mark.parametrize("override", ["0", "false", "yes", ""])
def test_other_netns_override_values_do_not_override(override: str) -> None:
    env = env_for("ADD", CNI_NETNS="/proc/self/ns/net", CNI_NETNS_OVERRIDE=override)
    status, out, _ = invoke(env, config())
    assert_error(status, out, 8, version="1.1.0")


def test_missing_netns_path_is_left_to_the_handler() -> None:
    status, out, fake = invoke(env_for("DEL", CNI_NETNS=ABSENT_NETNS), config())
    assert (status, out) == (0, "")
    assert fake.calls[0][1].netns == ABSENT_NETNS


# ---------------------------------------------------------------- VERSION


@pytest.mark.parametrize(
    ("stdin", "echoed"),
    [
        (b"", versions.LATEST),
        (b'{"cniVersion": "0.4.0"}', "0.4.0"),
        (b'{"cniVersion": "1.0.0", "name": "net1"}', "1.0.0"),
        (b'{"cniVersion": "0.2.0"}', "0.2.0"),
        (b'{"name": "no-version"}', versions.LATEST),
        (b'{"cniVersion": 1}', versions.LATEST),
        (b"not json", versions.LATEST),
        (b"[]", versions.LATEST),
    ],
)
def test_version_prints_supported_versions_and_echoes_the_requested_version(
    stdin: bytes, echoed: str
) -> None:
    status, out, fake = invoke({"CNI_COMMAND": "VERSION"}, stdin)
    assert status == 0
    assert one_json_object(out) == {
        "cniVersion": echoed,
        "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    }
    assert fake.calls == []


def test_version_answers_even_with_unreadable_stdin() -> None:
    status, out, _ = invoke({"CNI_COMMAND": "VERSION"}, Unreadable())
    assert status == 0
    assert one_json_object(out)["cniVersion"] == versions.LATEST


def test_version_ignores_malformed_container_env() -> None:
    env = {
        "CNI_COMMAND": "VERSION",
        "CNI_CONTAINERID": "-bad",
        "CNI_IFNAME": "..",
        "CNI_ARGS": "junk",
    }
    status, out, _ = invoke(env, b"")
    assert status == 0
    assert "supportedVersions" in one_json_object(out)
