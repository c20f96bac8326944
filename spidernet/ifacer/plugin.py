"""ifacer's CNI handlers. Device work (VLAN, bond) lands with its own issue; until then
ADD validates the config and passes prevResult through, and refuses to pretend when
devices would be needed."""

from __future__ import annotations

from spidernet.ifacer import config
from spidernet.protocol import errors, skel
from spidernet.protocol.env import CmdArgs
from spidernet.types.netconf import NetConf
from spidernet.types.results import Result


def add(cmd: CmdArgs, conf: NetConf) -> Result:
    c = config.parse(conf)
    if c.vlan_id or (len(c.interfaces) > 1 and c.bond):
        raise errors.CniError("ifacer: creating VLAN/bond devices is not implemented in this build")
    return conf.prev_result or Result()


def delete(cmd: CmdArgs, conf: NetConf) -> None:
    """DEL never removes host devices: other pods may use them (SPEC §3)."""


def check(cmd: CmdArgs, conf: NetConf) -> None:
    config.parse(conf)


PLUGIN = skel.Plugin(name="ifacer", add=add, delete=delete, check=check)
