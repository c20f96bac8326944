"""Start the UML guest suite (tests/e2e/test_in_uml.py) as soon as the session knows it
will run, so that its minutes overlap the host tests; kill it if the session ends first."""

from __future__ import annotations

import pytest

from tests.e2e import test_in_uml


def _is_guest_case(item: pytest.Item) -> bool:
    return item.nodeid.startswith("tests/e2e/test_in_uml.py::")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The guest's cases go last, so the host tests run while the guest boots."""
    items.sort(key=_is_guest_case)  # stable: everything else keeps its order


def pytest_collection_finish(session: pytest.Session) -> None:
    if not session.config.option.collectonly and any(
        _is_guest_case(item) for item in session.items
    ):
        test_in_uml.start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    test_in_uml.stop()
