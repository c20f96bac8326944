"""Each plugin exec's outcome as one line of a node-local record (docs/metrics.md). Does I/O:
one open, fstat, write and close per exec; never fails, blocks or slows an exec noticeably.

The installer DaemonSet reads the record and serves it as Prometheus metrics, so the
plugins themselves export nothing and import nothing for it: a line is a JSON object
written with ``json`` and ``os``, which every exec has loaded already.

    {"t": 1767225600.123, "plugin": "spiderpool", "verb": "ADD", "code": 0,
     "seconds": 0.084, "network": "macvlan-ens1", "lock_wait": 0.0, "conflicts": 0,
     "writes": 1, "pools": {"macvlan-ens1-v4": [1, 0]}}

``code`` is 0 for success, else the CNI error code the exec answered; ``seconds`` runs
from ``skel.run`` to the answer (the interpreter's own start is not in it; the per-exec
benchmark measures that). The IPAM adds its figures with ``note`` (``pools`` maps each
pool it wrote or tried to, to ``[writes, conflicts]``).

Crash-safe and bounded: each line is one ``write`` on an ``O_APPEND`` descriptor (well
under ``PIPE_BUF``, so concurrent execs never interleave within a line, and a killed exec
leaves at most a line never started); the record lives on ``/run`` (tmpfs: no disk
write, gone with a reboot as counters are); the exec whose line takes the file past
``MAX_BYTES`` renames it to ``<path>.1`` (one ``rename``, replacing the older one), so the
record never holds more than twice ``MAX_BYTES``. ``SPIDERNET_OUTCOMES`` in the runtime's
environment moves the record (``off`` turns it off), for tests and unusual hosts.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_PATH = "/run/spidernet/metrics/outcomes.jsonl"
MAX_BYTES = 1 << 20  # about 6000 execs' lines; the exporter reads them within seconds
_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_figures: dict[str, object] = {}


def note(**figures: object) -> None:
    """Figures of this exec for its line (the IPAM: lock wait, conflicts, writes, pools)."""
    _figures.update(figures)


def path_of(environ: Mapping[str, str]) -> str:
    return environ.get("SPIDERNET_OUTCOMES") or DEFAULT_PATH


def record(path: str, line: dict[str, object]) -> None:
    """Append ``line`` and this exec's noted figures to the record at ``path``."""
    if path == "off":
        return
    data = (json.dumps({**line, **_figures}, separators=(",", ":")) + "\n").encode()
    try:
        fd = _open(path)
    except OSError:
        return  # no record rather than a failed or stalled pod start
    try:
        st = os.fstat(fd)
        if st.st_mode & 0o170000 != 0o100000:
            return  # not a regular file (a FIFO opened non-blocking, a device): never write
        os.write(fd, data)
        if st.st_size + len(data) > MAX_BYTES and os.stat(path).st_ino == st.st_ino:
            os.replace(path, path + ".1")
    except OSError:
        pass
    finally:
        os.close(fd)


def _open(path: str) -> int:
    try:
        return os.open(path, _FLAGS, 0o644)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
        return os.open(path, _FLAGS, 0o644)
