"""CNI spec versions we speak, and which verbs each one allows. No I/O."""

from __future__ import annotations

from spidernet.protocol import errors

SUPPORTED: tuple[str, ...] = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
LATEST = SUPPORTED[-1]

# The first spec version that defines each verb (CHECK came in 0.4.0, STATUS and GC in 1.1.0).
_VERB_SINCE = {"CHECK": "0.4.0", "STATUS": "1.1.0", "GC": "1.1.0"}


def parse(version: str) -> tuple[int, int, int]:
    """``"1.0.0"`` -> ``(1, 0, 0)``; raises ValueError on anything else."""
    parts = version.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"malformed version {version!r}")
    return int(parts[0]), int(parts[1]), int(parts[2])


def at_least(version: str, floor: str) -> bool:
    return parse(version) >= parse(floor)


def require(command: str, version: str) -> None:
    """Raise IncompatibleVersion unless we speak ``version`` and it defines ``command``."""
    if version not in SUPPORTED:
        raise errors.IncompatibleVersion(
            f"incompatible CNI versions: config is {version!r}, plugin supports {list(SUPPORTED)}"
        )
    since = _VERB_SINCE.get(command)
    if since and not at_least(version, since):
        raise errors.IncompatibleVersion(
            f"config version {version} does not allow {command} (needs >= {since})"
        )
