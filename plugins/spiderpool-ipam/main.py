"""spiderpool IPAM plugin entry point (frozen into its own bundle). See spidernet.ipam."""

import sys

from spidernet.protocol import skel


def load() -> skel.Plugin:
    """Imported once the verb is known to need it: a VERSION exec loads none of it."""
    from spidernet.ipam import plugin

    return plugin.PLUGIN


if __name__ == "__main__":
    sys.exit(skel.run_lazily("spiderpool", load))
