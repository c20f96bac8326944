"""Fuzzing the three frozen plugins' stdin and environment (hypothesis).

Each example execs one frozen bundle the way a runtime would, inside a node netns made
for this module (never the machine's own), with a CNI environment and a stdin drawn from:

| input        | drawn from                                                                  |
|--------------|-----------------------------------------------------------------------------|
| CNI_COMMAND  | the six verbs, absent, lower case, garbage                                  |
| CNI_NETNS    | an empty pod netns, a plain file, a directory, a missing path, the plugin's |
|              | own netns, another namespace type, garbage, absent                          |
| other CNI_*  | valid values, absent, arbitrary text (CNI_ARGS with pod keys or junk)       |
| stdin        | random bytes; 100000-deep nesting; a plugin config: cniVersion of any kind, |
|              | the plugin's keys with arbitrary JSON values (paths it writes stay fixed in |
|              | tmp: log, lock and state files), a prevResult of some version's shape, or   |
|              | arbitrary JSON                                                              |

The IPAM's kubeconfig names a server nobody listens on, so no API is touched. Every
example is held to the promises ``fuzz_world.check_one`` lists (one JSON object or
nothing on stdout, a documented code, never 999, no hang, the node unchanged unless an
ADD succeeded). ``test_fuzz_input_classes.py`` aims at the classes of hostile input one
by one.

Default suite: ``EXAMPLES`` per plugin (an exec costs ~0.1 s); ``-m slow``: ``SLOW_EXAMPLES``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.e2e.fuzz_world import PLUGINS, World, check_one, fuzz, made
from tools.testbed import paths

pytestmark = pytest.mark.netns

EXAMPLES, SLOW_EXAMPLES = 20, 400
VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
POD_ARGS = "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p"


def netns_paths(world: World) -> list[str]:
    return [
        world.pod.path,
        str(world.tmp / "plain-file"),
        str(world.tmp / "a-dir"),
        "/var/run/netns/sn-absent",
        "/proc/self/ns/net",
        "/proc/self/ns/mnt",
        "",
    ]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with made(tmp_path_factory.mktemp("fuzz")) as w:
        yield w


# ---------------------------------------------------------------- strategies

TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)

# Each plugin's own keys (the fuzzer gives them arbitrary values) and the keys naming
# files the plugin writes, which stay fixed inside tmp.
KEYS = {
    "ifacer": ("interfaces", "vlanID", "bond"),
    "coordinator": (
        "mode",
        "podDefaultCniNic",
        "overlayPodCIDR",
        "serviceCIDR",
        "hijackCIDR",
        "policyRoutes",
        "tunePodRoutes",
        "podDefaultRouteNic",
        "hostRuleTable",
        "hostRPFilter",
        "podRPFilter",
        "txQueueLen",
        "podMACPrefix",
        "vethLinkAddress",
        "vethMTU",
        "multusNicPrefix",
        "detectIPConflict",
        "detectGateway",
        "detectOptions",
    ),
    "spiderpool": (
        "default_ipv4_ippool",
        "default_ipv6_ippool",
        "clean_gateway",
        "match_master_subnet",
        "ipam_unix_socket_path",
        "log_level",
        "log_file_max_size",
        "log_file_max_count",
        "log_file_max_age",
        "allocation_timeout",
        "release_timeout",
        "failed_add_cooldown",
        "multus_namespace",
    ),
}
GOOD_VALUES: dict[str, Any] = {
    "interfaces": ["ens1"],
    "vlanID": 5,
    "bond": {"mode": 1, "options": "miimon=100"},
    "mode": "auto",
    "podDefaultCniNic": "eth0",
    "hijackCIDR": ["10.96.0.0/12"],
    "detectIPConflict": True,
    "detectOptions": {"retries": 1, "timeout": "10ms"},
    "default_ipv4_ippool": ["p"],
}


def fixed(plugin: str, world: World) -> dict[str, Any]:
    """The part of a config the fuzzer leaves alone: where the plugin writes files."""
    log = str(world.tmp / f"{plugin}.log")
    if plugin == "spiderpool":  # its paths are the cluster's: see World.cluster_env
        return {"ipam": {"type": "spiderpool", "allocation_timeout": 1, "release_timeout": 1}}
    return {"logOptions": {"logFile": log}}


@st.composite
def prev_results(draw: st.DrawFn) -> object:
    version = draw(st.sampled_from(VERSIONS))
    ip: dict[str, Any] = {
        "address": draw(st.sampled_from(["10.1.0.5/24", "fd01::5/64", "10.1.0.5", "x"])),
        "gateway": draw(st.sampled_from(["10.1.0.1", "", "fd01::1"])),
    }
    if draw(st.booleans()):
        ip["version"] = draw(st.sampled_from(["4", "6", 4]))
    if draw(st.booleans()):
        ip["interface"] = draw(st.integers(-1, 2))
    shaped = {
        "cniVersion": version,
        "interfaces": [
            {"name": draw(st.sampled_from(["eth0", "lo", ""])), "sandbox": "/var/run/netns/p"}
        ],
        "ips": [ip],
    }
    return draw(st.just(shaped) | JSON)


@st.composite
def configs(draw: st.DrawFn, plugin: str, world: World) -> dict[str, Any]:
    # Mostly well-formed spec keys, so that most examples reach the plugin's own keys.
    version = draw(st.sampled_from([*VERSIONS, *VERSIONS, *VERSIONS, "0.2.0", "2.0.0", "", "junk"]))
    name = draw(st.sampled_from(["net1", "net1", "net1", "", "a/b", "junk"]))
    conf: dict[str, Any] = {
        "cniVersion": draw(JSON) if version == "junk" else version,
        "name": draw(TEXT) if name == "junk" else name,
        "type": plugin,
    }
    own = conf
    if plugin == "spiderpool":
        conf.update(type="macvlan", master="ens1")
        own = fixed(plugin, world)["ipam"]
        conf["ipam"] = own
    else:
        conf.update(fixed(plugin, world))
    for key in draw(st.lists(st.sampled_from(KEYS[plugin]), max_size=5, unique=True)):
        own[key] = draw(st.just(GOOD_VALUES.get(key, 1)) | JSON)
    for key in draw(st.lists(TEXT.filter(lambda k: k not in own and k not in conf), max_size=2)):
        own[key] = draw(JSON)  # unknown keys: accepted, warned about
    if draw(st.booleans()):
        conf["prevResult"] = draw(prev_results())
    for key in draw(
        st.lists(
            st.sampled_from(["runtimeConfig", "args", "capabilities"]), max_size=2, unique=True
        )
    ):
        conf[key] = draw(JSON)
    return conf


DEEP = b"[" * 100_000 + b"]" * 100_000


@st.composite
def stdins(draw: st.DrawFn, plugin: str, world: World) -> bytes:
    kind = draw(st.sampled_from(["config", "config", "config", "bytes", "deep"]))
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    if kind == "deep":
        return DEEP
    return json.dumps(draw(configs(plugin, world))).encode()


@st.composite
def environments(draw: st.DrawFn, world: World) -> dict[str, str]:
    """A well-formed environment for a verb, then up to two variables dropped or garbled:
    mostly valid, so that the examples get past env checking to stdin and the handlers."""
    env = {
        "CNI_COMMAND": draw(
            st.sampled_from(
                ["ADD", "ADD", "ADD", "DEL", "DEL", "CHECK", "CHECK", "VERSION", "STATUS", "GC"]
            )
        ),
        "CNI_CONTAINERID": draw(st.sampled_from(["ctr-1", "0123456789abcdef"])),
        "CNI_NETNS": draw(st.sampled_from(netns_paths(world))),
        "CNI_IFNAME": draw(st.sampled_from(["eth0", "net1", "lo", "ens1"])),
        "CNI_PATH": paths.cni_path(),
        "CNI_ARGS": draw(
            st.sampled_from(
                [
                    POD_ARGS,
                    POD_ARGS,
                    POD_ARGS,
                    "K8S_POD_NAME=p",
                    "FOO=1",
                    "IgnoreUnknown=1;K8S_POD_UID=x",
                    "",
                ]
            )
        ),
    }
    broken = draw(st.sampled_from([0, 0, 0, 1, 2]))  # most examples keep a valid environment
    for key in draw(
        st.lists(st.sampled_from(sorted(env)), min_size=broken, max_size=broken, unique=True)
    ):
        value = draw(st.none() | TEXT | st.sampled_from(["add", "FOO", "-x", "a/b", "x" * 16]))
        if value is None:
            del env[key]
        else:
            env[key] = value
    return env


# ---------------------------------------------------------------- the property


@pytest.mark.parametrize("plugin", PLUGINS)
@fuzz(EXAMPLES)
@given(data=st.data())
def test_any_stdin_and_env_gets_one_json_object_a_documented_code_and_an_unchanged_node(
    world: World, plugin: str, data: st.DataObject
) -> None:
    check_one(world, plugin, data.draw(environments(world)), data.draw(stdins(plugin, world)))


@pytest.mark.slow
@pytest.mark.parametrize("plugin", PLUGINS)
@fuzz(SLOW_EXAMPLES)
@given(data=st.data())
def test_a_long_fuzz_run_of_stdin_and_env_keeps_the_same_promises(
    world: World, plugin: str, data: st.DataObject
) -> None:
    check_one(world, plugin, data.draw(environments(world)), data.draw(stdins(plugin, world)))
