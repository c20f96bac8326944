"""The bundles' runtime hook gives child processes the caller's LD_LIBRARY_PATH back
(tools/bundle/pyi_rth_child_env.py). Runs the hook in a fresh interpreter per case.

| caller had | the bootloader left | a child sees |
|---|---|---|
| unset | ``_internal`` only (it restarted) | unset |
| ``/opt/lib`` | ``_internal:/opt/lib``, ``_ORIG=/opt/lib`` (it restarted) | ``/opt/lib`` |
| unset | nothing (the launcher spared it the restart) | unset |
| ``/opt/lib`` | ``/opt/lib`` (no restart) | ``/opt/lib`` |
| ``/opt/lib``, ``_ORIG=/x`` | the same (no restart) | the same |

("caller had": its LD_LIBRARY_PATH; a child never sees ``LD_LIBRARY_PATH_ORIG`` the
bootloader set.)
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tools.testbed import paths

HOOK = paths.REPO / "tools" / "bundle" / "pyi_rth_child_env.py"
CHILD = (  # sys._MEIPASS: the bundle's _internal/, which PyInstaller's bootloader sets
    "import os, runpy, subprocess, sys; sys._MEIPASS = '/b/_internal'; "
    "runpy.run_path(sys.argv[1]); "
    "print(subprocess.run(['env'], capture_output=True, text=True).stdout)"
)


@pytest.mark.parametrize(
    ("left", "seen"),
    [
        ({"LD_LIBRARY_PATH": "/b/_internal"}, {}),
        (
            {"LD_LIBRARY_PATH": "/b/_internal:/opt/lib", "LD_LIBRARY_PATH_ORIG": "/opt/lib"},
            {"LD_LIBRARY_PATH": "/opt/lib"},
        ),
        ({}, {}),
        ({"LD_LIBRARY_PATH": "/opt/lib"}, {"LD_LIBRARY_PATH": "/opt/lib"}),
        (
            {"LD_LIBRARY_PATH": "/opt/lib", "LD_LIBRARY_PATH_ORIG": "/x"},
            {"LD_LIBRARY_PATH": "/opt/lib", "LD_LIBRARY_PATH_ORIG": "/x"},
        ),
    ],
)
def test_a_child_process_sees_the_library_path_the_plugin_was_started_with(
    left: dict[str, str], seen: dict[str, str]
) -> None:
    # LD_LIBRARY_PATH pointing at nothing harmful: this interpreter starts with it as given.
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(HOOK)],
        env={"PATH": "/usr/bin:/bin", **left},
        capture_output=True,
        text=True,
        check=True,
    )
    child_env = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    assert {k: v for k, v in child_env.items() if k.startswith("LD_")} == seen, json.dumps(
        child_env
    )
