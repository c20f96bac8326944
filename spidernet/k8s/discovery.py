"""Is a resource served? Asked of API discovery, which always answers. Does I/O.

A LIST of a custom resource whose CRD is not installed answers 404 naming no object,
which both transports read as "not served yet" and retry until their deadline (right
after an API server start, a CRD's path 404s for a moment: docs/testbed.md). Code that
must tell "not installed" at once (the SpiderMultusConfig pass when Multus is absent,
``spiderpoolctl multus``) asks discovery first: ``/apis`` lists the groups, and
``/apis/<group>/<version>`` the resources of a group that is there.
"""

from __future__ import annotations

from spidernet.k8s.transport import Transport


def served(transport: Transport, group_version: str, resource: str) -> bool:
    group = group_version.split("/")[0]
    groups = transport.get("/apis").get("groups") or []
    versions = {
        v.get("groupVersion")
        for g in groups
        if g.get("name") == group
        for v in g.get("versions") or []
    }
    if group_version not in versions:
        return False
    resources = transport.get(f"/apis/{group_version}").get("resources") or []
    return any(r.get("name") == resource for r in resources)
