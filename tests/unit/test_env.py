"""protocol.env: CNI_ARGS parsing and CNI_* variables -> CmdArgs, without skel around them.

Case matrix:

    parse_cni_args   "" / ";" / trailing ";"                       -> {}
                     known K8S_* keys                              -> kept, values verbatim
                     "K=" (empty value), "K=a=b" (value with "=")  -> kept as given
                     IgnoreUnknown = 1 / true / TRUE + unknown key -> unknown dropped
                     IgnoreUnknown = 0 / false / junk + unknown     -> InvalidEnv naming the key
                     unknown key alone, several unknown keys        -> InvalidEnv, all of them,
                                                                       sorted
                     item without "=", item "=v"                    -> InvalidEnv (malformed)
                     a plugin's own known set                       -> its keys kept, K8S_* unknown
    command_of       missing / empty / unknown                      -> InvalidEnv (code 4)
    parse            CmdArgs fields: CNI_PATH split on ":" with empty parts dropped,
                     netns optional for DEL, override flag, args parsed with known set
"""

from __future__ import annotations

import pytest

from spidernet.protocol import env, errors


@pytest.mark.parametrize("raw", ["", ";", ";;"])
def test_empty_cni_args_parse_to_nothing(raw: str) -> None:
    assert env.parse_cni_args(raw) == {}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("K8S_POD_NAME=web-0", {"K8S_POD_NAME": "web-0"}),
        (
            "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1;",
            {
                "K8S_POD_NAMESPACE": "ns",
                "K8S_POD_NAME": "web-0",
                "K8S_POD_INFRA_CONTAINER_ID": "abc",
                "K8S_POD_UID": "u-1",
            },
        ),
        ("K8S_POD_NAME=", {"K8S_POD_NAME": ""}),
        ("K8S_POD_NAME=a=b", {"K8S_POD_NAME": "a=b"}),
        ("K8S_POD_NAME=a;K8S_POD_NAME=b", {"K8S_POD_NAME": "b"}),
    ],
    ids=["one", "all-k8s-keys", "empty-value", "value-with-equals", "last-wins"],
)
def test_known_cni_args_are_kept_verbatim(raw: str, expected: dict[str, str]) -> None:
    assert env.parse_cni_args(raw) == expected


@pytest.mark.parametrize("flag", ["1", "true", "TRUE", "True"])
def test_ignore_unknown_drops_unknown_keys(flag: str) -> None:
    raw = f"FOO=1;IgnoreUnknown={flag};K8S_POD_NAME=web-0;BAR=2"
    assert env.parse_cni_args(raw) == {"K8S_POD_NAME": "web-0"}


@pytest.mark.parametrize("flag", ["0", "false", "yes", ""])
def test_ignore_unknown_off_rejects_unknown_keys(flag: str) -> None:
    with pytest.raises(errors.InvalidEnv) as exc:
        env.parse_cni_args(f"IgnoreUnknown={flag};FOO=1")
    assert "FOO" in exc.value.msg
    assert exc.value.code == 4


def test_unknown_keys_are_all_listed_sorted() -> None:
    with pytest.raises(errors.InvalidEnv) as exc:
        env.parse_cni_args("ZED=1;K8S_POD_NAME=a;ALPHA=2")
    assert "['ALPHA', 'ZED']" in exc.value.msg
    assert "IgnoreUnknown" in exc.value.msg


@pytest.mark.parametrize("raw", ["K8S_POD_NAME", "K8S_POD_NAME=a;junk", "=value", "IgnoreUnknown"])
def test_malformed_cni_args_item_is_invalid_env(raw: str) -> None:
    with pytest.raises(errors.InvalidEnv, match="malformed item"):
        env.parse_cni_args(raw)


def test_a_plugins_own_known_keys_replace_the_default_set() -> None:
    known = frozenset({"MAC"})
    assert env.parse_cni_args("MAC=02:00:00:00:00:01", known) == {"MAC": "02:00:00:00:00:01"}
    with pytest.raises(errors.InvalidEnv, match="K8S_POD_NAME"):
        env.parse_cni_args("K8S_POD_NAME=a", known)


@pytest.mark.parametrize(
    "environ", [{}, {"CNI_COMMAND": ""}, {"CNI_COMMAND": "Add"}, {"CNI_COMMAND": "STOP"}]
)
def test_command_of_rejects_missing_or_unknown_commands(environ: dict[str, str]) -> None:
    with pytest.raises(errors.InvalidEnv):
        env.command_of(environ)


@pytest.mark.parametrize("command", env.COMMANDS)
def test_command_of_accepts_every_spec_verb(command: str) -> None:
    assert env.command_of({"CNI_COMMAND": command}) == command


def test_parse_builds_cmd_args_from_the_environment() -> None:
    environ = {
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": "abc123",
        "CNI_NETNS": "/var/run/netns/pod",
        "CNI_IFNAME": "net1",
        "CNI_PATH": "/opt/cni/bin::/usr/lib/cni:",
        "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=web-0;OTHER=x",
        "CNI_NETNS_OVERRIDE": "1",
        "UNRELATED": "ignored",
    }
    assert env.parse(environ) == env.CmdArgs(
        command="ADD",
        container_id="abc123",
        netns="/var/run/netns/pod",
        ifname="net1",
        path=("/opt/cni/bin", "/usr/lib/cni"),
        args={"K8S_POD_NAME": "web-0"},
        netns_override=True,
    )


def test_parse_of_del_leaves_netns_empty_when_absent() -> None:
    cmd = env.parse(
        {"CNI_COMMAND": "DEL", "CNI_CONTAINERID": "c", "CNI_IFNAME": "eth0", "CNI_PATH": "/opt"}
    )
    assert (cmd.netns, cmd.netns_override, dict(cmd.args)) == ("", False, {})


def test_parse_passes_the_known_set_to_cni_args() -> None:
    environ = {"CNI_COMMAND": "GC", "CNI_PATH": "/opt", "CNI_ARGS": "MAC=x"}
    assert dict(env.parse(environ, frozenset({"MAC"})).args) == {"MAC": "x"}
    with pytest.raises(errors.InvalidEnv):
        env.parse(environ)
