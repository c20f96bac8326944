"""The bundle set that tools/build_bundles.sh makes and the installer copies. No I/O.

A bundle set is one directory:

    MANIFEST.json            a ``Manifest`` as JSON (``dumps`` / ``loads``)
    <plugin>/<plugin>        the static launcher (tools/bundle/launcher.c), CNI's entry
    <plugin>/<plugin>.bin    PyInstaller's bootloader, run under the bundled loader
    <plugin>/_internal/      Python, its libraries, and the glibc they were built against

The manifest lists every file with its SHA-256 and mode, so a copy can be verified
before it goes live, and what a host must offer to run the bundles: the machine and
the minimum kernel of the bundled glibc (its ABI note). The bundles need nothing else
from the host: not its glibc, not its libraries (docs/install.md, "glibc floor").
The version is the project's version plus the hash of the build inputs, so the same
sources give the same version and the installer can tell "already installed".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

FORMAT = 1
MANIFEST = "MANIFEST.json"
PLUGINS = ("ifacer", "spiderpool", "coordinator")
# A version names a directory on the host: keep it to characters every tool quotes well.
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,127}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(ValueError):
    """A manifest that cannot be trusted to describe its bundle set."""


@dataclass(frozen=True)
class Entry:
    """One file or symlink of the set, by its '/'-separated path below the set's root."""

    path: str
    kind: Literal["file", "link"]
    sha256: str = ""
    mode: int = 0o644
    target: str = ""  # for a link, relative, inside the same bundle


@dataclass(frozen=True)
class Manifest:
    version: str
    machine: str
    min_kernel: tuple[int, int, int]
    glibc: str
    plugins: tuple[str, ...]
    entries: tuple[Entry, ...]

    def dumps(self) -> str:
        body = {
            "format": FORMAT,
            "version": self.version,
            "machine": self.machine,
            "min_kernel": ".".join(map(str, self.min_kernel)),
            "glibc": self.glibc,
            "plugins": list(self.plugins),
            "entries": [_entry_json(e) for e in self.entries],
        }
        return json.dumps(body, indent=1, sort_keys=True) + "\n"


def _entry_json(e: Entry) -> dict[str, Any]:
    if e.kind == "link":
        return {"path": e.path, "link": e.target}
    return {"path": e.path, "sha256": e.sha256, "mode": f"{e.mode:04o}"}


def loads(text: str) -> Manifest:
    """Parse and check a manifest; anything odd is a ManifestError naming the field."""
    try:
        raw = json.loads(text)
    except ValueError as e:
        raise ManifestError(f"not JSON: {e}") from e
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ManifestError(
            f"format must be {FORMAT}, got {raw.get('format') if isinstance(raw, dict) else raw!r}"
        )
    version = _str(raw, "version")
    if not _VERSION.match(version):
        raise ManifestError(f"version {version!r} is not a plain directory name")
    entries = tuple(_entry(item) for item in _list(raw, "entries"))
    plugins = tuple(str(p) for p in _list(raw, "plugins"))
    _check_plugins(plugins, {e.path for e in entries})
    return Manifest(
        version=version,
        machine=_str(raw, "machine"),
        min_kernel=_kernel(_str(raw, "min_kernel")),
        glibc=_str(raw, "glibc"),
        plugins=plugins,
        entries=entries,
    )


def _str(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ManifestError(f"{key} must be a non-empty string")
    return value


def _list(raw: dict[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    if not isinstance(value, list) or not value:
        raise ManifestError(f"{key} must be a non-empty list")
    return value


def _kernel(text: str) -> tuple[int, int, int]:
    version = kernel_version(text)
    if version is None:
        raise ManifestError(f"min_kernel {text!r} is not X.Y.Z")
    return version


def _entry(item: Any) -> Entry:
    if not isinstance(item, dict):
        raise ManifestError(f"entry {item!r} is not an object")
    path = safe_path(_str(item, "path"))
    if "link" in item:
        target = _str(item, "link")
        if target.startswith("/") or ".." in target.split("/"):
            raise ManifestError(f"{path}: link target {target!r} leaves the bundle")
        return Entry(path, "link", target=target)
    digest = _str(item, "sha256")
    if not _SHA256.match(digest):
        raise ManifestError(f"{path}: sha256 {digest!r} is not 64 hex digits")
    try:
        mode = int(_str(item, "mode"), 8)
    except ValueError as e:
        raise ManifestError(f"{path}: mode {item.get('mode')!r} is not octal") from e
    if mode & ~0o777:
        raise ManifestError(f"{path}: mode {mode:o} has bits beyond rwx (setuid, sticky)")
    return Entry(path, "file", sha256=digest, mode=mode)


def safe_path(path: str) -> str:
    """A relative path that stays inside the set: no '..', not absolute, no empty parts."""
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ManifestError(f"path {path!r} is not a plain relative path")
    return path


def _check_plugins(plugins: tuple[str, ...], paths: set[str]) -> None:
    for plugin in plugins:
        if "/" in plugin or plugin in ("", ".", ".."):
            raise ManifestError(f"plugin name {plugin!r} is not a file name")
        for needed in (f"{plugin}/{plugin}", f"{plugin}/{plugin}.bin"):
            if needed not in paths:
                raise ManifestError(f"plugin {plugin}: {needed} is not in the manifest")


# ------------------------------------------------------------ the host


def kernel_version(release: str) -> tuple[int, int, int] | None:
    """The X.Y.Z a kernel release starts with ('4.18.0-553.el8_10.x86_64' -> (4, 18, 0))."""
    match = re.match(r"^(\d+)\.(\d+)(?:\.(\d+))?", release)
    if not match:
        return None
    return int(match[1]), int(match[2]), int(match[3] or 0)


def host_refusal(manifest: Manifest, *, machine: str, kernel_release: str) -> str | None:
    """Why this host cannot run the bundles, or None. The host's glibc does not matter:
    the bundles bring their own; what they need is the CPU architecture they were
    built for and a kernel at least as new as their glibc supports."""
    if machine != manifest.machine:
        return f"this node is {machine}, the bundles are built for {manifest.machine}"
    kernel = kernel_version(kernel_release)
    if kernel is None:
        return f"cannot read a version from kernel release {kernel_release!r}"
    if kernel < manifest.min_kernel:
        want = ".".join(map(str, manifest.min_kernel))
        return (
            f"kernel {kernel_release} is older than {want}, the oldest the bundled glibc "
            f"{manifest.glibc} runs on"
        )
    return None
