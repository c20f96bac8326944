"""The GC CronJob's entry point (installer/manifests/gc.yaml: python3 /opt/spidernet/gc/main.py).

A script, not a package: ``gc`` is a standard-library module name. See spidernet.gc.
"""

import sys

from spidernet.gc import command

if __name__ == "__main__":
    sys.exit(command.main())
