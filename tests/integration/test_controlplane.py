"""The local control plane is a real apiserver with optimistic concurrency.

Cases: a CRD with a status subresource is served; a custom resource is created; a
status PUT carrying the current resourceVersion succeeds; one carrying a stale
resourceVersion gets 409 Conflict; the kubeconfig written for plugins works with the
`kubernetes` client (token + CA file).
"""

from __future__ import annotations

import pytest

from tools.testbed.controlplane import ControlPlane

pytestmark = pytest.mark.apiserver

GROUP, VERSION, PLURAL = "test.spidernet.io", "v1", "widgets"

WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Cluster",
        "names": {"plural": PLURAL, "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                            "status": {
                                "type": "object",
                                "properties": {"count": {"type": "integer"}},
                            },
                        },
                    }
                },
            }
        ],
    },
}

BASE = f"/apis/{GROUP}/{VERSION}/{PLURAL}"


def test_stale_resource_version_on_status_update_is_409(control_plane: ControlPlane) -> None:
    control_plane.apply_crd(WIDGET_CRD)
    status, created = control_plane.request(
        "POST",
        BASE,
        {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Widget", "metadata": {"name": "w1"}},
    )
    assert status == 201, created
    stale = created["metadata"]["resourceVersion"]

    fresh = {**created, "status": {"count": 1}}
    status, updated = control_plane.request("PUT", f"{BASE}/w1/status", fresh)
    assert status == 200, updated
    assert updated["metadata"]["resourceVersion"] != stale

    again = {
        **created,
        "metadata": {**created["metadata"], "resourceVersion": stale},
        "status": {"count": 2},
    }
    status, reply = control_plane.request("PUT", f"{BASE}/w1/status", again)
    assert status == 409, reply
    assert reply["reason"] == "Conflict"


def test_written_kubeconfig_works_with_the_kubernetes_client(control_plane: ControlPlane) -> None:
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(control_plane.kubeconfig))
    names = [ns.metadata.name for ns in client.CoreV1Api(api).list_namespace().items]
    assert "default" in names
