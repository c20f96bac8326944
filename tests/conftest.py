"""Session fixtures for real components: the control plane, the frozen bundles, netns.

Tests that need root or a component that is missing fail or skip with the reason
spelled out, never silently (``tools/test.sh`` sets everything up before pytest).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.testbed import cni, netns, paths
from tools.testbed.cluster import Cluster
from tools.testbed.controlplane import ControlPlane

# tests/uml_guest/ needs VLAN and bonding, which only the UML kernel has: the host runs
# it through tests/e2e/test_in_uml.py, which boots UML with SPIDERNET_UML_GUEST set.
IN_UML_GUEST = os.environ.get("SPIDERNET_UML_GUEST") == "1"
collect_ignore_glob = [] if IN_UML_GUEST else ["uml_guest/*"]
OUTCOMES_DIR = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    if os.geteuid() == 0:
        netns.cleanup_stale()
    # The outcome line every plugin exec appends (docs/metrics.md) goes to a file of this
    # run, not to the machine's /run/spidernet/metrics (runtimes and cni.exec_plugin pass
    # the variable on; a test that reads the record sets its own).
    if "SPIDERNET_OUTCOMES" not in os.environ:
        record = Path(tempfile.mkdtemp(prefix="spidernet-outcomes-")) / "outcomes.jsonl"
        os.environ["SPIDERNET_OUTCOMES"] = str(record)
        config.stash[OUTCOMES_DIR] = record.parent


def pytest_unconfigure(config: pytest.Config) -> None:
    made = config.stash.get(OUTCOMES_DIR, None)
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)
        os.environ.pop("SPIDERNET_OUTCOMES", None)


@pytest.fixture(autouse=True)
def no_reply_is_999(request: pytest.FixtureRequest) -> Iterator[None]:
    """No exec of a frozen plugin answers 999 (tools/testbed/cni.py keeps each that did),
    unless the test is marked ``answers_999`` with the reason."""
    del cni.INTERNAL_ERRORS[:]
    yield
    seen = list(cni.INTERNAL_ERRORS)
    del cni.INTERNAL_ERRORS[:]
    if seen and request.node.get_closest_marker("answers_999") is None:
        pytest.fail(f"{len(seen)} plugin replies were 999, the first: {seen[0]}")


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    with ControlPlane() as cp:
        yield cp


@pytest.fixture(scope="session")
def bundle_bin() -> Path:
    """Directory of our frozen plugins (tools/build_bundles.sh)."""
    for name in ("ifacer", "spiderpool", "coordinator"):
        if not (paths.BUNDLE_BIN / name).exists():
            pytest.fail(
                f"{paths.BUNDLE_BIN / name} missing: run tools/build_bundles.sh "
                "(tools/test.sh does)"
            )
    return paths.BUNDLE_BIN


@pytest.fixture
def underlay() -> Iterator[netns.Underlay]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    with netns.Underlay() as u:
        yield u


@pytest.fixture(scope="session")
def cluster(control_plane: ControlPlane) -> Cluster:
    """The control plane with our CRDs installed."""
    c = Cluster(control_plane)
    c.install_crds()
    return c


@pytest.fixture
def api_underlay(control_plane: ControlPlane) -> Iterator[netns.Underlay]:
    """An underlay whose nodes reach the control plane (each node netns gets an apiproxy)."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    with netns.Underlay(api_port=control_plane.port) as u:
        yield u
