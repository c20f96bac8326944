"""``python -m spidernet.gc``: the same entry as gc/main.py."""

import sys

from spidernet.gc import command

sys.exit(command.main())
