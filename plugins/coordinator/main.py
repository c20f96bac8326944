"""coordinator CNI plugin entry point (frozen into its own bundle). See spidernet.coordinator."""

import sys

from spidernet.protocol import skel


def load() -> skel.Plugin:
    """Imported once the verb is known to need it: a VERSION exec loads none of it."""
    from spidernet.coordinator import plugin

    return plugin.PLUGIN


if __name__ == "__main__":
    sys.exit(skel.run_lazily("coordinator", load))
