"""What the benchmark reads besides its own execs: server CPU and the plugin's debug lines. Does I/O
(reads).

- ``ServerCpu``: user+system seconds of the kube-apiserver and etcd processes, from
  ``/proc/<pid>/stat`` (fields 14 and 15, in clock ticks), read before and after a phase;
- ``LogTail``: the spiderpool plugin's per-exec debug line, ``api requests=N writes=N
  conflicts=N lock_wait=S: <request list>``, read from each node's log from where the
  last phase stopped reading. ``parse_api_line`` is the pure part.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
API_LINE = re.compile(
    r"^api requests=(\d+) writes=(\d+) conflicts=(\d+) lock_wait=([0-9.]+)s: ?(.*)$"
)


def process_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # the command name may hold spaces
    return (
        int(fields[11]) + int(fields[12])
    ) / TICK  # utime, stime: fields 14 and 15 of the whole line


@dataclass
class ServerCpu:
    pids: dict[str, int]

    def read(self) -> dict[str, float]:
        return {name: process_cpu(pid) for name, pid in self.pids.items()}


@dataclass(frozen=True)
class ApiLine:
    """One exec's API figures, as the plugin counted them."""

    command: str
    container_id: str
    requests: int
    writes: int
    conflicts: int
    lock_wait: float
    calls: tuple[str, ...]  # "GET /api/v1/...", in order


def parse_api_line(record: dict[str, object]) -> ApiLine | None:
    m = API_LINE.match(str(record.get("msg", "")))
    if not m:
        return None
    calls = tuple(c.strip() for c in m.group(5).split(";") if c.strip())
    return ApiLine(
        str(record.get("command", "")),
        str(record.get("containerID", "")),
        int(m.group(1)),
        int(m.group(2)),
        int(m.group(3)),
        float(m.group(4)),
        calls,
    )


@dataclass
class LogTail:
    """Reads each log from the offset the previous ``read_new`` stopped at."""

    offsets: dict[Path, int] = field(default_factory=dict)

    def read_new(self, files: Iterable[Path]) -> list[ApiLine]:
        out: list[ApiLine] = []
        for path in files:
            if not path.exists():
                continue
            with open(path, "rb") as f:
                f.seek(self.offsets.get(path, 0))
                data = f.read()
            complete = data[: data.rfind(b"\n") + 1]  # a line being written stays for the next read
            self.offsets[path] = self.offsets.get(path, 0) + len(complete)
            for raw in complete.splitlines():
                try:
                    line = parse_api_line(json.loads(raw))
                except ValueError:
                    continue
                if line is not None:
                    out.append(line)
        return out
