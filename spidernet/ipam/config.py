"""The ``ipam`` section of a spiderpool network config, under the cluster's rules. No I/O.

A NAD is written by its namespace's users; the cluster administrator's settings come
from the cluster IPAM config (``cluster``). Every key a NAD's ``ipam`` section can carry
is in ``KEYS`` with what a NAD may do with it (docs/ipam.md, "Who sets what"):

- ``network``: a preference of this network that reaches no further than the pools'
  own rules let it (default pools, ``clean_gateway``, ``log_level``);
- ``bounded``: the network may ask, up to the cluster's ceiling (timeouts, cool-down);
  a larger value is clamped, with a warning in the log;
- ``cluster``: the cluster's alone (credentials, locks, the node's notes, Multus's
  namespace). A NAD may spell the cluster's value; another value refuses the ADD with
  code 7 naming the key (the user learns their setting does not apply), and every
  other verb goes on with the cluster's value (a DEL must clean up);
- ``cluster-log``: the host's log file, the cluster's alone; a NAD's value is ignored
  with a warning (upstream's NADs may carry these keys, and they widen nothing);
- ``ignored``: accepted and unused, as upstream's (``ipam_unix_socket_path``,
  ``log_file_max_age``); ``match_master_subnet: true`` is code 2 (SR-IOV, not built).
"""

from __future__ import annotations

from collections.abc import Callable

from spidernet.alloc import multus
from spidernet.ipam import cluster as clusterconf
from spidernet.ipam.cluster import ClusterConf
from spidernet.protocol import errors, logs
from spidernet.types.netconf import Fields, NetConf
from spidernet.types.record import field, record

TYPE_CHECKING = False  # typing is for the type checker only: not imported on an exec
if TYPE_CHECKING:
    from typing import Literal

    Rule = Literal["network", "bounded", "cluster", "cluster-log", "ignored"]
KEYS: dict[str, Rule] = {
    "type": "network",
    "default_ipv4_ippool": "network",
    "default_ipv6_ippool": "network",
    "clean_gateway": "network",
    "log_level": "network",
    "match_master_subnet": "ignored",
    "ipam_unix_socket_path": "ignored",
    "log_file_max_age": "ignored",
    "allocation_timeout": "bounded",
    "release_timeout": "bounded",
    "failed_add_cooldown": "bounded",
    "kubeconfig": "cluster",
    "lock_dir": "cluster",
    "state_dir": "cluster",
    "multus_namespace": "cluster",
    "log_file_path": "cluster-log",
    "log_file_max_size": "cluster-log",
    "log_file_max_count": "cluster-log",
}
# s, allocation_timeout and release_timeout when a NAD sets none: the cluster's default
# ceiling, since the seed benchmark's tail needed more than 30 s (docs/benchmark.md)
DEFAULT_TIMEOUT = 60
DEFAULT_COOLDOWN = 30  # s, failed_add_cooldown when a NAD sets none


@record
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
    state_dir: str = clusterconf.DEFAULT_STATE_DIR
    failed_add_cooldown: float = DEFAULT_COOLDOWN
    multus_namespace: str = "kube-system"
    cluster: ClusterConf = field(default_factory=ClusterConf)

    @property
    def multus(self) -> multus.Setup:
        """Multus's own configuration, from the cluster IPAM config."""
        c = self.cluster
        return multus.Setup(
            self.multus_namespace, c.multus_default_networks, c.multus_system_namespaces
        )


def parse(conf: NetConf, cluster: ClusterConf | None = None, *, adding: bool = False) -> IpamConf:
    """``cluster``: the cluster IPAM config (None: its defaults). ``adding``: an ADD, which
    refuses a ``cluster`` key the NAD set to another value."""
    cluster = cluster or ClusterConf()
    f = conf.fields("ipam")  # tracked reads: unknown keys of the section are logged
    if f.bool("match_master_subnet"):
        raise errors.UnsupportedField(
            "ipam.match_master_subnet", True, "ipam.match_master_subnet (SR-IOV) is not supported"
        )
    f.str("ipam_unix_socket_path")
    f.int("log_file_max_age", 0, numeric_string=True)
    own = _Cluster(f, cluster, adding)
    timeouts = (DEFAULT_TIMEOUT, 1, 600)
    return IpamConf(
        network=conf.name,
        default_v4=f.strs("default_ipv4_ippool"),
        default_v6=f.strs("default_ipv6_ippool"),
        clean_gateway=f.bool("clean_gateway"),
        kubeconfig=own.value("kubeconfig", cluster.kubeconfig),
        lock_dir=own.value("lock_dir", cluster.lock_dir),
        allocation_timeout=own.bounded(
            "allocation_timeout", timeouts, cluster.max_allocation_timeout
        ),
        release_timeout=own.bounded("release_timeout", timeouts, cluster.max_release_timeout),
        log=_log(f, cluster, adding),
        state_dir=own.value("state_dir", cluster.state_dir),
        failed_add_cooldown=own.bounded(
            "failed_add_cooldown", (DEFAULT_COOLDOWN, 0, 3600), cluster.max_failed_add_cooldown
        ),
        multus_namespace=own.value("multus_namespace", cluster.multus_namespace),
        cluster=cluster,
    )


class _Cluster:
    """Reads of ``cluster`` and ``bounded`` keys under the cluster's rules (module docstring)."""

    def __init__(self, f: Fields, cluster: ClusterConf, adding: bool) -> None:
        self.f, self.cluster, self.adding = f, cluster, adding

    def value(self, key: str, value: str) -> str:
        """The cluster's ``value``; a NAD naming another is refused on ADD, overruled elsewhere."""
        asked = self.f.str(key)
        if asked and asked != value:
            why = (
                f"{asked!r}: set by the cluster administrator in {self.cluster.where} "
                f"({value!r}); a network may not change it"
            )
            if self.adding:
                raise errors.InvalidConfig(self.f.path(key), why)
            logs.LOG.warning("%s %s; the cluster's value applies", self.f.path(key), why)
        return value

    def bounded(self, key: str, valid: tuple[int, int, int], ceiling: int) -> float:
        """The NAD's value (``valid``: default, lowest, highest), at most ``ceiling``."""
        default, lo, hi = valid
        asked = self.f.int(key, min(default, ceiling), lo=lo, hi=hi, numeric_string=True)
        if asked > ceiling:
            logs.LOG.warning(
                "%s %d is above the cluster's ceiling max_%s %d (%s): %d applies",
                self.f.path(key),
                asked,
                key,
                ceiling,
                self.cluster.where,
                ceiling,
            )
        return float(min(asked, ceiling))


def _log(f: Fields, cluster: ClusterConf, adding: bool) -> logs.LogOptions:
    """The log level is the network's; where and how large the log is, the cluster's (a NAD
    spelling the cluster's own value is not warned about). On ADD a NAD's values are still
    checked (a malformed one is code 7, as before); other verbs never fail on them, so a
    DEL always gets to release."""
    reads: dict[str, tuple[Callable[[], object], object]] = {
        "log_file_path": (lambda: f.str("log_file_path"), cluster.log_file_path),
        "log_file_max_size": (
            lambda: f.int("log_file_max_size", 0, lo=0, hi=logs.MAX_SIZE_MB, numeric_string=True),
            cluster.log_file_max_size,
        ),
        "log_file_max_count": (
            lambda: f.int("log_file_max_count", 0, lo=0, hi=logs.MAX_COUNT, numeric_string=True),
            cluster.log_file_max_count,
        ),
    }
    for key, (read, value) in reads.items():
        f.ignore(key)
        if f.data.get(key) is None:
            continue
        try:
            asked: object = read()
        except errors.InvalidConfig:
            if adding:
                raise
            asked = None
        if asked != value:
            logs.LOG.warning(
                "%s is the cluster's (%s): the network's value is ignored",
                f.path(key),
                cluster.where,
            )
    options = logs.LogOptions(
        path=cluster.log_file_path,
        level=f.str("log_level", "info").lower() or "info",
        max_size_mb=cluster.log_file_max_size,
        max_count=cluster.log_file_max_count,
    )
    options.validate_level(f.path("log_level"))
    return options
