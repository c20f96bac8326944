"""Fixtures shared by the pure unit tests. No I/O beyond pytest's tmp_path.

``logs.setup`` rewires the process-wide ``spidernet`` logger (handlers, level,
propagate); every test gets it back as it found it, with any handler a test added
closed, so no open log file leaks into the next test (filterwarnings=error would turn
the ResourceWarning into a failure somewhere unrelated).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _restore_spidernet_logger() -> Iterator[None]:
    logger = logging.getLogger("spidernet")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    for handler in logger.handlers:
        if handler not in handlers:
            handler.close()
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate
