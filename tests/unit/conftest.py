"""Fixtures shared by the pure unit tests. No I/O beyond pytest's tmp_path.

``logs.setup`` rewires the process-wide ``logs.LOG`` (file, level, context); every
test gets it back as it found it (records held from before setup included), with any
file a test opened closed, so no open log descriptor leaks into the next test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spidernet.protocol import logs


@pytest.fixture(autouse=True)
def _restore_spidernet_logger() -> Iterator[None]:
    saved = {
        key: list(value) if isinstance(value, list) else value
        for key, value in vars(logs.LOG).items()
    }
    yield
    if logs.LOG.fd != saved["fd"]:
        logs.LOG.close()
    vars(logs.LOG).update(saved)
