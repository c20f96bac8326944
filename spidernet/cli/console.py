"""Where a command's output goes. Writes to the given streams.

stdout carries the answer (a table, JSON or YAML, a line per action), so it can be
piped; stderr carries warnings, errors and progress. Colour only when the stream is a
terminal and ``NO_COLOR`` is unset; progress lines (rewritten in place) only when
stderr is a terminal, so logs and pipes never see them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import yaml

from spidernet.cli import tables

COLOURS = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}
FORMATS = ("table", "wide", "json", "yaml")


def is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@dataclass
class Console:
    out: TextIO
    err: TextIO
    inp: TextIO = field(default_factory=lambda: sys.stdin)
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    _progress_shown: bool = False
    _last_progress: float = 0.0

    def _colour(self, stream: TextIO) -> bool:
        return is_tty(stream) and not self.env.get("NO_COLOR") and self.env.get("TERM") != "dumb"

    def paint(self, text: str, colour: str, stream: TextIO | None = None) -> str:
        if not self._colour(stream or self.out):
            return text
        return f"\x1b[{COLOURS[colour]}m{text}\x1b[0m"

    def line(self, text: str = "") -> None:
        self.clear_progress()
        print(text, file=self.out, flush=True)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]], empty: str) -> None:
        if not rows:
            self.note(empty)
            return
        self.line(tables.render(headers, rows))

    def emit(self, data: Any, fmt: str) -> None:
        """``data`` as JSON (kubectl's 4-space indent) or YAML (keys in their order)."""
        if fmt == "json":
            self.line(json.dumps(data, indent=4, ensure_ascii=False))
        else:
            self.line(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip("\n"))

    def note(self, text: str) -> None:
        self.clear_progress()
        print(text, file=self.err, flush=True)

    def warn(self, text: str) -> None:
        self.note(f"{self.paint('Warning:', 'yellow', self.err)} {text}")

    def error(self, text: str) -> None:
        self.note(f"{self.paint('error:', 'red', self.err)} {text}")

    def progress(self, text: str) -> None:
        """A status line rewritten in place, at most every 0.2 s; nothing off a terminal."""
        if not is_tty(self.err) or time.monotonic() - self._last_progress < 0.2:
            return
        self._last_progress = time.monotonic()
        self.err.write(f"\r\x1b[K{text}")
        self.err.flush()
        self._progress_shown = True

    def clear_progress(self) -> None:
        if self._progress_shown:
            self.err.write("\r\x1b[K")
            self.err.flush()
            self._progress_shown = False
