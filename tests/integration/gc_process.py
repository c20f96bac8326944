"""One GC pass as the CronJob runs it: gc/main.py in a process of its own. Not a test module.
Does I/O."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tools.testbed import paths


def run(kubeconfig: str | Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(paths.REPO / "gc" / "main.py"),
            "--kubeconfig",
            str(kubeconfig),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=paths.REPO,
        env={**os.environ, "PYTHONPATH": str(paths.REPO)},
    )


def report(kubeconfig: str | Path, *args: str) -> dict[str, Any]:
    """The pass's JSON report."""
    done = run(kubeconfig, *args)
    out: dict[str, Any] = json.loads(done.stdout)
    return out
