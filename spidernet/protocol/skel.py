"""Dispatch one CNI invocation to a plugin's handlers (our counterpart of libcni's skel).

Does I/O: reads the environment and stdin, writes exactly one JSON object (or nothing)
to stdout, stats the netns path. Steps, in skel's order:

1. CNI_COMMAND known (else 4); VERSION answers at once with our supported versions.
2. Required CNI_* variables present and well-formed (else 4, all missing names listed).
3. stdin readable (else 5) and a JSON object (else 6, also when nested too deeply to
   decode); ``cniVersion`` defaults to 0.1.0.
4. Version supported and allowing the verb: CHECK >= 0.4.0, STATUS/GC >= 1.1.0 (else 1).
5. Network config keys (else 7, the field named; a DEL tolerates a prevResult that does
   not parse, logs it and goes on without one); ADD/CHECK/DEL refuse the plugin's own
   netns (8) unless CNI_NETNS_OVERRIDE is set.
6. The handler runs with stdout redirected to stderr, so nothing it prints can corrupt
   the result channel. CniError -> its code; anything else -> 999, traceback to the log.
7. Each config key the handler never read is logged as a warning (types.netconf).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any

from spidernet.protocol import env as cnienv
from spidernet.protocol import errors, logs, versions
from spidernet.types import convert, netconf
from spidernet.types.results import Result

log = logs.LOG

AddHandler = Callable[[cnienv.CmdArgs, netconf.NetConf], Result]
Handler = Callable[[cnienv.CmdArgs, netconf.NetConf], None]


@dataclass(frozen=True)
class Plugin:
    """A plugin's handlers. A missing check/status/gc handler answers success."""

    name: str
    add: AddHandler
    delete: Handler
    check: Handler | None = None
    status: Handler | None = None
    gc: Handler | None = None
    known_args: frozenset[str] = cnienv.K8S_KEYS


def _read_config(stdin: IO[bytes]) -> dict[str, Any]:
    try:
        data = stdin.read()
    except OSError as e:
        raise errors.IOFailure(f"reading network config from stdin: {e}") from e
    try:
        raw = json.loads(data)
    except ValueError as e:
        raise errors.DecodingFailure(f"network config on stdin is not JSON: {e}") from e
    except RecursionError as e:  # the C decoder's guard against deep nesting ([[[[...]]]])
        raise errors.DecodingFailure(
            "network config on stdin is nested too deeply to decode"
        ) from e
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
    with contextlib.suppress(Exception):
        raw = json.loads(stdin.read() or b"{}")
        if isinstance(raw, dict) and isinstance(raw.get("cniVersion"), str):
            requested = raw["cniVersion"]
    return {"cniVersion": requested, "supportedVersions": list(versions.SUPPORTED)}


def _dispatch(plugin: Plugin, cmd: cnienv.CmdArgs, conf: netconf.NetConf) -> dict[str, Any] | None:
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
        log.warning("config key %s is not one %s knows: ignored (misspelt?)", key, plugin.name)


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
    plugin: Plugin, environ: Mapping[str, str], stdin: IO[bytes], state: dict[str, str]
) -> dict[str, Any] | None:
    command = cnienv.command_of(environ)
    if command == "VERSION":
        return _version_reply(stdin)
    cmd = cnienv.parse(environ, plugin.known_args)
    raw = _read_config(stdin)
    version = _config_version(raw)
    versions.require(command, version)
    state["version"] = version
    # A DEL must clean up even if the runtime's cached prevResult no longer parses.
    conf = netconf.parse(raw, version, tolerate_bad_prev_result=command == "DEL")
    if conf.prev_result_problem:
        log.warning("DEL: prevResult ignored, it cannot be parsed (%s)", conf.prev_result_problem)
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
    environ = os.environ if environ is None else environ
    stdin = sys.stdin.buffer if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    state = {"version": versions.LATEST}  # the version errors are reported in
    if not log.configured:  # records from before the plugin's logs.setup() say whose they are
        log.plugin = plugin.name
    try:
        reply = _invoke(plugin, environ, stdin, state)
        status = 0
    except errors.CniError as e:
        log.error("%s failed: code %d: %s", environ.get("CNI_COMMAND", "?"), e.code, e.msg)
        reply, status = e.to_json(state["version"]), 1
    except Exception as e:  # the one translation point for the unexpected: code 999
        log.exception("%s failed unexpectedly", environ.get("CNI_COMMAND", "?"))
        reply = errors.CniError(f"internal error: {type(e).__name__}: {e}").to_json(
            state["version"]
        )
        status = 1
    if reply is not None:
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()
    log.flush()
    return status
