"""The cluster-level IPAM settings: what only the cluster administrator decides. Reads a file.

A NetworkAttachmentDefinition is written by its namespace's users, and the plugin sees
nothing but the conflist: it cannot tell an administrator's NAD from a tenant's. So a
setting that widens what a pod may take (Multus's namespace and its cluster-wide
networks), names a host path for a plugin that runs as root (credentials, locks, the
node's notes, the log), or bounds what one network may cost the others (timeouts, the
cool-down, the pool size ceiling) comes from this file, never from a NAD (docs/ipam.md,
"Who sets what").

The installer renders it from the ConfigMap ``kube-system/spidernet-ipam``; the plugin
finds it at ``$SPIDERNET_IPAM_CONFIG`` (the runtime's environment: kubelet, containerd
and Multus set it, no tenant does), else at ``DEFAULT_PATH``. No file: the defaults
below, which are what a NAD gets when it sets nothing. A file that cannot be read or
parsed is code 7 naming it: guessing where the node's state lives is worse than failing.
Keys we do not know are logged and ignored, so a newer installer's file does not stop
an older plugin during a rolling upgrade. Cost per exec: one open and read of a file
of a few hundred bytes, one ``json.loads``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from spidernet.alloc import ceiling
from spidernet.alloc.failures import BadInput
from spidernet.protocol import errors, files, logs
from spidernet.types.netconf import Fields
from spidernet.types.record import record

ENV = "SPIDERNET_IPAM_CONFIG"
DEFAULT_PATH = "/etc/cni/net.d/spiderpool.d/cluster-ipam.json"
DEFAULT_KUBECONFIG = "/etc/cni/net.d/spiderpool.d/spiderpool.kubeconfig"
DEFAULT_LOCK_DIR = "/run/spidernet/ipam"
DEFAULT_STATE_DIR = "/var/lib/cni/spidernet"
DEFAULT_LOG = "/var/log/spidernet/spiderpool.log"
LIMIT = 600  # s: no ceiling above this (the GC's wait for a young zombie is one ceiling)


@record
class ClusterConf:
    """Every key of the file; the defaults are the file's absence."""

    kubeconfig: str = DEFAULT_KUBECONFIG
    lock_dir: str = DEFAULT_LOCK_DIR
    state_dir: str = DEFAULT_STATE_DIR
    log_file_path: str = DEFAULT_LOG
    log_file_max_size: int = 100  # MB
    log_file_max_count: int = 5
    multus_namespace: str = "kube-system"
    # Multus's defaultNetworks and systemNamespaces: the NICs net1..netN every pod outside
    # the system namespaces gets before its annotation's networks (docs/ipam.md).
    multus_default_networks: tuple[str, ...] = ()
    multus_system_namespaces: tuple[str, ...] = ("kube-system",)
    # Ceilings of what a NAD may ask for (its value is clamped to them).
    max_allocation_timeout: int = 60
    max_release_timeout: int = 60
    max_failed_add_cooldown: int = 30
    # The pool size ceiling in bytes: an ADD that would grow a pool's object past it finds
    # the pool full (alloc.ceiling; docs/ipam.md, "Pool size ceiling").
    max_pool_bytes: int = ceiling.DEFAULT
    source: str = ""  # the file read; "" when there was none (the defaults)

    @property
    def where(self) -> str:
        """Where an administrator changes these, for messages."""
        return self.source or f"{DEFAULT_PATH} (absent: the defaults apply)"

    def allocation_budget(self) -> float:
        """The longest an ADD may run: the GC never releases a younger zombie (docs/gc.md)."""
        return float(self.max_allocation_timeout)


def path_from(env: Mapping[str, str]) -> str:
    return env.get(ENV) or DEFAULT_PATH


def load(path: str) -> ClusterConf:
    """The file at ``path``; the defaults when it does not exist; code 7 naming it if unreadable."""
    try:
        text = files.read_text(path)  # never blocks: a FIFO there is refused (files)
    except FileNotFoundError:
        return ClusterConf()
    except (OSError, UnicodeDecodeError) as e:
        raise errors.InvalidConfig(f"cluster IPAM config {path}", str(e)) from None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise errors.InvalidConfig(f"cluster IPAM config {path}", f"not JSON: {e}") from None
    return parse(data, path)


def load_settings(path: str) -> ClusterConf:
    """``load`` for the GC and the CLI, which are no CNI plugins: an unusable file is
    ``failures.BadInput`` naming it (docs/design.md, "Errors")."""
    try:
        return load(path)
    except errors.InvalidConfig as e:
        raise BadInput(e.field, e.problem) from e


def parse(data: object, source: str) -> ClusterConf:
    """The keys of ``data`` (a JSON object); errors name ``<source>.<key>``."""
    f = Fields(data, source or "cluster IPAM config")
    d = ClusterConf()
    conf = ClusterConf(
        kubeconfig=_path(f, "kubeconfig", d.kubeconfig),
        lock_dir=_path(f, "lock_dir", d.lock_dir),
        state_dir=_path(f, "state_dir", d.state_dir),
        log_file_path=_path(f, "log_file_path", d.log_file_path),
        log_file_max_size=f.int("log_file_max_size", d.log_file_max_size, lo=1, hi=10240),
        log_file_max_count=f.int("log_file_max_count", d.log_file_max_count, lo=0, hi=100),
        multus_namespace=f.str("multus_namespace", d.multus_namespace) or d.multus_namespace,
        multus_default_networks=f.strs("multus_default_networks"),
        multus_system_namespaces=f.strs("multus_system_namespaces")
        if "multus_system_namespaces" in f.data
        else d.multus_system_namespaces,
        max_allocation_timeout=f.int(
            "max_allocation_timeout", d.max_allocation_timeout, lo=1, hi=LIMIT
        ),
        max_release_timeout=f.int("max_release_timeout", d.max_release_timeout, lo=1, hi=LIMIT),
        max_failed_add_cooldown=f.int(
            "max_failed_add_cooldown", d.max_failed_add_cooldown, lo=0, hi=LIMIT
        ),
        max_pool_bytes=f.int(
            "max_pool_bytes", d.max_pool_bytes, lo=ceiling.LOWEST, hi=ceiling.HIGHEST
        ),
        source=source,
    )
    for key in sorted(set(f.data) - f.read):
        logs.LOG.warning("%s: unknown key %r ignored", source, key)
    return conf


def _path(f: Fields, key: str, default: str) -> str:
    value = f.str(key, default) or default
    if not os.path.isabs(value):
        raise errors.InvalidConfig(f.path(key), f"{value!r} is not an absolute path")
    return value


def to_json(conf: ClusterConf) -> dict[str, object]:
    """Every key with its value (the installer writes the file so: one reads what applies)."""
    return {
        "kubeconfig": conf.kubeconfig,
        "lock_dir": conf.lock_dir,
        "state_dir": conf.state_dir,
        "log_file_path": conf.log_file_path,
        "log_file_max_size": conf.log_file_max_size,
        "log_file_max_count": conf.log_file_max_count,
        "multus_namespace": conf.multus_namespace,
        "multus_default_networks": list(conf.multus_default_networks),
        "multus_system_namespaces": list(conf.multus_system_namespaces),
        "max_allocation_timeout": conf.max_allocation_timeout,
        "max_release_timeout": conf.max_release_timeout,
        "max_failed_add_cooldown": conf.max_failed_add_cooldown,
        "max_pool_bytes": conf.max_pool_bytes,
    }
