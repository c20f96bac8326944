"""A real CNI runtime for tests: libcni (via the cnirun driver) plus direct plugin exec. Does I/O.

``Runtime.add/check/delete`` run a conflist the way containerd/CRI-O/Multus do, through
Debian's libcni 1.1.2 (spec versions up to 1.0.0), optionally inside a node netns so
that every plugin's host-side work lands there. Pod identity goes in as CNI_ARGS with
``IgnoreUnknown=1``, as kubelet passes it. Spec 1.1's STATUS and GC are not in this
libcni, so ``exec_plugin`` runs a plugin binary directly with the spec's env and stdin.

Every reply with code 999 that passes through here (or through ``note``, which the
suite's other exec helpers call) is kept in ``INTERNAL_ERRORS``: tests/conftest.py fails
the test that saw one, since 999 is for conditions nobody foresaw (README, "CNI
behaviour common to all plugins"), unless the test is marked ``answers_999``.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.testbed import paths
from tools.testbed.netns import Netns

INTERNAL = 999
OURS_UNFORESEEN = "internal error: "  # spidernet/protocol/skel.py, an uncaught exception
INTERNAL_ERRORS: list[dict[str, Any]] = []


def note(stdout: str | bytes, *, chain: bool = False) -> None:
    """Keep the plugin's reply in ``INTERNAL_ERRORS`` if it is an error with code 999.
    ``chain``: the reply may be another plugin's (Debian's answer every error with 999),
    so only our plugins' catch-all for an exception nobody foresaw counts."""
    if b'"code"' not in (stdout if isinstance(stdout, bytes) else stdout.encode()):
        return
    try:
        reply = json.loads(stdout)
    except ValueError:
        return
    if not isinstance(reply, dict) or reply.get("code") != INTERNAL:
        return
    if not chain or str(reply.get("msg", "")).startswith(OURS_UNFORESEEN):
        INTERNAL_ERRORS.append(reply)


class CniFailure(Exception):
    """A plugin in the chain returned a CNI error object."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"CNI error {error.get('code')}: {error.get('msg')}")
        self.error = error
        self.code = int(error.get("code", 0))
        self.msg = str(error.get("msg", ""))


@dataclass(frozen=True)
class PodRef:
    namespace: str
    name: str
    uid: str = ""
    container_id: str = ""

    def cni_args(self) -> str:
        items = [
            "IgnoreUnknown=1",
            f"K8S_POD_NAMESPACE={self.namespace}",
            f"K8S_POD_NAME={self.name}",
        ]
        if self.container_id:
            items.append(f"K8S_POD_INFRA_CONTAINER_ID={self.container_id}")
        if self.uid:
            items.append(f"K8S_POD_UID={self.uid}")
        return ";".join(items)


@dataclass
class Runtime:
    """Runs one conflist; ``node`` (a netns) is where the runtime and plugins run."""

    conflist: dict[str, Any]
    node: Netns | None = None
    cni_path: str = field(default_factory=paths.cni_path)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="spidernet-cni-")))
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.conf_file = self.workdir / "net.conflist"
        self.conf_file.write_text(json.dumps(self.conflist))

    def _run(
        self,
        verb: str,
        container_id: str,
        netns: str,
        ifname: str,
        pod: PodRef | None,
        capability_args: dict[str, Any] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        argv = [
            str(paths.CNIRUN),
            "-conf",
            str(self.conf_file),
            "-id",
            container_id,
            "-netns",
            netns,
            "-ifname",
            ifname,
            "-cache-dir",
            str(self.workdir / "cache"),
        ]
        if pod:
            argv += ["-args", pod.cni_args()]
        if capability_args:
            argv += ["-cap", json.dumps(capability_args)]
        argv.append(verb)
        if self.node:
            argv = ["ip", "netns", "exec", self.node.name, *argv]
        env = {**os.environ, "CNI_PATH": self.cni_path, **self.extra_env}
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)

    @staticmethod
    def _outcome(proc: subprocess.CompletedProcess[str]) -> str:
        if proc.returncode == 2:
            note(proc.stdout, chain=True)
            raise CniFailure(json.loads(proc.stdout))
        if proc.returncode != 0:
            raise RuntimeError(f"cnirun failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def add(
        self,
        container_id: str,
        netns: str,
        ifname: str = "eth0",
        pod: PodRef | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        return json.loads(self._outcome(self._run("add", container_id, netns, ifname, pod, **kw)))

    def check(
        self, container_id: str, netns: str, ifname: str = "eth0", pod: PodRef | None = None
    ) -> None:
        self._outcome(self._run("check", container_id, netns, ifname, pod))

    def delete(
        self, container_id: str, netns: str, ifname: str = "eth0", pod: PodRef | None = None
    ) -> None:
        self._outcome(self._run("del", container_id, netns, ifname, pod))


def plugin_versions(plugin: str, cni_path: str | None = None) -> list[str]:
    """Ask a plugin for its supported versions through libcni's GetVersionInfo."""
    env = {**os.environ, "CNI_PATH": cni_path or paths.cni_path()}
    proc = subprocess.run(
        [str(paths.CNIRUN), "-plugin", plugin, "version"], capture_output=True, text=True, env=env
    )
    return list(json.loads(Runtime._outcome(proc))["supportedVersions"])


@dataclass(frozen=True)
class ExecResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout) if self.stdout.strip() else None


def exec_plugin(
    binary: str | Path,
    command: str,
    config: dict[str, Any] | bytes,
    *,
    env: dict[str, str] | None = None,
    node: Netns | None = None,
    timeout: float = 60,
) -> ExecResult:
    """Exec a plugin as the spec describes (for STATUS, GC and malformed input)."""
    stdin = config if isinstance(config, bytes) else json.dumps(config).encode()
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CNI_COMMAND": command,
        "CNI_PATH": paths.cni_path(),
        **{k: v for k, v in os.environ.items() if k == "SPIDERNET_OUTCOMES"},  # tests/conftest.py
        **(env or {}),
    }
    argv = [str(binary)]
    if node:
        argv = ["ip", "netns", "exec", node.name, *argv]
    proc = subprocess.run(argv, input=stdin, capture_output=True, env=full_env, timeout=timeout)
    note(proc.stdout, chain=Path(binary).parent != paths.BUNDLE_BIN)  # not ours: judged as one
    return ExecResult(proc.returncode, proc.stdout.decode(), proc.stderr.decode())
