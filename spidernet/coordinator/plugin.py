"""Wiring of the coordinator: config -> logger -> netns handles -> verb, and error codes. Does I/O.

Error codes (documented contract, docs/coordinator.md):
  7    bad config, the key named (incl. a missing ``prevResult`` and a
       ``podDefaultRouteNic`` that is not an interface of the pod)
  8    ADD/CHECK: the pod's netns cannot be opened (gone, or not a netns); DEL: it exists
       and is a netns but cannot be opened (a gone or non-netns path is DEL success)
  110  IP conflict: another host answers for the pod's address (IP and MAC named)
  111  the gateway does not answer ARP / neighbour solicitation
  112  the pod is not in a state the coordinator can work with (NIC missing or without
       address, a later NIC whose first NIC was not coordinated, overlay on the first NIC)
  113  CHECK found host or pod state missing
  999  anything else (a netlink refusal, iptables failing), with what was being done
The coordinator reads only its CNI config: no API server, no agent.
"""

from __future__ import annotations

from collections.abc import Callable

from spidernet.coordinator import config
from spidernet.protocol import errors, logs, skel
from spidernet.protocol.env import CmdArgs
from spidernet.types.netconf import NetConf
from spidernet.types.results import Result

TYPE_CHECKING = False  # typing is not imported at run time (docs/performance.md)
if TYPE_CHECKING:
    from typing import TypeVar

    from spidernet.netlink import routing

    T = TypeVar("T")

IP_CONFLICT = 110
GATEWAY_UNREACHABLE = 111
POD_STATE = 112
CHECK_FAILED = 113


def _setup(cmd: CmdArgs, conf: NetConf) -> config.CoordinatorConf:
    """The config (a DEL's leniently: ``config.parse_for_delete``), then the log."""
    problems: list[str] = []
    if cmd.command == "DEL":
        c, problems = config.parse_for_delete(conf)
    else:
        c = config.parse(conf)
    context = {
        "command": cmd.command,
        "containerID": cmd.container_id,
        "netns": cmd.netns,
        "ifname": cmd.ifname,
        "pod": f"{cmd.args.get('K8S_POD_NAMESPACE', '')}/{cmd.args.get('K8S_POD_NAME', '')}".strip(
            "/"
        ),
    }
    logs.setup("coordinator", c.log, context)
    for problem in problems:
        logs.LOG.warning("DEL goes on with a default for a key that does not parse: %s", problem)
    return c


def _translated(action: Callable[[], T]) -> T:
    """The one translation point from the coordinator's errors (``failures``) and the
    netlink package's to CNI codes."""
    from spidernet.coordinator import failures as f
    from spidernet.netlink.records import NetlinkFailure

    try:
        return action()
    except f.IPConflict as e:
        raise errors.PluginError(
            IP_CONFLICT, f"IP conflict: {e.ip} on {e.ifname} is already used by MAC {e.mac}"
        ) from e
    except f.GatewayUnreachable as e:
        raise errors.PluginError(GATEWAY_UNREACHABLE, str(e)) from e
    except f.ProbeFailure as e:
        raise errors.CniError(f"probing failed: {e}") from e
    except f.PodStateError as e:
        raise errors.PluginError(POD_STATE, str(e)) from e
    except f.NotAPodNic as e:
        raise errors.InvalidConfig("podDefaultRouteNic", str(e)) from e
    except f.RouteRefused as e:
        raise errors.InvalidConfig(e.field, str(e)) from e
    except f.CheckFailed as e:
        raise errors.PluginError(CHECK_FAILED, str(e)) from e
    except f.NetnsUnusable as e:
        raise errors.InvalidNetNS(str(e)) from e
    except NetlinkFailure as e:
        raise errors.CniError(f"netlink: {e}") from e


def _probe(cmd: CmdArgs, c: config.CoordinatorConf, prev: Result) -> None:
    if not (c.detect_ip_conflict or c.detect_gateway):
        return
    from spidernet.coordinator import probes

    ips = [ip for ip in prev.ips if _for_nic(prev, ip.interface, cmd.ifname)]
    d = c.detect_options
    probes.probe(
        cmd.netns,
        cmd.ifname,
        [ip.address for ip in ips],
        [ip.gateway for ip in ips if ip.gateway],
        conflict=c.detect_ip_conflict,
        gateway=c.detect_gateway,
        tries=d.retries,
        timeout=d.timeout,
        interval=d.interval,
    )


def _for_nic(prev: Result, index: int | None, ifname: str) -> bool:
    return index is None or (index < len(prev.interfaces) and prev.interfaces[index].name == ifname)


def _open_pod(netns: str) -> routing.Handle:
    from spidernet.coordinator.failures import NetnsUnusable
    from spidernet.netlink import routing

    try:
        return routing.open_handle(netns)
    except OSError as e:
        raise NetnsUnusable(f"cannot open the pod's netns {netns}: {e}") from e


def cmd_add(cmd: CmdArgs, conf: NetConf) -> Result:
    c = _setup(cmd, conf)
    if conf.prev_result is None:
        raise errors.InvalidConfig(
            "prevResult", "is required: the coordinator runs after a main plugin in a chain"
        )
    prev = conf.prev_result
    if c.mode == "disable":
        return prev
    from spidernet.coordinator import adding
    from spidernet.netlink import routing

    def run() -> Result:
        with routing.open_handle() as host, _open_pod(cmd.netns) as pod:
            facts = adding.read_facts(host, pod, c, cmd.ifname)
            _probe(cmd, c, prev)
            return adding.add(cmd, c, prev, host, pod, facts)

    return _translated(run)


def cmd_del(cmd: CmdArgs, conf: NetConf) -> None:
    c = _setup(cmd, conf)
    if c.mode == "disable":
        return
    from spidernet.coordinator import deleting
    from spidernet.netlink import routing

    def run() -> None:
        with routing.open_handle() as host:
            deleting.delete(cmd, c, conf.prev_result, host)

    _translated(run)


def cmd_check(cmd: CmdArgs, conf: NetConf) -> None:
    c = _setup(cmd, conf)
    if conf.prev_result is None:
        raise errors.InvalidConfig("prevResult", "is required for CHECK")
    if c.mode == "disable":
        return
    from spidernet.coordinator import deleting
    from spidernet.netlink import routing

    def run() -> None:
        with routing.open_handle() as host:
            deleting.check(cmd, c, host)

    _translated(run)


PLUGIN = skel.Plugin(name="coordinator", add=cmd_add, delete=cmd_del, check=cmd_check)
