"""Where tools/bootstrap.sh leaves things. No I/O beyond reading the environment."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("SPIDERNET_CACHE", Path.home() / ".cache" / "spidernet"))
BIN = CACHE / "bin"
KUBE_APISERVER = BIN / "kube-apiserver"
# The local cluster's (tools/bootstrap.sh --cluster), from the same kubernetes source.
KUBELET = BIN / "kubelet"
KUBE_SCHEDULER = BIN / "kube-scheduler"
KUBE_CONTROLLER_MANAGER = BIN / "kube-controller-manager"
KUBECTL = BIN / "kubectl"
CNIRUN = BIN / "cnirun"
UML_MODULE_ROOT = CACHE / "uml"  # holds lib/modules/<ver> -> /usr/lib/uml/modules/<ver>
REFERENCE_PLUGINS = Path("/usr/lib/cni")
# Our frozen bundles: tools/build_bundles.sh writes <dir>/<plugin> symlinks here.
BUNDLE_BIN = Path(os.environ.get("SPIDERNET_BUNDLE_BIN", CACHE / "bundles" / "current" / "bin"))


def cni_path() -> str:
    """CNI_PATH covering our bundles first, then Debian's reference plugins."""
    return f"{BUNDLE_BIN}:{REFERENCE_PLUGINS}"
