"""The installer's pure decisions: settings, bin-dir layout and cleanup, credential files
and who may rewrite them (installer/settings.py, layout.py, kubeconfig.py).

| area       | case                                     | expected                                |
|------------|------------------------------------------|-----------------------------------------|
| settings   | empty env / every variable / bad number, | defaults / values / SettingsError       |
|            | negative, bad flag                       | naming the variable                     |
| layout     | plugin link target                       | relative, through ``current``           |
| layout     | version name taken                       | next ``~n``                             |
| cleanup    | staging + tmp leftovers                  | removed                                 |
| cleanup    | current, previous, a fresh retiree, an   | kept (unmarked gets a marker)           |
|            | unmarked version, a foreign name         |                                         |
| cleanup    | a retiree past the grace period          | removed                                 |
| server URL | IPv4, IPv6, missing, bad port            | https URL, brackets, CredentialError    |
| files      | good sources                             | six files, token without newline,       |
|            |                                          | kubeconfig names the token file         |
| files      | empty / two-word token, no PEM, bad node | CredentialError naming it               |
|            | name, http server                        |                                         |
| ownership  | first pass                               | writes every stale file, takes over     |
| ownership  | later pass, still ours, token rotated    | writes only the token                   |
| ownership  | later pass, another installer took over  | writes nothing but missing files        |
| layering   | the four decision modules                | import no I/O module (os, subprocess,   |
|            |                                          | the installer's own I/O modules)        |
"""

from __future__ import annotations

import json

import pytest

from installer import kubeconfig, layout, settings
from installer.kubeconfig import CredentialError, Sources
from installer.layout import Seen
from tests.unit import test_layering
from tools.testbed import paths

IO = (
    "os",
    "subprocess",
    "socket",
    "shutil",
    "fcntl",
    "kubernetes",
    "spidernet",
    "installer.hostfs",
    "installer.installing",
    "installer.credentials",
    "installer.service",
)


@pytest.mark.parametrize("module", ["bundleset", "layout", "kubeconfig", "settings"])
def test_the_installers_decision_modules_import_no_io(module: str) -> None:
    assert test_layering.offenders([paths.REPO / "installer" / f"{module}.py"], IO) == {}


# ------------------------------------------------------------------ settings


def test_an_empty_environment_gives_the_daemonset_defaults() -> None:
    s = settings.from_env({}, fallback_identity="node-1-42")
    assert (s.cni_bin_dir, s.cni_conf_dir, s.bundles) == (
        "/host/opt/cni/bin",
        "/host/etc/cni/net.d",
        "/opt/spidernet/bundles",
    )
    assert (s.identity, s.smoke_test, s.uninstall_on_exit, s.poll_seconds) == (
        "node-1-42",
        True,
        False,
        5.0,
    )


def test_every_variable_is_read() -> None:
    env = {
        "SPIDERNET_BUNDLES": "/b",
        "SPIDERNET_CNI_BIN_DIR": "/bin",
        "SPIDERNET_CNI_CONF_DIR": "/conf",
        "SPIDERNET_TOKEN_FILE": "/t",
        "SPIDERNET_CA_FILE": "/c",
        "SPIDERNET_API_SERVER": "https://api:6443/",
        "KUBERNETES_SERVICE_HOST": "10.96.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
        "NODE_NAME": "n1",
        "POD_UID": "uid-1",
        "SPIDERNET_POLL_SECONDS": "0.5",
        "SPIDERNET_RETIRED_GRACE_SECONDS": "9",
        "SPIDERNET_BACKOFF_MAX_SECONDS": "3",
        "SPIDERNET_READY_FILE": "/r",
        "SPIDERNET_SMOKE_TEST": "false",
        "SPIDERNET_UNINSTALL_ON_EXIT": "yes",
        "SPIDERNET_POOL_USAGE_SECONDS": "0",
        "SPIDERNET_REQUIRE_RUNTIME_PLUGINS": "off",
        "SPIDERNET_HANDOVER_SECONDS": "12",
    }
    s = settings.from_env(env, fallback_identity="unused")
    assert s == settings.Settings(
        bundles="/b",
        cni_bin_dir="/bin",
        cni_conf_dir="/conf",
        token_file="/t",
        ca_file="/c",
        api_server="https://api:6443",
        service_host="10.96.0.1",
        service_port="443",
        node_name="n1",
        identity="uid-1",
        poll_seconds=0.5,
        retired_grace_seconds=9,
        backoff_max_seconds=3,
        ready_file="/r",
        smoke_test=False,
        uninstall_on_exit=True,
        pool_usage_seconds=0,
        require_runtime_plugins=False,
        handover_seconds=12,
    )


@pytest.mark.parametrize(
    ("env", "names"),
    [
        (
            {"SPIDERNET_POLL_SECONDS": "soon"},
            "SPIDERNET_POLL_SECONDS='soon' is not a number of seconds",
        ),
        ({"SPIDERNET_BACKOFF_MAX_SECONDS": "-1"}, "SPIDERNET_BACKOFF_MAX_SECONDS='-1' is negative"),
        (
            {"SPIDERNET_UNINSTALL_ON_EXIT": "maybe"},
            "SPIDERNET_UNINSTALL_ON_EXIT='maybe' is not true or false",
        ),
    ],
)
def test_a_bad_setting_is_refused_naming_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(settings.SettingsError) as e:
        settings.from_env(env, fallback_identity="x")
    assert str(e.value) == names


# ------------------------------------------------------------------ layout


def test_a_plugin_name_points_through_current_relative_to_the_bin_dir() -> None:
    assert layout.link_target("spiderpool") == ".spidernet/current/spiderpool/spiderpool"


def test_a_taken_version_name_gets_the_next_repair_suffix() -> None:
    assert layout.version_dir_name("0.1.0-a", set()) == "0.1.0-a"
    assert layout.version_dir_name("0.1.0-a", {"0.1.0-a", "0.1.0-a~1"}) == "0.1.0-a~2"


def test_cleanup_keeps_what_is_live_or_recent_and_removes_leftovers_and_old_retirees() -> None:
    seen = [
        Seen("current", False),
        Seen("previous", False),
        Seen(".lock", False),
        Seen("v3", True),
        Seen("v2", True, retired_for=1000.0),
        Seen("v1", True, retired_for=1000.0),
        Seen("v0", True, retired_for=10.0),
        Seen("v-unmarked", True),
        Seen(".staging-v4", True),
        Seen(".tmp-ab12", False),
        Seen("notes.txt~", False),
        Seen("Not ours!", True),
    ]
    plan = layout.plan_cleanup(seen, current="v3", previous="v2", grace=300)
    assert plan.remove == (".staging-v4", ".tmp-ab12", "v1")
    assert plan.mark_retired == ("v-unmarked",)


# ------------------------------------------------------------------ credential files

PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def sources(**overrides: object) -> Sources:
    fields: dict[str, object] = {
        "token": b"eyJhbGc.x.y\n",
        "ca": PEM,
        "server": "https://10.96.0.1:443",
        "node": "node-1",
        "owner": "uid-1",
    }
    fields.update(overrides)
    return Sources(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("10.96.0.1", "443", "https://10.96.0.1:443"),
        ("fd00:10:96::1", "443", "https://[fd00:10:96::1]:443"),
    ],
)
def test_the_server_url_comes_from_the_service_environment(host: str, port: str, url: str) -> None:
    assert kubeconfig.server_url(host, port) == url


@pytest.mark.parametrize(
    ("host", "port", "names"),
    [("", "", "KUBERNETES_SERVICE_HOST"), ("h", "http", "'http' is not a port")],
)
def test_a_missing_or_bad_service_environment_is_refused(host: str, port: str, names: str) -> None:
    with pytest.raises(CredentialError, match=names):
        kubeconfig.server_url(host, port)


def test_the_files_hold_the_token_verbatim_and_a_kubeconfig_that_names_the_token_file() -> None:
    files = kubeconfig.files(sources())
    assert set(files) == {
        ".owner",
        "ca.crt",
        "token",
        "nodename",
        "cluster-ipam.json",
        "spiderpool.kubeconfig",
    }
    assert files["token"] == b"eyJhbGc.x.y"  # no newline: the Python client would send it
    assert files["nodename"] == b"node-1\n"
    config = json.loads(files["spiderpool.kubeconfig"])
    assert config["users"][0]["user"] == {"tokenFile": "token"}
    assert config["clusters"][0]["cluster"] == {
        "server": "https://10.96.0.1:443",
        "certificate-authority": "ca.crt",
    }
    assert kubeconfig.MODES["token"] == kubeconfig.MODES["spiderpool.kubeconfig"] == 0o600


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        ({"token": b"\n"}, "token is empty"),
        ({"token": b"two words"}, "not one word"),
        ({"ca": b"garbage"}, "no PEM certificate"),
        ({"node": ""}, "node name '' is not"),
        ({"node": "Node_1"}, "node name 'Node_1' is not"),
        ({"server": "http://10.96.0.1:80"}, "is not an https:// URL"),
    ],
)
def test_a_bad_source_is_refused_before_anything_is_written(
    bad: dict[str, object], names: str
) -> None:
    with pytest.raises(CredentialError, match=names):
        kubeconfig.files(sources(**bad))


def test_the_first_pass_takes_over_and_writes_every_stale_file_kubeconfig_last() -> None:
    wanted = kubeconfig.files(sources())
    on_disk = {**dict.fromkeys(wanted), "ca.crt": PEM, ".owner": b"someone-else\n"}
    decision = kubeconfig.decide(wanted, on_disk, first_pass=True)
    assert decision == kubeconfig.Decision(
        (".owner", "token", "nodename", "cluster-ipam.json", "spiderpool.kubeconfig"), False
    )


def test_a_rotated_token_is_the_only_file_rewritten_while_the_files_are_ours() -> None:
    old = kubeconfig.files(sources())
    new = kubeconfig.files(sources(token=b"rotated"))
    assert kubeconfig.decide(new, old, first_pass=False) == kubeconfig.Decision(("token",), False)


def test_files_another_installer_took_over_are_left_alone_except_missing_ones() -> None:
    theirs = kubeconfig.files(sources(token=b"theirs", owner="uid-2"))
    mine = kubeconfig.files(sources(token=b"mine-rotated"))
    decision = kubeconfig.decide(mine, {**theirs, "nodename": None}, first_pass=False)
    assert decision == kubeconfig.Decision(("nodename",), True)
