"""Our kustomize manifests, rendered and applied to the local control plane. Does I/O.

``render`` runs ``kubectl kustomize`` (what users run), ``listed`` just reads the files a
kustomization lists (no kubectl needed); ``apply`` is a server-side
apply (``kubectl apply --server-side``), optionally as a dry run, with the resource's
path found by API discovery, so any kind the server serves works, CRDs included.
``for_1_20`` is what the 1.20 test apiserver needs to judge objects written for
current clusters: batch/v1 CronJob as batch/v1beta1 (same spec; v1 came in 1.21), and a
DaemonSet's surge rollout (``maxSurge``, 1.22) as the default one.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any, Protocol

import yaml

from tools.testbed import paths

MANIFESTS = paths.REPO / "installer" / "manifests"
FIELD_MANAGER = "spidernet-tests"


class _Requester(Protocol):
    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        insecure: bool = False,
        content_type: str = "application/json",
    ) -> tuple[int, Any]: ...


def kubectl() -> str | None:
    return shutil.which("kubectl")


def kubectls() -> list[str]:
    """Every kubectl here to render with: Debian's 1.20 from the cache (its kustomize
    v2.0.3 is the oldest a user may run; tools/bootstrap.sh unpacks it) and the one on
    PATH, when it is another."""
    found = [str(paths.KUBECTL)] if paths.KUBECTL.is_file() else []
    on_path = kubectl()
    if on_path and Path(on_path).resolve() != paths.KUBECTL.resolve():
        found.append(on_path)
    return found


def render(directory: Path, binary: str | None = None) -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize <directory>`` renders, in its order."""
    binary = binary or kubectl()
    if binary is None:
        raise FileNotFoundError("kubectl is not installed")
    proc = subprocess.run([binary, "kustomize", str(directory)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{binary} kustomize {directory}: {proc.stderr.strip()}")
    out = proc.stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def listed(directory: Path) -> list[dict[str, Any]]:
    """The objects of the files ``directory``'s kustomization lists, read as they are:
    for tests that need the objects but not kubectl (ours use no transformer but images)."""
    names = yaml.safe_load((directory / "kustomization.yaml").read_text())["resources"]
    return [
        doc for name in names for doc in yaml.safe_load_all((directory / name).read_text()) if doc
    ]


def _api_base(api_version: str) -> str:
    return f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"


def resource_path(cp: _Requester, obj: dict[str, Any]) -> str:
    """The object's REST path, from the server's discovery document for its API version."""
    base = _api_base(obj["apiVersion"])
    status, reply = cp.request("GET", base)
    if status != 200:
        raise LookupError(f"{obj['apiVersion']} is not served (HTTP {status})")
    for resource in reply["resources"]:
        if resource["kind"] == obj["kind"] and "/" not in resource["name"]:
            meta = obj["metadata"]
            scope = (
                f"/namespaces/{meta.get('namespace', 'default')}" if resource["namespaced"] else ""
            )
            return f"{base}{scope}/{resource['name']}/{meta['name']}"
    raise LookupError(f"{obj['apiVersion']} serves no kind {obj['kind']}")


def apply(cp: _Requester, obj: dict[str, Any], *, dry_run: bool) -> tuple[int, Any]:
    query = f"?fieldManager={FIELD_MANAGER}&force=true" + ("&dryRun=All" if dry_run else "")
    return cp.request(
        "PATCH", resource_path(cp, obj) + query, obj, content_type="application/apply-patch+yaml"
    )


def for_1_20(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    if out["kind"] == "CronJob" and out["apiVersion"] == "batch/v1":
        out["apiVersion"] = "batch/v1beta1"
    rolling = out.get("spec", {}).get("updateStrategy", {}).get("rollingUpdate", {})
    if out["kind"] == "DaemonSet" and rolling.pop("maxSurge", None) is not None:
        rolling["maxUnavailable"] = 1
    return out
