"""One simulated Kubernetes node: containerd + kubelet in a netns and a mount namespace. Does I/O.

A node is a network namespace on the underlay (tools/testbed/netns.py) plus a private
mount namespace, held open by a ``sleep`` process, in which the node's containerd and
kubelet run. Inside it the node has its own

    /run                 tmpfs (containerd's state and sockets, pod netns files, locks)
    /opt/cni/bin         CNI plugins (Debian's reference plugins linked, ours by the installer)
    /etc/cni/net.d       the CNI configuration (our conflist, the installer's credentials)
    /var/lib/cni         libcni's result cache, host-local's leases
    /var/lib/kubelet     kubelet's root (pod volumes, its certificates)
    /var/lib/containerd  containerd's root (images, snapshots)
    /var/log             pod logs and our plugins' logs
    /proc/sys/...        the global sysctls kubelet sets, each shadowed by a file of ours

all bind-mounted from the node's work directory. So the installer DaemonSet's hostPath
volumes and the plugins' default paths resolve to the node's own directories exactly as
on a real machine, kubelets of several nodes do not share /var/log/pods (each would
remove the others' pod logs), the mounts kubelet makes (its root dir made rshared,
tmpfs for projected volumes) never reach the machine's mount table, and kubelet's
writes of vm.overcommit_memory, kernel.panic, kernel.panic_on_oops and
kernel.keys.root_max* land in our files, not in the kernel (the test checks the host's
values afterwards). containerd and kubelet are entered with ``nsenter --net`` (not
``ip netns exec``, whose /sys remount hides the cgroup mounts from runc).

Cgroups (v1, cgroupfs driver) go under the node's own root (tools/testbed/nodecgroups.py),
where every process of the node is tracked: ``power_off`` kills them all at once
(kubelet, containerd, the shims, every container), as a power cut would, and /run goes
with the mount namespace; ``power_on`` boots the node again. Every process we start
also gets SIGKILL when the test process dies (``setpriv --pdeathsig``); what survives
that (shims, containers) a later run removes (``nodecgroups.cleanup_stale``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spidernet.protocol import outcomes
from tools.testbed import nodecgroups, nodefiles, paths
from tools.testbed.netns import Netns

# The node's directories, bind-mounted in its mount namespace: (in the work dir, seen as).
BINDS = (
    ("opt-cni-bin", "/opt/cni/bin"),
    ("etc-cni-net.d", "/etc/cni/net.d"),
    ("var-lib-cni", "/var/lib/cni"),
    ("var-lib-kubelet", "/var/lib/kubelet"),
    ("var-lib-containerd", "/var/lib/containerd"),
    ("var-log", "/var/log"),
)
# What kubelet writes at start (pkg/kubelet/cm, setupKernelTunables): global, not per netns.
KUBELET_SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
DIE_WITH_US = ("setpriv", "--pdeathsig", "KILL", "--")  # no daemon outlives a killed test run


def read_sysctls() -> dict[str, str]:
    """The machine's values of the sysctls kubelet sets."""
    return {name: (Path("/proc/sys") / name).read_text().strip() for name in KUBELET_SYSCTLS}


@dataclass
class NodeConfig:
    """What a node needs from its cluster."""

    api_server: str  # as the node sees it (the apiproxy on its loopback)
    ca_file: Path
    token: str  # the kubelet's bearer token (system:node:<name>)
    pause_image: str
    node_ip: str


@dataclass
class KubeNode:
    name: str
    netns: Netns
    workdir: Path
    config: NodeConfig
    cgroup_root: str = ""
    _procs_file: Path = Path("/nonexistent")
    _holder: subprocess.Popen[bytes] | None = None
    _daemons: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    # ------------------------------------------------------------ paths as the host sees them

    def host_path(self, node_path: str) -> Path:
        """Where a path of the node's (under one of BINDS) lives on the host."""
        for local, seen in BINDS:
            if node_path == seen or node_path.startswith(seen + "/"):
                return self.workdir / local / node_path[len(seen) :].lstrip("/")
        raise ValueError(f"{node_path} is not one of the node's own directories")

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    # ------------------------------------------------------------ lifecycle

    def create(self) -> None:
        """Directories, cgroups, then power on."""
        self.cgroup_root = self.netns.name
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for local, seen in BINDS:
            (self.workdir / local).mkdir(parents=True, exist_ok=True)
            Path(seen).mkdir(parents=True, exist_ok=True)  # the mount point, empty on the host
        self._link_reference_plugins()
        self._shadow_sysctls()
        self._procs_file = nodecgroups.make(self.cgroup_root)
        self._write_configs()
        self.power_on()

    def power_on(self) -> None:
        """A fresh mount namespace (an empty /run, as after a boot), containerd, kubelet."""
        self._hold_namespace()
        argv = [_containerd(), "--config", str(self.workdir / "containerd.toml")]
        self._start("containerd", argv)
        self._wait_for_socket()
        self._start("kubelet", self._kubelet_argv())

    def power_off(self) -> None:
        """Kill every process of the node at once, as a power cut would; /run goes with the
        mount namespace, the disk (the work directory) stays."""
        nodecgroups.kill_all(self.cgroup_root)
        for proc in [*self._daemons.values(), *([self._holder] if self._holder else [])]:
            proc.wait()
        self._daemons.clear()
        self._holder = None

    def destroy(self) -> None:
        """Power off, remove the cgroups and the work directory."""
        self.power_off()
        nodecgroups.remove(self.cgroup_root)
        if not os.environ.get("SPIDERNET_CLUSTER_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def running(self, daemon: str) -> bool:
        proc = self._daemons.get(daemon)
        return proc is not None and proc.poll() is None

    # ------------------------------------------------------------ running things in the node

    def enter(self, *argv: str) -> list[str]:
        """argv run in the node's mount and network namespaces."""
        if self._holder is None:
            raise RuntimeError(f"{self.name} has no mount namespace (not created, or destroyed)")
        return ["nsenter", "-t", str(self._holder.pid), "-m", "-n", "--", *argv]

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.enter(*argv), capture_output=True, text=True, timeout=timeout, check=False
        )

    def ctr(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """containerd's ``ctr`` on this node, in kubelet's namespace (k8s.io)."""
        return self.run(
            "ctr", "--address", CONTAINERD_SOCKET, "-n", "k8s.io", *args, timeout=timeout
        )

    def import_image(self, archive: Path) -> None:
        done = self.ctr("image", "import", "--no-unpack=false", str(archive))
        if done.returncode != 0:
            raise RuntimeError(f"{self.name}: ctr image import {archive}: {done.stderr.strip()}")

    def outcomes(self) -> list[dict[str, Any]]:
        """Our plugins' outcome lines on this node (docs/metrics.md), older file first: the
        record lives on the node's own /run, reached through its mount namespace."""
        if self._holder is None:
            return []
        record = Path(f"/proc/{self._holder.pid}/root{outcomes.DEFAULT_PATH}")
        lines: list[dict[str, Any]] = []
        for path in (record.with_name(record.name + ".1"), record):
            with contextlib.suppress(FileNotFoundError):
                for line in path.read_text().splitlines():
                    with contextlib.suppress(ValueError):
                        lines.append(json.loads(line))
        return lines

    def pod_pid(self, pod_uid: str) -> int | None:
        """A process of the pod (any container), found through the node's cgroups."""
        for procs in (nodecgroups.PIDS / self.cgroup_root).glob(
            f"kubepods/**/pod{pod_uid}/*/cgroup.procs"
        ):
            for line in procs.read_text().split():
                return int(line)
        return None

    # ------------------------------------------------------------ pieces

    def _link_reference_plugins(self) -> None:
        """Debian's reference plugins in the node's /opt/cni/bin, as the OS packages put them."""
        target = self.workdir / "opt-cni-bin"
        for plugin in sorted(paths.REFERENCE_PLUGINS.iterdir()):
            link = target / plugin.name
            if not link.exists():
                link.symlink_to(plugin)

    def _shadow_sysctls(self) -> None:
        shadow = self.workdir / "sysctl"
        shadow.mkdir(exist_ok=True)
        for name, value in read_sysctls().items():
            (shadow / name.replace("/", ".")).write_text(value + "\n")

    def shadowed_sysctls(self) -> dict[str, str]:
        """What kubelet wrote into our shadow files (the values it wanted)."""
        shadow = self.workdir / "sysctl"
        return {n: (shadow / n.replace("/", ".")).read_text().strip() for n in KUBELET_SYSCTLS}

    def _write_configs(self) -> None:
        w = self.workdir
        (w / "containerd.toml").write_text(nodefiles.containerd_toml(self.config.pause_image))
        (w / "kubelet.yaml").write_text(
            nodefiles.kubelet_yaml(f"/{self.cgroup_root}", self.config.node_ip)
        )
        (w / "kubelet.kubeconfig").write_text(
            nodefiles.kubeconfig(self.config.api_server, self.config.ca_file, self.config.token)
        )

    def _setup_script(self) -> str:
        lines = ["set -e", "mount -t tmpfs -o mode=0755 tmpfs /run"]
        lines += [f"mount --bind {self.workdir / local} {seen}" for local, seen in BINDS]
        shadow = self.workdir / "sysctl"
        lines += [
            f"mount --bind {shadow / name.replace('/', '.')} /proc/sys/{name}"
            for name in KUBELET_SYSCTLS
        ]
        lines += ["echo ready", "exec sleep infinity"]
        return "\n".join(lines)

    def _hold_namespace(self) -> None:
        """A sleeping process in a new private mount namespace, inside the node netns."""
        argv = self._tracked(
            "nsenter",
            f"--net={self.netns.path}",
            "--",
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            self._setup_script(),
        )
        log = open(self.log_dir / "mounts.log", "wb")  # noqa: SIM115 - owned by the child
        self._holder = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL
        )
        log.close()
        assert self._holder.stdout is not None
        if self._holder.stdout.readline().strip() != b"ready":
            self._holder.wait()
            raise RuntimeError(
                f"{self.name}: mount namespace set-up failed: "
                + (self.log_dir / "mounts.log").read_text(errors="replace")
            )
        self._holder.stdout.close()  # each program execs the next: the pid is the sleep's

    def _start(self, name: str, argv: list[str]) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        # The plugins containerd runs inherit its environment: without the suite's outcome
        # record (tests/conftest.py) they write the node's own, on its /run, as on a real node.
        env = {k: v for k, v in os.environ.items() if k != "SPIDERNET_OUTCOMES"}
        self._daemons[name] = subprocess.Popen(
            self._tracked(*self.enter(*argv)),
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        log.close()

    def _tracked(self, *argv: str) -> list[str]:
        """argv killed with the test process, and moved into the node's system cgroup."""
        move = 'echo $$ > "$0" && exec "$@"'
        return [*DIE_WITH_US, "sh", "-c", move, str(self._procs_file), *argv]

    def _wait_for_socket(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running("containerd"):
                break
            if self.ctr("version", timeout=10).returncode == 0:
                return
            time.sleep(0.2)
        tail = (self.log_dir / "containerd.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{self.name}: containerd did not come up; log tail:\n{tail}")

    def _kubelet_argv(self) -> list[str]:
        w = self.workdir
        return [
            str(paths.KUBELET),
            f"--config={w / 'kubelet.yaml'}",
            f"--kubeconfig={w / 'kubelet.kubeconfig'}",
            "--container-runtime=remote",
            f"--container-runtime-endpoint=unix://{CONTAINERD_SOCKET}",
            f"--hostname-override={self.name}",
            f"--node-ip={self.config.node_ip}",
            f"--pod-infra-container-image={self.config.pause_image}",
            "--logtostderr=true",
            "--v=1",
        ]


def _containerd() -> str:
    found = shutil.which("containerd")
    if found is None:
        raise FileNotFoundError(
            "containerd is not installed (tools/bootstrap.sh --cluster installs it)"
        )
    return found
