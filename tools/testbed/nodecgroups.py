"""A simulated node's cgroups (v1): made, tracked, emptied, removed; dead runs' too. Does I/O.

Every node has one cgroup root, named after its network namespace
(``sn<pid>x<tag>-node<i>``, the pid being the test process's), in every mounted v1
hierarchy: kubelet puts ``kubepods/...`` and the pods under it (cgroupfs driver), and
the node's own processes (the mount-namespace holder, containerd and so every shim it
starts, kubelet) are moved into ``<root>/system`` of the ``pids`` hierarchy when they
start. So every process of a node, containers included, is in one subtree of the pids
hierarchy: that is how a power cut finds them all, and how a later run finds what a
killed run left (its pid no longer exists) and removes it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from pathlib import Path

CGROUP_FS = Path("/sys/fs/cgroup")
PIDS = CGROUP_FS / "pids"
SYSTEM = "system"  # the node's own processes, in the pids hierarchy
_NODE_ROOT = re.compile(r"^sn(\d+)x[0-9a-f]+-node\d+$")


def hierarchies() -> list[Path]:
    """The mounted cgroup v1 hierarchies (the cgroupfs driver's), e.g. /sys/fs/cgroup/memory."""
    out = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, mountpoint, fstype, *_ = line.split()
        if fstype == "cgroup" and mountpoint.startswith(str(CGROUP_FS)):
            out.append(Path(mountpoint))
    return out


def make(root: str) -> Path:
    """The node's root in every hierarchy, and ``<root>/system`` in pids; returns the
    ``cgroup.procs`` file a starting process writes itself into."""
    for hierarchy in hierarchies():
        path = hierarchy / root
        path.mkdir(exist_ok=True)
        if hierarchy.name == "cpuset":  # a v1 cpuset child starts with no cpus and no mems
            for knob in ("cpuset.cpus", "cpuset.mems"):
                (path / knob).write_text((hierarchy / knob).read_text())
    system = PIDS / root / SYSTEM
    system.mkdir(exist_ok=True)
    return system / "cgroup.procs"


def processes(root: str) -> set[int]:
    """Every process in the node's pids subtree."""
    top = PIDS / root
    out: set[int] = set()
    for procs in top.rglob("cgroup.procs") if top.exists() else ():
        with contextlib.suppress(OSError):
            out.update(int(p) for p in procs.read_text().split())
    return out


def kill_all(root: str, attempts: int = 100) -> None:
    """SIGKILL every process of the node until none is left (forks meanwhile included)."""
    for _ in range(attempts):
        pids = processes(root)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    raise RuntimeError(f"cgroup {root}: processes survive SIGKILL: {sorted(processes(root))}")


def remove(root: str) -> None:
    """rmdir the node's subtree in every hierarchy, deepest first (they must be empty)."""
    for hierarchy in hierarchies():
        top = hierarchy / root
        if not top.exists():
            continue
        dirs = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
        for path in [*dirs, top]:
            _rmdir(path)


def _rmdir(path: Path) -> None:
    for _ in range(50):  # a cgroup is busy for a moment after its last process died
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)


def cleanup_stale() -> list[str]:
    """Kill and remove the node cgroups of runs whose test process is gone; returns their names."""
    gone = []
    for entry in PIDS.iterdir() if PIDS.exists() else ():
        match = _NODE_ROOT.match(entry.name)
        if match and entry.is_dir() and not Path(f"/proc/{match.group(1)}").exists():
            kill_all(entry.name)
            remove(entry.name)
            gone.append(entry.name)
    return gone
