"""ifacer's CNI handlers (docs/ifacer.md). Does I/O through ``devices``.

ADD makes the VLAN/bond devices and passes ``prevResult`` through (upstream drops it;
ifacer is usually first, but nothing forces that). DEL never removes host devices:
other pods on the node use them. CHECK verifies they exist, are up and are what the
config says (code 121 otherwise). Error codes: 7 bad config or a host device that
contradicts it (the field named); 120 the kernel refused a device change.
"""

from __future__ import annotations

from spidernet.ifacer import config
from spidernet.protocol import logs, skel
from spidernet.protocol.env import CmdArgs
from spidernet.types.netconf import NetConf
from spidernet.types.results import Result


def _setup(cmd: CmdArgs, conf: NetConf) -> config.IfacerConf:
    c = config.parse(conf)
    logs.setup(
        "ifacer",
        c.log,
        {"command": cmd.command, "containerID": cmd.container_id, "ifname": cmd.ifname},
    )
    return c


def add(cmd: CmdArgs, conf: NetConf) -> Result:
    c = _setup(cmd, conf)
    if c.vlan_id or c.bond:
        from spidernet.ifacer import devices
        from spidernet.netlink.links import Links

        with Links() as links:
            devices.ensure(c, links)
    return conf.prev_result or Result()


def delete(cmd: CmdArgs, conf: NetConf) -> None:
    """Host devices stay: other pods' macvlans sit on them. A config that no
    longer parses is no reason to fail a DEL, so it is not even read."""


def check(cmd: CmdArgs, conf: NetConf) -> None:
    c = _setup(cmd, conf)
    from spidernet.ifacer import devices
    from spidernet.netlink.links import Links

    with Links() as links:
        devices.verify(c, links)


PLUGIN = skel.Plugin(name="ifacer", add=add, delete=delete, check=check)
