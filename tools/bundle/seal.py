"""Make PyInstaller's onedir bundles independent of the host's glibc, and write the manifest.
Does I/O: rewrites the bundle directories in place. Called by tools/build_bundles.sh.

For each plugin bundle ``<out>/<plugin>/``:
- PyInstaller's bootloader ``<plugin>`` becomes ``<plugin>.bin`` and the static launcher
  (tools/bundle/launcher.c) takes its name; the launcher runs it under the bundled loader;
- the dynamic loader, glibc and every other library that the bundle's ELF files need and
  PyInstaller left to the host (it leaves out glibc on purpose) are copied into
  ``_internal/``, followed transitively, plus what glibc loads by name at run time
  (NSS modules for files and DNS, libgcc_s for thread cancellation);
then ``<out>/MANIFEST.json`` (installer/bundleset.py) lists every file with its SHA-256.

    python -m tools.bundle.seal --out DIR --launcher FILE --version V PLUGIN...
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from installer import bundleset

LOADER = "ld-linux-x86-64.so.2"
LIB_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64")
# Loaded by name, never NEEDED: name resolution through /etc/nsswitch.conf (files, dns)
# and the unwinder pthread_cancel/pthread_exit dlopen.
LOADED_BY_NAME = (LOADER, "libnss_files.so.2", "libnss_dns.so.2", "libresolv.so.2", "libgcc_s.so.1")


def is_elf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def needed(path: Path) -> list[str]:
    out = subprocess.run(
        ["readelf", "-dW", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def host_library(name: str) -> Path:
    for d in LIB_DIRS:
        candidate = Path(d) / name
        if candidate.exists():
            return candidate.resolve()
    raise SystemExit(f"seal: {name} is needed but not found in {', '.join(LIB_DIRS)}")


def carry_libraries(bundle: Path) -> list[str]:
    """Copy into _internal/ what the bundle's ELF files would take from the host."""
    internal = bundle / "_internal"
    have = {p.name for p in internal.iterdir()}
    queue = [
        p for p in sorted(bundle.rglob("*")) if p.is_file() and not p.is_symlink() and is_elf(p)
    ]
    added: list[str] = []

    def carry(name: str) -> None:
        if name not in have:
            shutil.copy(host_library(name), internal / name)
            have.add(name)
            added.append(name)
            queue.append(internal / name)

    for name in LOADED_BY_NAME:
        carry(name)
    while queue:
        for name in needed(queue.pop()):
            carry(name)
    return sorted(added)


def install_launcher(bundle: Path, launcher: Path) -> None:
    name = bundle.name
    os.rename(bundle / name, bundle / f"{name}.bin")
    shutil.copy(launcher, bundle / name)
    os.chmod(bundle / name, 0o755)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def entries(out: Path, plugins: list[str]) -> list[bundleset.Entry]:
    found = []
    for plugin in plugins:
        for path in sorted((out / plugin).rglob("*")):
            rel = path.relative_to(out).as_posix()
            if path.is_symlink():
                found.append(bundleset.Entry(rel, "link", target=os.readlink(path)))
            elif path.is_file():
                found.append(
                    bundleset.Entry(
                        rel, "file", sha256=sha256(path), mode=path.stat().st_mode & 0o777
                    )
                )
    return found


def min_kernel(libc: Path) -> tuple[int, int, int]:
    notes = subprocess.run(
        ["readelf", "-nW", str(libc)], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"OS: Linux, ABI: (\d+)\.(\d+)\.(\d+)", notes)
    if not match:
        raise SystemExit(f"seal: no ABI note in {libc}")
    return int(match[1]), int(match[2]), int(match[3])


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--launcher", type=Path, required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("plugins", nargs="+")
    args = ap.parse_args(argv)
    for plugin in args.plugins:
        bundle = args.out / plugin
        install_launcher(bundle, args.launcher)
        print(f"seal: {plugin}: carries {' '.join(carry_libraries(bundle))}", file=sys.stderr)
    libc = args.out / args.plugins[0] / "_internal" / "libc.so.6"
    manifest = bundleset.Manifest(
        version=args.version,
        machine=os.uname().machine,
        min_kernel=min_kernel(libc),
        glibc=os.confstr("CS_GNU_LIBC_VERSION").split()[-1],
        plugins=tuple(args.plugins),
        entries=tuple(entries(args.out, args.plugins)),
    )
    (args.out / bundleset.MANIFEST).write_text(manifest.dumps())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
