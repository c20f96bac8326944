"""What the fuzz tests of the frozen plugins share. Does I/O (netns, files, execs).

- ``World``: a node netns (never the machine's own) with two NICs, an empty pod netns, a
  kubeconfig naming a server nobody listens on (no API is touched) and a folder of
  special files (``World.special``): what a hostile or mistaken config may name.
- ``check_one``: one exec of a frozen bundle the way a runtime would, and the promises
  every exec keeps, whatever it was given:
  - it ends within ``BUDGET`` seconds (the configs keep every timeout they set at a
    second or two: an exec still running then hangs);
  - stdout is exactly one JSON object on one line, or nothing for a successful DEL,
    CHECK, STATUS or GC; never a traceback;
  - the exit status is 0 or 1, and an error's code is one the plugin documents (never
    999, which is for conditions nobody foresaw);
  - the node netns (links, addresses, routes, rules, neighbours) is as before, unless
    the plugin answered success to an ADD (the one verb allowed to change it).
- ``Tally``: how many execs each input class ran, and how they ended, printed at the end
  of the module that fills it.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import socket
import stat
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings

from tools.testbed import netns, paths

BUDGET = 30.0  # seconds; the slowest config here (an IPAM ADD, 2 s of timeouts) needs ~3
COMMON_CODES = {1, 2, 4, 5, 6, 7, 8}
CODES = {
    "ifacer": COMMON_CODES | {120, 121},
    "coordinator": COMMON_CODES | {110, 111, 112, 113},
    "spiderpool": COMMON_CODES | {3, 11, 50, 51, 100, 101, 102},
}
PLUGINS = tuple(CODES)
QUIET_ON_SUCCESS = ("DEL", "CHECK", "STATUS", "GC")
Env = Mapping[str, "str | bytes"]  # a runtime may put any byte but NUL in a variable

# What a configured path may turn out to be; World.special makes each in its folder.
SPECIAL_KINDS = (
    "fifo",
    "socket",
    "character device",
    "directory",
    "regular file",
    "file over 1 MiB",
    "symlink to a fifo",
    "missing",
    "under a regular file",
)


@dataclass(frozen=True)
class World:
    node: netns.Netns
    pod: netns.Netns
    tmp: Path
    kubeconfig: str

    def special(self, kind: str) -> str:
        """A path of ``kind`` (SPECIAL_KINDS), made again if an exec moved it away (a log
        rotation renames a big regular file)."""
        folder = self.tmp / "special"
        folder.mkdir(exist_ok=True)
        path = folder / kind.replace(" ", "-")
        if kind == "missing":
            return str(folder / "absent" / "file")
        if kind == "under a regular file":
            return str(self.special("regular file") + "/file")
        if not os.path.lexists(path):
            _make(kind, path, self)
        return str(path)

    def cluster_env(self, **keys: object) -> dict[str, str]:
        """The IPAM's cluster IPAM config (where it writes files, timeouts of a second or
        two) with ``keys`` over it, in a file of its own."""
        cluster: dict[str, object] = {
            "kubeconfig": self.kubeconfig,
            "log_file_path": str(self.tmp / "spiderpool.log"),
            "lock_dir": str(self.tmp / "locks"),
            "state_dir": str(self.tmp / "state"),
            "max_allocation_timeout": 1,
            "max_release_timeout": 1,
        }
        cluster.update(keys)
        text = dumps(cluster)
        path = self.tmp / f"cluster-ipam-{abs(hash(text)):x}.json"
        path.write_text(text)
        return {"SPIDERNET_IPAM_CONFIG": str(path)}


class Raw:
    """JSON text put into a document as is: a number ``json.dumps`` cannot write (past
    Python's 4300-digit limit) or a nesting it would recurse on."""

    def __init__(self, text: str) -> None:
        self.text = text


def dumps(obj: object) -> str:
    raws: dict[str, str] = {}

    def placeholder(o: object) -> str:
        if not isinstance(o, Raw):
            raise TypeError(o)
        key = f"@raw{len(raws)}@"
        raws[f'"{key}"'] = o.text
        return key

    text = json.dumps(obj, default=placeholder)
    for key, raw in raws.items():
        text = text.replace(key, raw, 1)
    return text


def _make(kind: str, path: Path, world: World) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(str(path))  # the socket file stays after the close
    elif kind == "character device":
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is
    elif kind == "directory":
        path.mkdir()
    elif kind == "regular file":
        path.write_text("")
    elif kind == "file over 1 MiB":
        with open(path, "wb") as f:
            f.truncate(2 << 20)  # sparse
    elif kind == "symlink to a fifo":
        path.symlink_to(world.special("fifo"))
    else:
        raise ValueError(kind)


def kubeconfig_json(server: str, user: Mapping[str, object], cluster: Mapping[str, object]) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "c",
            "clusters": [{"name": "k", "cluster": {"server": server, **cluster}}],
            "users": [{"name": "u", "user": dict(user)}],
            "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        }
    )


@contextlib.contextmanager
def made(tmp: Path) -> Iterator[World]:
    """A World in ``tmp``, its namespaces deleted at the end."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    (tmp / "plain-file").write_text("")
    (tmp / "a-dir").mkdir()
    node, pod = netns.Netns.create("fuzznode"), netns.Netns.create("fuzzpod")
    try:
        # No IPv6 on the node: its link-local addresses, DAD and neighbour discovery
        # change the node on the kernel's own time, after the exec that caused them.
        for key in ("all", "default"):
            node.run("sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1")
        for nic in ("ens1", "ens2"):
            netns.ip("link", "add", nic, "type", "veth", "peer", "name", nic + "p", netns=node.name)
        netns.ip("link", "set", "lo", "down", netns=pod.name)
        unreachable = tmp / "unreachable.kubeconfig"
        unreachable.write_text(
            kubeconfig_json(
                "https://127.0.0.1:1", {"token": "t"}, {"insecure-skip-tls-verify": True}
            )
        )
        yield World(node, pod, tmp, str(unreachable))
    finally:
        pod.delete()
        node.delete()


def snapshot(node: netns.Netns) -> str:
    """The node netns as the kernel reports it, but a link's qdisc: a link set up and down
    again (ifacer's ADD rolled back) keeps the ``noqueue`` its first up attached where
    ``noop`` was, a trace of no consequence."""
    links = netns.ip_json("-d", "link", "show", netns=node.name)
    for link in links:
        link.pop("qdisc", None)
    parts = [
        ("addr", "show"),
        ("-4", "route", "show", "table", "all"),
        ("-6", "route", "show", "table", "all"),
        ("-4", "rule", "show"),
        ("-6", "rule", "show"),
        ("neigh", "show"),
    ]
    return json.dumps([links, *(netns.ip_json(*p, netns=node.name) for p in parts)], sort_keys=True)


def settle(node: netns.Netns, quiet: float = 0.5, limit: float = 5.0) -> None:
    """Wait until the node has not changed for ``quiet`` seconds (at most ``limit``): after
    an ADD, the kernel finishes some changes on its own time (a link's operstate), which
    the next exec must not be blamed for."""
    last, waited = snapshot(node), 0.0
    while waited < limit:
        time.sleep(quiet)
        waited += quiet
        now = snapshot(node)
        if now == last:
            return
        last = now


def exec_in_node(
    world: World, plugin: str, env: Env, stdin: bytes
) -> subprocess.CompletedProcess[bytes]:
    argv = ["nsenter", f"--net={world.node.path}", str(paths.BUNDLE_BIN / plugin)]
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **world.cluster_env(), **env}
    try:
        return subprocess.run(argv, input=stdin, capture_output=True, env=full_env, timeout=BUDGET)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{plugin} {env.get('CNI_COMMAND')!r} hung past {BUDGET} s") from e


@dataclass(frozen=True)
class Reply:
    command: str
    code: int | None  # None: success
    msg: str


def check_one(world: World, plugin: str, env: Env, stdin: bytes) -> Reply:
    """One exec, held to the module docstring's promises; what it answered."""
    before = snapshot(world.node)
    proc = exec_in_node(world, plugin, env, stdin)
    out = proc.stdout.decode("utf-8", "replace")
    raw = env.get("CNI_COMMAND", "")
    command = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
    assert "Traceback" not in out, out
    assert proc.returncode in (0, 1), (proc.returncode, out, proc.stderr[-2000:])
    reply = Reply(command, None, "")
    if out == "":
        assert proc.returncode == 0 and command in QUIET_ON_SUCCESS, (
            "nothing on stdout, yet no success to show"
        )
    else:
        assert out.endswith("\n") and out.count("\n") == 1, f"not one line: {out!r}"
        obj = json.loads(out)
        assert isinstance(obj, dict), out
        if proc.returncode == 1:
            assert obj["code"] in CODES[plugin], f"undocumented code: {obj}"
            assert isinstance(obj["msg"], str) and obj["msg"], obj
            reply = Reply(command, obj["code"], f"{obj['msg']} {obj.get('details', '')}")
        else:
            assert command in ("ADD", "VERSION"), f"success of {command} printed {out!r}"
    if not (proc.returncode == 0 and command == "ADD"):
        assert snapshot(world.node) == before, f"{plugin} {command} changed the node: {out}"
    else:
        settle(world.node)
    outcome = "success" if reply.code is None else f"code {reply.code}"
    event(f"{command or '-'} -> {outcome}")  # --hypothesis-show-statistics
    return reply


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


class Tally:
    """Execs per input class and plugin, and how they ended."""

    def __init__(self) -> None:
        self.counts: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )

    def add(self, klass: str, plugin: str, reply: Reply) -> None:
        self.counts[klass][plugin] += 1
        self.counts[klass]["success" if reply.code is None else f"code {reply.code}"] += 1

    def lines(self) -> list[str]:
        out = []
        for klass, c in sorted(self.counts.items()):
            execs = sum(c[p] for p in PLUGINS)
            per_plugin = ", ".join(f"{p} {c[p]}" for p in PLUGINS if c[p])
            ends = ", ".join(f"{k} {n}" for k, n in sorted(c.items()) if k not in PLUGINS)
            out.append(f"{klass}: {execs} execs ({per_plugin}); {ends}")
        return out


def report(config: pytest.Config, title: str, tally: Tally) -> None:
    """``tally``'s lines on the terminal, past pytest's capture of the test's output."""
    capture: Any = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\n{title}")
        for line in tally.lines():
            print("  " + line)
