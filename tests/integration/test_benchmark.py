"""The seed benchmark (tools/bench/seed.py), small, as a correctness test: never a time asserted.

| case            | mode  | scenario   | family | pods / nodes / per  | plugins                   |
|                 |       |            |        | node                |                           |
|-----------------|-------|------------|--------|---------------------|---------------------------|
| ipam, all three | ipam  | IPs = pods | IPv4   | 20 / 4 / 2          | spiderpool, floor,        |
|                 |       |            |        |                     | host-local                |
| chain           | chain | IPs = pods | dual   | 10 / 3 / 2          | spiderpool                |
| slow: 200 pods  | ipam  | both       | dual   | 200 / 10 / 5        | spiderpool, floor         |

Every phase (create, rebuild, reboot, node-loss, delete) of every plugin whose state is
in the API must end with zero duplicates, zero I1 violations, zero leaks (read back
from the pools and endpoints), zero failures after the kubelet-like retries, and every
target pod served; a rebooted node's pods keep their addresses (spiderpool); the GC
pass frees exactly the lost nodes' pods' addresses; nothing is left after delete. For
host-local (state on disk) only duplicates among the addresses given are checked.
The kubelet's 10 s retry period is shortened to 0.3 s to keep the test short.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools.bench import seed

pytestmark = [pytest.mark.apiserver]

PHASES = ["create", "rebuild", "reboot", "node-loss", "delete"]


def run(out: Path, *args: str) -> dict[str, Any]:
    assert (
        seed.main(["--backoff", "0.3", "--give-up", "120", "--quiet", "--out", str(out), *args])
        == 0
    )
    return dict(json.loads((out / "results.json").read_text()))


def assert_correct(result: dict[str, Any], plugins: set[str]) -> None:
    for r in result["runs"]:
        figs = r["figures"]
        assert {f["plugin"] for f in figs} == plugins
        for f in figs:
            where = f"{r['scenario']}-{r['family']} {f['phase']} {f['plugin']}"
            if f["skipped"]:
                assert f["plugin"] not in ("spiderpool", "floor"), where
                continue
            c = f["checks"]
            assert f["failures"] == 0, (where, f["failure_examples"])
            assert f["done"] == f["target"], where
            assert c.get("duplicates", c["duplicates (results)"]) == 0, (where, c.get("examples"))
            if f["plugin"] in ("spiderpool", "floor"):
                assert c["I1 violations"] == 0 and c["leaks"] == 0, (where, c["examples"])
            if f["phase"] == "node-loss":
                gc = f["gc"]
                assert gc["rc"] == 0 and gc["released"] == gc["expected"] > 0, (where, gc)
            if f["phase"] == "delete" and f["plugin"] == "spiderpool":
                assert c["holders"] == 0 and c["endpoints left"] == 0, where
            if f["phase"] == "reboot" and f["plugin"] == "spiderpool":
                assert c["addresses changed"] == 0, (where, f["notes"])
        assert [f["phase"] for f in figs if f["plugin"] == "spiderpool"] == PHASES


def test_every_phase_of_a_20_pod_run_ends_with_no_duplicate_failure_or_leak(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "--pods",
        "20",
        "--nodes",
        "4",
        "--concurrency",
        "2",
        "--compare",
        "/usr/lib/cni/host-local",
        "--compare-conf",
        "tools/bench/host-local-v4.json",
    )
    assert_correct(result, {"spiderpool", "floor", "host-local"})
    assert (tmp_path / "ipam-exact-v4.png").stat().st_size > 1000
    assert "spiderpool" in (tmp_path / "tables.md").read_text()


@pytest.mark.netns
def test_the_chain_through_libcni_macvlan_and_coordinator_in_dual_stack_ends_clean(
    tmp_path: Path,
) -> None:
    result = run(
        tmp_path,
        "--mode",
        "chain",
        "--family",
        "dual",
        "--pods",
        "10",
        "--nodes",
        "3",
        "--concurrency",
        "2",
        "--no-floor",
    )
    assert_correct(result, {"spiderpool"})


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_a_200_pod_run_in_both_scenarios_dual_stack_ends_clean(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "--pods",
        "200",
        "--scenario",
        "exact,sufficient",
        "--family",
        "dual",
        "--backoff",
        "2",
    )
    assert_correct(result, {"spiderpool", "floor"})
