"""Fuzzing the frozen plugins one class of hostile input at a time (hypothesis).

Each example starts from a well-formed exec (a valid environment and network config)
and spoils it in one way of one class, so that the spoiled input is what the exec meets
first (README, "Input rules, and the code each breach gets"):

| class           | what is spoiled                                                            |
|-----------------|----------------------------------------------------------------------------|
| special files   | a path from the config or the environment (a log file, the IPAM's cluster  |
|                 | config, kubeconfig, token, CA and client certificate, lock and state dir,  |
|                 | CNI_NETNS) names a FIFO, a socket, a device, a directory, a 2 MiB file, a  |
|                 | symlink to a FIFO, a missing path or one under a regular file             |
| huge numbers    | a numeric key of the config, the cluster config, a prevResult or           |
|                 | bond.options holds an integer at or past a bound, a JSON number of up to   |
|                 | 6000 digits, a numeric string (signs, spaces, zeros, 6000 digits, Arabic   |
|                 | digits, hex), a float, NaN, a boolean or null                              |
| deep JSON       | stdin holds a value nested 1-80, 1000 or 100000 levels deep (lists,        |
|                 | objects or both; in a plugin key, an unknown key, the prevResult, args),   |
|                 | a prevResult list of 1023-50000 entries, 4 MiB of stdin or more, a 1 MiB   |
|                 | string, 2000 unknown keys                                                  |
| non-UTF-8 env   | one or two CNI_* variables hold bytes that are not UTF-8, control bytes,   |
|                 | arbitrary bytes, or too many characters                                    |

Every exec is held to ``fuzz_world.check_one``'s promises (one JSON object, a documented
code, never 999, no hang past ``fuzz_world.BUDGET``, the node unchanged unless an ADD
succeeded), and where the rules say which code a breach gets, to that code: a config
file that is no regular file is 7 for the IPAM's ADD; a document nested more than 64
levels deep or larger than 4 MiB is 6; a prevResult list of more than 1024 entries is 7
for an ADD or CHECK of ifacer and the coordinator; a CNI_IFNAME or CNI_CONTAINERID
breaking its rule is 4. How many execs each class ran, per plugin and outcome, is
printed at the end of the module.

Default suite: ``EXAMPLES`` per class and plugin; ``-m slow``: ``SLOW_EXAMPLES``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.e2e import fuzz_world
from tests.e2e.fuzz_world import PLUGINS, SPECIAL_KINDS, Raw, Tally, World, check_one, dumps, fuzz
from tools.testbed import paths

pytestmark = pytest.mark.netns

EXAMPLES, SLOW_EXAMPLES = 8, 150
CHECKED_VERBS = ("ADD", "DEL", "CHECK")
MAX_DEPTH, MAX_STDIN, MAX_ITEMS = 64, 4 << 20, 1024  # the rules' bounds (README)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with fuzz_world.made(tmp_path_factory.mktemp("fuzzclasses")) as w:
        yield w


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    t = Tally()
    yield t
    fuzz_world.report(request.config, "hostile-input fuzzing, execs per class:", t)


# ---------------------------------------------------------------- an exec to spoil


@dataclass
class Exec:
    """A well-formed exec of ``plugin``; ``expect``: the code the spoiling must get, if
    the rules say (None: only check_one's promises)."""

    plugin: str
    env: dict[str, str | bytes]
    conf: dict[str, Any]
    cluster: dict[str, Any] = field(default_factory=dict)
    tail: str = ""  # after the JSON object (whitespace)
    expect: int | None = None

    def stdin(self) -> bytes:
        return (dumps(self.conf) + self.tail).encode()

    def run(self, world: World, klass: str, tally: Tally) -> None:
        env = dict(self.env)
        if self.cluster and "SPIDERNET_IPAM_CONFIG" not in env:
            env.update(world.cluster_env(**self.cluster))
        reply = check_one(world, self.plugin, env, self.stdin())
        tally.add(klass, self.plugin, reply)
        if self.expect is not None and reply.command in CHECKED_VERBS:
            assert reply.code == self.expect, f"{klass}: want {self.expect}, got {reply}"


def prev_result(world: World) -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "eth0", "sandbox": world.pod.path}],
        "ips": [{"address": "10.1.0.5/24", "gateway": "10.1.0.1", "interface": 0}],
        "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.0.1"}],
        "dns": {"nameservers": ["10.1.0.2"]},
    }


def base_config(plugin: str, world: World) -> dict[str, Any]:
    conf: dict[str, Any] = {"cniVersion": "1.0.0", "name": "net1", "type": plugin}
    log = {"logOptions": {"logFile": str(world.tmp / f"{plugin}.log")}}
    if plugin == "ifacer":
        conf.update(interfaces=["ens1"], **log)
    elif plugin == "coordinator":
        conf.update(mode="auto", podDefaultCniNic="eth0", prevResult=prev_result(world), **log)
    else:
        conf.update(type="macvlan", master="ens1")
        # Timeouts of a second, under the cluster's ceilings of a second (World.cluster_env):
        # whichever of the two an example spoils, the other keeps the exec short.
        ipam = {"allocation_timeout": 1, "release_timeout": 1}
        conf["ipam"] = {"type": "spiderpool", "default_ipv4_ippool": ["p"], **ipam}
    return conf


@st.composite
def execs(draw: st.DrawFn, plugin: str, world: World) -> Exec:
    env: dict[str, str | bytes] = {
        "CNI_COMMAND": draw(st.sampled_from(["ADD", "ADD", "DEL", "CHECK"])),
        "CNI_CONTAINERID": "ctr-1",
        "CNI_NETNS": world.pod.path,
        "CNI_IFNAME": "eth0",
        "CNI_PATH": paths.cni_path(),
        "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p",
    }
    return Exec(plugin, env, base_config(plugin, world))


def own(ex: Exec) -> dict[str, Any]:
    """The dict holding the plugin's own keys."""
    return ex.conf["ipam"] if ex.plugin == "spiderpool" else ex.conf


def put(ex: Exec, where: tuple[str | int, ...], value: object) -> None:
    target: Any = own(ex) if where[0] != "prevResult" else ex.conf
    for step in where[:-1]:
        target = target[step] if isinstance(step, int) else target.setdefault(step, {})
    target[where[-1]] = value


# ---------------------------------------------------------------- special files

IPAM_FILES = (
    "SPIDERNET_IPAM_CONFIG",
    "kubeconfig",
    "tokenFile",
    "certificate-authority",
    "client-certificate",
)
IPAM_DIRS = ("lock_dir", "state_dir")
PATH_FIELDS = {
    "ifacer": ("logOptions.logFile", "CNI_NETNS"),
    "coordinator": ("logOptions.logFile", "CNI_NETNS"),
    "spiderpool": (*IPAM_FILES, *IPAM_DIRS, "log_file_path", "CNI_NETNS"),
}
NOT_A_FILE = set(SPECIAL_KINDS) - {"regular file", "missing", "under a regular file"}


def point(ex: Exec, world: World, key: str, path: str) -> None:
    """Make ``key`` name ``path``."""
    if key.startswith("CNI_") or key == "SPIDERNET_IPAM_CONFIG":
        ex.env[key] = path
    elif key == "logOptions.logFile":
        ex.conf["logOptions"]["logFile"] = path
    elif key in ("tokenFile", "certificate-authority", "client-certificate"):
        user: dict[str, object] = {"token": "t"}
        cluster: dict[str, object] = {"insecure-skip-tls-verify": True}
        if key == "tokenFile":
            user = {"tokenFile": path}
        elif key == "client-certificate":
            user = {"client-certificate": path, "client-key": path}
        else:
            cluster = {"certificate-authority": path}
        kc = world.tmp / f"kubeconfig-{key}-{abs(hash(path)):x}"
        kc.write_text(fuzz_world.kubeconfig_json("https://127.0.0.1:1", user, cluster))
        ex.cluster["kubeconfig"] = str(kc)
    else:
        ex.cluster[key] = path


@st.composite
def special_files(draw: st.DrawFn, plugin: str, world: World) -> Exec:
    ex = draw(execs(plugin, world))
    key = draw(st.sampled_from(PATH_FIELDS[plugin]))
    kind = draw(st.sampled_from(SPECIAL_KINDS))
    point(ex, world, key, world.special(kind))
    if ex.env["CNI_COMMAND"] == "ADD" and key in IPAM_FILES and kind in NOT_A_FILE:
        ex.expect = 7
    return ex


# ---------------------------------------------------------------- huge numbers

NUMERIC_KEYS: dict[str, tuple[tuple[str | int, ...], ...]] = {
    "ifacer": (
        ("vlanID",),
        ("logOptions", "logMaxSize"),
        ("logOptions", "logMaxCount"),
        ("logOptions", "logMaxAge"),
        ("bond", "mode"),
        ("bond", "options"),
    ),
    "coordinator": (
        ("vethMTU",),
        ("txQueueLen",),
        ("hostRuleTable",),
        ("hostRPFilter",),
        ("podRPFilter",),
        ("detectOptions", "retries"),
        ("logOptions", "logMaxSize"),
        ("logOptions", "logMaxCount"),
        ("prevResult", "ips", 0, "interface"),
        ("prevResult", "interfaces", 0, "mtu"),
        ("prevResult", "routes", 0, "mtu"),
        ("prevResult", "routes", 0, "priority"),
        ("prevResult", "routes", 0, "table"),
        ("prevResult", "routes", 0, "scope"),
    ),
    "spiderpool": (
        ("allocation_timeout",),
        ("release_timeout",),
        ("failed_add_cooldown",),
        ("log_file_max_size",),
        ("log_file_max_count",),
        ("log_file_max_age",),
        ("cluster", "max_allocation_timeout"),
        ("cluster", "max_release_timeout"),
        ("cluster", "max_failed_add_cooldown"),
        ("cluster", "max_pool_bytes"),
        ("cluster", "log_file_max_size"),
        ("cluster", "log_file_max_count"),
    ),
}
BOUNDARIES = [0, 1, -1, 67, 68, 4094, 4095, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 1]
BOUNDARIES += [2**32, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**20, 10**21]
ODD_STRINGS = ["", " ", "\u0663", "1e3", "0x10", "1_000", "1.5", "-0", "+7", " 42 ", "NaN"]
DIGITS = st.from_regex(r"[0-9]{1,25}", fullmatch=True)
NUMERIC_STRINGS = st.builds(
    lambda sign, zeros, digits, pad: f"{pad}{sign}{'0' * zeros}{digits}{pad}",
    st.sampled_from(["", "-", "+"]),
    st.integers(0, 30),
    DIGITS | st.integers(21, 6000).map(lambda n: "9" * n),
    st.sampled_from(["", " "]),
)
NUMBERS = st.one_of(
    st.sampled_from(BOUNDARIES),
    st.integers(-(2**80), 2**80),
    st.integers(19, 6000).map(lambda n: Raw("9" * n)),  # a JSON number of n digits
    NUMERIC_STRINGS,
    st.sampled_from(ODD_STRINGS),
    st.floats(),  # NaN and infinities too: Python's json writes and reads them
    st.booleans(),
    st.none(),
)


@st.composite
def huge_numbers(draw: st.DrawFn, plugin: str, world: World) -> Exec:
    ex = draw(execs(plugin, world))
    where = draw(st.sampled_from(NUMERIC_KEYS[plugin]))
    value = draw(NUMBERS)
    if where[0] == "cluster":
        ex.cluster[str(where[1])] = value
    elif where[0] == "bond":
        ex.conf["interfaces"] = ["ens1", "ens2"]  # the bond is read with two or more NICs
        ex.conf["bond"] = {"mode": 1}
        if where[1] == "options":
            option = draw(st.sampled_from(["miimon", "arp_interval", "packets_per_slave"]))
            text = value.text if isinstance(value, Raw) else str(value)
            value = f"{option}={text}"
        ex.conf["bond"][where[1]] = value
    else:
        put(ex, where, value)
    return ex


# ---------------------------------------------------------------- deep JSON


def nested(depth: int, kind: str) -> Raw:
    """JSON text ``depth`` levels deep: lists, objects, or the two in turn."""
    if kind == "lists":
        return Raw("[" * depth + "1" + "]" * depth)
    if kind == "objects":
        return Raw('{"a":' * depth + "1" + "}" * depth)
    opens = "".join("[" if i % 2 else '{"a":' for i in range(depth))
    closes = "".join("]" if i % 2 else "}" for i in reversed(range(depth)))
    return Raw(opens + "1" + closes)


# Where a deep value goes, and how many levels the document has above it.
DEEP_PLACES: dict[str, tuple[tuple[tuple[str | int, ...], int], ...]] = {
    "ifacer": ((("interfaces",), 1), (("bond",), 1)),
    "coordinator": ((("hijackCIDR",), 1), (("prevResult", "ips", 0, "gateway"), 4)),
    "spiderpool": ((("default_ipv4_ippool",), 1), (("prevResult",), 1)),
}
COMMON_PLACES = ((("an-unknown-key",), 1), (("args",), 1), (("runtimeConfig",), 1))
LISTS = {
    "ips": lambda i: {"address": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/8"},
    "routes": lambda i: {"dst": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/32"},
    "interfaces": lambda i: {"name": f"e{i}"},
}


@st.composite
def deep_json(draw: st.DrawFn, plugin: str, world: World) -> Exec:
    ex = draw(execs(plugin, world))
    shape = draw(st.sampled_from(["nested value", "long list", "big stdin", "wide"]))
    verb = ex.env["CNI_COMMAND"]
    if shape == "nested value":
        depth = draw(st.integers(1, 80) | st.sampled_from([1000, 5000, 100_000]))
        where, above = draw(st.sampled_from(DEEP_PLACES[plugin] + COMMON_PLACES))
        if where[0] == "prevResult" and "prevResult" not in ex.conf:
            ex.conf["prevResult"] = prev_result(world)
        put(ex, where, nested(depth, draw(st.sampled_from(["lists", "objects", "both"]))))
        if depth + above + (plugin == "spiderpool" and where[0] != "prevResult") > MAX_DEPTH:
            ex.expect = 6
    elif shape == "long list":
        name = draw(st.sampled_from(sorted(LISTS)))
        n = draw(st.sampled_from([1023, 1024, 1025, 5000, 50_000]))
        prev = ex.conf.setdefault("prevResult", prev_result(world))
        prev[name] = [LISTS[name](i) for i in range(n)]
        if n > MAX_ITEMS and plugin != "spiderpool" and verb in ("ADD", "CHECK"):
            ex.expect = 7
    elif shape == "big stdin":
        size = draw(st.sampled_from([MAX_STDIN - 4096, MAX_STDIN + 1, 2 * MAX_STDIN]))
        ex.tail = " " * (size - len(ex.stdin()))
        if size > MAX_STDIN:
            ex.expect = 6
    else:
        wide = draw(st.sampled_from(["a 1 MiB string", "2000 unknown keys"]))
        if wide == "a 1 MiB string":
            own(ex)["an-unknown-key"] = "x" * (1 << 20)
        else:
            own(ex).update({f"unknown{i}": i for i in range(2000)})
    return ex


# ---------------------------------------------------------------- non-UTF-8 env

IFNAME_RULE = re.compile(rb"[!-~]{1,15}")
CONTAINER_ID_RULE = re.compile(rb"[a-zA-Z0-9][a-zA-Z0-9_.\-]{0,255}")


def ifname_ok(name: bytes) -> bool:
    return bool(IFNAME_RULE.fullmatch(name)) and name not in (b".", b"..") and b"/" not in name


def env_ok(key: str, value: bytes) -> bool:
    """Whether ``value`` keeps ``key``'s rule (README), so the exec must get past it."""
    if key == "CNI_IFNAME":
        return ifname_ok(value) and b":" not in value
    if key == "CNI_CONTAINERID":
        return bool(CONTAINER_ID_RULE.fullmatch(value))
    return True


def spoiled(valid: bytes) -> st.SearchStrategy[bytes]:
    def insert(at: int, byte: int) -> bytes:
        at = at % (len(valid) + 1)
        return valid[:at] + bytes([byte]) + valid[at:]

    spoilers: list[st.SearchStrategy[bytes]] = [
        st.builds(insert, st.integers(0, 64), st.integers(0x80, 0xFF)),  # not UTF-8
        st.builds(insert, st.integers(0, 64), st.sampled_from([*range(1, 32), 32, 127])),
        st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\0", b"\xff")),
        st.integers(2, 300).map(lambda n: (valid * n)[: max(16, n)]),  # too long
        st.just(valid + "\u00e9".encode()),  # UTF-8, not ASCII
    ]
    return st.one_of(spoilers)


ENV_KEYS = ("CNI_IFNAME", "CNI_CONTAINERID", "CNI_NETNS", "CNI_ARGS", "CNI_PATH", "CNI_COMMAND")


@st.composite
def non_utf8_env(draw: st.DrawFn, plugin: str, world: World) -> Exec:
    ex = draw(execs(plugin, world))
    keys = draw(st.lists(st.sampled_from(ENV_KEYS), min_size=1, max_size=2, unique=True))
    broken = False
    for key in keys:
        old = ex.env[key]
        value = draw(spoiled(old.encode() if isinstance(old, str) else old))
        ex.env[key] = value
        broken = broken or not env_ok(key, value)
    if broken and "CNI_COMMAND" not in keys:
        ex.expect = 4
    return ex


# ---------------------------------------------------------------- the tests

CLASSES: dict[str, Callable[[str, World], st.SearchStrategy[Exec]]] = {
    "special files": special_files,
    "huge numbers": huge_numbers,
    "deep JSON": deep_json,
    "non-UTF-8 env": non_utf8_env,
}


@pytest.mark.parametrize("klass", list(CLASSES))
@pytest.mark.parametrize("plugin", PLUGINS)
@fuzz(EXAMPLES)
@given(data=st.data())
def test_each_class_of_hostile_input_gets_its_rule_s_code_never_999_nor_a_hang(
    world: World, tally: Tally, plugin: str, klass: str, data: st.DataObject
) -> None:
    data.draw(CLASSES[klass](plugin, world)).run(world, klass, tally)


@pytest.mark.slow
@pytest.mark.parametrize("klass", list(CLASSES))
@pytest.mark.parametrize("plugin", PLUGINS)
@fuzz(SLOW_EXAMPLES)
@given(data=st.data())
def test_a_long_run_of_each_class_keeps_the_same_promises(
    world: World, tally: Tally, plugin: str, klass: str, data: st.DataObject
) -> None:
    data.draw(CLASSES[klass](plugin, world)).run(world, klass, tally)
