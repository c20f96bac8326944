"""spiderpool IPAM plugin entry point (frozen into its own bundle). See spidernet.ipam."""

import sys

from spidernet.ipam import plugin
from spidernet.protocol import skel

if __name__ == "__main__":
    sys.exit(skel.run(plugin.PLUGIN))
