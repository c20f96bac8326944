"""CNI_* environment variables -> CmdArgs, validated as libcni's skel does. No I/O.

Rules (reference/peers-and-cni-spec.md §5.1):
- required variables per command; missing ones are listed together, code 4;
- CNI_CONTAINERID matches ``^[a-zA-Z0-9][a-zA-Z0-9_.-]*$``; CNI_IFNAME is at most 15 bytes
  (IFNAMSIZ - 1), not "." or "..", and has no "/", ":" or whitespace, code 4;
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


def _check_ifname(name: str) -> None:
    problem = ""
    # The kernel's IFNAMSIZ limit and libcni's len() count bytes, not characters.
    if len(name.encode("utf-8", "surrogateescape")) > 15:
        problem = "is longer than 15 bytes"
    elif name in (".", ".."):
        problem = "may not be '.' or '..'"
    elif any(c in name for c in "/:") or any(c.isspace() for c in name):
        problem = "may not contain '/', ':' or whitespace"
    if problem:
        raise errors.InvalidEnv(f"CNI_IFNAME {name!r} {problem}")


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
    # fullmatch: with match(), "$" also matches before a trailing newline ("abc\n" passed).
    if container_id and not _CONTAINER_ID.fullmatch(container_id):
        raise errors.InvalidEnv(
            f"CNI_CONTAINERID {container_id!r} must match {_CONTAINER_ID.pattern}"
        )
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
