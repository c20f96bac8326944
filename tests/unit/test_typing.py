"""The shipped package type-checks under ``mypy --strict`` (docs/design.md; settings in
pyproject.toml [tool.mypy]). Two cases: the whole of ``spidernet/`` and ``installer/``, with
mypy's cache under the project cache (one per checkout) so that a re-run only checks what
changed; and the GC's entry script ``gc/main.py``, on its own (``gc/`` is no package: ``gc``
is a standard-library module)."""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys

import pytest

from tools.testbed import paths

# One cache per checkout: worktrees of other branches type-checking at the same time
# wrote into one shared cache, and a run then read another tree's modules (spurious
# "has no attribute" errors seen on this machine).
MYPY_CACHE = paths.CACHE / "mypy" / hashlib.sha256(str(paths.REPO).encode()).hexdigest()[:12]


def test_the_shipped_packages_type_check_under_mypy_strict() -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed in this interpreter (tools/bootstrap.sh installs it)")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--cache-dir",
            str(MYPY_CACHE),
            "--no-error-summary",
        ],
        cwd=paths.REPO,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_gc_entry_script_type_checks_under_mypy_strict() -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed in this interpreter (tools/bootstrap.sh installs it)")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--cache-dir",
            str(MYPY_CACHE),
            "--no-error-summary",
            "gc/main.py",
        ],
        cwd=paths.REPO,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
