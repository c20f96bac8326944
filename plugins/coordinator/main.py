"""coordinator CNI plugin entry point (frozen into its own bundle)."""

import sys

from spidernet.protocol import errors, skel
from spidernet.protocol.env import CmdArgs
from spidernet.types.netconf import NetConf
from spidernet.types.results import Result


def add(cmd: CmdArgs, conf: NetConf) -> Result:
    raise errors.CniError("coordinator: ADD is not implemented in this build")


def delete(cmd: CmdArgs, conf: NetConf) -> None:
    """Nothing was ever added by this build, so there is nothing to remove."""


if __name__ == "__main__":
    sys.exit(skel.run(skel.Plugin(name="coordinator", add=add, delete=delete)))
