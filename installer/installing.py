"""Put the bundle set into the host's CNI bin dir, keep it intact, take it away. Does I/O
(through ``hostfs``; the names and what may be removed are ``layout``'s).

``install`` (at start, and whenever ``check`` finds the install broken) reads top to bottom as:
trust the source (manifest, checksums, this host can run it) -> under the node's lock, find or make
the verified version directory -> swap ``current`` -> make sure each plugin name points through
``current`` -> remove what has been retired long enough. Every step before the swap works on names
no runtime uses, so any failure (checksum, full disk, read-only mount, a plugin that does not start
on this kernel) leaves the installed version exactly as it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from installer import bundleset, hostfs, layout
from installer.settings import Settings

log = logging.getLogger("installer")


class InstallError(Exception):
    """The bundles were not installed; what was installed before is untouched."""


@dataclass(frozen=True)
class Installed:
    version: str
    directory: str  # the version dir's name under .spidernet
    plugins: tuple[str, ...]
    changed: bool


def load_source(settings: Settings) -> tuple[bundleset.Manifest, str]:
    """The image's bundle set, checked: readable, well-formed, runnable here, intact."""
    root = Path(settings.bundles)
    try:
        text = hostfs.read_required(root / bundleset.MANIFEST, "the bundle manifest").decode()
        manifest = bundleset.loads(text)
    except (OSError, UnicodeDecodeError, bundleset.ManifestError) as e:
        raise InstallError(f"bundle set {root}: {e}") from e
    machine, release = hostfs.uname()
    refusal = bundleset.host_refusal(manifest, machine=machine, kernel_release=release)
    if refusal:
        raise InstallError(f"refusing to install on this node: {refusal}")
    problems = hostfs.verify(root, manifest.entries)
    if problems:
        raise InstallError(
            f"bundle set {root} is corrupt ({len(problems)} problems), first: {problems[0]}"
        )
    return manifest, text


def install(settings: Settings) -> Installed:
    manifest, text = load_source(settings)
    bin_dir = Path(settings.cni_bin_dir)
    if settings.require_runtime_plugins:
        _runtime_looks_there(bin_dir, manifest.plugins)
    state = bin_dir / layout.STATE_DIR
    try:
        hostfs.ensure_dir(state)
        with hostfs.locked(state / layout.LOCK):
            directory = _version_dir(state, manifest, text, settings)
            changed = _swap(state, directory, manifest.version)
            _link(bin_dir, manifest.plugins)
            _clean(state, settings.retired_grace_seconds)
    except OSError as e:
        raise InstallError(f"installing into {bin_dir}: {e}") from e
    return Installed(manifest.version, directory, manifest.plugins, changed)


def check(settings: Settings, installed: Installed) -> Literal["ours", "foreign", "broken"]:
    """Cheap check for the poll loop. "foreign": ``current`` serves another complete
    version, swapped in by a newer installer (a surge rollout runs two on a node for a
    while): leave it, or the two would swap back and forth. "broken": something a
    runtime would exec is missing; install again."""
    bin_dir = Path(settings.cni_bin_dir)
    state = bin_dir / layout.STATE_DIR
    if not all(
        hostfs.readlink_or_none(bin_dir / p) == layout.link_target(p) for p in installed.plugins
    ):
        return "broken"
    current = hostfs.readlink_or_none(state / layout.CURRENT)
    if current is None or not (state / current / bundleset.MANIFEST).is_file():
        return "broken"
    return "ours" if current == installed.directory else "foreign"


# ------------------------------------------------------------ the steps of install


def _runtime_looks_there(bin_dir: Path, ours: tuple[str, ...]) -> None:
    """Refuse a bin dir that holds no CNI plugin but ours: the node's runtime execs its
    plugins from another directory (docs/install.md, "Other distributions")."""
    try:
        others = [n for n in hostfs.executables(bin_dir) if n not in ours]
    except OSError as e:
        raise InstallError(f"cannot list {bin_dir}: {e}") from e
    if not others:
        raise InstallError(
            f"refusing to install into {bin_dir} (the DaemonSet's cni-bin hostPath): it holds "
            "no other CNI plugin (no loopback, no multus, no main plugin), so this node's "
            "container runtime does not look for plugins there. k3s looks in "
            "/var/lib/rancher/k3s/data/cni, OpenShift in /var/lib/cni/bin: apply "
            "installer/overlays/<distribution>, or point cni-bin at the runtime's "
            'bin dir (docs/install.md, "Other distributions"). Retried every pass; '
            "SPIDERNET_REQUIRE_RUNTIME_PLUGINS=false skips this check"
        )


def _version_dir(state: Path, manifest: bundleset.Manifest, text: str, settings: Settings) -> str:
    """The name of a verified copy of this version: the current one, else a fresh one."""
    current = hostfs.readlink_or_none(state / layout.CURRENT)
    candidates = [current] if current else []
    candidates += sorted(
        s.name for s in hostfs.list_state(state) if s.is_dir and layout.is_version_dir(s.name)
    )
    for name in dict.fromkeys(candidates):
        if _holds(state / name, manifest, text):
            problems = hostfs.verify(state / name, manifest.entries)
            if not problems:
                return name
            log.warning("installed copy %s is damaged (%s); making a fresh copy", name, problems[0])
    taken = {s.name for s in hostfs.list_state(state)}
    return _stage(state, manifest, text, layout.version_dir_name(manifest.version, taken), settings)


def _holds(directory: Path, manifest: bundleset.Manifest, text: str) -> bool:
    return hostfs.read_or_none(directory / bundleset.MANIFEST) == text.encode()


def _stage(
    state: Path, manifest: bundleset.Manifest, text: str, name: str, settings: Settings
) -> str:
    staging = state / f"{layout.STAGING_PREFIX}{name}"
    hostfs.remove(staging)
    try:
        log.info("copying bundles %s into %s", manifest.version, staging)
        hostfs.copy_entries(Path(settings.bundles), staging, manifest.entries)
        problems = hostfs.verify(staging, manifest.entries)
        if problems:
            raise InstallError(f"the copy in {staging} does not match the manifest: {problems[0]}")
        if settings.smoke_test:
            _smoke_test(staging, manifest.plugins)
        # Last, so that a directory holding the manifest is a complete copy.
        hostfs.write_atomic(staging / bundleset.MANIFEST, text.encode(), 0o644)
        staging.rename(state / name)
        hostfs.fsync_dir(state)
    except BaseException:
        hostfs.remove(staging)
        raise
    log.info("bundles %s verified and in place as %s", manifest.version, name)
    return name


def _smoke_test(staging: Path, plugins: tuple[str, ...]) -> None:
    """Each plugin must answer VERSION here: this node's kernel runs the bundled glibc."""
    for plugin in plugins:
        ran = hostfs.run_plugin_version(staging / plugin / plugin)
        if ran.returncode != 0 or '"supportedVersions"' not in ran.stdout:
            detail = (ran.stderr.strip() or ran.stdout.strip())[-300:]
            raise InstallError(
                f"refusing to install: {plugin} does not start on this node (exit "
                f"{ran.returncode}): {detail}"
            )


def _swap(state: Path, directory: str, version: str) -> bool:
    current = hostfs.readlink_or_none(state / layout.CURRENT)
    if current == directory:
        return False
    hostfs.remove(state / directory / layout.RETIRED)  # it may be coming back after a rollback
    hostfs.symlink_atomic(state / layout.CURRENT, directory)
    if current:
        hostfs.touch(state / current / layout.RETIRED)
        hostfs.symlink_atomic(state / layout.PREVIOUS, current)
    log.info("now serving %s (%s), previously %s", version, directory, current or "nothing")
    return True


def _link(bin_dir: Path, plugins: tuple[str, ...]) -> None:
    for plugin in plugins:
        path, target = bin_dir / plugin, layout.link_target(plugin)
        found = hostfs.readlink_or_none(path)
        if found == target:
            continue
        if found is not None or path.exists():
            log.warning(
                "replacing %s (%s), which this installer did not put there",
                path,
                f"a link to {found}" if found else "a file",
            )
        hostfs.symlink_atomic(path, target)
        log.info("linked %s -> %s", path, target)


def _clean(state: Path, grace: float) -> None:
    plan = layout.plan_cleanup(
        hostfs.list_state(state),
        current=hostfs.readlink_or_none(state / layout.CURRENT),
        previous=hostfs.readlink_or_none(state / layout.PREVIOUS),
        grace=grace,
    )
    for name in plan.mark_retired:
        hostfs.touch(state / name / layout.RETIRED)
    for name in plan.remove:
        hostfs.remove(state / name)
        log.info("removed %s", state / name)


# ------------------------------------------------------------ uninstall


def uninstall(settings: Settings, installed: Installed | None) -> None:
    """Remove the plugin links and the state dir, unless another installer has swapped
    ``current`` since ours (then it owns the node: leave everything)."""
    bin_dir = Path(settings.cni_bin_dir)
    state = bin_dir / layout.STATE_DIR
    if not state.is_dir():
        return
    with hostfs.locked(state / layout.LOCK):
        current = hostfs.readlink_or_none(state / layout.CURRENT)
        if installed is not None and current not in (None, installed.directory):
            log.info("not uninstalling: %s is now served by another installer", current)
            return
        plugins = installed.plugins if installed else bundleset.PLUGINS
        for plugin in plugins:
            if hostfs.readlink_or_none(bin_dir / plugin) == layout.link_target(plugin):
                hostfs.remove(bin_dir / plugin)
                log.info("removed %s", bin_dir / plugin)
        for child in state.iterdir():
            if child.name != layout.LOCK:
                hostfs.remove(child)
        hostfs.remove(state / layout.LOCK)
        state.rmdir()
    log.info("uninstalled the bundles from %s", bin_dir)
