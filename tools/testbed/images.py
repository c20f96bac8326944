"""Container images assembled locally, no registry: docker-archive tars. Does I/O.

A docker-archive (what ``docker save`` writes, what ``ctr image import``, ``podman
load`` and ``skopeo copy docker-archive:`` read) is a tar holding one uncompressed
layer tar per layer, an image config JSON naming the layers' digests, and a
``manifest.json`` with the image's name. Two images are made here:

- ``busybox``: Debian's static ``/bin/busybox`` and its applet links, nothing else.
  It is the local cluster's pause image (its command sleeps) and the test workloads'
  image (``sh``, ``ping``, ``ip``, ``nc``).
- the spidernet image, from a prepared root directory (tools/build_image.sh makes it
  to the Containerfile's recipe) and the Containerfile's runtime settings.

Layers are written in sorted order with owner root and numeric ids, so that the same
tree gives the same digest; ``/dev``, ``/proc`` and ``/sys`` go in empty (the runtime
mounts them).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
EMPTY_DIRS = ("dev", "proc", "sys")
SKIPPED = (".complete",)  # the cache's marker of a finished tree
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Settings:
    """The runtime part of an image config (OCI ``config`` object)."""

    cmd: tuple[str, ...]
    env: tuple[str, ...] = ("PATH=/usr/sbin:/usr/bin:/sbin:/bin",)
    workdir: str = "/"
    entrypoint: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)

    def as_config(self) -> dict[str, object]:
        out: dict[str, object] = {
            "Env": list(self.env),
            "Cmd": list(self.cmd),
            "WorkingDir": self.workdir,
        }
        if self.entrypoint:
            out["Entrypoint"] = list(self.entrypoint)
        if self.labels:
            out["Labels"] = dict(self.labels)
        return out


def _walk(root: Path, top: Path) -> Iterator[Path]:
    """Every path under ``root`` (itself excluded), parents first, names sorted."""
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        rel = entry.relative_to(top).as_posix()
        if rel in SKIPPED:
            continue
        yield entry
        if entry.is_dir() and not entry.is_symlink() and rel not in EMPTY_DIRS:
            yield from _walk(entry, top)


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def write_layer(root: Path, out: Path) -> str:
    """A layer tar of the tree at ``root``; returns its ``sha256:`` digest."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in _walk(root, root):
            name = path.relative_to(root).as_posix()
            tar.add(path, arcname=name, recursive=False, filter=_normalise)
    return "sha256:" + _sha256(out)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_archive(*, name: str, layers: list[Path], settings: Settings, out: Path) -> str:
    """The docker-archive ``out`` for ``name`` (``repo:tag``) from layer tars, bottom first.
    Returns the image ID (the config's digest)."""
    diff_ids = ["sha256:" + _sha256(layer) for layer in layers]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": settings.as_config(),
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": "spidernet tools/testbed/images.py"} for _ in layers],
        },
        sort_keys=True,
    ).encode()
    config_id = hashlib.sha256(config).hexdigest()
    layer_names = [f"{d.removeprefix('sha256:')}/layer.tar" for d in diff_ids]
    manifest = [{"Config": f"{config_id}.json", "RepoTags": [name], "Layers": layer_names}]
    tmp = out.with_name(out.name + ".tmp")
    with tarfile.open(tmp, "w") as tar:
        _add_bytes(tar, f"{config_id}.json", config)
        for layer, arcname in zip(layers, layer_names):
            tar.add(layer, arcname=arcname, filter=_normalise)
        _add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
    os.replace(tmp, out)
    return "sha256:" + config_id


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = _normalise(tarfile.TarInfo(name))
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def busybox_root(root: Path) -> None:
    """A root with /bin/busybox, a link per applet, /tmp and the empty mount points."""
    (root / "bin").mkdir(parents=True, exist_ok=True)
    target = root / "bin" / "busybox"
    target.write_bytes(BUSYBOX.read_bytes())
    target.chmod(0o755)
    applets = subprocess.run(
        [str(BUSYBOX), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        link = root / "bin" / applet
        if applet != "busybox" and not link.exists():
            link.symlink_to("busybox")
    for name in (*EMPTY_DIRS, "tmp", "etc"):
        (root / name).mkdir(exist_ok=True)
    (root / "tmp").chmod(0o1777)


def busybox_image(workdir: Path, name: str) -> Path:
    """The busybox docker-archive (made once per ``workdir``); returns its path."""
    out = workdir / "busybox.tar"
    if out.exists():
        return out
    root = workdir / "busybox-root"
    busybox_root(root)
    write_layer(root, workdir / "busybox-layer.tar")
    write_archive(
        name=name,
        layers=[workdir / "busybox-layer.tar"],
        settings=Settings(cmd=("sleep", "2147483647"), env=("PATH=/bin",)),
        out=out,
    )
    return out


# ---------------------------------------------------------------- the spidernet image


def final_stage(containerfile: str) -> list[str]:
    """The instructions of the last stage, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", containerfile)
    lines = [
        ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    starts = [i for i, ln in enumerate(lines) if ln.upper().startswith("FROM ")]
    return lines[starts[-1] :] if starts else lines


def containerfile_settings(containerfile: str) -> Settings:
    """ENV, WORKDIR and CMD of the Containerfile's final stage (the image's runtime settings)."""
    env: dict[str, str] = {}
    workdir, cmd = "/", ()
    for line in final_stage(containerfile):
        word, _, rest = line.partition(" ")
        if word.upper() == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(rest))
        elif word.upper() == "WORKDIR":
            workdir = rest.strip()
        elif word.upper() == "CMD":
            cmd = tuple(json.loads(rest))
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    return Settings(cmd=cmd, env=tuple(f"{k}={v}" for k, v in env.items()), workdir=workdir)


def cached_layer(root: Path, cache: Path) -> Path:
    """The layer tar of a cached root tree, made once (named by the tree's path)."""
    out = cache / f"layer-{hashlib.sha256(str(root).encode()).hexdigest()[:16]}.tar"
    if not out.exists():
        tmp = out.with_name(out.name + ".tmp")
        write_layer(root, tmp)
        os.replace(tmp, out)
    return out


def spidernet_image(*, root: Path, app: Path, containerfile: Path, name: str, out: Path) -> str:
    """The image from the Debian root (layer 1) and the application tree (layer 2)."""
    base = cached_layer(root, out.parent)
    layer = out.with_name(out.name + ".app-layer")
    write_layer(app, layer)
    try:
        return write_archive(
            name=name,
            layers=[base, layer],
            settings=containerfile_settings(containerfile.read_text()),
            out=out,
        )
    finally:
        layer.unlink()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.testbed.images")
    sub = ap.add_subparsers(dest="what", required=True)
    sp = sub.add_parser("spidernet", help="the spidernet image (tools/build_image.sh)")
    sp.add_argument("--root", type=Path, required=True, help="the Debian root (layer 1)")
    sp.add_argument("--app", type=Path, required=True, help="the tree of layer 2")
    sp.add_argument("--containerfile", type=Path, required=True)
    sp.add_argument("--name", required=True)
    sp.add_argument("--out", type=Path, required=True)
    bb = sub.add_parser("busybox", help="the busybox image (pause and workloads)")
    bb.add_argument("--name", required=True)
    bb.add_argument("--workdir", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.what == "spidernet":
        image_id = spidernet_image(
            root=args.root,
            app=args.app,
            containerfile=args.containerfile,
            name=args.name,
            out=args.out,
        )
    else:
        args.workdir.mkdir(parents=True, exist_ok=True)
        image_id = str(busybox_image(args.workdir, args.name))
    print(image_id)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
