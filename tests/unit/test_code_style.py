"""The tree is formatted and linted by ruff (settings in pyproject.toml [tool.ruff]).
Two cases: ``ruff format --check`` (one formatter, no per-line opt-outs) and ``ruff check``
(the selected lint rules). Both read the whole repository in well under a second."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tools.testbed import paths


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed in this interpreter (tools/bootstrap.sh installs it)")
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        cwd=paths.REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_python_file_is_formatted_by_ruff() -> None:
    proc = _ruff("format", "--check", ".")
    assert proc.returncode == 0, f"run `ruff format .`:\n{proc.stdout}{proc.stderr}"


def test_the_tree_passes_the_selected_lint_rules() -> None:
    proc = _ruff("check", "--output-format", "concise", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr
