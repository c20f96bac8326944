"""ifacer's CNI handlers (docs/ifacer.md). Does I/O through ``devices``.

ADD makes the VLAN/bond devices and passes ``prevResult`` through (upstream drops it;
ifacer is usually first, but nothing forces that). DEL never removes host devices:
other pods on the node use them. CHECK verifies they exist, are up and are what the
config says.

Error codes (documented contract, docs/ifacer.md), all set in ``_translated``, the one
place that turns ``devices``' errors into CNI codes:
  7    bad config, or a host device that contradicts it, or a bond option the kernel
       refuses (the field named)
  120  the kernel refused a device change (what, and its errno, in the message)
  121  CHECK: a device is missing, down, or not what the config says
"""

from __future__ import annotations

from collections.abc import Callable

from spidernet.ifacer import config
from spidernet.protocol import errors, logs, skel
from spidernet.protocol.env import CmdArgs
from spidernet.types.netconf import NetConf
from spidernet.types.results import Result

TYPE_CHECKING = False  # typing is not imported at run time (docs/performance.md)
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")

KERNEL_REFUSED = 120
CHECK_FAILED = 121


def _setup(cmd: CmdArgs, conf: NetConf) -> config.IfacerConf:
    c = config.parse(conf)
    logs.setup(
        "ifacer",
        c.log,
        {"command": cmd.command, "containerID": cmd.container_id, "ifname": cmd.ifname},
    )
    return c


def _translated(action: Callable[[], T]) -> T:
    """The one translation point from ``devices``' errors to CNI codes."""
    from spidernet.ifacer import devices

    try:
        return action()
    except devices.Refused as e:
        raise errors.InvalidConfig(e.field, e.problem) from e
    except devices.ChangeRefused as e:
        raise errors.PluginError(KERNEL_REFUSED, f"the kernel refused a device change: {e}") from e
    except devices.CheckFailed as e:
        raise errors.PluginError(CHECK_FAILED, str(e)) from e


def add(cmd: CmdArgs, conf: NetConf) -> Result:
    c = _setup(cmd, conf)
    if c.vlan_id or c.bond:
        from spidernet.ifacer import devices
        from spidernet.netlink.links import Links

        with Links() as links:
            _translated(lambda: devices.ensure(c, links))
    return conf.prev_result or Result()


def delete(cmd: CmdArgs, conf: NetConf) -> None:
    """Host devices stay: other pods' macvlans sit on them. A config that no
    longer parses is no reason to fail a DEL, so it is not even read."""


def check(cmd: CmdArgs, conf: NetConf) -> None:
    c = _setup(cmd, conf)
    from spidernet.ifacer import devices
    from spidernet.netlink.links import Links

    with Links() as links:
        _translated(lambda: devices.verify(c, links))


PLUGIN = skel.Plugin(name="ifacer", add=add, delete=delete, check=check)
