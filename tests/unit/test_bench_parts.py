"""The benchmark's pure parts: figures, plot series, workload shapes, log lines, the rusage line,
the retry queue.

| part                | cases                                                                   |
|---------------------|-------------------------------------------------------------------------|
| percentile          | nearest rank on 1..100; one value; no values is NaN                     |
| plot series         | rising from 0 for ADD phases, falling from the target for delete        |
| Shape / ranges      | IPs = pods is exactly N; sufficient is 4N; 3 of 10 down, scaled, bounds |
| parse_api_line      | the plugin's debug line; any other message is None                      |
| split_rusage        | the helper's last line split off, with and without the command's stderr |
| fill / placeholders | every @NAME@ of a compare config filled from the run's ranges           |
| Kubelet             | a job asking for a retry runs again later; drain waits for it           |
| pool_scale table    | bytes a record adds and CAS/s over the first row; a refused count named |
"""

from __future__ import annotations

import ipaddress
import math
from pathlib import Path

import pytest

from tools.bench import (
    exec_cost,
    exec_table,
    execs,
    figures,
    kubelet,
    measure,
    plots,
    pool_scale,
    workload,
)
from tools.bench.plugins import Node, fill, placeholders
from tools.testbed.cluster import NodeConfig


def test_percentiles_are_nearest_rank_and_nan_without_values() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [figures.percentile(values, q) for q in (50, 90, 99, 100)] == [50.0, 90.0, 99.0, 100.0]
    assert figures.percentile([7.0], 99) == 7.0
    assert math.isnan(figures.percentile([], 50))


def test_plot_series_rise_for_adds_and_fall_for_deletes() -> None:
    assert plots.series([2.0, 1.0], 2, falling=False) == ([0.0, 1.0, 2.0], [0, 1, 2])
    assert plots.series([1.0, 3.0], 2, falling=True) == ([0.0, 1.0, 3.0], [2, 1, 0])


def test_ips_equal_pods_means_exactly_n_addresses_and_sufficient_four_times_that() -> None:
    exact = workload.Shape.of(1000, 10, "exact", "dual")
    assert exact.pool_size == 1000 and exact.groups == 100 and exact.down_nodes() == [0, 1, 2]
    v4, v6 = workload.ranges(0, exact)
    assert (v4.first, v4.last, v4.gateway) == ("10.200.0.10", "10.200.3.241", "10.200.0.1")
    assert int(ipaddress.ip_address(v6.last)) - int(ipaddress.ip_address(v6.first)) == 999
    assert workload.Shape.of(20, 4, "sufficient", "v4").pool_size == 80
    assert workload.Shape.of(20, 4, "exact", "v4").down == 1
    with pytest.raises(ValueError):
        workload.Shape.of(20, 4, "exact", "v4", down=4)


def test_the_plugins_debug_line_is_parsed_and_other_messages_are_not() -> None:
    line = measure.parse_api_line(
        {
            "msg": "api requests=5 writes=2 conflicts=1 lock_wait=0.012s: GET /a; PUT /b",
            "command": "ADD",
            "containerID": "c1",
        }
    )
    assert line == measure.ApiLine("ADD", "c1", 5, 2, 1, 0.012, ("GET /a", "PUT /b"))
    assert measure.parse_api_line({"msg": "allocated 10.0.0.1"}) is None


def test_the_helpers_rusage_line_is_split_off_the_commands_stderr() -> None:
    err, cpu, rss = execs.split_rusage(b"oops\n\n@rusage 0.100000 0.020000 22340\n")
    assert (err, round(cpu, 6), rss) == (b"oops\n", 0.12, 22340)
    err, cpu, rss = execs.split_rusage(b"\n@rusage 0.000000 0.003000 3524\n")
    assert (err, round(cpu, 6), rss) == (b"", 0.003, 3524)
    assert execs.split_rusage(b"no helper line") == (b"no helper line", 0.0, 0)


def test_every_placeholder_of_a_compare_config_is_filled(tmp_path: Path) -> None:
    shape = workload.Shape.of(20, 4, "exact", "dual")
    node = Node(0, "n0", NodeConfig("n0", tmp_path / "n0"))
    for conf in ("tools/bench/host-local-v4.json", "tools/bench/host-local-dual.json"):
        text = fill(Path(conf).read_text(), placeholders(workload.ranges(2, shape), node))
        assert "@" not in text and "10.202.0.10" in text


def test_a_job_that_asks_for_a_retry_runs_again_and_drain_waits_for_it() -> None:
    runs: list[float] = []

    def job() -> float | None:
        runs.append(1.0)
        return 0.05 if len(runs) < 3 else None

    k = kubelet.Kubelet("n0", 2)
    try:
        k.submit(job)
        k.drain()
    finally:
        k.close()
    assert len(runs) == 3


def test_a_request_is_counted_under_the_kind_of_object_it_is_about() -> None:
    pool = "/apis/spiderpool.spidernet.io/v2beta1/spiderippools/p1"
    assert exec_cost._kind(f"GET {pool}") == "pool"
    assert exec_cost._kind(f"PUT {pool}/status") == "pool"
    assert exec_cost._kind("GET /api/v1/namespaces/ns1/pods/a") == "pod"
    assert exec_cost._kind("GET /api/v1/namespaces/ns1") == "namespace"
    assert exec_cost._kind("GET /apis/x/v2beta1/spiderreservedips?limit=500") == "reserved IPs"


def _exec(cpu_ms: float) -> execs.Exec:
    return execs.Exec(0, b"", b"", 0.0, cpu_ms / 500, cpu_ms / 1000, 20480)


def test_the_table_gives_medians_after_the_warm_up_and_cpu_over_the_floors_add() -> None:
    bench = exec_table.Bench([], runs=3)
    for cpu in (90, 30, 40, 50):
        bench.row("ipam", "ADD", "floor").add(_exec(cpu))
    for cpu in (300, 60, 80, 100):
        bench.row("ipam", "ADD", "after").add(_exec(cpu))
    bench.row("ipam", "ADD", "after").requests.update({"GET pool": 4, "PUT pool": 4})
    lines = exec_table.table(bench)
    assert lines[1].split()[3:7] == ["80.0", "40.0", "20.0", "1.00x"]
    assert lines[2].split()[3:7] == ["160.0", "80.0", "20.0", "2.00x"]
    assert lines[2].endswith("GET pool 1, PUT pool 1")


def test_the_table_names_a_refused_count_by_its_answer() -> None:
    rows = [
        pool_scale.Row(1, body=1200, stored=1150, cas_per_s=100.0),
        pool_scale.Row(1001, body=113_200, stored=113_150, cas_per_s=50.0),
        pool_scale.Row(30000, body=3_372_181, refused="413 Request entity too large"),
    ]
    lines = pool_scale.table(rows)
    assert "112.0" in lines[3] and "0.50" in lines[3]  # bytes a record adds; CAS/s ratio
    assert "refused: 413 Request entity too large" in lines[4]
