"""coordinator CNI plugin entry point (frozen into its own bundle). See spidernet.coordinator."""

import sys

from spidernet.coordinator import plugin
from spidernet.protocol import skel

if __name__ == "__main__":
    sys.exit(skel.run(plugin.PLUGIN))
