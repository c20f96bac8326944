"""CNI error taxonomy and its JSON form. No I/O.

One class per code of the CNI spec (§5.8 of reference/peers-and-cni-spec.md), so code
that fails says *what* failed and the code follows from the class::

    CniError (999 generic, the fallback for anything unexpected)
    ├── IncompatibleVersion      1   cniVersion unsupported, or verb not in that version
    ├── UnsupportedField         2   a field we understand but do not support (field named)
    ├── UnknownContainer         3
    ├── InvalidEnv               4   CNI_* variables missing or malformed (names listed)
    ├── IOFailure                5   stdin unreadable
    ├── DecodingFailure          6   stdin is not a JSON object
    ├── InvalidConfig            7   network config wrong (field named)
    ├── InvalidNetNS             8
    ├── TryAgainLater           11   transient: API unreachable, conflict budget spent
    ├── PluginNotAvailable      50   STATUS: cannot serve ADD now
    ├── LimitedConnectivity     51   STATUS: and existing pods may be degraded
    └── PluginError           >=100  plugin-specific, documented by each plugin

Domain code raises these (or its own errors, translated once at the plugin boundary);
``protocol.skel`` turns them into the error object on stdout.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself is not imported at run time: a VERSION exec needs this module
if TYPE_CHECKING:
    from typing import Any


class CniError(Exception):
    """A CNI error object: ``{"cniVersion", "code", "msg", "details"}``."""

    code = 999

    def __init__(self, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details

    def to_json(self, cni_version: str) -> dict[str, Any]:
        out: dict[str, Any] = {"cniVersion": cni_version, "code": self.code, "msg": self.msg}
        if self.details:
            out["details"] = self.details
        return out


class IncompatibleVersion(CniError):
    code = 1


class UnsupportedField(CniError):
    code = 2

    def __init__(self, field: str, value: object, msg: str = "") -> None:
        super().__init__(msg or f"unsupported field {field}={value!r}", details=f"field: {field}")
        self.field = field


class UnknownContainer(CniError):
    code = 3


class InvalidEnv(CniError):
    code = 4


class IOFailure(CniError):
    code = 5


class DecodingFailure(CniError):
    code = 6


class InvalidConfig(CniError):
    """Bad network configuration; ``field`` is the dotted path of the offending key."""

    code = 7

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid config: {field}: {problem}", details=f"field: {field}")
        self.field, self.problem = field, problem


class InvalidNetNS(CniError):
    code = 8


class TryAgainLater(CniError):
    code = 11


class PluginNotAvailable(CniError):
    code = 50


class LimitedConnectivity(CniError):
    code = 51


class PluginError(CniError):
    """A plugin-specific error; the code (>= 100) is part of the plugin's documented contract."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        if code < 100:
            raise ValueError(f"plugin-specific codes start at 100, got {code}")
        super().__init__(msg, details)
        self.code = code
