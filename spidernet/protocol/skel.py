"""Dispatch one CNI invocation to a plugin's handlers (our counterpart of libcni's skel).

Does I/O: reads the environment and stdin, writes exactly one JSON object (or nothing)
to stdout, stats the netns path. Steps, in skel's order:

1. VERSION answers at once with our supported versions, before the plugin's modules
   (or anything else that costs) are imported; any other CNI_COMMAND must be known (else 4).
2. Required CNI_* variables present and well-formed (else 4, all missing names listed).
3. stdin readable (else 5) and a JSON object (else 6, also when over ``MAX_STDIN``
   bytes, not UTF-8, nested more than 64 levels deep or holding a lone surrogate escape:
   ``types.bounds.json_document``); ``cniVersion`` defaults to 0.1.0.
4. Version supported and allowing the verb: CHECK >= 0.4.0, STATUS/GC >= 1.1.0 (else 1).
5. Network config keys (else 7, the field named; a DEL tolerates a prevResult that does
   not parse, logs it and goes on without one); ADD/CHECK/DEL refuse the plugin's own
   netns (8) unless CNI_NETNS_OVERRIDE is set.
6. The handler runs with stdout redirected to stderr, so nothing it prints can corrupt
   the result channel. CniError -> its code; anything else -> 999, traceback to the log.
7. Each config key the handler never read is logged as a warning (types.netconf).
"""

from __future__ import annotations

import json
import os
import sys

from spidernet.protocol import errors, versions

TYPE_CHECKING = False  # typing itself is not imported at run time (docs/performance.md)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import IO, Any

    from spidernet.protocol import env as cnienv
    from spidernet.protocol.logs import Logger
    from spidernet.types import netconf
    from spidernet.types.results import Result

    AddHandler = Callable[[cnienv.CmdArgs, netconf.NetConf], Result]
    Handler = Callable[[cnienv.CmdArgs, netconf.NetConf], None]

# The network config on stdin: a conflist entry, a prevResult of at most
# types.convert.MAX_ITEMS entries per list and the runtime's arguments stay far below this.
MAX_STDIN = 4 << 20


class Plugin:
    """A plugin's handlers. A missing check/status/gc handler answers success;
    ``known_args`` are the CNI_ARGS keys it reads (None: the Kubernetes ones).

    A plain class rather than a dataclass: a VERSION exec imports this module and
    nothing that costs (no dataclasses, typing or the plugin's own modules)."""

    __slots__ = ("add", "check", "delete", "gc", "known_args", "name", "status")

    def __init__(
        self,
        name: str,
        add: AddHandler,
        delete: Handler,
        check: Handler | None = None,
        status: Handler | None = None,
        gc: Handler | None = None,
        known_args: frozenset[str] | None = None,
    ) -> None:
        self.name = name
        self.add = add
        self.delete = delete
        self.check = check
        self.status = status
        self.gc = gc
        self.known_args = known_args


def _log() -> Logger:
    from spidernet.protocol import logs

    return logs.LOG


def _read_config(stdin: IO[bytes]) -> dict[str, Any]:
    from spidernet.types import bounds

    try:
        data = stdin.read(MAX_STDIN + 1)
    except OSError as e:
        raise errors.IOFailure(f"reading network config from stdin: {e}") from e
    if len(data) > MAX_STDIN:
        raise errors.DecodingFailure(f"network config on stdin is over {MAX_STDIN} bytes")
    try:
        raw = bounds.json_document(data)
    except bounds.BadJson as e:
        raise errors.DecodingFailure(f"network config on stdin is not JSON we take: {e}") from e
    if not isinstance(raw, dict):
        raise errors.DecodingFailure("network config on stdin must be a JSON object")
    return raw


def _config_version(raw: Mapping[str, Any]) -> str:
    version = raw.get("cniVersion", "0.1.0")  # libcni's default for a config without one
    if not isinstance(version, str):
        raise errors.InvalidConfig("cniVersion", f"must be a string, got {version!r}")
    return version


def _check_netns(cmd: cnienv.CmdArgs) -> None:
    """Refuse to configure the plugin's own netns (skel's checkForNetnsMatch)."""
    if cmd.netns_override or cmd.command not in ("ADD", "CHECK", "DEL") or not cmd.netns:
        return
    try:
        theirs = os.stat(cmd.netns)
        ours = os.stat("/proc/self/ns/net")
    except OSError:
        return  # a missing netns is the handler's business (DEL must tolerate it)
    if (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino):
        raise errors.InvalidNetNS(f"CNI_NETNS {cmd.netns} is the plugin's own network namespace")


def _version_reply(stdin: IO[bytes]) -> dict[str, Any]:
    requested = versions.LATEST
    try:
        raw = json.loads(stdin.read() or b"{}")
    except Exception:  # unreadable or not JSON: the latest version answers
        raw = None
    if isinstance(raw, dict) and isinstance(raw.get("cniVersion"), str):
        requested = raw["cniVersion"]
    return {"cniVersion": requested, "supportedVersions": list(versions.SUPPORTED)}


def _dispatch(plugin: Plugin, cmd: cnienv.CmdArgs, conf: netconf.NetConf) -> dict[str, Any] | None:
    import contextlib

    from spidernet.types import convert

    with contextlib.redirect_stdout(sys.stderr):
        if cmd.command == "ADD":
            return convert.write(plugin.add(cmd, conf), conf.cni_version)
        handler = {
            "DEL": plugin.delete,
            "CHECK": plugin.check,
            "STATUS": plugin.status,
            "GC": plugin.gc,
        }[cmd.command]
        if handler is not None:
            handler(cmd, conf)
    return None


def _warn_unknown(plugin: Plugin, conf: netconf.NetConf) -> None:
    for key in conf.unknown_keys():
        _log().warning("config key %s is not one %s knows: ignored (misspelt?)", key, plugin.name)


def _handle(plugin: Plugin, cmd: cnienv.CmdArgs, conf: netconf.NetConf) -> dict[str, Any] | None:
    """The handler, then one warning per config key it never read. None after
    a config error: the plugin stopped reading at the bad key, so the keys after it
    would look unknown."""
    try:
        reply = _dispatch(plugin, cmd, conf)
    except (errors.InvalidConfig, errors.UnsupportedField):
        raise
    except Exception:
        _warn_unknown(plugin, conf)
        raise
    _warn_unknown(plugin, conf)
    return reply


def _invoke(
    load: Callable[[], Plugin], environ: Mapping[str, str], stdin: IO[bytes], state: dict[str, str]
) -> dict[str, Any] | None:
    """Everything but VERSION: the CNI_* variables, the config, then the plugin's handler."""
    from spidernet.protocol import env as cnienv
    from spidernet.types import netconf

    command = cnienv.command_of(environ)
    plugin = load()
    cmd = cnienv.parse(environ, plugin.known_args or cnienv.K8S_KEYS)
    raw = _read_config(stdin)
    version = _config_version(raw)
    versions.require(command, version)
    state["version"] = version
    if isinstance(raw.get("name"), str):
        state["network"] = raw["name"]
    # A DEL must clean up even if the runtime's cached prevResult no longer parses.
    conf = netconf.parse(raw, version, tolerate_bad_prev_result=command == "DEL")
    if conf.prev_result_problem:
        _log().warning(
            "DEL: prevResult ignored, it cannot be parsed (%s)", conf.prev_result_problem
        )
    _check_netns(cmd)
    return _handle(plugin, cmd, conf)


def run(
    plugin: Plugin,
    *,
    environ: Mapping[str, str] | None = None,
    stdin: IO[bytes] | None = None,
    stdout: IO[str] | None = None,
) -> int:
    """Run one invocation; returns the process exit status (0 success, 1 error)."""
    return run_lazily(plugin.name, lambda: plugin, environ=environ, stdin=stdin, stdout=stdout)


def run_lazily(
    name: str,
    load: Callable[[], Plugin],
    *,
    environ: Mapping[str, str] | None = None,
    stdin: IO[bytes] | None = None,
    stdout: IO[str] | None = None,
) -> int:
    """``run`` for a plugin whose modules ``load`` imports: not before VERSION has been
    answered (it needs none of them), so a VERSION exec costs little more than the
    interpreter's start (docs/performance.md, "What each verb imports")."""
    environ = os.environ if environ is None else environ
    stdin = sys.stdin.buffer if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    state = {"version": versions.LATEST}  # the version errors are reported in
    verb = environ.get("CNI_COMMAND", "?")
    started = 0.0 if verb == "VERSION" else _clock()
    code = 0
    try:
        if verb == "VERSION":
            reply: dict[str, Any] | None = _version_reply(stdin)
        else:
            _named(name)  # records held before the plugin's logs.setup() say whose they are
            reply = _invoke(load, environ, stdin, state)
    except errors.CniError as e:
        _named(name).error("%s failed: code %d: %s", verb, e.code, e.msg)
        reply, code = e.to_json(state["version"]), e.code
    except Exception as e:  # the one translation point for the unexpected: code 999
        _named(name).exception("%s failed unexpectedly", verb)
        error = errors.CniError(f"internal error: {type(e).__name__}: {e}")
        reply, code = error.to_json(state["version"]), error.code
    if reply is not None:
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()
    if "spidernet.protocol.logs" in sys.modules:  # nothing to flush if nothing was logged
        _log().flush()
    if verb != "VERSION":  # the record is of pods' execs; VERSION is the runtime's probe
        _record(name, verb, code, started, state, environ)
    return 0 if code == 0 else 1


def _clock() -> float:
    import time  # a builtin module: nothing to load from disk

    return time.monotonic()


def _record(
    name: str,
    verb: str,
    code: int,
    started: float,
    state: dict[str, str],
    environ: Mapping[str, str],
) -> None:
    """This exec's outcome line (docs/metrics.md), after its answer is out."""
    import time

    from spidernet.protocol import outcomes

    line: dict[str, object] = {"t": round(time.time(), 3), "plugin": name, "verb": verb}
    line["code"] = code
    line["seconds"] = round(_clock() - started, 6)
    line["network"] = state.get("network", "")
    outcomes.record(outcomes.path_of(environ), line)


def _named(name: str) -> Logger:
    """The logger, its records saying whose they are if the plugin never set it up."""
    log = _log()
    if not log.configured:
        log.plugin = name
    return log
