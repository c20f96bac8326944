"""Run tests/uml_guest/ inside one user-mode-Linux boot and report each of its tests here.

Why: the host kernel has no 8021q and no bonding (docs/testbed.md), so tests of VLAN and
bond devices run in a UML kernel that has them. Booting it costs seconds and a guest
control plane costs more, so one boot runs the whole guest suite (pytest inside the
guest, junit XML on the shared /tmp), and every guest test becomes one host test here
whose outcome is the guest's: a failure shows the guest's traceback, a skip its reason.

    host pytest ── uml.run(mem=3G) ──> guest: pytest tests/uml_guest --junitxml=<host tmp>
        test_in_uml[<file>::<test>]  <── junit testcase (passed / failed / skipped)

Guest tests are found by reading the guest files (``ast``), so a test that never ran in
the guest (a crash, a collection error) fails here by name instead of vanishing. Where
UML cannot boot, every case is skipped with ``uml.available()``'s reason.

The boot takes minutes on one guest CPU, so tests/e2e/conftest.py starts it in a
background thread as soon as collection ends (``start``); the host tests run on the
other core meanwhile, and the first case here waits for it (``GuestBoot.wait``).
"""

from __future__ import annotations

import ast
import os
import shutil
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.testbed import paths, uml

GUEST_DIR = paths.REPO / "tests" / "uml_guest"
GUEST_TIMEOUT = 1200.0
GUEST_MEM = "3G"  # etcd + kube-apiserver + the plugins fit (docs/testbed.md)

pytestmark = [pytest.mark.uml, pytest.mark.apiserver, pytest.mark.netns]


def guest_cases() -> list[str]:
    cases = []
    for path in sorted(GUEST_DIR.glob("test_*.py")):
        tree = ast.parse(path.read_text())
        cases += [
            f"{path.name}::{node.name}"
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
        ]
    return cases


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # passed | failed | skipped
    text: str


@dataclass(frozen=True)
class GuestRun:
    outcomes: dict[str, list[Outcome]]  # "<file>::<function>" -> its (parametrized) cases
    log: str  # the tail of the guest's output, for failures that left no junit record


class GuestBoot:
    """One guest run in a background thread; ``wait`` hands back what it gave."""

    def __init__(self) -> None:
        self.report = Path(tempfile.mkdtemp(prefix="spidernet-uml-guest-")) / "junit.xml"
        self.cancel = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="uml-guest")
        self._future = self._pool.submit(self._run)

    def _run(self) -> GuestRun:
        env = {"SPIDERNET_UML_GUEST": "1", **uml.project_env()}
        argv = [
            sys.executable,
            "-m",
            "pytest",
            str(GUEST_DIR),
            "-p",
            "no:cacheprovider",
            "-q",
            "-rs",
            f"--junitxml={self.report}",
            "-o",
            "junit_family=xunit1",
        ]
        result = uml.run(
            argv,
            timeout=GUEST_TIMEOUT,
            mem=GUEST_MEM,
            env=env,
            cwd=str(paths.REPO),
            cancel=self.cancel,
        )
        log = (result.stdout + result.stderr)[-6000:]
        if not self.report.exists():
            raise RuntimeError(
                f"the guest pytest left no report (exit {result.returncode}):\n{log}"
            )
        return GuestRun(_parse(self.report), log)

    def wait(self) -> GuestRun:
        return self._future.result()

    def stop(self) -> None:
        """Kill a guest still running (the session ended early) and wait for the thread."""
        self.cancel.set()
        self._pool.shutdown(wait=True)
        shutil.rmtree(self.report.parent, ignore_errors=True)


_boot: GuestBoot | None = None


def start() -> None:
    """Boot the guest now, in the background (called once collection is done)."""
    global _boot
    if _boot is None and os.geteuid() == 0 and uml.available() is None:
        _boot = GuestBoot()


def stop() -> None:
    if _boot is not None:
        _boot.stop()


@pytest.fixture(scope="module")
def guest_run() -> GuestRun:
    reason = uml.available()
    if reason is not None:
        pytest.skip(reason)
    if os.geteuid() != 0:
        pytest.skip("UML guests with network namespaces need root")
    start()  # no-op when the collection hook already did
    assert _boot is not None
    try:
        return _boot.wait()
    except (uml.UmlError, RuntimeError) as e:
        pytest.fail(f"the UML guest run failed: {e}")


def _parse(report: Path) -> dict[str, list[Outcome]]:
    outcomes: dict[str, list[Outcome]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        name = case.get("name", "")
        status, text = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                status, text = "failed", f"{child.get('message', '')}\n{child.text or ''}"
            elif child.tag == "skipped":
                status, text = "skipped", child.get("message", "")
        key = f"{module}.py::{name.split('[', 1)[0]}"
        outcomes.setdefault(key, []).append(Outcome(name, status, text))
    return outcomes


@pytest.mark.timeout(GUEST_TIMEOUT + 120)
@pytest.mark.parametrize("case", guest_cases())
def test_in_uml(case: str, guest_run: GuestRun) -> None:
    outcomes = guest_run.outcomes.get(case)
    if not outcomes:
        pytest.fail(f"{case} did not run in the guest. Guest output:\n{guest_run.log}")
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        pytest.fail(
            "in UML:\n" + "\n".join(f"--- {o.name}\n{o.text}" for o in failed), pytrace=False
        )
    if all(o.status == "skipped" for o in outcomes):
        pytest.skip(f"in UML: {outcomes[0].text}")
