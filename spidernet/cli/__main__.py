"""``python -m spidernet.cli``: the same entry as the ``spiderpoolctl`` console script."""

import sys

from spidernet.cli import main

sys.exit(main.main())
