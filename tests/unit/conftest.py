"""Fixtures shared by the pure unit tests. No I/O beyond pytest's tmp_path.

``logs.setup`` rewires the process-wide ``logs.LOG`` (file, level, context); every
test gets it back as it found it, with any file a test opened closed, so no open log
descriptor leaks into the next test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spidernet.protocol import logs


@pytest.fixture(autouse=True)
def _restore_spidernet_logger() -> Iterator[None]:
    saved = dict(vars(logs.LOG))
    yield
    if logs.LOG.fd != saved["fd"]:
        logs.LOG.close()
    vars(logs.LOG).update(saved)
