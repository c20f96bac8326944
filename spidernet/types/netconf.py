"""The network configuration every plugin receives on stdin, and typed field readers. No I/O.

``NetConf`` holds the keys the spec defines for all plugins; each plugin reads its own
keys with the ``Fields`` readers from ``NetConf.fields()``, whose errors name the field
by its path (``ipam.default_ipv4_ippool[1]``), so a user sees which key of the NAD is wrong.

Unknown keys: like upstream's Go decoding we accept keys we do not know, but
a misspelt ``detectIPConflit`` would then silently do nothing. So the readers of
``NetConf.fields()`` record every key they were asked for, and ``NetConf.unknown_keys``
names the keys of those objects that no reader asked for; ``protocol.skel`` logs them
once per exec. Objects a plugin reads with a plain ``Fields(data)`` are not tracked.

A DEL must clean up even when the runtime's cached prevResult no longer parses (issue
11): ``parse(..., tolerate_bad_prev_result=True)`` then leaves ``prev_result`` None and
says why in ``prev_result_problem``; ``raw`` keeps the JSON as sent, so a plugin can
still tell "no prevResult" from "one we cannot read" (``"prevResult" in conf.raw``).
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable

from spidernet.protocol import errors
from spidernet.types import bounds, convert
from spidernet.types.record import field, record
from spidernet.types.results import Result

TYPE_CHECKING = False  # typing is not imported at run time (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

_NETWORK_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$")

# Keys the spec or the runtime puts in any plugin's config, whatever the plugin: the
# network's identity, capabilities and what libcni makes of them, a chain's prevResult,
# and spec 1.1's GC list (``cni.dev/attachments`` is its misspelt twin, docs/ipam.md).
SPEC_KEYS = frozenset(
    {
        "cniVersion",
        "name",
        "type",
        "capabilities",
        "runtimeConfig",
        "args",
        "prevResult",
        "cni.dev/valid-attachments",
        "cni.dev/attachments",
    }
)


class Reads:
    """The tracked objects of one config and, per object, the keys a reader asked for."""

    def __init__(self) -> None:
        self.objects: list[Fields] = []

    def unknown(self) -> list[str]:
        """Paths of the keys present in a tracked object that no reader asked for, each once
        (two ``Fields`` over one object, e.g. a config parsed twice, share what was read)."""
        read: dict[int, set[str]] = {}
        for f in self.objects:
            read.setdefault(id(f.data), set()).update(f.read)
        named: set[tuple[int, str]] = set()
        out = []
        for f in self.objects:
            for key in f.data:
                if key not in read[id(f.data)] and (id(f.data), key) not in named:
                    named.add((id(f.data), key))
                    out.append(f.path(key))
        return out


@record
class NetConf:
    cni_version: str
    name: str
    type: str
    raw: dict[str, Any]
    prev_result: Result | None = None
    runtime_config: dict[str, Any] = field(default_factory=dict)
    args_cni: dict[str, Any] = field(default_factory=dict)  # the "args": {"cni": {...}} convention
    prev_result_problem: str = ""  # why a prevResult present in raw was not parsed (DEL only)
    reads: Reads = field(default_factory=Reads, compare=False, repr=False)

    def fields(self, section: str = "") -> Fields:
        """The plugin's own keys, tracked: the whole config, or an IPAM plugin's ``ipam``
        section (the rest of its config belongs to the main plugin that called it)."""
        if not section:
            return Fields(self.raw, reads=self.reads, known=SPEC_KEYS)
        own = Fields(self.raw).sub(section, required=True)
        return Fields(own.data, own.prefix, reads=self.reads, known=("type",))

    def unknown_keys(self) -> list[str]:
        return self.reads.unknown()


class Fields:
    """Typed reads from one JSON object; ``prefix`` is its path in the config.

    With ``reads``, this object and every object reached from it through ``sub`` and
    ``objects`` record which keys were read (``known`` counts as read from the start).
    The readers are named after the types they return, so inside this class ``str``,
    ``bool`` and ``int`` name methods: annotations spell the types ``builtins.*``."""

    def __init__(
        self,
        data: object,
        prefix: str = "",
        *,
        reads: Reads | None = None,
        known: Iterable[str] = (),
    ) -> None:
        if not isinstance(data, dict):
            raise errors.InvalidConfig(prefix or "config", "must be an object")
        self.data: dict[str, Any] = data
        self.prefix = prefix
        self.read: set[str] = set(known)
        self.reads = reads
        if reads is not None:
            reads.objects.append(self)

    def path(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def _get(self, key: builtins.str) -> Any:
        self.read.add(key)
        return self.data.get(key)

    def sub(self, key: str, *, required: bool = False) -> Fields:
        value = self._get(key)
        if value is None:
            if required:
                raise errors.InvalidConfig(self.path(key), "is required")
            value = {}
        return Fields(value, self.path(key), reads=self.reads)

    def ignore(self, key: builtins.str) -> None:
        """``key`` is known and deliberately not used (e.g. ifacer's ``bond`` with one
        interface)."""
        self.read.add(key)

    def objects(self, key: builtins.str) -> tuple[Fields, ...]:
        """A list of objects (e.g. ``policyRoutes``), each read as ``key[i]``; absent -> ()."""
        value = self._get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise errors.InvalidConfig(
                self.path(key), f"must be a list of objects, got {bounds.show(value)}"
            )
        return tuple(
            Fields(item, f"{self.path(key)}[{i}]", reads=self.reads) for i, item in enumerate(value)
        )

    def str(
        self, key: str, default: str = "", *, required: bool = False, choices: tuple[str, ...] = ()
    ) -> str:
        value = self._get(key)
        if value is None:
            if required:
                raise errors.InvalidConfig(self.path(key), "is required")
            return default
        if not isinstance(value, str):
            raise errors.InvalidConfig(
                self.path(key), f"must be a string, got {bounds.show(value)}"
            )
        if choices and value not in choices:
            raise errors.InvalidConfig(
                self.path(key), f"{bounds.show(value)} is not one of {list(choices)}"
            )
        return value

    def bool(self, key: builtins.str, default: builtins.bool = False) -> builtins.bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise errors.InvalidConfig(
                self.path(key), f"must be true or false, got {bounds.show(value)}"
            )
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
        """An integer in [lo, hi] (a bound not given: a 64-bit integer's), checked by
        ``bounds.integer``; with ``numeric_string`` "100" is accepted as 100 (log options,
        README.md)."""
        value = self._get(key)
        if value is None:
            return default
        return bounds.integer(
            value,
            self.path(key),
            bounds.INT64[0] if lo is None else lo,
            bounds.INT64[1] if hi is None else hi,
            numeric_string=numeric_string,
        )

    def strs(
        self, key: builtins.str, *, required: builtins.bool = False, min_items: builtins.int = 0
    ) -> tuple[builtins.str, ...]:
        value = self._get(key)
        if value is None:
            value = []
        if not isinstance(value, list):
            raise errors.InvalidConfig(
                self.path(key), f"must be a list of strings, got {bounds.show(value)}"
            )
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise errors.InvalidConfig(
                    f"{self.path(key)}[{i}]", f"must be a non-empty string, got {bounds.show(item)}"
                )
        if (required or min_items) and len(value) < max(min_items, 1):
            raise errors.InvalidConfig(
                self.path(key), f"needs at least {max(min_items, 1)} item(s)"
            )
        return tuple(value)


def parse(
    raw: dict[str, Any],
    cni_version: str,
    *,
    needs_name: bool = True,
    tolerate_bad_prev_result: bool = False,
) -> NetConf:
    """The spec-level keys of a plugin config (cniVersion is already checked by the caller).

    ``tolerate_bad_prev_result``: for DEL, which must clean up whatever the runtime cached.
    """
    f = Fields(raw)
    name = f.str("name", required=needs_name)
    # fullmatch: with match(), "$" also matches before a trailing newline ("net\n" passed).
    # An empty name is as missing as an absent one (skel's validateConfig).
    if (name or needs_name) and not _NETWORK_NAME.fullmatch(name):
        raise errors.InvalidConfig("name", f"{name!r} must match {_NETWORK_NAME.pattern}")
    prev, problem = _prev_result(
        raw.get("prevResult"), cni_version, tolerate=tolerate_bad_prev_result
    )
    return NetConf(
        cni_version=cni_version,
        name=name,
        type=f.str("type"),
        raw=raw,
        prev_result=prev,
        runtime_config=f.sub("runtimeConfig").data,
        args_cni=f.sub("args").sub("cni").data,
        prev_result_problem=problem,
    )


def _prev_result(data: object, cni_version: str, *, tolerate: bool) -> tuple[Result | None, str]:
    if data is None:
        return None, ""
    try:
        return convert.read(data, cni_version), ""
    except errors.InvalidConfig as e:
        if not tolerate:
            raise
        return None, e.msg
