"""ifacer CNI plugin entry point (frozen into its own bundle). See spidernet.ifacer."""

import sys

from spidernet.ifacer import plugin
from spidernet.protocol import skel

if __name__ == "__main__":
    sys.exit(skel.run(plugin.PLUGIN))
