"""A simulated node's daemons' files: containerd's and kubelet's configs, kubeconfigs. No I/O.

Paths in them are the node's own (its mount namespace binds them to its work
directory, tools/testbed/kubenode.py), so every node's files read the same.

containerd (1.6, CRI plugin): overlayfs snapshots, runc through the v2 shim with the
cgroupfs driver (kubelet's default, as the host's cgroup v1 wants), the CNI binaries and
configuration in the standard directories, the pause image ours (there is no registry
to pull ``registry.k8s.io/pause`` from), no AppArmor profile (loading one would change
the machine's kernel state), pods' oom_score_adj never below containerd's own (root
here lacks CAP_SYS_RESOURCE, so runc's write of the pause container's -998 fails:
"nsexec: failed to update /proc/self/oom_score_adj: Permission denied") and the
snapshotters this machine has no use for disabled.

kubelet (1.20): cgroups under the node's own cgroup root, no iptables chains (there is no
kube-proxy here, and they would only be the node netns's), image garbage collection
off (images cannot be pulled again), anonymous read of its API on the node netns only.
"""

from __future__ import annotations

import json
from pathlib import Path

_DISABLED = (
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.tracing.processor.v1.otlp",
    "io.containerd.internal.v1.tracing",
)


def containerd_toml(pause_image: str) -> str:
    disabled = ", ".join(json.dumps(p) for p in _DISABLED)
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
disabled_plugins = [{disabled}]

[grpc]
  address = "/run/containerd/containerd.sock"

[ttrpc]
  address = "/run/containerd/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "/var/lib/containerd/opt"

[{cri}]
  sandbox_image = "{pause_image}"
  disable_apparmor = true
  restrict_oom_score_adj = true
  enable_selinux = false
  max_concurrent_downloads = 1

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false

[{cri}.cni]
  bin_dir = "/opt/cni/bin"
  conf_dir = "/etc/cni/net.d"
  max_conf_num = 1
"""


def kubelet_yaml(cgroup_root: str, node_ip: str) -> str:
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": node_ip,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": cgroup_root,
        "cgroupsPerQOS": True,
        "failSwapOn": False,
        "makeIPTablesUtilChains": False,
        "protectKernelDefaults": False,
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False,
        "resolvConf": "/etc/resolv.conf",
        "maxPods": 110,
    }
    return json.dumps(config, indent=2) + "\n"  # JSON is YAML


def kubeconfig(server: str, ca_file: Path, token: str, user: str = "user") -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "local", "cluster": {"server": server, "certificate-authority": str(ca_file)}}
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": user}}],
        "current-context": "local",
    }
    return json.dumps(config, indent=2) + "\n"
