"""SpiderMultusConfigs become their NetworkAttachmentDefinitions on the real API server: by the
GC CronJob's pass (gc/main.py, run as the CronJob runs it) for a CR applied with kubectl,
and at once by ``spiderpoolctl multus apply``. Multus's NAD CRD is installed as a cluster
with Multus has it (tools/testbed/network-attachment-definitions.yaml).

| case                                             | expected                                      |
|--------------------------------------------------|-----------------------------------------------|
| a CR applied with the real kubectl, then one GC  | its NAD: the config byte for byte as          |
| pass                                             | rendered, the CR as controller owner;         |
|                                                  | "created" in the report                       |
| the CR changed, a pass; the CR deleted, a pass   | the NAD updated; then deleted ("its           |
|                                                  | SpiderMultusConfig is gone")                  |
| a NAD of that name not made by a CR              | never written: unchanged after the pass,      |
|                                                  | "refused", an Event on the CR; multus apply:  |
|                                                  | exit 1, no CR stored                          |
| a CR the rules refuse (a key we do not render,   | no NAD; an Event naming spec.macvlan.mtu      |
| kept by the schema)                              |                                               |
| multus apply, again, then with a change          | created/created, unchanged/unchanged,         |
|                                                  | configured/updated                            |
| a CR deleted and made again before a pass        | its predecessor's NAD adopted (owner is the   |
|                                                  | new CR), not deleted                          |
| a pass with --dry-run                            | the report says what it would do; nothing     |
|                                                  | written                                       |
"""

from __future__ import annotations

import copy
import io
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from spidernet.cli import console, main
from spidernet.smc import nads, reconciling
from tests.integration import gc_process
from tools.testbed import crds, manifests
from tools.testbed.cluster import Cluster

pytestmark = pytest.mark.apiserver


@pytest.fixture
def ns(cluster: Cluster) -> str:
    crds.install_multus(cluster.cp)
    name = f"m{secrets.token_hex(3)}"
    cluster.namespace(name)
    return name


def smc(ns: str, name: str, vlan: int = 100, **extra: Any) -> dict[str, Any]:
    macvlan = {"master": ["eno1"], "vlanID": vlan, "ippools": {"ipv4": ["eno1-net90"]}, **extra}
    return {
        "apiVersion": nads.API_VERSION,
        "kind": nads.KIND,
        "metadata": {"name": name, "namespace": ns},
        "spec": {"cniType": "macvlan", "macvlan": macvlan},
    }


def kubectl_apply(cluster: Cluster, obj: dict[str, Any], tmp_path: Path) -> None:
    kubectl = manifests.kubectl()
    if kubectl is None:
        pytest.fail("kubectl is not on PATH: install Debian's kubernetes-client (docs/testbed.md)")
    path = tmp_path / f"{obj['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(obj))
    run = subprocess.run(
        [kubectl, "--kubeconfig", str(cluster.cp.kubeconfig), "apply", "-f", str(path)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr


def gc_pass(cluster: Cluster, ns: str, *args: str) -> dict[str, Any]:
    """One pass as the CronJob runs it; its JSON report."""
    return gc_process.report(cluster.cp.kubeconfig, "--state-namespace", ns, *args)


def mine(report: dict[str, Any], ns: str) -> list[tuple[str, str]]:
    """(NAD, action) of this test's namespace in a pass's report."""
    return [
        (n["networkAttachmentDefinition"], n["action"])
        for n in report["networks"]
        if n["networkAttachmentDefinition"].startswith(f"{ns}/")
    ]


def nad(cluster: Cluster, ns: str, name: str) -> dict[str, Any] | None:
    status, reply = cluster.cp.request("GET", reconciling.nad_path(ns, name))
    return dict(reply) if status == 200 else None


def stored(cluster: Cluster, ns: str, name: str) -> dict[str, Any] | None:
    status, reply = cluster.cp.request("GET", reconciling.smc_path(ns, name))
    return dict(reply) if status == 200 else None


def events(cluster: Cluster, ns: str, reason: str) -> list[str]:
    _, reply = cluster.cp.request("GET", f"/api/v1/namespaces/{ns}/events")
    return [e["message"] for e in reply["items"] if e["reason"] == reason]


def cli(cluster: Cluster, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main.main(
        ["--kubeconfig", str(cluster.cp.kubeconfig), *argv], console.Console(out, err, env={})
    )
    return code, out.getvalue(), err.getvalue()


def test_a_cr_applied_with_kubectl_becomes_its_nad_on_the_next_gc_pass(
    cluster: Cluster, ns: str, tmp_path: Path
) -> None:
    kubectl_apply(cluster, smc(ns, "macvlan-eno1"), tmp_path)
    assert nad(cluster, ns, "macvlan-eno1") is None
    assert mine(gc_pass(cluster, ns, "--dry-run"), ns) == [(f"{ns}/macvlan-eno1", "would create")]
    assert nad(cluster, ns, "macvlan-eno1") is None
    assert mine(gc_pass(cluster, ns), ns) == [(f"{ns}/macvlan-eno1", "created")]
    cr = stored(cluster, ns, "macvlan-eno1")
    made = nad(cluster, ns, "macvlan-eno1")
    assert cr is not None and made is not None
    assert (
        made["spec"]["config"]
        == nads.config(cr)
        == (
            '{"cniVersion":"0.3.1","name":"macvlan-eno1","plugins":[{"vlanID":100,"type":"ifacer","interfaces":["eno1"]},'
            '{"type":"macvlan","master":"eno1.100","mode":"bridge","ipam":{"type":"spiderpool","default_ipv4_ippool":["eno1-net90"]}},'
            '{"type":"coordinator"}]}'
        )
    )
    assert made["metadata"]["ownerReferences"] == [nads.owner_reference(cr)]
    assert mine(gc_pass(cluster, ns), ns) == []  # nothing to do: unchanged is not reported


def test_a_changed_cr_changes_its_nad_and_a_deleted_one_takes_it_along(
    cluster: Cluster, ns: str, tmp_path: Path
) -> None:
    kubectl_apply(cluster, smc(ns, "net"), tmp_path)
    gc_pass(cluster, ns)
    kubectl_apply(cluster, smc(ns, "net", vlan=200), tmp_path)
    assert mine(gc_pass(cluster, ns), ns) == [(f"{ns}/net", "updated")]
    made = nad(cluster, ns, "net")
    assert made is not None and '"master":"eno1.200"' in made["spec"]["config"]
    assert cluster.cp.request("DELETE", reconciling.smc_path(ns, "net"))[0] == 200
    report = gc_pass(cluster, ns)
    assert mine(report, ns) == [(f"{ns}/net", "deleted")] and nad(cluster, ns, "net") is None


def test_a_nad_not_made_by_a_cr_is_never_overwritten(
    cluster: Cluster, ns: str, tmp_path: Path
) -> None:
    theirs = {
        "apiVersion": nads.NAD_API_VERSION,
        "kind": nads.NAD_KIND,
        "metadata": {"name": "net", "namespace": ns},
        "spec": {"config": '{"cniVersion":"0.3.1","name":"net","type":"bridge"}'},
    }
    assert cluster.cp.request("POST", reconciling.nad_path(ns), theirs)[0] == 201
    before = nad(cluster, ns, "net")
    kubectl_apply(cluster, smc(ns, "net"), tmp_path)
    assert mine(gc_pass(cluster, ns), ns) == [(f"{ns}/net", "refused")]
    assert nad(cluster, ns, "net") == before
    assert [
        m for m in events(cluster, ns, "NetworkExists") if f"{ns}/net exists and was not made" in m
    ]
    other = smc(ns, "other")
    other["metadata"]["annotations"] = {nads.ANNO_NAD_NAME: "net"}  # aimed at their NAD
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(other))
    code, out, err = cli(cluster, "multus", "apply", str(path))
    assert (code, out) == (1, "") and "nothing applied: NetworkAttachmentDefinition" in err
    assert stored(cluster, ns, "other") is None and nad(cluster, ns, "net") == before


def test_a_cr_the_rules_refuse_gets_an_event_and_no_nad(cluster: Cluster, ns: str) -> None:
    body = smc(ns, "net", mtu=9000)  # upstream's newer key: kept by our schema, not rendered
    assert cluster.cp.request("POST", reconciling.smc_path(ns), body)[0] == 201
    assert mine(gc_pass(cluster, ns), ns) == [(f"{ns}/net", "invalid")]
    assert nad(cluster, ns, "net") is None
    assert [m for m in events(cluster, ns, "InvalidSpec") if "spec.macvlan.mtu" in m]


def test_multus_apply_writes_the_nad_at_once(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    path = tmp_path / "smc.yaml"
    path.write_text(yaml.safe_dump(smc(ns, "net")))
    outcomes = []
    for vlan in (100, 100, 300):
        path.write_text(yaml.safe_dump(smc(ns, "net", vlan=vlan)))
        code, out, _ = cli(cluster, "multus", "apply", str(path))
        assert code == 0
        outcomes.append([line.rsplit(" ", 1)[1] for line in out.splitlines()])
    assert outcomes == [
        ["created", "created"],
        ["unchanged", "unchanged"],
        ["configured", "updated"],
    ]
    made = nad(cluster, ns, "net")
    assert made is not None and '"master":"eno1.300"' in made["spec"]["config"]


def test_a_cr_made_again_adopts_its_predecessors_nad(cluster: Cluster, ns: str) -> None:
    assert cluster.cp.request("POST", reconciling.smc_path(ns), smc(ns, "net"))[0] == 201
    gc_pass(cluster, ns)
    old = stored(cluster, ns, "net")
    assert cluster.cp.request("DELETE", reconciling.smc_path(ns, "net"))[0] == 200
    again = copy.deepcopy(smc(ns, "net"))
    assert cluster.cp.request("POST", reconciling.smc_path(ns), again)[0] == 201
    assert mine(gc_pass(cluster, ns), ns) == [(f"{ns}/net", "updated")]
    new = stored(cluster, ns, "net")
    made = nad(cluster, ns, "net")
    assert old is not None and new is not None and made is not None
    assert (
        made["metadata"]["ownerReferences"][0]["uid"]
        == new["metadata"]["uid"]
        != old["metadata"]["uid"]
    )
