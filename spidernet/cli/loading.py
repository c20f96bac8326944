"""Objects from YAML or JSON files, or stdin, each with where it came from. Reads files.

A file may hold several YAML documents and ``kind: List`` objects (their ``items``);
every object comes with ``file:line`` of its document, so a problem can name it. A
file that does not parse is one problem at the line and column the parser stopped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

import yaml


@dataclass(frozen=True)
class Document:
    source: str  # "pools.yaml:12" or "-:3"
    obj: Any


class Unreadable(ValueError):
    """A file that cannot be read or parsed: ``where`` is ``file`` or ``file:line:column``."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where, self.problem = where, problem


def load(path: str, stdin: TextIO = sys.stdin) -> list[Document]:
    """Every object of one file (``-``: stdin); raises Unreadable."""
    name = "-" if path == "-" else path
    try:
        if path == "-":
            text = stdin.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except OSError as e:
        raise Unreadable(name, e.strerror or str(e)) from None
    except UnicodeDecodeError as e:
        raise Unreadable(name, f"not UTF-8 text: {e}") from None
    return list(_documents(name, text))


def _documents(name: str, text: str) -> Iterator[Document]:
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            line = node.start_mark.line + 1
            obj = loader.construct_document(node)
            if obj is None:
                continue
            yield from _items(f"{name}:{line}", obj)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise Unreadable(where, f"invalid YAML: {e.problem or e}") from None
    except yaml.YAMLError as e:
        raise Unreadable(name, f"invalid YAML: {e}") from None
    finally:
        loader.dispose()


def _items(source: str, obj: Any) -> Iterator[Document]:
    if isinstance(obj, dict) and obj.get("kind") == "List" and isinstance(obj.get("items"), list):
        for i, item in enumerate(obj["items"]):
            yield Document(f"{source} items[{i}]", item)
    else:
        yield Document(source, obj)
