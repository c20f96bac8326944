"""The installer on real directories, real processes and real mounts (no API server).
Needs root for the read-only and full-disk cases (a private mount namespace each).

Bundle sets are the small look-alikes of tests/integration/fake_bundles.py: the real
launcher, the host's loader and libc, and a checker that refuses to answer from an
incomplete or mixed directory.

| area             | case                                        | expected                       |
|------------------|---------------------------------------------|--------------------------------|
| install          | fresh                                       | links through ``current``,     |
|                  |                                             | verified copy, credentials,    |
|                  |                                             | ready file                     |
| install          | again, same version                         | nothing copied or swapped      |
| upgrade          | v1 -> v2                                    | ``current`` v2, ``previous``   |
|                  |                                             | v1 kept and marked retired     |
| cleanup          | v1 -> v2 -> v3, grace passed                | v1 removed; previous, foreign  |
|                  |                                             | files and a user's own plugin  |
|                  |                                             | kept                           |
| atomicity        | 3000 execs of two plugins while 6 versions  | no failure, every answer a     |
|                  | are swapped in turn                         | complete version, several seen |
| atomicity (slow) | the real bundles: 200 execs while two       | no exec fails                  |
|                  | versions of them swap back and forth        |                                |
| repair           | a file of the installed copy damaged        | a fresh ``~1`` copy swapped in |
| replace          | a plain file named like a plugin            | replaced by our link, with a   |
|                  | (upstream's)                                | warning                        |
| concurrency      | two installers at once                      | both succeed, one copy         |
| surge            | an old installer's next pass after a new    | leaves the new version serving |
|                  | one swapped in its version                  |                                |
| surge            | the install broken (a plugin link removed)  | the next pass repairs it       |
| bad input        | source checksum mismatch / no manifest /    | InstallError saying so,        |
|                  | other machine / kernel too old / plugin     | installed version untouched,   |
|                  | that does not start                         | no staging left                |
| wrong place      | a bin dir with no other CNI plugin (the     | refused naming the dir, the    |
|                  | runtime looks elsewhere: k3s, OpenShift);   | overlays and the switch;       |
|                  | then the runtime's loopback appears         | the next install succeeds      |
| bad input        | target read-only (bind mount) / full disk   | exit 1 naming it, old version  |
|                  | (small tmpfs)                               | still served, no staging left  |
| bad input        | token missing / empty, CA a directory       | CredentialError, host          |
|                  |                                             | credentials untouched          |
| cluster IPAM     | none / the ConfigMap's keys / a wrong type, | the defaults / those values,   |
| config           | unknown key, relative path                  | every key written /            |
|                  |                                             | CredentialError, the node's    |
|                  |                                             | file untouched                 |
| daemon           | token appears after start                   | retries with backoff, then     |
|                  |                                             | ready                          |
| daemon           | SIGTERM, default / with                     | everything stays / links,      |
|                  | SPIDERNET_UNINSTALL_ON_EXIT                 | state and credentials gone,    |
|                  |                                             | foreign files stay             |
| uninstall        | ``--uninstall``                             | as above                       |
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from installer import credentials, hostfs, installing, layout, service
from installer.installing import InstallError
from installer.kubeconfig import CredentialError
from installer.settings import Settings
from spidernet.ipam import cluster
from tests.integration import fake_bundles
from tools.testbed import paths

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="private mount namespaces need root")
PEM = b"-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return fake_bundles.compile_tools(tmp_path_factory.mktemp("tools"))


@dataclasses.dataclass
class Node:
    """A node's directories: the image's bundle sets, the host's bin and conf dirs."""

    root: Path
    tools: tuple[Path, Path]

    @property
    def bin(self) -> Path:
        return self.root / "host" / "opt" / "cni" / "bin"

    @property
    def conf_dir(self) -> Path:
        return self.root / "host" / "etc" / "cni" / "net.d"

    @property
    def conf(self) -> Path:
        return self.conf_dir / "spiderpool.d"

    @property
    def state(self) -> Path:
        return self.bin / layout.STATE_DIR

    def bundles(self, version: str, **kw: object) -> Path:
        existing = self.root / "image" / version
        return (
            existing
            if existing.exists()
            else fake_bundles.make(self.root / "image", version, self.tools, **kw)
        )  # type: ignore[arg-type]

    def settings(self, version: str, **kw: object) -> Settings:
        base = Settings(
            bundles=str(self.bundles(version)),
            cni_bin_dir=str(self.bin),
            cni_conf_dir=str(self.conf_dir),
            token_file=str(self.root / "sa" / "token"),
            ca_file=str(self.root / "sa" / "ca.crt"),
            ipam_config=str(self.root / "ipam" / "cluster-ipam.json"),
            api_server="https://127.0.0.1:6443",
            node_name="node-1",
            identity="installer-a",
            ready_file=str(self.root / "run" / "ready"),
            poll_seconds=0.1,
            backoff_max_seconds=0.4,
            # These bin dirs hold no runtime's plugins; the check has its own tests.
            require_runtime_plugins=False,
            handover_seconds=0,  # no successor comes: exit at once (the handover has its test)
        )
        return dataclasses.replace(base, **kw)  # type: ignore[arg-type]

    def env(self, version: str, **extra: str) -> dict[str, str]:
        s = self.settings(version)
        return {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(paths.REPO),
            "SPIDERNET_BUNDLES": s.bundles,
            "SPIDERNET_CNI_BIN_DIR": s.cni_bin_dir,
            "SPIDERNET_CNI_CONF_DIR": s.cni_conf_dir,
            "SPIDERNET_TOKEN_FILE": s.token_file,
            "SPIDERNET_CA_FILE": s.ca_file,
            "SPIDERNET_IPAM_CONFIG_SOURCE": s.ipam_config,
            "SPIDERNET_API_SERVER": s.api_server,
            "NODE_NAME": s.node_name,
            "POD_UID": s.identity,
            "SPIDERNET_READY_FILE": s.ready_file,
            "SPIDERNET_POLL_SECONDS": "0.1",
            "SPIDERNET_BACKOFF_MAX_SECONDS": "0.4",
            # Any free port on loopback: other runs of the suite share this machine.
            "SPIDERNET_METRICS_ADDRESS": "127.0.0.1:0",
            "SPIDERNET_OUTCOMES": str(self.root / "outcomes.jsonl"),
            "SPIDERNET_REQUIRE_RUNTIME_PLUGINS": "false",
            "SPIDERNET_HANDOVER_SECONDS": "0",
            **extra,
        }

    def serving(self) -> str:
        """The version a runtime exec'ing <bin>/spiderpool gets right now."""
        out = subprocess.run(
            [str(self.bin / "spiderpool")], capture_output=True, text=True, check=True
        ).stdout
        return str(json.loads(out)["bundle"])

    def state_names(self) -> set[str]:
        return {p.name for p in self.state.iterdir()}


@pytest.fixture
def node(tmp_path: Path, tools: tuple[Path, Path]) -> Node:
    n = Node(tmp_path, tools)
    (tmp_path / "sa").mkdir()
    (tmp_path / "sa" / "token").write_text("token-a")
    (tmp_path / "sa" / "ca.crt").write_bytes(PEM)
    return n


def installer(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "installer", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=paths.REPO,
    )


def in_private_mounts(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a bash script in its own mount namespace: its mounts vanish with it."""
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-euc", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=paths.REPO,
    )


# ------------------------------------------------------------------ install, upgrade, cleanup


def test_a_fresh_install_links_each_plugin_through_current_and_writes_the_credentials(
    node: Node,
) -> None:
    s = node.settings("1.0-a")
    proc = installer(node.env("1.0-a"), "--once")
    assert proc.returncode == 0, proc.stderr
    for plugin in ("ifacer", "spiderpool", "coordinator"):
        assert os.readlink(node.bin / plugin) == f".spidernet/current/{plugin}/{plugin}"
    assert os.readlink(node.state / "current") == "1.0-a"
    assert node.serving() == "1.0-a"
    assert sorted(p.name for p in node.conf.iterdir()) == [
        ".owner",
        "ca.crt",
        "cluster-ipam.json",
        "nodename",
        "spiderpool.kubeconfig",
        "token",
    ]
    assert (node.conf / "token").read_text() == "token-a"
    assert (node.conf / "spiderpool.kubeconfig").stat().st_mode & 0o777 == 0o600
    assert Path(s.ready_file).exists()
    for action in ("copying bundles 1.0-a", "now serving 1.0-a", "linked", "wrote", "ready"):
        assert action in proc.stderr


def test_installing_the_same_version_again_copies_and_swaps_nothing(node: Node) -> None:
    s = node.settings("1.0-a")
    installing.install(s)
    inode = (node.state / "1.0-a").stat().st_ino
    again = installing.install(s)
    assert (again.changed, (node.state / "1.0-a").stat().st_ino) == (False, inode)
    assert node.state_names() == {".lock", "current", "1.0-a"}


def test_an_upgrade_swaps_current_and_keeps_the_previous_version_marked_retired(node: Node) -> None:
    installing.install(node.settings("1.0-a"))
    installed = installing.install(node.settings("1.1-b"))
    assert installed.changed and node.serving() == "1.1-b"
    assert (os.readlink(node.state / "current"), os.readlink(node.state / "previous")) == (
        "1.1-b",
        "1.0-a",
    )
    assert (node.state / "1.0-a" / layout.RETIRED).exists()
    assert not (node.state / "1.1-b" / layout.RETIRED).exists()


def test_cleanup_removes_only_old_retired_versions_of_ours(node: Node) -> None:
    (node.bin).mkdir(parents=True)
    (node.bin / "macvlan").write_text("someone else's plugin")
    for version in ("1.0-a", "1.1-b", "1.2-c"):
        installing.install(node.settings(version, retired_grace_seconds=0))
    assert node.state_names() == {".lock", "current", "previous", "1.1-b", "1.2-c"}
    assert (node.bin / "macvlan").read_text() == "someone else's plugin"


def test_a_swap_under_thousands_of_execs_never_fails_and_never_serves_a_partial_version(
    node: Node,
) -> None:
    versions = [f"2.{i}-v" for i in range(6)]
    for v in versions:
        node.bundles(v)
    installing.install(node.settings(versions[0]))
    execs = 1500
    logs = [node.root / f"loop-{plugin}.log" for plugin in ("spiderpool", "coordinator")]
    loops = [exec_loop(node.bin / log.stem.removeprefix("loop-"), execs, log) for log in logs]
    swaps = 0
    while any(loop.poll() is None for loop in loops):
        installing.install(
            node.settings(versions[(swaps + 1) % len(versions)], retired_grace_seconds=1.0)
        )
        swaps += 1
    lines = [line for log in logs for line in log.read_text().splitlines()]
    assert [line for line in lines if not line.startswith("{")] == []
    served = [json.loads(line)["bundle"] for line in lines]
    assert len(served) == 2 * execs
    assert set(served) <= set(versions)
    assert swaps >= 6 and len(set(served)) >= 3, (swaps, set(served))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_real_bundles_swap_under_execs_without_a_failure(node: Node, bundle_bin: Path) -> None:
    """Two versions of the real bundle set (the same files under two version names)."""
    real = bundle_bin.parent
    text = (real / "MANIFEST.json").read_text()
    versions = []
    for suffix in ("x", "y"):
        copy = node.root / "image" / suffix
        shutil.copytree(real, copy, symlinks=True)
        version = json.loads(text)["version"] + suffix
        (copy / "MANIFEST.json").write_text(text.replace(json.loads(text)["version"], version, 1))
        versions.append(copy)
    base = node.settings("1.0-a")
    installing.install(dataclasses.replace(base, bundles=str(versions[0])))
    log = node.root / "loop.log"
    loop = exec_loop(node.bin / "spiderpool", 200, log)
    swaps = 0
    while loop.poll() is None:
        installing.install(
            dataclasses.replace(
                base, bundles=str(versions[(swaps + 1) % 2]), retired_grace_seconds=5
            )
        )
        swaps += 1
    lines = log.read_text().splitlines()
    assert len(lines) == 200 and all('"supportedVersions"' in line for line in lines), [
        line for line in lines if "FAIL" in line
    ][:3]
    assert swaps >= 2


def exec_loop(executable: Path, times: int, log: Path) -> subprocess.Popen[bytes]:
    """A shell exec'ing ``executable`` ``times`` times, as a runtime asks for VERSION; each
    answer (or FAIL) is a line in ``log``."""
    stdin = log.with_suffix(".stdin")
    stdin.write_text('{"cniVersion": "1.0.0"}')
    script = (
        f'i=0; while [ $i -lt {times} ]; do "$0" <"$1" 2>/dev/null || echo "FAIL $?"; '
        "i=$((i+1)); done"
    )
    with log.open("wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            ["sh", "-c", script, str(executable), str(stdin)],
            stdout=out,
            env={"PATH": "/usr/bin:/bin", "CNI_COMMAND": "VERSION"},
        )


def test_a_damaged_installed_copy_is_replaced_by_a_fresh_one(node: Node) -> None:
    s = node.settings("1.0-a")
    installing.install(s)
    (node.state / "1.0-a" / "spiderpool" / "_internal" / "payload").write_bytes(b"rot")
    repaired = installing.install(s)
    assert (repaired.directory, os.readlink(node.state / "current")) == ("1.0-a~1", "1.0-a~1")
    assert node.serving() == "1.0-a"


def test_a_plain_file_with_a_plugins_name_is_replaced_by_our_link_with_a_warning(
    node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    node.bin.mkdir(parents=True)
    (node.bin / "spiderpool").write_text("#!/bin/sh\necho upstream\n")
    with caplog.at_level(logging.WARNING, logger="installer"):
        installing.install(node.settings("1.0-a"))
    assert node.serving() == "1.0-a"
    assert any("did not put there" in r.message for r in caplog.records)


def test_two_installers_at_once_both_succeed_and_leave_one_copy(node: Node) -> None:
    env = node.env("1.0-a")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "installer", "--once"],
            env=env,
            cwd=paths.REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    errs = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert node.state_names() == {".lock", "current", "1.0-a"}
    assert node.serving() == "1.0-a"


def test_an_old_installer_leaves_the_version_a_newer_one_swapped_in(
    node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    old = service.Service(node.settings("1.0-a", identity="old-pod"))
    assert old.run_pass()
    new = service.Service(node.settings("1.1-b", identity="new-pod"))
    assert new.run_pass() and node.serving() == "1.1-b"
    with caplog.at_level(logging.INFO, logger="installer"):
        assert old.run_pass() and old.run_pass()
    assert node.serving() == "1.1-b"
    assert [r.message for r in caplog.records].count(
        "another installer now serves this node's bundles; leaving them"
    ) == 1


def test_a_broken_install_is_repaired_on_the_next_pass(node: Node) -> None:
    svc = service.Service(node.settings("1.0-a"))
    assert svc.run_pass()
    (node.bin / "coordinator").unlink()
    assert svc.run_pass()
    assert os.readlink(node.bin / "coordinator") == ".spidernet/current/coordinator/coordinator"


# ----------------------------------------------------------- bad input: the installed version stays


@pytest.fixture
def installed(node: Node) -> Node:
    installing.install(node.settings("1.0-a"))
    return node


def assert_untouched(node: Node) -> None:
    assert node.serving() == "1.0-a"
    assert os.readlink(node.state / "current") == "1.0-a"
    assert not [
        n for n in node.state_names() if n.startswith((layout.STAGING_PREFIX, layout.TMP_PREFIX))
    ]


def test_a_source_file_that_fails_its_checksum_is_refused(installed: Node) -> None:
    source = installed.bundles("1.1-b")
    (source / "ifacer" / "_internal" / "payload").write_bytes(b"corrupt")
    with pytest.raises(
        InstallError, match=r"is corrupt .*ifacer/_internal/payload: SHA-256 differs"
    ):
        installing.install(installed.settings("1.1-b"))
    assert_untouched(installed)


def test_a_source_without_a_manifest_is_refused(installed: Node) -> None:
    source = installed.bundles("1.1-b")
    (source / "MANIFEST.json").unlink()
    with pytest.raises(InstallError, match="cannot read the bundle manifest"):
        installing.install(installed.settings("1.1-b"))
    assert_untouched(installed)


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        (
            {"machine": "aarch64"},
            "refusing to install on this node: this node is x86_64, the bundles are built "
            "for aarch64",
        ),
        (
            {"min_kernel": (99, 0, 0)},
            "refusing to install on this node: kernel .* is older than 99.0.0",
        ),
    ],
)
def test_a_node_the_bundles_cannot_run_on_is_refused(
    installed: Node, kw: dict[str, object], reason: str
) -> None:
    installed.bundles("1.1-b", **kw)
    with pytest.raises(InstallError, match=reason):
        installing.install(installed.settings("1.1-b"))
    assert_untouched(installed)


def test_a_bin_dir_the_runtime_does_not_look_in_is_refused_until_its_plugins_appear(
    node: Node,
) -> None:
    s = node.settings("1.0-a", require_runtime_plugins=True)
    node.bin.mkdir(parents=True)
    (node.bin / "README").write_text("not a plugin\n")  # a file, but not an executable
    with pytest.raises(InstallError) as refused:
        installing.install(s)
    for phrase in (str(node.bin), "no other CNI plugin", "overlays", "SPIDERNET_REQUIRE_RUNTIME"):
        assert phrase in str(refused.value)
    assert not (node.bin / layout.STATE_DIR).exists() and not (node.bin / "spiderpool").exists()
    # As a node's OS links its plugins: absolute, resolving on the host only (not in the pod).
    (node.bin / "macvlan").symlink_to("/usr/lib/cni/not-in-this-pod/macvlan")
    installing.install(s)
    assert node.serving() == "1.0-a"


def test_a_plugin_that_does_not_start_here_is_refused_before_the_swap(
    installed: Node, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.write_text("#!/bin/sh\necho 'cannot start' >&2\nexit 1\n")
    broken.chmod(0o755)
    installed.bundles("1.1-b", checker=broken)
    with pytest.raises(InstallError, match="ifacer does not start on this node"):
        installing.install(installed.settings("1.1-b"))
    assert_untouched(installed)


@needs_root
def test_a_read_only_target_is_an_error_and_the_installed_version_stays(installed: Node) -> None:
    script = (
        f'mount --bind "{installed.bin}" "{installed.bin}"; mount -o remount,bind,ro '
        f'"{installed.bin}"\n'
        f"exec {sys.executable} -m installer --once"
    )
    proc = in_private_mounts(script, installed.env("1.1-b"))
    assert proc.returncode == 1
    assert "Read-only file system" in proc.stderr and "bundles not installed" in proc.stderr
    assert_untouched(installed)


@needs_root
def test_a_full_disk_is_an_error_and_the_installed_version_stays(node: Node) -> None:
    node.bin.mkdir(parents=True)
    one_version = sum(p.stat().st_size for p in node.bundles("1.0-a").rglob("*") if p.is_file())
    node.bundles("1.1-b")
    report = node.root / "report"
    env_b = node.env("1.1-b")
    script = (
        f'mount -t tmpfs -o size={int(one_version * 1.5)} tmpfs "{node.bin}"\n'
        f'SPIDERNET_BUNDLES="{node.bundles("1.0-a")}" {sys.executable} -m installer --once\n'
        f'if {sys.executable} -m installer --once; then echo "second install passed"; exit 9; fi\n'
        f'{{ "{node.bin}/spiderpool"; ls -a "{node.state}"; }} > "{report}"'
    )
    proc = in_private_mounts(script, env_b)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No space left on device" in proc.stderr
    served, *names = report.read_text().splitlines()
    assert json.loads(served)["bundle"] == "1.0-a"
    assert set(names) == {".", "..", ".lock", "current", "1.0-a"}


def test_a_missing_or_empty_token_or_an_unreadable_ca_leaves_the_credentials_untouched(
    installed: Node,
) -> None:
    s = installed.settings("1.0-a")
    credentials.Renewer(s).sync()
    before = {p.name: p.read_bytes() for p in installed.conf.iterdir()}
    sa = installed.root / "sa"
    cases = [
        ("token", None, "cannot read the service-account token"),
        ("token", b"\n", "token is empty"),
        ("ca.crt", "dir", "cannot read the cluster CA .*Is a directory"),
    ]
    for name, content, message in cases:
        saved = (sa / name).read_bytes()
        (sa / name).unlink()
        if content == "dir":
            (sa / name).mkdir()
        elif content is not None:
            (sa / name).write_bytes(content)  # type: ignore[arg-type]
        with pytest.raises(CredentialError, match=message):
            credentials.Renewer(s).sync()
        hostfs.remove(sa / name)
        (sa / name).write_bytes(saved)
        assert {p.name: p.read_bytes() for p in installed.conf.iterdir()} == before, name


def test_the_cluster_ipam_config_reaches_the_node_checked_and_a_bad_one_changes_nothing(
    installed: Node,
) -> None:
    s = installed.settings("1.0-a")
    on_node = installed.conf / "cluster-ipam.json"
    credentials.Renewer(s).sync()
    assert json.loads(on_node.read_text()) == cluster.to_json(cluster.ClusterConf())  # no ConfigMap
    source = Path(s.ipam_config)
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(json.dumps({"max_failed_add_cooldown": 10, "multus_namespace": "multus"}))
    assert credentials.Renewer(s).sync() == ("cluster-ipam.json",)
    written = cluster.load(str(on_node))
    assert (written.max_failed_add_cooldown, written.multus_namespace) == (10, "multus")
    before = on_node.read_bytes()
    for bad, message in [
        ({"max_failed_add_cooldown": "x"}, "must be an integer"),
        ({"max_failed_add_cooldwn": 10}, r"unknown key\(s\) \['max_failed_add_cooldwn'\]"),
        ({"state_dir": "var/lib"}, "not an absolute path"),
    ]:
        source.write_text(json.dumps(bad))
        with pytest.raises(CredentialError, match=message):
            credentials.Renewer(s).sync()
        assert on_node.read_bytes() == before, bad


# ------------------------------------------------------------------ the daemon


@pytest.fixture
def daemon(node: Node) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def start(node: Node, daemon: list[subprocess.Popen[str]], **extra: str) -> subprocess.Popen[str]:
    """The daemon, its log in ``node.root / "installer.log"`` (read while it runs)."""
    with (node.root / "installer.log").open("w") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "installer"],
            env=node.env("1.0-a", **extra),
            cwd=paths.REPO,
            stderr=log,
            text=True,
        )
    daemon.append(proc)
    return proc


def daemon_log(node: Node) -> str:
    return (node.root / "installer.log").read_text()


def wait_for(what: str, predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_daemon_retries_with_backoff_until_the_token_appears_then_is_ready(
    node: Node, daemon: list[subprocess.Popen[str]]
) -> None:
    (node.root / "sa" / "token").unlink()
    proc = start(node, daemon)
    ready = Path(node.settings("1.0-a").ready_file)
    wait_for("two retries", lambda: daemon_log(node).count("retrying in") >= 2)
    assert "cannot read the service-account token" in daemon_log(node)
    assert not ready.exists()
    assert node.serving() == "1.0-a"  # the bundles went in regardless
    (node.root / "sa" / "token").write_text("token-late")
    wait_for("the ready file", ready.exists)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert (node.conf / "token").read_text() == "token-late"
    assert not ready.exists()
    assert node.serving() == "1.0-a"  # SIGTERM does not uninstall by default


def test_sigterm_with_uninstall_on_exit_removes_what_it_installed_and_nothing_else(
    node: Node, daemon: list[subprocess.Popen[str]]
) -> None:
    node.bin.mkdir(parents=True)
    (node.bin / "macvlan").write_text("someone else's")
    proc = start(node, daemon, SPIDERNET_UNINSTALL_ON_EXIT="true")
    wait_for("the ready file", Path(node.settings("1.0-a").ready_file).exists)
    (node.conf.parent / "00-multus.conf").write_text("{}")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0, daemon_log(node)
    assert sorted(p.name for p in node.bin.iterdir()) == ["macvlan"]
    assert not node.conf.exists()
    assert (node.conf.parent / "00-multus.conf").exists()


def test_the_uninstall_command_removes_the_links_state_and_credentials(node: Node) -> None:
    assert installer(node.env("1.0-a"), "--once").returncode == 0
    proc = installer(node.env("1.0-a"), "--uninstall")
    assert proc.returncode == 0, proc.stderr
    assert list(node.bin.iterdir()) == []
    assert not node.conf.exists()
