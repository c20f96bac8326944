"""Pool usage from the GC's pass to the installer's gauges, on a real API server, each side
with the account the manifests give it (docs/metrics.md, "Pool usage").

| step                                                | expected                              |
|-----------------------------------------------------|---------------------------------------|
| a pool of 10, two pods given an address by the      | ConfigMap spidernet-pool-usage:       |
| frozen IPAM; a GC pass as spidernet-gc (the         | total 10, allocated 2, cooling 0;     |
| ConfigMap does not exist: created)                  | the pass has no error                 |
| a third pod; a second pass (replaced)               | allocated 3                           |
| the installer's reader, as spidernet-node           | spidernet_pool_ips{pool, state} 10/3/0|
|                                                     | and the GC gauges: last pass ok       |
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from installer import exporting, poolusage, settings
from tests.integration import accounts
from tests.integration.gc_scenarios import GcEnv, gc_cluster  # noqa: F401
from tools.testbed.cluster import Cluster

pytestmark = [pytest.mark.apiserver]


def token_files(env: GcEnv, account: str) -> tuple[Path, Path]:
    token = env.base / f"{account}.token"
    token.write_text(accounts.token(env.cp, "kube-system", account))
    return token, env.cp.ca_file


def kubeconfig_for(env: GcEnv, account: str) -> str:
    token, ca = token_files(env, account)
    path = env.base / f"{account}.kubeconfig"
    cluster = {"server": env.cp.server, "certificate-authority": str(ca)}
    path.write_text(
        json.dumps(
            {
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": {"tokenFile": str(token)}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return str(path)


def published(env: GcEnv) -> dict[str, object]:
    status, obj = env.cp.request(
        "GET", "/api/v1/namespaces/kube-system/configmaps/spidernet-pool-usage"
    )
    assert status == 200, obj
    return dict(json.loads(obj["data"]["usage.json"]))


def test_a_gc_pass_publishes_pool_usage_that_the_installer_serves_as_gauges(
    gc_cluster: Cluster,  # noqa: F811
    tmp_path: Path,
    bundle_bin: Path,
) -> None:
    env = GcEnv(gc_cluster, tmp_path)
    accounts.apply_rbac(env.cp)
    pool = env.name("pool")
    env.cluster.pool(pool, "10.241.0.0/24", ["10.241.0.10-10.241.0.19"])
    node = env.node("n1", pool=pool).name
    for name in ("a", "b"):
        env.running_pod(name, node)
    gc = kubeconfig_for(env, "spidernet-gc")
    first = env.gc("--state-namespace", "kube-system", kubeconfig=gc)
    assert first.rc == 0 and first.report["errors"] == [], first.report["errors"]
    assert published(env)["pools"][pool] == {"total": 10, "allocated": 2, "cooling": 0}  # type: ignore[index]
    env.running_pod("c", node)
    second = env.gc("--state-namespace", "kube-system", kubeconfig=gc)
    assert second.rc == 0 and second.report["errors"] == [], second.report["errors"]
    doc = published(env)
    assert doc["pools"][pool]["allocated"] == 3 and doc["ok"] is True  # type: ignore[index]

    token, ca = token_files(env, "spidernet-node")
    conf = settings.Settings(token_file=str(token), ca_file=str(ca), api_server=env.cp.server)
    reader = poolusage.Reader(conf, every=0)
    exporter = exporting.Exporter(
        str(tmp_path / "none"), lambda: True, lambda: True, reader.current
    )
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(exporter.scrape().decode())
        for s in family.samples
    }
    for state, value in (("total", 10), ("allocated", 3), ("cooling", 0)):
        assert got[("spidernet_pool_ips", (("pool", pool), ("state", state)))] == value
    assert got[("spidernet_gc_last_pass_ok", ())] == 1
