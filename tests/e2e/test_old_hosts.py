"""The installed bundles run on hosts whose glibc is older than the build machine's, or
that have none at all (docs/install.md, "glibc floor"). Needs root (chroot, mounts).

Roots: Debian bullseye from debootstrap (glibc 2.31, as Ubuntu 20.04; tools/old_root.sh,
cached), and an empty root with no libc whatsoever (what RHEL 8's 2.28 or anything
older looks like to the bundles: nothing of the host's is used). The installer puts
the real bundles and the credentials (a real spidernet-node token) into directories
that are bind-mounted at the root's /opt/cni/bin and /etc/cni/net.d; the plugins run
chrooted with the IPAM's default paths, sharing the machine's network namespace, so
they reach the loopback API server.

| root            | case                        | expected                                        |
|-----------------|-----------------------------|-------------------------------------------------|
| bullseye        | PyInstaller's bootloader    | fails on a GLIBC_2.3x symbol: the root is       |
|                 | run without our launcher    | really older                                    |
|                 | (control)                   |                                                 |
| bullseye, empty | VERSION of ifacer,          | the supported versions                          |
|                 | spiderpool, coordinator via |                                                 |
|                 | /opt/cni/bin                |                                                 |
| bullseye, empty | spiderpool ADD then DEL     | an address from the pool, then released         |
|                 | with the default kubeconfig |                                                 |
|                 | path                        |                                                 |
| bullseye        | the example macvlan NAD     | dual-stack addresses, the coordinator's         |
|                 | through libcni, our plugins | iptables rules (bullseye's iptables-restore     |
|                 | chrooted                    | ran), DEL releases                              |
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from installer import credentials, installing
from installer.settings import Settings
from tests.integration import accounts
from tools.testbed import cni, manifests, netns, paths
from tools.testbed.cluster import Cluster
from tools.testbed.cni import PodRef

# The first run makes the bullseye root (about 1.5 min, more on a slow mirror) inside a test.
pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="chroot and mounts need root"),
    pytest.mark.timeout(900),
]
PLUGINS = ("ifacer", "spiderpool", "coordinator")


@pytest.fixture(scope="module")
def bullseye() -> Path:
    proc = subprocess.run(
        ["bash", str(paths.REPO / "tools" / "old_root.sh")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    root = next(
        (
            line.removeprefix("ROOT=")
            for line in proc.stdout.splitlines()
            if line.startswith("ROOT=")
        ),
        "",
    )
    if proc.returncode != 0 or not root:
        pytest.skip(
            f"no bullseye root: tools/old_root.sh failed ({proc.returncode}): "
            f"{proc.stderr.strip()[-600:]}"
        )
    return Path(root)


@dataclass
class Host:
    """An old root with our installed bin and conf dirs mounted where a node has them."""

    root: Path
    work: Path
    binds: dict[str, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for inside in (
            "/opt/cni/bin",
            "/etc/cni/net.d",
            "/var/lib/cni",
            "/var/log/spidernet",
            "/run/spidernet",
        ):
            outside = self.work / inside.strip("/").replace("/", "_")
            outside.mkdir(parents=True, exist_ok=True)
            self.binds[inside] = outside
        for d in ("proc", "dev", "sys", "run/netns", *(p.strip("/") for p in self.binds)):
            (self.root / d).mkdir(parents=True, exist_ok=True)

    def entering(self) -> str:
        """Shell lines that mount our dirs, /proc, and the host's /dev, /sys and pod netns
        into the root, then exec ``"$@"`` chrooted. Run in a private mount namespace."""
        root = shlex.quote(str(self.root))
        mounts = [
            f"mount --bind {shlex.quote(str(out))} {root}{inside}"
            for inside, out in self.binds.items()
        ]
        mounts += [
            f"mount -t proc proc {root}/proc",
            f"mount --rbind /dev {root}/dev",
            f"mount --rbind /sys {root}/sys",
        ]
        if Path("/run/netns").is_dir():
            mounts.append(f"mount --rbind /run/netns {root}/run/netns")
        return "; ".join([*mounts, f'exec chroot {root} "$@"'])

    def run(
        self, argv: list[str], *, stdin: bytes = b"", env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """``argv`` chrooted into the root, in a private mount namespace holding our binds."""
        return subprocess.run(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-euc",
                self.entering(),
                "sh",
                *argv,
            ],
            input=stdin,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **(env or {})},
            capture_output=True,
            timeout=120,
        )

    def wrappers(self, directory: Path) -> Path:
        """A CNI_PATH dir whose plugins run the installed ones inside the root, as a
        runtime on that host would exec them (env and stdin pass through)."""
        directory.mkdir(parents=True, exist_ok=True)
        for plugin in PLUGINS:
            script = directory / plugin
            script.write_text(
                "#!/bin/sh\nexec unshare --mount --propagation private sh -euc "
                f"{shlex.quote(self.entering())} "
                f"sh /opt/cni/bin/{plugin}\n"
            )
            script.chmod(0o755)
        return directory


def install(host: Host, cluster: Cluster, bundle_bin: Path) -> None:
    """What the DaemonSet does, into the dirs the root sees as its /opt/cni/bin and
    /etc/cni/net.d."""
    accounts.apply_rbac(cluster.cp)
    sa = accounts.ProjectedDir(host.work / "sa")
    sa.write(
        accounts.token(cluster.cp, "kube-system", "spidernet-node"), cluster.cp.ca_file.read_bytes()
    )
    s = Settings(
        bundles=str(bundle_bin.parent),
        cni_bin_dir=str(host.binds["/opt/cni/bin"]),
        cni_conf_dir=str(host.binds["/etc/cni/net.d"]),
        token_file=str(sa.token_file),
        ca_file=str(sa.ca_file),
        api_server=cluster.cp.server,
        node_name="old-node",
        identity="test",
        require_runtime_plugins=False,  # the old root's bin dir has only what the test puts there
    )
    installing.install(s)
    credentials.Renewer(s).sync()


@pytest.fixture(scope="module")
def installed(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    cluster: Cluster,
    bundle_bin: Path,
) -> Callable[[str], Host]:
    """Each root installed once per module (an install copies and verifies 75 MB)."""
    made: dict[str, Host] = {}

    def get(name: str) -> Host:
        if name not in made:
            work = tmp_path_factory.mktemp(name)
            root = (
                request.getfixturevalue("bullseye") if name == "bullseye" else work / "empty-root"
            )
            root.mkdir(exist_ok=True)
            made[name] = Host(root, work / "host")
            install(made[name], cluster, bundle_bin)
        return made[name]

    return get


@pytest.fixture(params=["bullseye", "no-libc"])
def host(request: pytest.FixtureRequest, installed: Callable[[str], Host]) -> Host:
    return installed(request.param)


def test_the_bootloader_without_our_launcher_fails_in_bullseye(
    bullseye: Path, tmp_path: Path, bundle_bin: Path
) -> None:
    h = Host(bullseye, tmp_path / "host")
    bundle = bundle_bin.parent / "spiderpool"
    h.binds["/opt/cni/bin"] = bundle  # the build's own bundle, before any install
    proc = h.run(["/opt/cni/bin/spiderpool.bin"], env={"CNI_COMMAND": "VERSION"}, stdin=b"{}")
    assert proc.returncode != 0
    assert b"GLIBC_2.3" in proc.stderr, proc.stderr


@pytest.mark.parametrize("plugin", PLUGINS)
def test_each_installed_plugin_answers_version(host: Host, plugin: str) -> None:
    proc = host.run(
        [f"/opt/cni/bin/{plugin}"], env={"CNI_COMMAND": "VERSION"}, stdin=b'{"cniVersion": "1.0.0"}'
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1.1.0" in json.loads(proc.stdout)["supportedVersions"]


def test_the_installed_ipam_allocates_and_releases_with_the_default_kubeconfig(
    host: Host, cluster: Cluster
) -> None:
    ns = f"old{os.urandom(3).hex()}"
    cluster.namespace(ns)
    cluster.node("old-node")
    pool = cluster.pool(f"{ns}-p", "10.216.0.0/24", ["10.216.0.10-10.216.0.20"])["metadata"]["name"]
    pod = cluster.pod(ns, "p", "old-node")
    ref = PodRef(ns, "p", uid=pod["metadata"]["uid"], container_id="c-old")
    conf = {
        "cniVersion": "1.0.0",
        "name": "net-a",
        "type": "macvlan",
        "ipam": {"type": "spiderpool", "default_ipv4_ippool": [pool]},
    }  # every path its default
    env = {
        "CNI_CONTAINERID": ref.container_id,
        "CNI_NETNS": "/var/run/netns/none",
        "CNI_IFNAME": "eth0",
        "CNI_PATH": "/opt/cni/bin",
        "CNI_ARGS": ref.cni_args(),
    }
    added = host.run(
        ["/opt/cni/bin/spiderpool"],
        env={**env, "CNI_COMMAND": "ADD"},
        stdin=json.dumps(conf).encode(),
    )
    assert added.returncode == 0, added.stdout + added.stderr
    assert json.loads(added.stdout)["ips"][0]["address"] == "10.216.0.10/24"
    cluster.delete_pod(ns, "p")
    prev = {**conf, "prevResult": json.loads(added.stdout)}
    deleted = host.run(
        ["/opt/cni/bin/spiderpool"],
        env={**env, "CNI_COMMAND": "DEL"},
        stdin=json.dumps(prev).encode(),
    )
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    assert cluster.records(pool) == {}


def test_the_example_macvlan_chain_runs_through_libcni_with_every_plugin_in_bullseye(
    installed: Callable[[str], Host],
    tmp_path: Path,
    cluster: Cluster,
    api_underlay: netns.Underlay,
) -> None:
    """ifacer -> Debian's macvlan -> spiderpool -> coordinator, the example NAD's config as
    shipped, our three plugins chrooted into bullseye: the coordinator runs bullseye's
    iptables and iptables-restore, which only start if our libc stays out of their way."""
    h = installed("bullseye")
    examples = manifests.listed(manifests.MANIFESTS / "examples")
    for obj in examples:
        if obj["kind"] == "SpiderIPPool" and obj["metadata"]["name"].startswith("macvlan-ens1"):
            assert manifests.apply(cluster.cp, obj, dry_run=False)[0] in (200, 201)
    nad = next(
        o
        for o in examples
        if o["metadata"]["name"] == "macvlan-ens1" and o["kind"] != "SpiderIPPool"
    )
    node = api_underlay.add_node(host_addresses=("172.30.10.2/24",))
    ns = f"old{os.urandom(3).hex()}"
    cluster.namespace(ns)
    cluster.node("old-node")
    obj = cluster.pod(ns, "p", "old-node")
    ref = PodRef(ns, "p", uid=obj["metadata"]["uid"], container_id=f"{os.urandom(6).hex()}p")
    pod = api_underlay.add_pod(f"{ns[-4:]}p")
    rt = cni.Runtime(
        json.loads(nad["spec"]["config"]),
        node=node,
        cni_path=f"{h.wrappers(tmp_path / 'cni-bin')}:{paths.REFERENCE_PLUGINS}",
    )
    result = rt.add(ref.container_id, pod.path, pod=ref)
    addresses = sorted(i["address"] for i in result["ips"])
    assert addresses[0].startswith("172.30.10.1") and addresses[1].startswith("fd00:172:30:10::")
    assert (
        "MARK" in pod.run("iptables", "-t", "mangle", "-S").stdout
    )  # the coordinator's reply path
    cluster.delete_pod(ns, "p")
    rt.delete(ref.container_id, pod.path, pod=ref)
    assert all(not cluster.records(name) for name in ("macvlan-ens1-v4", "macvlan-ens1-v6"))
