"""JSON-lines file logging for plugins (README.md, "CNI behaviour"). Does I/O: creates the log
directory and file.

One line per record: ``{"time", "level", "plugin", "msg", ...context}`` where context
carries the invocation's ``containerID``, ``netns``, ``ifname`` and pod identity.
Our own small writer rather than the stdlib ``logging`` package: that import costs
~10 ms, paid by every plugin exec, i.e. every pod start (docs/performance.md).
Several plugin processes append to the same file; each record is one write() on an
O_APPEND descriptor, so lines do not interleave. Size rotation (``<path>.1`` ...
``<path>.<count>``) is not coordinated between processes: if two rotate at once, a few
lines may land in a rotated file. Nothing is ever written to stdout.

Before ``setup`` (the plugin has not read its log options yet) records of level WARNING
and above are held, and ``setup`` writes them to the file first, with the invocation's
context: a warning found while reading the config (an unknown key, a DEL's unreadable
prevResult) lands in the plugin's log, not on a stderr nobody keeps. Records still held
when the exec ends (the plugin never set up: a DEL that does not read its config, an
error before the config was read) go to stderr from ``flush``, as do all records when
the log file cannot be opened (a read-only /var/log must not stop pods from starting),
with a warning saying why. The log file must be a regular file: a FIFO,
device or directory at its path is not opened (``protocol.files``), since writing into a
FIFO nobody reads would block the exec for good.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping

from spidernet.protocol import errors, files
from spidernet.types.netconf import Fields
from spidernet.types.record import record

TYPE_CHECKING = False  # typing is not imported at run time (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

LEVELS = ("debug", "info", "warn", "warning", "error", "fatal", "panic")  # upstream's set
_PY_LEVEL = {"warn": "WARNING", "fatal": "CRITICAL", "panic": "CRITICAL"}
_MB = 1024 * 1024
# Bounds of the size (MB) and count options: a rotation renames every kept file, so a
# count of 10**12 would keep an exec renaming for good.
MAX_SIZE_MB, MAX_COUNT = 10240, 100


# The coordinator's ``logOptions`` object (docs/coordinator.md), which ifacer shares: our
# LogOptions.from_fields names -> its keys. Its logMaxAge is accepted and unused.
LOG_OPTIONS_KEYS = {
    "path": "logFile",
    "level": "logLevel",
    "size": "logMaxSize",
    "count": "logMaxCount",
}


@record
class LogOptions:
    path: str
    level: str = "info"
    max_size_mb: int = 100
    max_count: int = 5

    @classmethod
    def from_fields(
        cls, f: Fields, default_path: str, *, keys: Mapping[str, str] | None = None
    ) -> LogOptions:
        """Read the options; ``keys`` maps our names to the plugin's config keys.

        The spiderpool IPAM uses log_file_path / log_level / log_file_max_size /
        log_file_max_count; numbers may be ints or numeric strings (upstream's docs
        show strings, its code wants ints).
        """
        k = {
            "path": "log_file_path",
            "level": "log_level",
            "size": "log_file_max_size",
            "count": "log_file_max_count",
        }
        k.update(keys or {})
        size = f.int(k["size"], 0, lo=0, hi=MAX_SIZE_MB, numeric_string=True)
        count = f.int(k["count"], 0, lo=0, hi=MAX_COUNT, numeric_string=True)
        options = cls(
            path=f.str(k["path"], default_path) or default_path,
            level=f.str(k["level"], "info").lower() or "info",
            max_size_mb=size or cls.max_size_mb,
            max_count=count or cls.max_count,
        )
        options.validate_level(f.path(k["level"]))  # here, so a bad level is code 7 at parse time
        return options

    def validate_level(self, field_path: str) -> None:
        if self.level not in LEVELS:
            raise errors.InvalidConfig(field_path, f"{self.level!r} is not one of {list(LEVELS)}")


_LEVELNO = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


class Logger:
    """The process-wide plugin logger: ``LOG.info("allocated %s", ip)``, as with ``logging``."""

    def __init__(self) -> None:
        self.plugin = ""
        self.level = _LEVELNO["WARNING"]
        self.context: dict[str, str] = {}
        self.path = ""
        self.fd = 2  # stderr until setup() opens the file
        self.max_bytes = 0
        self.max_count = 0
        self.configured = False  # setup() ran: records go where it said
        self.held: list[dict[str, Any]] = []  # records of WARNING and above from before setup()

    def close(self) -> None:
        if self.fd > 2:
            os.close(self.fd)
        self.fd, self.path = 2, ""

    def debug(self, msg: str, *args: object) -> None:
        self._emit("DEBUG", msg, args)

    def info(self, msg: str, *args: object) -> None:
        self._emit("INFO", msg, args)

    def warning(self, msg: str, *args: object) -> None:
        self._emit("WARNING", msg, args)

    def error(self, msg: str, *args: object) -> None:
        self._emit("ERROR", msg, args)

    def exception(self, msg: str, *args: object) -> None:
        import traceback  # only on this rare path

        self._emit("ERROR", msg, args, exception=traceback.format_exc().rstrip())

    def _emit(self, level: str, msg: str, args: tuple[object, ...], exception: str = "") -> None:
        if _LEVELNO[level] < self.level:
            return
        now = time.time()
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
            + f".{int(now * 1000) % 1000:03d}Z",
            "level": level,
            "plugin": self.plugin,
            "msg": msg % args if args else msg,
            **self.context,
        }
        if exception:
            line["exception"] = exception
        if not self.configured:
            self.held.append(line)
            return
        self._write(line)

    def _write(self, line: dict[str, Any]) -> None:
        text = json.dumps(line, default=str) + "\n"
        try:
            if self.fd == 2:
                sys.stderr.write(text)
                sys.stderr.flush()
                return
            data = text.encode()
            self._rotate_for(len(data))
            os.write(self.fd, data)
        except OSError:
            pass  # logging must never fail a pod's network set-up

    def _rotate_for(self, size: int) -> None:
        if self.fd <= 2 or not self.max_bytes or os.fstat(self.fd).st_size + size <= self.max_bytes:
            return
        # Other execs rotate the same file at the same moment: a file another one moved
        # away between our size check and our rename is theirs now, and not an error.
        if not self.max_count:
            os.ftruncate(self.fd, 0)
            return
        for i in range(self.max_count - 1, 0, -1):
            _move(f"{self.path}.{i}", f"{self.path}.{i + 1}")
        _move(self.path, f"{self.path}.1")
        path = self.path
        self.close()
        self.fd, self.path = _open(path), path

    def replay(self) -> None:
        """Write the records held from before setup(), with this invocation's context."""
        held = self.held[:]
        self.held.clear()
        for line in held:
            if _LEVELNO[line["level"]] >= self.level:
                self._write({**line, "plugin": self.plugin, **self.context})

    def flush(self) -> None:
        """End of the exec: records still held (setup never ran) go to stderr."""
        held = self.held[:]
        self.held.clear()
        for line in held:
            self._write(line)  # fd is still 2: setup() would have emptied the list


LOG = Logger()


def _move(src: str, dst: str) -> None:
    try:
        os.replace(src, dst)
    except FileNotFoundError:
        pass  # moved on by another exec's rotation


def _open(path: str) -> int:
    """The log file, created if missing; a FIFO, device or directory there is refused
    (``files.Unusable``) rather than opened: writing to a FIFO nobody reads blocks."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return files.open_regular(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)


def setup(plugin: str, options: LogOptions, context: Mapping[str, str]) -> Logger:
    """Point ``LOG`` at the JSON-lines file of ``options``, tagging records with ``context``."""
    LOG.close()
    LOG.plugin = plugin
    LOG.level = _LEVELNO[_PY_LEVEL.get(options.level, options.level.upper())]
    LOG.context = {k: v for k, v in context.items() if v}
    LOG.max_bytes, LOG.max_count = options.max_size_mb * _MB, options.max_count
    problem = None
    try:
        LOG.fd, LOG.path = _open(options.path), options.path
    except OSError as e:
        LOG.fd, problem = 2, e  # stderr, never stdout
    LOG.configured = True
    LOG.replay()
    if problem is not None:
        LOG.warning("log file %s unusable, logging to stderr: %s", options.path, problem)
    return LOG
