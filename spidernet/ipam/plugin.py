"""Wiring of the spiderpool IPAM: config -> logger -> API client -> verb. Does I/O.

Error codes (documented contract): 3 pod unknown/terminating or UID mismatch; 4 CNI_ARGS
without the pod's namespace/name; 7 bad config or malformed pod/namespace annotation (the
field named), a kubeconfig, token or certificate that is not a regular file, a
``lock_dir`` or ``state_dir`` that is not a directory; 11 API unreachable or conflict
budget spent; 50 STATUS not ready; 100 candidate pools exhausted; 101 no candidate pool
may serve the pod (each refused pool listed with its reason); 102 CHECK found the
allocation missing.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from spidernet.alloc.failures import BadInput
from spidernet.ipam import cluster, config
from spidernet.ipam.store import Store
from spidernet.k8s import errors as kerr
from spidernet.k8s import kubeconfig
from spidernet.k8s.client import Client, Deadline
from spidernet.protocol import errors, files, logs, outcomes, skel, versions
from spidernet.protocol.env import CmdArgs
from spidernet.types.netconf import NetConf
from spidernet.types.results import Result

TYPE_CHECKING = False  # typing is for the type checker only: not imported on an exec
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")
POOL_EXHAUSTED = 100  # every usable candidate pool is full
NO_MATCHING_POOL = 101  # no candidate pool may serve this pod (each refused with a reason)
ALLOCATION_MISSING = 102  # CHECK: the pool no longer records this container's address
KNOWN_ARGS = frozenset(
    {"K8S_POD_NAME", "K8S_POD_NAMESPACE", "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID", "IP"}
)


class _Connection:
    """The verb's API client and store, once made: ``_translated`` names its server."""

    def __init__(self, ipam: config.IpamConf) -> None:
        self.ipam = ipam
        self.client: Client | None = None

    @property
    def server(self) -> str:
        return self.client.creds.server if self.client is not None else "server"

    def run(self, budget: float, action: Callable[[config.IpamConf, Store], T]) -> T:
        ipam = self.ipam
        try:
            self.client = Client(kubeconfig.load(ipam.kubeconfig), Deadline(budget))
        except (OSError, ValueError) as e:  # the files it names, their content, TLS material
            text = str(e)
            where = text if text.startswith(ipam.kubeconfig) else f"{ipam.kubeconfig}: {text}"
            raise BadInput(_cluster_key(ipam, "kubeconfig"), where) from e
        store = Store(self.client, ipam.lock_dir, ipam.cluster.max_pool_bytes)
        try:
            return action(ipam, store)
        finally:
            _account(store, self.client)


def _account(store: Store, client: Client) -> None:
    """The exec's outcome record and debug line: what the verb cost the API."""
    s = store.stats
    outcomes.note(
        lock_wait=round(s.lock_wait, 6),
        conflicts=s.conflicts,
        writes=s.writes,
        pools=s.pools,
        combined=s.combined,  # own pool changes another exec of the node wrote
        served=s.served,  # other execs' pool changes this one wrote
    )
    logs.LOG.debug(
        "api requests=%d writes=%d conflicts=%d lock_wait=%.3fs: %s",
        client.requests,
        s.writes,
        s.conflicts,
        s.lock_wait,
        "; ".join(client.history),
    )
    client.close()


def _verb(
    cmd: CmdArgs,
    conf: NetConf,
    budget: Callable[[config.IpamConf], float],
    action: Callable[[config.IpamConf, Store], T],
) -> T:
    """Config, logging, then ``action`` on a Store: every failure of the connection or
    the verb goes through ``_translated``."""
    ipam = config.parse(
        conf, cluster.load(cluster.path_from(os.environ)), adding=cmd.command == "ADD"
    )
    context = {
        "command": cmd.command,
        "containerID": cmd.container_id,
        "netns": cmd.netns,
        "ifname": cmd.ifname,
        "network": conf.name,
        "pod": f"{cmd.args.get('K8S_POD_NAMESPACE', '')}/{cmd.args.get('K8S_POD_NAME', '')}".strip(
            "/"
        ),
        "podUID": cmd.args.get("K8S_POD_UID", ""),
    }
    logs.setup("spiderpool", ipam.log, context)
    conn = _Connection(ipam)
    return _translated(conn, lambda: conn.run(budget(ipam), action), cmd.command)


def _cluster_key(ipam: config.IpamConf, key: str) -> str:
    """A key of the cluster IPAM config, named as where the administrator sets it."""
    return f"{ipam.cluster.source or cluster.DEFAULT_PATH}.{key}"


def _node_dir(ipam: config.IpamConf, path: str) -> str:
    """The cluster IPAM config's key of the node directory ``path`` is in."""
    for key, directory in (("lock_dir", ipam.lock_dir), ("state_dir", ipam.state_dir)):
        if path == directory or path.startswith(directory.rstrip("/") + "/"):
            return _cluster_key(ipam, key)
    return _cluster_key(ipam, "state_dir")


def _translated(conn: _Connection, action: Callable[[], T], verb: str) -> T:
    """The one translation point from the IPAM's failures (``alloc.failures``), API errors
    and node directories that are not what their key says, to CNI codes (the module
    docstring lists them). STATUS speaks 50 where the other verbs speak 11."""
    from spidernet.alloc import failures as f

    try:
        return action()
    except files.Unusable as e:
        raise errors.InvalidConfig(_node_dir(conn.ipam, e.path), str(e)) from e
    except f.BadInput as e:
        raise errors.InvalidConfig(e.field, e.problem) from e
    except f.BadArgs as e:
        raise errors.InvalidEnv(str(e)) from e
    except f.PodUnknown as e:
        raise errors.UnknownContainer(str(e)) from e
    except f.Exhausted as e:
        raise errors.PluginError(POOL_EXHAUSTED, str(e)) from e
    except f.Refused as e:
        raise errors.PluginError(NO_MATCHING_POOL, str(e)) from e
    except f.AllocationMissing as e:
        raise errors.PluginError(ALLOCATION_MISSING, str(e)) from e
    except f.NotReady as e:
        raise errors.PluginNotAvailable(str(e)) from e
    except (f.Contended, f.Unfinished) as e:
        raise _later(verb, str(e)) from e
    except kerr.BudgetSpent as e:
        raise _later(
            verb, f"{e.message} (the network's allocation_timeout / release_timeout)"
        ) from e
    except kerr.Unavailable as e:
        raise _later(verb, f"Kubernetes API {conn.server} unreachable: {e.message}") from e
    except kerr.Denied as e:
        raise errors.CniError(_denied(conn, e)) from e
    except kerr.ApiError as e:
        raise errors.CniError(f"Kubernetes API {conn.server} error: {e}") from e
    except f.IpamFailure as e:  # one no verb lets out (a pool gone is caught where read)
        raise errors.CniError(str(e)) from e


def _later(verb: str, message: str) -> errors.CniError:
    """Try again later: code 11, or 50 for STATUS (not ready)."""
    return errors.PluginNotAvailable(message) if verb == "STATUS" else errors.TryAgainLater(message)


def _denied(conn: _Connection, e: kerr.Denied) -> str:
    """A 401 explained from the token (expired? revoked?), a 403 as the RBAC refusal."""
    if e.status == 401 and conn.client is not None:
        from spidernet.k8s import tokens

        return tokens.explain_401(conn.client.creds.token, conn.ipam.kubeconfig, conn.server)
    return (
        f"Kubernetes API {conn.server} refused the request (RBAC): {e}; the node's account "
        "needs the ClusterRole spidernet-ipam of installer/manifests/rbac.yaml"
    )


def cmd_add(cmd: CmdArgs, conf: NetConf) -> Result:
    from spidernet.ipam import adding

    return _verb(cmd, conf, lambda c: c.allocation_timeout, lambda c, s: adding.add(cmd, c, s))


def cmd_del(cmd: CmdArgs, conf: NetConf) -> None:
    from spidernet.ipam import releasing

    # Whether the runtime sent a prevResult at all (even one we cannot parse): it caches
    # results only of ADDs that succeeded (verdicts rule 8).
    sent_prev = "prevResult" in conf.raw
    spec_040 = versions.at_least(conf.cni_version, "0.4.0")
    _verb(
        cmd,
        conf,
        lambda c: c.release_timeout,
        lambda c, s: releasing.delete(cmd, c, s, sent_prev=sent_prev, spec_040=spec_040),
    )


def cmd_check(cmd: CmdArgs, conf: NetConf) -> None:
    from spidernet.ipam import checking

    _verb(cmd, conf, lambda c: c.release_timeout, lambda c, s: checking.check(cmd, c, conf, s))


def cmd_status(cmd: CmdArgs, conf: NetConf) -> None:
    from spidernet.ipam import checking

    _verb(cmd, conf, lambda c: min(c.release_timeout, 5.0), checking.status)


def cmd_gc(cmd: CmdArgs, conf: NetConf) -> None:
    from spidernet.ipam import releasing

    _verb(cmd, conf, lambda c: c.release_timeout, lambda c, s: releasing.gc(c, conf, s))


PLUGIN = skel.Plugin(
    name="spiderpool",
    add=cmd_add,
    delete=cmd_del,
    check=cmd_check,
    status=cmd_status,
    gc=cmd_gc,
    known_args=KNOWN_ARGS,
)
