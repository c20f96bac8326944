"""The image tools/build_image.sh builds holds what installer/Containerfile puts in one.

Neither a registry (for ``debian:bookworm-slim``) nor a container engine is available
here, so the Containerfile is read, not built, and each of its promises is checked in
the image tools/build_image.sh made (``$SPIDERNET_IMAGE``, the one the local cluster runs):

- final stage ``FROM`` Debian bookworm, ``apt-get install python3``: /etc/os-release is
  bookworm; dpkg lists python3 installed; no apt lists left;
- ``build_bundles.sh /opt/spidernet/bundles``, then ``rm -rf bin .complete``: the suite's
  bundles' MANIFEST.json, every file it lists, no bin/ or .complete;
- ``cp -r spidernet installer gc /opt/spidernet/`` (bytecode left out by
  .containerignore): exactly the repository's files of those directories, byte for byte;
- ``python3 -m venv --without-pip``, ``pip install -c tools/requirements.lock
  kubernetes``: pyvenv.cfg names the image's /usr/bin, no pip; kubernetes and every other
  distribution in it at the lock's version;
- ``ENV``, ``WORKDIR``, ``CMD``: the image config's Env, WorkingDir, Cmd.
"""

from __future__ import annotations

import json
import os
import re
import tarfile
from pathlib import Path
from typing import IO

import pytest

from tools.testbed import paths

pytestmark = pytest.mark.cluster

CONTAINERFILE = (paths.REPO / "installer" / "Containerfile").read_text()
APP = "opt/spidernet"


class Image:
    """The docker-archive's config and the merged contents of its layers (small files read)."""

    def __init__(self, archive: Path) -> None:
        self.files: dict[str, tarfile.TarInfo] = {}
        self.data: dict[str, bytes] = {}
        with tarfile.open(archive) as outer:
            manifest = json.load(_member(outer, "manifest.json"))[0]
            self.config = json.load(_member(outer, manifest["Config"]))
            for layer in manifest["Layers"]:
                with tarfile.open(fileobj=_member(outer, layer)) as inner:
                    self._read_layer(inner)

    def _read_layer(self, layer: tarfile.TarFile) -> None:
        for info in layer:
            self.files[info.name] = info
            if info.isfile() and _wanted(info.name):
                self.data[info.name] = _member(layer, info.name).read()

    def under(self, prefix: str) -> set[str]:
        return {
            n[len(prefix) + 1 :]
            for n, i in self.files.items()
            if n.startswith(prefix + "/") and i.isfile()
        }


def _member(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    f = tar.extractfile(name)
    assert f is not None, name
    return f


def _wanted(name: str) -> bool:
    """Files the checks read: small text files, and our sources."""
    return (
        name in ("etc/os-release", "usr/lib/os-release", "var/lib/dpkg/status")
        or name.endswith(("MANIFEST.json", "pyvenv.cfg", "METADATA"))
        or re.match(rf"{APP}/(spidernet|installer|gc)/", name) is not None
    )


@pytest.fixture(scope="module")
def image() -> Image:
    archive = os.environ.get("SPIDERNET_IMAGE", "")
    if not archive or not Path(archive).exists():
        pytest.fail(f"SPIDERNET_IMAGE={archive!r} is no image: run through tools/test.sh --cluster")
    return Image(Path(archive))


def repo_files(directory: str) -> set[str]:
    root = paths.REPO / directory
    return {
        str(p.relative_to(paths.REPO))
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def final_stage_packages() -> list[str]:
    """The packages the Containerfile's final stage installs with apt-get."""
    final = re.sub(r"\\\n", " ", CONTAINERFILE.split("FROM ${DEBIAN}\n")[-1])
    words = re.search(r"apt-get install ([^&]*)", final).group(1).split()
    return [w for w in words if not w.startswith("-")]


def test_the_base_is_debian_bookworm_with_the_final_stages_packages_and_no_apt_lists(
    image: Image,
):
    os_release = image.data.get("etc/os-release") or image.data["usr/lib/os-release"]
    assert b"VERSION_CODENAME=bookworm" in os_release
    status = image.data["var/lib/dpkg/status"].decode()
    assert final_stage_packages() == ["python3", "openssl"]
    for package in final_stage_packages():
        assert re.search(rf"^Package: {package}\nStatus: install ok installed$", status, re.M)
    assert not [
        n for n in image.files if n.startswith("var/lib/apt/lists/") and image.files[n].isfile()
    ]


def test_the_bundles_are_the_suites_without_bin_or_the_completion_mark(image: Image):
    ours = Path(os.environ.get("SPIDERNET_BUNDLE_BIN", paths.BUNDLE_BIN)).parent
    manifest = json.loads(image.data[f"{APP}/bundles/MANIFEST.json"])
    assert manifest == json.loads((ours / "MANIFEST.json").read_text())
    files = image.under(f"{APP}/bundles")
    assert not {f for f in files if f.startswith("bin/") or f == ".complete"}
    listed = {entry["path"] for entry in manifest["entries"]}
    assert listed and listed <= files


@pytest.mark.parametrize("directory", ["spidernet", "installer", "gc"])
def test_the_sources_are_the_repositorys_without_bytecode(image: Image, directory: str):
    assert image.under(f"{APP}/{directory}") == {
        f[len(directory) + 1 :] for f in repo_files(directory)
    }
    for name in repo_files(directory):
        assert image.data[f"{APP}/{name}"] == (paths.REPO / name).read_bytes(), name


def test_the_venv_is_the_images_python_with_the_locked_kubernetes_client(image: Image):
    cfg = image.data[f"{APP}/venv/pyvenv.cfg"].decode()
    assert "home = /usr/bin" in cfg
    assert "--without-pip" in CONTAINERFILE and "--without-pip" in cfg
    installed = {}
    for name, data in image.data.items():
        if name.startswith(f"{APP}/venv/") and name.endswith(".dist-info/METADATA"):
            meta = dict(line.split(": ", 1) for line in data.decode().splitlines() if ": " in line)
            installed[meta["Name"].lower().replace("_", "-")] = meta["Version"]
    assert "pip" not in installed
    locked = dict(
        line.split("==", 1)
        for line in (paths.REPO / "tools" / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    locked = {k.lower().replace("_", "-"): v.split()[0] for k, v in locked.items()}
    assert installed["kubernetes"] == locked["kubernetes"]
    assert {k: locked.get(k) for k in installed} == installed


def test_the_runtime_settings_are_the_containerfiles(image: Image):
    final = CONTAINERFILE.split("FROM ${DEBIAN}\n")[-1]
    config = image.config["config"]
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", final, re.M).group(1))
    assert config["Cmd"] == cmd
    assert config["WorkingDir"] == re.search(r"^WORKDIR (\S+)$", final, re.M).group(1)
    env_line = re.search(r"^ENV (.+)$", final, re.M).group(1)
    for pair in env_line.split():
        assert pair in config["Env"], pair
