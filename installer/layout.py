"""Where the installer puts the bundles in the host's CNI bin dir, and what it may remove. No I/O.

    <bin>/<plugin>                       -> .spidernet/current/<plugin>/<plugin>  (made once)
    <bin>/.spidernet/current             -> <version dir>   swapped by rename: all plugins at once
    <bin>/.spidernet/previous            -> <version dir>   the one ``current`` replaced
    <bin>/.spidernet/<version>[~<n>]/    a verified copy of a bundle set, MANIFEST.json inside
    <bin>/.spidernet/.staging-<random>/  a copy being made; renamed to its version dir once verified
    <bin>/.spidernet/.tmp-<random>       a symlink about to be renamed over ``current`` or a plugin
    <bin>/.spidernet/.lock               flock: one installer at a time on a node

Every link is relative, so the tree works wherever the host directory is mounted (the
installer sees /host/opt/cni/bin, a runtime /opt/cni/bin, Multus thick its own path).
A version directory is never changed once renamed into place; a corrupt one is replaced
by a fresh copy under the next ``~<n>`` name, because a directory that ``current`` points
at cannot be swapped atomically. A retired version (``.retired`` marker, written when
``current`` moves off it) stays until it has been retired for a grace period, so an exec
that resolved it just before a swap finishes on it; ``previous`` stays regardless.
Only names of these shapes are ever removed: the installer owns nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STATE_DIR = ".spidernet"
CURRENT = "current"
PREVIOUS = "previous"
LOCK = ".lock"
RETIRED = ".retired"
STAGING_PREFIX = ".staging-"
TMP_PREFIX = ".tmp-"
_VERSION_DIR = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,127}(~[0-9]+)?$")


def link_target(plugin: str) -> str:
    """What <bin>/<plugin> points at, relative to <bin>."""
    return f"{STATE_DIR}/{CURRENT}/{plugin}/{plugin}"


def is_version_dir(name: str) -> bool:
    return name not in (CURRENT, PREVIOUS) and bool(_VERSION_DIR.match(name))


def version_dir_name(version: str, taken: set[str]) -> str:
    """``version`` itself, or the first ``version~<n>`` not taken (a repair copy)."""
    if version not in taken:
        return version
    n = 1
    while f"{version}~{n}" in taken:
        n += 1
    return f"{version}~{n}"


@dataclass(frozen=True)
class Seen:
    """One name in the state dir: a directory or not, and for how long it has been retired."""

    name: str
    is_dir: bool
    retired_for: float | None = None  # seconds; None when it has no marker


@dataclass(frozen=True)
class Cleanup:
    remove: tuple[str, ...]
    mark_retired: tuple[str, ...]  # version dirs found without a marker (a crash mid-swap)


def plan_cleanup(
    seen: list[Seen], *, current: str | None, previous: str | None, grace: float
) -> Cleanup:
    """Run under the lock, so no other installer is staging: leftovers are ours to remove."""
    keep = {current, previous}
    remove: list[str] = []
    mark: list[str] = []
    for item in seen:
        if item.name.startswith((STAGING_PREFIX, TMP_PREFIX)):
            remove.append(item.name)
        elif item.is_dir and is_version_dir(item.name) and item.name not in keep:
            if item.retired_for is None:
                mark.append(item.name)
            elif item.retired_for >= grace:
                remove.append(item.name)
    return Cleanup(tuple(sorted(remove)), tuple(sorted(mark)))
