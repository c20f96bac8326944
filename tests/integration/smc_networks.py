"""The example SpiderMultusConfigs (installer/manifests/examples/multusconfigs) as runnable
chains: rendered by the same code as ``spiderpoolctl multus render`` and the GC's pass,
their pools applied as shipped. Not a test module; the host tests and the UML guest
tests (VLAN, bond, ipvlan) import it. Does I/O (applies pools).

The rendered config is used as it is but for where the node keeps its kubeconfig,
locks, notes and logs (a real node has them at the defaults the installer writes:
/etc/cni/net.d/spiderpool.d, /run/spidernet, /var/lib/cni, /var/log/spidernet).
"""

from __future__ import annotations

import json
from typing import Any

from spidernet.smc import nads
from tests.integration.ipam_scenarios import SimNode
from tools.testbed import manifests
from tools.testbed.cluster import Cluster

EXAMPLES = manifests.MANIFESTS / "examples" / "multusconfigs"


def example(name: str) -> dict[str, Any]:
    return next(
        o
        for o in manifests.listed(EXAMPLES)
        if o["kind"] == nads.KIND and o["metadata"]["name"] == name
    )


def network(cluster: Cluster, name: str, node: SimNode) -> tuple[dict[str, Any], list[str]]:
    """The example's rendered conflist with this node's paths, and its pools, applied."""
    smc = example(name)
    key = f"{smc['metadata']['namespace']}/{nads.nad_name(smc)}"
    pools = [
        o
        for o in manifests.listed(EXAMPLES)
        if o["kind"] == "SpiderIPPool" and key in o["spec"].get("multusName", [])
    ]
    for pool in pools:
        assert manifests.apply(cluster.cp, pool, dry_run=False)[0] in (200, 201)
    conflist = json.loads(nads.config(smc) or "")
    for plugin in conflist["plugins"]:
        if "ipam" in plugin:
            plugin["ipam"] = {**plugin["ipam"], **node.config.ipam()}
        if plugin["type"] == "coordinator":
            plugin["logOptions"] = {"logFile": str(node.config.dir / "coordinator.log")}
        if plugin["type"] == "ifacer":
            plugin["logOptions"] = {"logFile": str(node.config.dir / "ifacer.log")}
    return conflist, [p["metadata"]["name"] for p in pools]


def remove_pools(cluster: Cluster, pools: list[str]) -> None:
    for pool in pools:
        cluster.delete_pool(pool)
