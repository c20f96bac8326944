"""The bundle manifest and the host check (installer/bundleset.py). Pure.

| case           | input                                          | expected                       |
|----------------|------------------------------------------------|--------------------------------|
| round trip     | a manifest with files and a link               | ``loads(dumps(m)) == m``       |
| malformed      | not JSON, wrong format, bad version, bad sha,  | ManifestError naming the field |
|                | setuid mode, ``..`` path, link out, plugin     |                                |
|                | without launcher                               |                                |
| kernel release | distro release strings                         | (X, Y, Z) or None              |
| host check     | right host; other machine; kernel older than   | None / reason names both sides |
|                | min; unreadable release                        |                                |
"""

from __future__ import annotations

import json

import pytest

from installer import bundleset
from installer.bundleset import Entry, Manifest, ManifestError

SHA = "a" * 64


def manifest(**overrides: object) -> Manifest:
    fields: dict[str, object] = {
        "version": "0.1.0-abc",
        "machine": "x86_64",
        "min_kernel": (3, 2, 0),
        "glibc": "2.36",
        "plugins": ("spiderpool",),
        "entries": (
            Entry("spiderpool/spiderpool", "file", SHA, 0o755),
            Entry("spiderpool/spiderpool.bin", "file", SHA, 0o755),
            Entry("spiderpool/_internal/libz.so", "link", target="libz.so.1"),
        ),
    }
    fields.update(overrides)
    return Manifest(**fields)  # type: ignore[arg-type]


def raw(**overrides: object) -> str:
    body = json.loads(manifest().dumps())
    body.update(overrides)
    return json.dumps(body)


def test_a_manifest_survives_a_round_trip_through_json() -> None:
    m = manifest()
    assert bundleset.loads(m.dumps()) == m


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("{not json", "not JSON"),
        (raw(format=2), "format must be 1"),
        (raw(version="../etc"), "version '../etc'"),
        (raw(version=""), "version must be"),
        (raw(min_kernel="three"), "min_kernel 'three'"),
        (
            raw(entries=[{"path": "spiderpool/x", "sha256": "zz", "mode": "0644"}]),
            "is not 64 hex digits",
        ),
        (raw(entries=[{"path": "spiderpool/x", "sha256": SHA, "mode": "4755"}]), "setuid"),
        (raw(entries=[{"path": "spiderpool/x", "sha256": SHA, "mode": "rw"}]), "is not octal"),
        (
            raw(entries=[{"path": "../x", "sha256": SHA, "mode": "0644"}]),
            "not a plain relative path",
        ),
        (
            raw(entries=[{"path": "/etc/x", "sha256": SHA, "mode": "0644"}]),
            "not a plain relative path",
        ),
        (raw(entries=[{"path": "spiderpool/l", "link": "../../etc/shadow"}]), "leaves the bundle"),
        (
            raw(entries=[{"path": "spiderpool/spiderpool", "sha256": SHA, "mode": "0755"}]),
            "spiderpool.bin is not in",
        ),
        (raw(plugins=["a/b"]), "plugin name 'a/b'"),
    ],
)
def test_a_malformed_manifest_is_refused_naming_what_is_wrong(text: str, names: str) -> None:
    with pytest.raises(ManifestError, match=names.replace(".", r"\.").replace("(", r"\(")):
        bundleset.loads(text)


@pytest.mark.parametrize(
    ("release", "version"),
    [
        ("4.18.0-553.el8_10.x86_64", (4, 18, 0)),  # RHEL 8
        ("5.14.0-427.13.1.el9_4.x86_64", (5, 14, 0)),  # RHEL 9
        ("5.4.0-200-generic", (5, 4, 0)),  # Ubuntu 20.04
        ("6.18.44-fc-v857", (6, 18, 44)),  # this machine
        ("3.10", (3, 10, 0)),
        ("unknown", None),
    ],
)
def test_a_kernel_release_yields_its_leading_version(
    release: str, version: tuple[int, int, int] | None
) -> None:
    assert bundleset.kernel_version(release) == version


def test_a_host_with_the_bundles_machine_and_a_new_enough_kernel_is_served() -> None:
    assert (
        bundleset.host_refusal(
            manifest(), machine="x86_64", kernel_release="4.18.0-553.el8_10.x86_64"
        )
        is None
    )


@pytest.mark.parametrize(
    ("machine", "release", "reason"),
    [
        ("aarch64", "5.14.0", "this node is aarch64, the bundles are built for x86_64"),
        (
            "x86_64",
            "3.1.10-old",
            "kernel 3.1.10-old is older than 3.2.0, the oldest the bundled glibc 2.36 runs on",
        ),
        ("x86_64", "weird", "cannot read a version from kernel release 'weird'"),
    ],
)
def test_a_host_the_bundles_cannot_run_on_is_refused_with_the_reason(
    machine: str, release: str, reason: str
) -> None:
    assert bundleset.host_refusal(manifest(), machine=machine, kernel_release=release) == reason
