"""Run one command inside a user-mode-Linux (UML) kernel and hand back its output.

Why: the host kernel here has no 8021q, bonding, dummy or ipvlan (docs/testbed.md, "The host
kernel"); Debian's UML kernel has them as modules and boots in about 2 s as an
ordinary process whose root filesystem is the host's ``/`` (hostfs).

Does I/O: creates a work directory under ``paths.UML_MODULE_ROOT / "runs"``, writes an
init script there, starts ``/usr/bin/linux.uml`` in its own process group, reads the
files the guest left behind, then kills that whole process group and removes the work
directory. One run, step by step:

    host  mkdtemp -> init.sh -> linux.uml ... init=<work>/init.sh umid=<unique> uml_dir=<work>/u
    guest mount proc, sysfs, tmpfs on /run and /dev/shm -> modprobe -a -> (cd cwd; env -i ENV argv)
          > stdout, 2> stderr, $? > returncode -> sync -> halt -f
    host  wait (deadline = timeout) -> SIGKILL the process group -> read files -> rm -rf

Guest view: the host's files at the same paths, except ``/proc``, ``/sys``, ``/dev``
(devtmpfs, mounted by the kernel) and ``/run`` (a fresh tmpfs, so that ``ip netns add``
in the guest never touches the host's ``/run/netns``). ``/tmp`` is deliberately *not*
hidden: callers exchange files with the guest through it (pytest's ``tmp_path``); the
command's ``TMPDIR`` points at the guest-private ``/run/tmp`` instead. The guest has no
network path to the host.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tools.testbed import paths

LINUX_UML = Path("/usr/bin/linux.uml")
MODULES = (
    "8021q",
    "bonding",
    "bridge",
    "dummy",
    "ipvlan",
    "macvlan",
    "veth",
    # the coordinator's reply-path marking (-t mangle MARK/CONNMARK/conntrack): this kernel
    # has no nf_tables for ip/ip6 (CONFIG_NF_TABLES_IPV4 is off), so the legacy backend
    "ip_tables",
    "iptable_mangle",
    "ip6_tables",
    "ip6table_mangle",
    "nf_conntrack",
    "xt_mark",
    "xt_connmark",
    "xt_conntrack",
    # the datapath benchmark's overlays and its kube-proxy-like service NAT
    "vxlan",
    "ipip",
    "iptable_nat",
    "nf_nat",
    "xt_nat",
    "xt_MASQUERADE",
    "xt_tcpudp",
    "xt_comment",
)
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RUNS = paths.UML_MODULE_ROOT / "runs"
_POLL_SECONDS = 0.02
_REAP_SECONDS = 10.0
_LOG_TAIL_LINES = 30

# PID 1 of the guest. Its own diagnostics (mount, modprobe) go to init.log; the
# command's go to stdout/stderr. A missing returncode file means the command never ran.
_INIT_TEMPLATE = """#!/bin/sh
# Written by tools/testbed/uml.py: PID 1 of a UML guest whose root is the host's / (hostfs).
export PATH={path}
W={work}
exec >"$W/init.log" 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -m 1777 /run/tmp
# etcd in a guest control plane keeps its data on /dev/shm (controlplane.py)
mkdir -p /dev/shm && mount -t tmpfs -o mode=1777 tmpfs /dev/shm
ip link set lo up  # the guest's own loopback: a guest control plane listens there
if {modprobe}; then
  (cd -- {cwd} && exec env -i -- {env} {argv}) </dev/null >"$W/stdout" 2>"$W/stderr"
  echo $? >"$W/returncode"
fi
# hostfs writes sit in the guest's page cache, and halt -f does not flush it.
sync
halt -f
"""


class UmlError(RuntimeError):
    """The guest reported no exit status: boot, modprobe or guest kernel failure."""


class UmlTimeout(UmlError):
    """The guest did not halt before the deadline; its processes were killed."""


@dataclass(frozen=True)
class UmlResult:
    """What the command run in the guest left behind.

    ``returncode`` is the guest shell's ``$?``: 128+N when the command died of signal N.
    ``stdout``/``stderr`` are the command's own streams, decoded as UTF-8 (invalid bytes
    replaced); kernel and init messages are not mixed in. ``seconds`` is the wall time
    of boot, command and halt together.
    """

    returncode: int
    stdout: str
    stderr: str
    seconds: float


def available() -> str | None:
    """None if a UML guest can be booted here, else why not (for ``pytest.skip``)."""
    if not os.access(LINUX_UML, os.X_OK):
        return f"{LINUX_UML} missing: apt-get install user-mode-linux (tools/bootstrap.sh does)"
    for tool in ("modprobe", "halt", "env", "sync"):
        if shutil.which(tool, path=GUEST_PATH) is None:
            return f"no {tool} on {GUEST_PATH}: apt-get install kmod / coreutils / systemd-sysv"
    try:
        release = kernel_release()
    except (OSError, subprocess.SubprocessError) as e:
        return f"{LINUX_UML} --version failed: {e}"
    tree = paths.UML_MODULE_ROOT / "lib" / "modules" / release
    if not (tree / "modules.dep").is_file():
        return f"no UML module tree at {tree}: run tools/bootstrap.sh"
    return None


def kernel_release() -> str:
    """The UML kernel's release, e.g. "6.1.176"; it prints it without booting."""
    done = subprocess.run(
        [str(LINUX_UML), "--version"], capture_output=True, text=True, timeout=10, check=True
    )
    return done.stdout.strip()


def run(
    argv: Sequence[str],
    *,
    timeout: float = 120,
    mem: str = "512M",
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    modules: Sequence[str] = MODULES,
    cancel: threading.Event | None = None,
) -> UmlResult:
    """Boot UML, run ``argv`` as root in the guest, halt, and return what it printed.

    The command gets exactly ``GUEST_PATH``, ``HOME=/root``, ``TMPDIR=/run/tmp`` and
    ``LANG=C.UTF-8``, overridden or extended by ``env``. ``cwd`` defaults to the
    caller's working directory (the same path exists in the guest). ``modules`` are
    loaded before the command; if that fails, UmlError carries modprobe's message.
    Raises UmlTimeout when boot + command + halt take longer than ``timeout`` seconds,
    and UmlError when ``cancel`` is set first (the guest is killed either way).
    """
    _check_args(argv, env)
    RUNS.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=RUNS))
    try:
        guest_cwd = cwd or os.getcwd()
        script = _write_init(work, argv, env=_guest_env(env), cwd=guest_cwd, modules=modules)
        seconds = _boot(work, script, mem=mem, timeout=timeout, cancel=cancel)
        return _collect(work, seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def project_env() -> dict[str, str]:
    """What a guest running our code needs to find the host's bundles and cache."""
    return {
        "SPIDERNET_BUNDLE_BIN": str(paths.BUNDLE_BIN.resolve()),
        "SPIDERNET_CACHE": str(paths.CACHE),
    }


def _check_args(argv: Sequence[str], env: Mapping[str, str] | None) -> None:
    # `env NAME=VALUE... argv` would take an argv[0] containing "=" as one more assignment.
    if not argv or "=" in argv[0]:
        raise ValueError(f"argv must be non-empty and argv[0] free of '=': {argv!r}")
    for name in env or {}:
        if not name or "=" in name:
            raise ValueError(f"bad environment variable name {name!r}")


def _guest_env(env: Mapping[str, str] | None) -> dict[str, str]:
    base = {"PATH": GUEST_PATH, "HOME": "/root", "TMPDIR": "/run/tmp", "LANG": "C.UTF-8"}
    return base | dict(env or {})


def _write_init(
    work: Path, argv: Sequence[str], *, env: Mapping[str, str], cwd: str, modules: Sequence[str]
) -> Path:
    script = work / "init.sh"
    script.write_text(_init_text(work, argv, env=env, cwd=cwd, modules=modules))
    script.chmod(0o755)
    return script


def _init_text(
    work: Path, argv: Sequence[str], *, env: Mapping[str, str], cwd: str, modules: Sequence[str]
) -> str:
    # -a: without it modprobe loads only the first name and takes the rest as parameters
    # of that module ("8021q: unknown parameter 'veth' ignored").
    modprobe = shlex.join(["modprobe", "-a", "-d", str(paths.UML_MODULE_ROOT), *modules])
    return _INIT_TEMPLATE.format(
        path=shlex.quote(GUEST_PATH),
        work=shlex.quote(str(work)),
        modprobe=modprobe if modules else "true",
        cwd=shlex.quote(cwd),
        env=shlex.join(f"{k}={v}" for k, v in env.items()),
        argv=shlex.join(argv),
    )


def _kernel_argv(work: Path, script: Path, mem: str) -> list[str]:
    # A unique umid and a private uml_dir keep concurrent guests apart and keep UML
    # from writing its pid file and mconsole socket into ~/.uml.
    return [
        str(LINUX_UML),
        f"mem={mem}",
        "root=/dev/root",
        "rootfstype=hostfs",
        "rootflags=/",
        "rw",
        f"init={script}",
        "con=null",
        "con0=fd:0,fd:1",
        f"umid={work.name}",
        f"uml_dir={work / 'u'}",
    ]


def _boot(
    work: Path, script: Path, *, mem: str, timeout: float, cancel: threading.Event | None = None
) -> float:
    """Run the guest to completion or the deadline; always kill its process group."""
    start = time.monotonic()
    with open(work / "console.log", "wb") as console:
        proc = subprocess.Popen(
            _kernel_argv(work, script, mem),
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            cwd=work,
            start_new_session=True,
        )
    try:
        halted = _wait_unreaped(proc.pid, deadline=start + timeout, cancel=cancel)
    finally:
        _kill_group(proc)
    if cancel is not None and cancel.is_set() and not halted:
        raise UmlError("UML guest cancelled by the caller, killed")
    if not halted:
        raise UmlTimeout(f"UML guest still running after {timeout} s, killed\n{_diagnosis(work)}")
    return time.monotonic() - start


def _wait_unreaped(pid: int, *, deadline: float, cancel: threading.Event | None = None) -> bool:
    """True once ``pid`` has exited, leaving it a zombie (WNOWAIT).

    Not reaping it yet keeps its pid, which is also the process group id, from being
    reused before ``_kill_group`` has signalled the group.
    """
    flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
    while os.waitid(os.P_PID, pid, flags) is None:
        if time.monotonic() >= deadline or (cancel is not None and cancel.is_set()):
            return False
        time.sleep(_POLL_SECONDS)
    return True


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the UML kernel and every helper it forked, wait for them all, reap it.

    UML runs each guest process and its I/O helpers as host processes in the kernel
    process's group; after ``halt -f`` some may still be on their way out, after a
    timeout all of them are live.
    """
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the group is already empty
    deadline = time.monotonic() + _REAP_SECONDS
    while survivors := _live_members(proc.pid):
        if time.monotonic() >= deadline:
            raise UmlError(f"UML processes {survivors} survived SIGKILL for {_REAP_SECONDS} s")
        time.sleep(_POLL_SECONDS)
    proc.wait()


def _live_members(pgid: int) -> list[int]:
    """Pids in process group ``pgid`` that are not yet zombies."""
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _group_and_state(entry) == (pgid, True):
            members.append(int(entry.name))
    return members


def _group_and_state(proc_dir: Path) -> tuple[int, bool] | None:
    """(process group, alive) from /proc/<pid>/stat; None if the process is gone."""
    try:
        stat = (proc_dir / "stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ")".
    state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
    return int(pgrp), state not in ("Z", "X")


def _collect(work: Path, seconds: float) -> UmlResult:
    try:
        returncode = int((work / "returncode").read_text())
    except (OSError, ValueError):
        raise UmlError(f"UML guest reported no exit status\n{_diagnosis(work)}") from None
    return UmlResult(
        returncode=returncode,
        stdout=_read(work / "stdout"),
        stderr=_read(work / "stderr"),
        seconds=seconds,
    )


def _diagnosis(work: Path) -> str:
    """The tails of the guest init's own output and of the kernel console."""
    parts: list[str] = []
    for name in ("init.log", "console.log"):
        lines = _read(work / name).splitlines()[-_LOG_TAIL_LINES:]
        parts.append(f"--- {name} (last {len(lines)} lines) ---\n" + "\n".join(lines))
    return "\n".join(parts)


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
