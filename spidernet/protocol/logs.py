"""JSON-lines file logging for plugins (SPEC §1). Does I/O: creates the log directory and file.

One line per record: ``{"time", "level", "plugin", "msg", ...context}`` where context
carries the invocation's ``containerID``, ``netns``, ``ifname`` and pod identity. Size
rotation via RotatingFileHandler; several plugin processes append to the same file, and
each record is written with one write() on an O_APPEND file, so lines do not interleave.
Rotation itself is not coordinated between processes: in the rare case two rotate at
once, a few lines may land in the rotated file. Nothing is ever written to stdout.
If the log file cannot be opened, records go to stderr: a read-only /var/log must not
stop pods from starting.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spidernet.protocol import errors
from spidernet.types.netconf import Fields

LEVELS = ("debug", "info", "warn", "warning", "error", "fatal", "panic")  # upstream's set
_PY_LEVEL = {"warn": "WARNING", "fatal": "CRITICAL", "panic": "CRITICAL"}
_MB = 1024 * 1024


@dataclass(frozen=True)
class LogOptions:
    path: str
    level: str = "info"
    max_size_mb: int = 100
    max_count: int = 5

    @classmethod
    def from_fields(cls, f: Fields, default_path: str, *, keys: Mapping[str, str] | None = None) -> LogOptions:
        """Read the options; ``keys`` maps our names to the plugin's config keys.

        The spiderpool IPAM uses log_file_path / log_level / log_file_max_size /
        log_file_max_count; numbers may be ints or numeric strings (upstream's docs
        show strings, its code wants ints).
        """
        k = {"path": "log_file_path", "level": "log_level", "size": "log_file_max_size", "count": "log_file_max_count"}
        k.update(keys or {})
        level = f.str(k["level"], "info").lower() or "info"
        if level not in LEVELS:  # checked here so a bad level is code 7, never a logging ValueError
            raise errors.InvalidConfig(f.path(k["level"]), f"{level!r} is not one of {list(LEVELS)}")
        size = f.int(k["size"], 0, lo=0, numeric_string=True)
        count = f.int(k["count"], 0, lo=0, numeric_string=True)
        return cls(
            path=f.str(k["path"], default_path) or default_path,
            level=level,
            max_size_mb=size or cls.max_size_mb,
            max_count=count or cls.max_count,
        )

    def validate_level(self, field_path: str) -> None:
        if self.level not in LEVELS:
            raise errors.InvalidConfig(field_path, f"{self.level!r} is not one of {list(LEVELS)}")


class JsonLines(logging.Formatter):
    def __init__(self, plugin: str) -> None:
        super().__init__()
        self.plugin = plugin

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "plugin": self.plugin,
            "msg": record.getMessage(),
        }
        line.update(getattr(record, "ctx", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class _Context(logging.LoggerAdapter):  # type: ignore[type-arg]
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs.setdefault("extra", {})["ctx"] = self.extra
        return msg, kwargs


def setup(plugin: str, options: LogOptions, context: Mapping[str, str]) -> logging.LoggerAdapter:  # type: ignore[type-arg]
    """Route the ``spidernet`` logger to the JSON-lines file; returns an adapter adding ``context``."""
    logger = logging.getLogger("spidernet")
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()  # else its log file stays open (ResourceWarning) after a second setup()
    handler: logging.Handler
    try:
        os.makedirs(os.path.dirname(options.path) or ".", exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            options.path, maxBytes=options.max_size_mb * _MB, backupCount=options.max_count
        )
    except OSError:
        handler = logging.StreamHandler()  # stderr, never stdout
    handler.setFormatter(JsonLines(plugin))
    logger.addHandler(handler)
    logger.setLevel(_PY_LEVEL.get(options.level, options.level.upper()))
    logger.propagate = False
    adapter = _Context(logger, {k: v for k, v in context.items() if v})
    return adapter
