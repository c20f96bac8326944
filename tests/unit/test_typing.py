"""The shipped package type-checks under ``mypy --strict`` (STYLE.md; settings in
pyproject.toml [tool.mypy]). One case: the whole of ``spidernet/`` and ``installer/``, with mypy's cache
under the project cache so that a re-run only checks what changed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tools.testbed import paths


def test_the_shipped_packages_type_check_under_mypy_strict() -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed in this interpreter (tools/bootstrap.sh installs it)")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(paths.CACHE / "mypy"), "--no-error-summary"],
        cwd=paths.REPO, capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
