"""Small bundle sets shaped exactly like the real ones, for the installer tests. Does I/O.

Not a test module. A real bundle set is 70 MB and a plugin exec ~50 ms; these are a few
hundred KB and ~2 ms, so a test can install dozens of versions and exec thousands of
times. Each plugin is laid out as tools/build_bundles.sh lays it out:

    <plugin>/<plugin>                   the real launcher (tools/bundle/launcher.c)
    <plugin>/<plugin>.bin               a checker, run under the bundled loader
    <plugin>/_internal/ld-linux-*.so.2  the host's loader and libc, carried as the real ones
    <plugin>/_internal/{VERSION, payload, payload.sum}

The checker finds ``_internal/`` from /proc/self/exe (the loader, as for the real
bootloader), hashes the payload and prints a VERSION-style answer naming its bundle
version only if the payload is complete and of its own version: a run from a half
copied or mixed directory exits 3 instead.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from installer import bundleset
from tools.testbed import paths

CHECKER_C = r"""
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static int slurp(const char *dir, const char *name, char *buf, size_t cap) {
    char p[PATH_MAX]; snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb"); if (!f) return -1;
    size_t n = fread(buf, 1, cap - 1, f); buf[n] = 0; fclose(f); return (int)n;
}
int main(void) {
    char dir[PATH_MAX], p[PATH_MAX], version[256], expect[64], buf[65536];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n < 0) return 4;
    dir[n] = 0; *strrchr(dir, '/') = 0;
    snprintf(p, sizeof p, "%s/payload", dir);
    FILE *f = fopen(p, "rb"); if (!f) { perror(p); return 3; }
    unsigned long long h = 1469598103934665603ULL; size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < got; i++) { h ^= (unsigned char)buf[i]; h *= 1099511628211ULL; }
    fclose(f);
    if (slurp(dir, "payload.sum", expect, sizeof expect) < 0
        || slurp(dir, "VERSION", version, sizeof version) < 0) return 3;
    char mine[64]; snprintf(mine, sizeof mine, "%llx", h);
    if (strcmp(mine, expect) != 0) {
        fprintf(stderr, "payload %s != %s\n", mine, expect); return 3;
    }
    printf("{\"cniVersion\": \"1.0.0\", \"supportedVersions\": [\"1.0.0\"], "
           "\"bundle\": \"%s\"}\n", version);
    return 0;
}
"""
LIBS = ("ld-linux-x86-64.so.2", "libc.so.6")


def fnv(data: bytes) -> str:
    h = 1469598103934665603
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{h:x}"


def compile_tools(out: Path) -> tuple[Path, Path]:
    """(launcher, checker) binaries, built once per session into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    launcher, checker = out / "launcher", out / "checker"
    if not launcher.exists():
        subprocess.run(
            [
                "gcc",
                "-static",
                "-Os",
                "-s",
                "-o",
                str(launcher),
                str(paths.REPO / "tools/bundle/launcher.c"),
            ],
            check=True,
        )
    if not checker.exists():
        (out / "checker.c").write_text(CHECKER_C)
        subprocess.run(["gcc", "-O2", "-o", str(checker), str(out / "checker.c")], check=True)
    return launcher, checker


def make(
    root: Path,
    version: str,
    tools: tuple[Path, Path],
    *,
    payload_kb: int = 64,
    plugins: tuple[str, ...] = bundleset.PLUGINS,
    machine: str = "",
    min_kernel: tuple[int, int, int] = (3, 2, 0),
    checker: Path | None = None,
) -> Path:
    """A bundle set for ``version`` under ``root/version``; returns its directory."""
    launcher, default_checker = tools
    out = root / version
    payload = hashlib.shake_256(version.encode()).digest(payload_kb * 1024)
    for plugin in plugins:
        internal = out / plugin / "_internal"
        internal.mkdir(parents=True)
        shutil.copy(launcher, out / plugin / plugin)
        shutil.copy(checker or default_checker, out / plugin / f"{plugin}.bin")
        for lib in LIBS:
            shutil.copy(Path("/lib/x86_64-linux-gnu") / lib, internal / lib)
        (internal / "VERSION").write_text(version)
        (internal / "payload").write_bytes(payload)
        (internal / "payload.sum").write_text(fnv(payload))
    write_manifest(
        out, version, plugins, machine=machine or os.uname().machine, min_kernel=min_kernel
    )
    return out


def write_manifest(
    out: Path,
    version: str,
    plugins: tuple[str, ...],
    *,
    machine: str,
    min_kernel: tuple[int, int, int],
) -> None:
    entries = []
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.name != bundleset.MANIFEST):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        entries.append(
            bundleset.Entry(
                path.relative_to(out).as_posix(), "file", digest, path.stat().st_mode & 0o777
            )
        )
    manifest = bundleset.Manifest(
        version=version,
        machine=machine,
        min_kernel=min_kernel,
        glibc="2.36",
        plugins=plugins,
        entries=tuple(entries),
    )
    (out / bundleset.MANIFEST).write_text(manifest.dumps())
