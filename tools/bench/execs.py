"""One exec with the kernel's accounting of it: wall, CPU and peak RSS from wait4. Does I/O.

``subprocess.run`` reaps the child with waitpid and throws its rusage away; the
benchmark needs it per exec (CPU-seconds per ADD, peak RSS per exec), and
RUSAGE_CHILDREN deltas cannot tell concurrent execs apart. And a child forked from
this ~30 MB Python process would report at least 30 MB of peak RSS whatever it execs
(the kernel keeps the peak across exec). So every exec goes through a small C
program, tools/bench/rusage_exec.c (compiled once into the cache), which forks the
command, waits for it with wait4 and prints the rusage as its last stderr line. The
rusage covers the command and every descendant it waited for (a libcni driver's
macvlan, its IPAM, the coordinator): CPU is their sum, ``ru_maxrss`` the largest
one's peak.
"""

from __future__ import annotations

import hashlib
import os
import selectors
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tools.testbed import paths

SOURCE = Path(__file__).with_name("rusage_exec.c")
_built: list[Path] = []
_build_lock = threading.Lock()


def helper() -> Path:
    """The compiled rusage-exec, built on first use (gcc is a bootstrap package) and kept in the
    cache."""
    with _build_lock:
        if not _built:
            digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
            exe = paths.BIN / f"rusage-exec-{digest}"
            if not exe.exists():
                exe.parent.mkdir(parents=True, exist_ok=True)
                tmp = exe.with_name(f"{exe.name}.{os.getpid()}.tmp")
                subprocess.run(
                    ["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(tmp), str(SOURCE)],
                    check=True,
                )
                tmp.rename(exe)  # atomic: a concurrent run sees the whole file or none
            _built.append(exe)
        return _built[0]


@dataclass(frozen=True)
class Exec:
    returncode: int
    stdout: bytes
    stderr: bytes
    started: float  # time.monotonic() at spawn
    wall: float  # seconds
    cpu: float  # user + system seconds, descendants included
    maxrss_kb: int

    @property
    def ended(self) -> float:
        return self.started + self.wall


def run(
    argv: list[str],
    stdin: bytes,
    env: dict[str, str],
    timeout: float = 300.0,
    *,
    netns: str = "",
) -> Exec:
    """Exec ``argv``; a child still running after ``timeout`` is killed with its descendants
    (returncode -9).

    ``netns``: the path of a network namespace to run it in. ``nsenter --net`` enters it and
    execs the helper in its own place (it forks only for a PID namespace), so the figures
    are the command's alone, not those of ``ip netns exec`` (which also remounts /sys).
    """
    started = time.monotonic()
    prefix = ["nsenter", f"--net={netns}"] if netns else []
    proc = subprocess.Popen(
        [*prefix, str(helper()), *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )  # its own group: a timeout kills the whole chain
    assert proc.stdin and proc.stdout and proc.stderr
    try:
        proc.stdin.write(stdin)
    except BrokenPipeError:
        pass  # the child exited before reading: its status says why
    proc.stdin.close()
    out, err = _drain(proc, started + timeout)
    code = proc.wait()
    wall = time.monotonic() - started
    err, cpu, maxrss = split_rusage(err)
    if code == 128 + signal.SIGKILL:
        code = -signal.SIGKILL
    return Exec(code, out, err, started, wall, cpu, maxrss)


def split_rusage(stderr: bytes) -> tuple[bytes, float, int]:
    """(the command's own stderr, user+system seconds, peak RSS KiB) from the helper's stderr."""
    head, sep, last = stderr.rstrip(b"\n").rpartition(b"\n@rusage ")
    if not sep:
        if stderr.startswith(b"@rusage "):
            head, last = b"", stderr[len(b"@rusage ") :]
        else:
            return stderr, 0.0, 0
    user, system, rss = last.split()[:3]
    return head, float(user) + float(system), int(rss)


def _drain(proc: subprocess.Popen[bytes], deadline: float) -> tuple[bytes, bytes]:
    """Both pipes to their end (reading only one could block the child on the other)."""
    chunks: dict[int, list[bytes]] = {1: [], 2: []}
    with selectors.DefaultSelector() as sel:
        assert proc.stdout and proc.stderr
        sel.register(proc.stdout, selectors.EVENT_READ, 1)
        sel.register(proc.stderr, selectors.EVENT_READ, 2)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                os.killpg(proc.pid, signal.SIGKILL)
                deadline = float("inf")
            for key, _ in sel.select(timeout=max(left, 0.01) if left > 0 else None):
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.data].append(data)
                else:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()  # type: ignore[union-attr]
    return b"".join(chunks[1]), b"".join(chunks[2])
