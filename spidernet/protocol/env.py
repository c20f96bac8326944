"""CNI_* environment variables -> CmdArgs, validated as libcni's skel does. No I/O.

Rules (README, "Input rules"), all checked before any side effect:
- required variables per command; missing ones are listed together, code 4;
- CNI_CONTAINERID matches ``^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`` and has at most
  ``MAX_CONTAINER_ID`` characters; CNI_IFNAME is 1-15 bytes (IFNAMSIZ - 1) of printable
  ASCII, not "." or "..", without "/" or ":", code 4. Stricter than libcni, which takes
  any bytes but those: a name is stored in the SpiderEndpoint, the node's notes and the
  logs, and bytes that are not UTF-8 (Python reads them as lone surrogates) do not
  survive the API server, so no DEL could find the address such an ADD allocated;
- CNI_ARGS is ``K=V;K=V``; unknown keys are an error unless ``IgnoreUnknown`` is true.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from spidernet.protocol import errors
from spidernet.types.record import field, record

COMMANDS = ("ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC")

_REQUIRED = {
    "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
    "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
    "DEL": ("CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"),
    "GC": ("CNI_PATH",),
    "STATUS": ("CNI_PATH",),
    "VERSION": (),
}

_CONTAINER_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$")
# containerd allows 76 characters, CRI-O and podman write 64 hex digits; an ID goes into
# the node's note names, the SpiderEndpoint and every log line of the exec.
MAX_CONTAINER_ID = 256
_PRINTABLE = re.compile(r"[!-~]+")  # printable ASCII without the space

# The Kubernetes keys kubelet and Multus pass; plugins may accept more.
K8S_KEYS = frozenset(
    {"K8S_POD_NAME", "K8S_POD_NAMESPACE", "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID"}
)


@record
class CmdArgs:
    command: str
    container_id: str = ""
    netns: str = ""
    ifname: str = ""
    path: tuple[str, ...] = ()
    args: Mapping[str, str] = field(default_factory=dict)
    netns_override: bool = False


def _shown(value: str) -> str:
    """An environment value for a message: the bytes a non-UTF-8 value came as."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # os.environ keeps undecodable bytes as lone surrogates
        return repr(value.encode("utf-8", "surrogateescape"))
    return repr(value)


def _check_ifname(name: str) -> None:
    problem = ""
    # The kernel's IFNAMSIZ limit and libcni's len() count bytes, not characters.
    if len(name.encode("utf-8", "surrogateescape")) > 15:
        problem = "is longer than 15 bytes"
    elif not _PRINTABLE.fullmatch(name):
        problem = "must be printable ASCII, without spaces"
    elif name in (".", ".."):
        problem = "may not be '.' or '..'"
    elif any(c in name for c in "/:"):
        problem = "may not contain '/' or ':'"
    if problem:
        raise errors.InvalidEnv(f"CNI_IFNAME {_shown(name)} {problem}")


def _check_container_id(container_id: str) -> None:
    # fullmatch: with match(), "$" also matches before a trailing newline ("abc\n" passed).
    if not _CONTAINER_ID.fullmatch(container_id):
        raise errors.InvalidEnv(
            f"CNI_CONTAINERID {_shown(container_id)[:80]} must match {_CONTAINER_ID.pattern}"
        )
    if len(container_id) > MAX_CONTAINER_ID:
        raise errors.InvalidEnv(
            f"CNI_CONTAINERID is {len(container_id)} characters, more than {MAX_CONTAINER_ID}"
        )


def parse_cni_args(raw: str, known: frozenset[str] = K8S_KEYS) -> dict[str, str]:
    """``"IgnoreUnknown=1;K8S_POD_NAME=a"`` -> ``{"K8S_POD_NAME": "a"}``.

    Unknown keys are an error unless IgnoreUnknown is set (as libcni's LoadArgs).
    """
    pairs: dict[str, str] = {}
    for item in raw.split(";"):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise errors.InvalidEnv(f"CNI_ARGS: malformed item {item!r}, want KEY=VALUE")
        pairs[key] = value
    ignore_unknown = pairs.pop("IgnoreUnknown", "false").lower() in ("1", "true")
    unknown = sorted(k for k in pairs if k not in known)
    if unknown and not ignore_unknown:
        raise errors.InvalidEnv(f"CNI_ARGS: unknown keys {unknown} (set IgnoreUnknown=1 to allow)")
    return {k: v for k, v in pairs.items() if k in known}


def command_of(env: Mapping[str, str]) -> str:
    command = env.get("CNI_COMMAND", "")
    if not command:
        raise errors.InvalidEnv("required env variables [CNI_COMMAND] missing")
    if command not in COMMANDS:
        raise errors.InvalidEnv(f"unknown CNI_COMMAND {command!r}, want one of {list(COMMANDS)}")
    return command


def parse(env: Mapping[str, str], known_args: frozenset[str] = K8S_KEYS) -> CmdArgs:
    """Read and validate the CNI_* variables for the command in CNI_COMMAND."""
    command = command_of(env)
    missing = [name for name in _REQUIRED[command] if not env.get(name)]
    if missing:
        raise errors.InvalidEnv(f"required env variables [{', '.join(missing)}] missing")
    container_id = env.get("CNI_CONTAINERID", "")
    if container_id:
        _check_container_id(container_id)
    ifname = env.get("CNI_IFNAME", "")
    if ifname:
        _check_ifname(ifname)
    return CmdArgs(
        command=command,
        container_id=container_id,
        netns=env.get("CNI_NETNS", ""),
        ifname=ifname,
        path=tuple(p for p in env.get("CNI_PATH", "").split(":") if p),
        args=parse_cni_args(env.get("CNI_ARGS", ""), known_args),
        netns_override=env.get("CNI_NETNS_OVERRIDE", "").lower()
        in ("1", "true"),  # skel: ToUpper == "TRUE"
    )
