"""The datapath benchmark's pure parts: tools' output parsed, runs summarised, tables, NAT rules.

| part                         | cases                                                            |
|------------------------------|------------------------------------------------------------------|
| sockperf ping-pong output    | percentiles and rate read; no valid duration / no runs -> named  |
| iperf3 -J                    | Gbit/s and CPU-s per Gbit; an error document -> named            |
| redis-benchmark --csv        | GET and SET; a missing test -> named                             |
| summaries                    | median, range, spread; one run has no spread shown               |
| tables                       | a row per path, ratio to the ceiling row, "–" for a missing one  |
| kube-proxy-like rules        | a DNAT per port, masquerade only outside the cluster CIDR        |
| the docs' results block      | replaced between its kernel's markers, the rest kept; none: named|
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.bench import datapath_figures as figures
from tools.bench import datapath_report as report
from tools.bench import datapath_services as services

SOCKPERF = """\
sockperf: [Total Run] RunTime=2.000 sec; SentMessages=46120; ReceivedMessages=46119
sockperf: ========= Printing statistics for Server No: 0
sockperf: [Valid Duration] RunTime=1.555 sec; SentMessages=36008; ReceivedMessages=36008
sockperf: \x1b[2;35m====> avg-latency=21.578 (std-dev=224.839)\x1b[0m
sockperf: Summary: Latency is 21.578 usec
sockperf: ---> <MAX> observation = 28463.534
sockperf: ---> percentile 99.999 = 28463.534
sockperf: ---> percentile 99.990 = 8212.738
sockperf: ---> percentile 99.900 = 2406.417
sockperf: ---> percentile 99.000 =  162.205
sockperf: ---> percentile 90.000 =   23.930
sockperf: ---> percentile 50.000 =    7.115
sockperf: ---> <MIN> observation =    6.845
"""


def iperf3_doc(bps: float, host: float, remote: float) -> str:
    end = {
        "sum_sent": {"bits_per_second": bps * 1.01},
        "sum_received": {"bits_per_second": bps},
        "cpu_utilization_percent": {"host_total": host, "remote_total": remote},
    }
    return json.dumps({"start": {}, "intervals": [], "end": end})


def test_sockperf_gives_percentiles_and_the_round_trip_rate_of_the_valid_duration() -> None:
    got = figures.sockperf(SOCKPERF)
    assert (got["p50"], got["p99"], got["p99.9"]) == (7.115, 162.205, 2406.417)
    assert got["rr"] == pytest.approx(36008 / 1.555)
    assert got["exchanged"] == 46119  # the whole run's, warm-up included: what the CPU paid for


def test_cpu_per_operation_is_in_microseconds_and_zero_for_no_operations() -> None:
    assert figures.per_op_us(0.5, 10_000) == pytest.approx(50.0)
    assert figures.per_op_us(0.5, 0) == 0.0


@pytest.mark.parametrize(
    "text",
    [
        "sockperf: ERROR: Failed to connect",
        SOCKPERF.replace("ReceivedMessages=36008", "ReceivedMessages=0"),
    ],
)
def test_sockperf_output_without_figures_is_refused_with_its_tail(text: str) -> None:
    with pytest.raises(figures.ParseError, match="sockperf"):
        figures.sockperf(text)


def test_iperf3_gives_received_gbit_and_cpu_seconds_per_gbit_of_both_ends() -> None:
    got = figures.iperf3(iperf3_doc(8e9, host=40.0, remote=60.0))
    assert got["gbit"] == 8.0
    assert got["cpu_per_gbit"] == pytest.approx(1.0 / 8.0)


def test_an_iperf3_error_document_is_refused() -> None:
    with pytest.raises(figures.ParseError, match="iperf3"):
        figures.iperf3(json.dumps({"error": "unable to connect to server"}))


def test_redis_benchmark_csv_gives_get_and_set() -> None:
    text = '"test","rps","avg_latency_ms"\n"SET","38314.18","0.891"\n"GET","31446.54","1.019"\n'
    assert figures.redis_benchmark(text) == {"get": 31446.54, "set": 38314.18}


def test_redis_benchmark_output_without_get_is_refused() -> None:
    with pytest.raises(figures.ParseError, match="GET and SET"):
        figures.redis_benchmark('"test","rps"\n"SET","1.0"\n')


def test_a_summary_holds_median_range_and_half_the_range_as_spread() -> None:
    s = figures.summarise([10.0, 12.0, 11.0])
    assert s == figures.Summary(11.0, 10.0, 12.0, 3)
    assert s.spread == pytest.approx(1 / 11)
    assert figures.cell(s, 1) == "11.0 ±9%"
    assert figures.cell(figures.summarise([5.0]), 0) == "5"
    assert figures.summarise([]) is None


def test_runs_are_flattened_to_tool_dot_metric() -> None:
    flat = figures.flatten({"redis": [{"get": 1.0, "set": 2.0}, {"get": 3.0, "set": 4.0}]})
    assert flat["redis.get"].median == 2.0
    assert flat["redis.set"].runs == 2


def test_a_table_shows_ratios_to_the_ceiling_row_and_a_dash_where_a_path_lacks_one() -> None:
    table = figures.TABLES[1]  # request/response
    rows = [
        figures.Row(
            "node to node",
            figures.flatten({"sockperf": [{"rr": 100.0, "cpu_us": 10.0}]}),
            ceiling=True,
        ),
        figures.Row("macvlan", figures.flatten({"sockperf": [{"rr": 150.0}]})),
        figures.Row("unmeasured", {}),
    ]
    text = figures.render(table, rows)
    assert "1.00x" in text and "1.50x" in text
    assert "unmeasured" not in text
    macvlan = next(line for line in text.splitlines() if line.startswith("macvlan"))
    assert macvlan.split()[-3:] == ["–", "1.50x", "–"]  # no CPU figure, so no CPU ratio
    md = figures.render(table, rows, markdown=True)
    assert md.splitlines()[0] == "| path | rr/s | CPU us/rr | rr/s vs node | CPU vs node |"


def test_kube_proxy_like_rules_dnat_each_port_and_masquerade_outside_the_cluster_cidr() -> None:
    svc = services.Service("macvlan", "10.96.0.10", "10.6.0.11", (80, 443))
    text = services.rules([svc], "10.244.0.0/14")
    assert svc.chain == "KUBE-SVC-MACVLAN"
    assert text.startswith("*nat\n:KUBE-SVC-MACVLAN - [0:0]\n") and text.endswith("COMMIT\n")
    for port in (80, 443):
        match = f"-d 10.96.0.10/32 -p tcp -m tcp --dport {port}"
        assert f"-A KUBE-SERVICES {match} -j KUBE-SVC-MACVLAN" in text
        assert f"-A KUBE-SVC-MACVLAN ! -s 10.244.0.0/14 {match} -j KUBE-MARK-MASQ" in text
        assert f"-A KUBE-SVC-MACVLAN {match} -j DNAT --to-destination 10.6.0.11:{port}" in text
    assert "-A KUBE-POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE" in text


def results_doc() -> dict[str, object]:
    sample = {"sockperf": [{"p50": 10.0, "p99": 20.0, "p99.9": 30.0, "rr": 5.0, "cpu_us": 9.0}]}
    return {
        "kernel": "host",
        "release": "6.1",
        "machine": "2 CPUs",
        "date": "2026-12-07 12:00 UTC",
        "command": "tools/bench/datapath.sh",
        "wall_seconds": 600,
        "settings": {"runs": 1, "seconds": 4, "requests": 100},
        "load": {"before": [1.0], "during": [0.5, 1.5], "after": [1.0]},
        "skipped": [],
        "paths": [{"shape": "node", "target": "pod", "label": "node to node", "samples": sample}],
    }


def test_publishing_replaces_only_the_kernel_s_results_block(tmp_path: Path) -> None:
    docs = tmp_path / "datapath.md"
    docs.write_text("intro\n<!-- results:host -->\nold\n<!-- /results:host -->\nafter\n")
    report.publish(results_doc(), docs)
    text = docs.read_text()
    assert text.startswith("intro\n<!-- results:host -->\nTaken 2026-12-07 12:00 UTC")
    assert "old" not in text and text.endswith("<!-- /results:host -->\nafter\n")
    assert "![datapath figures, host kernel](datapath/datapath-host.png)" in text
    assert "load average 0.5-1.5 while measuring" in text
    assert "| node to node | 10.0 | 20.0 | 30.0 | 1.00x |" in text


def test_publishing_into_docs_without_the_markers_says_which_are_missing(tmp_path: Path) -> None:
    docs = tmp_path / "datapath.md"
    docs.write_text("no markers\n")
    with pytest.raises(SystemExit, match="results:host"):
        report.publish(results_doc(), docs)
