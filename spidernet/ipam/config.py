"""The ``ipam`` section of a spiderpool network config. No I/O.

Upstream keys, with upstream's defaults except where noted:
- ``default_ipv4_ippool`` / ``default_ipv6_ippool``: pool names or globs (selection rule 4)
- ``clean_gateway``: no default route for this interface
- ``log_level`` (default info; upstream's code says debug, its docs info), ``log_file_path``,
  ``log_file_max_size`` (MB), ``log_file_max_count``; ints or numeric strings.
  ``log_file_max_age`` is accepted and ignored: rotation is by size only.
- ``ipam_unix_socket_path``: accepted and ignored (there is no agent).
- ``match_master_subnet`` (SR-IOV): not supported; true -> code 2.
Ours:
- ``kubeconfig`` (default /etc/cni/net.d/spiderpool.d/spiderpool.kubeconfig)
- ``lock_dir`` (default /run/spidernet/ipam): per-node lock files, one per pool
- ``allocation_timeout`` (s, default 30): budget for ADD incl. conflict retries, then code 11
- ``release_timeout`` (s, default 30): budget for DEL and CHECK (the GC verb: at most 5),
  then code 11
- ``state_dir`` (default /var/lib/cni/spidernet): the node's notes on each attachment
- ``failed_add_cooldown`` (s, default 30; 0 turns it off): an address released after a
  failed ADD is not handed out again before this, doubling per consecutive failure (I5)
- ``multus_namespace`` (default kube-system): Multus's namespace, where a ``multusName``
  entry or a default-network annotation without a namespace points (as upstream, whose
  agent namespace plays this part)
"""

from __future__ import annotations

from dataclasses import dataclass

from spidernet.ipam import attachments
from spidernet.protocol import errors, logs
from spidernet.types.netconf import NetConf

DEFAULT_KUBECONFIG = "/etc/cni/net.d/spiderpool.d/spiderpool.kubeconfig"
DEFAULT_LOCK_DIR = "/run/spidernet/ipam"
DEFAULT_LOG = "/var/log/spidernet/spiderpool.log"


@dataclass(frozen=True)
class IpamConf:
    network: str
    default_v4: tuple[str, ...]
    default_v6: tuple[str, ...]
    clean_gateway: bool
    kubeconfig: str
    lock_dir: str
    allocation_timeout: float
    release_timeout: float
    log: logs.LogOptions
    state_dir: str = attachments.DEFAULT_STATE_DIR
    failed_add_cooldown: float = 30.0
    multus_namespace: str = "kube-system"


def parse(conf: NetConf) -> IpamConf:
    f = conf.fields("ipam")  # tracked reads: unknown keys of the section are logged
    if f.bool("match_master_subnet"):
        raise errors.UnsupportedField(
            "ipam.match_master_subnet", True, "ipam.match_master_subnet (SR-IOV) is not supported"
        )
    f.str("ipam_unix_socket_path")
    f.int("log_file_max_age", 0, numeric_string=True)
    return IpamConf(
        network=conf.name,
        default_v4=f.strs("default_ipv4_ippool"),
        default_v6=f.strs("default_ipv6_ippool"),
        clean_gateway=f.bool("clean_gateway"),
        kubeconfig=f.str("kubeconfig", DEFAULT_KUBECONFIG) or DEFAULT_KUBECONFIG,
        lock_dir=f.str("lock_dir", DEFAULT_LOCK_DIR) or DEFAULT_LOCK_DIR,
        allocation_timeout=float(
            f.int("allocation_timeout", 30, lo=1, hi=600, numeric_string=True)
        ),
        release_timeout=float(f.int("release_timeout", 30, lo=1, hi=600, numeric_string=True)),
        log=logs.LogOptions.from_fields(f, DEFAULT_LOG),
        state_dir=f.str("state_dir", attachments.DEFAULT_STATE_DIR)
        or attachments.DEFAULT_STATE_DIR,
        failed_add_cooldown=float(
            f.int("failed_add_cooldown", 30, lo=0, hi=3600, numeric_string=True)
        ),
        multus_namespace=f.str("multus_namespace", "kube-system") or "kube-system",
    )
