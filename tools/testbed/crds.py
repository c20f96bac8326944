"""The suite's CustomResourceDefinitions, read from installer/manifests/crds. Does I/O.

The file list comes from that directory's kustomization.yaml, so what the tests install is
exactly what `kubectl apply -k installer/manifests/crds` installs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import yaml

from tools.testbed import paths

CRD_DIR = paths.REPO / "installer" / "manifests" / "crds"
# Multus owns this one on a real cluster; the test bed installs our copy of its schema.
NAD_CRD = paths.REPO / "tools" / "testbed" / "network-attachment-definitions.yaml"


class _CrdApplier(Protocol):
    def apply_crd(self, crd: dict[str, Any], timeout: float = ...) -> None: ...


def load_all(crd_dir: Path = CRD_DIR) -> list[dict[str, Any]]:
    """Every CRD document listed in the kustomization, in its order."""
    kustomization = yaml.safe_load((crd_dir / "kustomization.yaml").read_text())
    crds: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        with open(crd_dir / resource) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        for doc in docs:
            if doc.get("kind") != "CustomResourceDefinition":
                raise ValueError(
                    f"{resource}: expected a CustomResourceDefinition, got {doc.get('kind')}"
                )
            crds.append(doc)
    return crds


def install(control_plane: _CrdApplier) -> list[str]:
    """Create or replace every CRD and wait until each is Established; returns their names."""
    names = []
    for crd in load_all():
        control_plane.apply_crd(crd)
        names.append(crd["metadata"]["name"])
    return names


def install_multus(control_plane: _CrdApplier) -> None:
    """Multus's NetworkAttachmentDefinition CRD, as a cluster with Multus has it."""
    control_plane.apply_crd(yaml.safe_load(NAD_CRD.read_text()))
