"""The network configuration every plugin receives on stdin, and typed field readers. No I/O.

``NetConf`` holds the keys the spec defines for all plugins; each plugin reads its own
keys from ``raw`` with the ``Fields`` readers, whose errors name the field by its path
(``ipam.default_ipv4_ippool[1]``), so a user sees which key of the NAD is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
import builtins
from typing import Any

from spidernet.protocol import errors
from spidernet.types import convert
from spidernet.types.results import Result

_NETWORK_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$")


@dataclass(frozen=True)
class NetConf:
    cni_version: str
    name: str
    type: str
    raw: dict[str, Any]
    prev_result: Result | None = None
    runtime_config: dict[str, Any] = field(default_factory=dict)
    args_cni: dict[str, Any] = field(default_factory=dict)  # the "args": {"cni": {...}} convention


class Fields:
    """Typed reads from one JSON object; ``prefix`` is its path in the config.

    The readers are named after the types they return, so inside this class ``str``,
    ``bool`` and ``int`` name methods: annotations spell the types ``builtins.*``."""

    def __init__(self, data: object, prefix: str = "") -> None:
        if not isinstance(data, dict):
            raise errors.InvalidConfig(prefix or "config", "must be an object")
        self.data: dict[str, Any] = data
        self.prefix = prefix

    def path(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def sub(self, key: str, *, required: bool = False) -> Fields:
        value = self.data.get(key)
        if value is None:
            if required:
                raise errors.InvalidConfig(self.path(key), "is required")
            value = {}
        return Fields(value, self.path(key))

    def str(self, key: str, default: str = "", *, required: bool = False, choices: tuple[str, ...] = ()) -> str:
        value = self.data.get(key)
        if value is None:
            if required:
                raise errors.InvalidConfig(self.path(key), "is required")
            return default
        if not isinstance(value, str):
            raise errors.InvalidConfig(self.path(key), f"must be a string, got {value!r}")
        if choices and value not in choices:
            raise errors.InvalidConfig(self.path(key), f"{value!r} is not one of {list(choices)}")
        return value

    def bool(self, key: builtins.str, default: builtins.bool = False) -> builtins.bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise errors.InvalidConfig(self.path(key), f"must be true or false, got {value!r}")
        return value

    def int(
        self,
        key: builtins.str,
        default: builtins.int = 0,
        *,
        lo: builtins.int | None = None,
        hi: builtins.int | None = None,
        numeric_string: builtins.bool = False,
    ) -> builtins.int:
        """An integer in [lo, hi]; with ``numeric_string`` "100" is accepted as 100 (SPEC §1, log options)."""
        value = self.data.get(key)
        if value is None:
            return default
        if numeric_string and isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise errors.InvalidConfig(self.path(key), f"must be an integer, got {value!r}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise errors.InvalidConfig(self.path(key), f"{value} is outside [{lo}, {hi}]")
        return value

    def strs(self, key: builtins.str, *, required: builtins.bool = False, min_items: builtins.int = 0) -> tuple[builtins.str, ...]:
        value = self.data.get(key)
        if value is None:
            value = []
        if not isinstance(value, list):
            raise errors.InvalidConfig(self.path(key), f"must be a list of strings, got {value!r}")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise errors.InvalidConfig(f"{self.path(key)}[{i}]", f"must be a non-empty string, got {item!r}")
        if (required or min_items) and len(value) < max(min_items, 1):
            raise errors.InvalidConfig(self.path(key), f"needs at least {max(min_items, 1)} item(s)")
        return tuple(value)


def parse(raw: dict[str, Any], cni_version: str, *, needs_name: bool = True) -> NetConf:
    """The spec-level keys of a plugin config (cniVersion is already checked by the caller)."""
    f = Fields(raw)
    name = f.str("name", required=needs_name)
    # fullmatch: with match(), "$" also matches before a trailing newline ("net\n" passed).
    # An empty name is as missing as an absent one (skel's validateConfig).
    if (name or needs_name) and not _NETWORK_NAME.fullmatch(name):
        raise errors.InvalidConfig("name", f"{name!r} must match {_NETWORK_NAME.pattern}")
    prev = raw.get("prevResult")
    return NetConf(
        cni_version=cni_version,
        name=name,
        type=f.str("type"),
        raw=raw,
        prev_result=convert.read(prev, cni_version) if prev is not None else None,
        runtime_config=f.sub("runtimeConfig").data,
        args_cni=f.sub("args").sub("cni").data,
    )
