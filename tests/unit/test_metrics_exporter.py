"""The installer's exporter (installer/exporting.py) fed outcome lines, and its probe answers.

| case                                           | expected                                |
|------------------------------------------------|-----------------------------------------|
| ADD/DEL lines of each plugin, an IPAM line     | execs by plugin, verb and code;         |
| with pools                                     | duration and lock-wait histograms;      |
|                                                | writes and conflicts per pool           |
| a line that is not an outcome (torn, other     | counted as malformed, nothing else      |
| JSON)                                          | moves                                   |
| /healthz, /readyz, another path                | 200 or 503 from the service's answers;  |
|                                                | 404 naming the paths served             |
| SPIDERNET_METRICS_ADDRESS                      | host:port, :port, off; anything else    |
|                                                | refused naming the variable             |
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from installer import exporting, settings


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def line(**kw: object) -> str:
    base = {"t": 1.0, "plugin": "spiderpool", "verb": "ADD", "code": 0, "seconds": 0.2}
    return json.dumps({**base, **kw})


def test_outcome_lines_move_the_counters_and_histograms(tmp_path: Path) -> None:
    record = tmp_path / "outcomes.jsonl"
    lines = [
        line(lock_wait=0.004, conflicts=3, writes=1, pools={"v4": [1, 2], "v6": [0, 1]}),
        line(verb="DEL", seconds=0.05, lock_wait=0.0, conflicts=0, writes=1, pools={"v4": [1, 0]}),
        line(code=100, seconds=2.0, lock_wait=0.0, conflicts=0, writes=0, pools={}),
        line(plugin="coordinator", seconds=0.4),
        '{"plugin": "spiderpool", "verb": "AD',
        '["not", "an", "outcome"]',
    ]
    record.write_text("\n".join(lines) + "\n")
    got = samples(exporting.Exporter(str(record), lambda: True, lambda: True).scrape())
    execs = "spidernet_plugin_execs_total"
    assert got[(execs, (("code", "0"), ("plugin", "spiderpool"), ("verb", "ADD")))] == 1
    assert got[(execs, (("code", "100"), ("plugin", "spiderpool"), ("verb", "ADD")))] == 1
    assert got[(execs, (("code", "0"), ("plugin", "spiderpool"), ("verb", "DEL")))] == 1
    assert got[(execs, (("code", "0"), ("plugin", "coordinator"), ("verb", "ADD")))] == 1
    duration = "spidernet_plugin_exec_duration_seconds"
    add = (("plugin", "spiderpool"), ("verb", "ADD"))
    assert got[(f"{duration}_count", add)] == 2
    assert got[(f"{duration}_sum", add)] == pytest.approx(2.2)
    assert got[(f"{duration}_bucket", (("le", "0.3"), *add))] == 1
    assert got[("spidernet_ipam_lock_wait_seconds_count", (("verb", "ADD"),))] == 2
    assert got[("spidernet_ipam_pool_writes_total", (("pool", "v4"),))] == 2
    assert got[("spidernet_ipam_pool_writes_total", (("pool", "v6"),))] == 0
    assert got[("spidernet_ipam_pool_conflicts_total", (("pool", "v4"),))] == 2
    assert got[("spidernet_ipam_pool_conflicts_total", (("pool", "v6"),))] == 1
    assert got[("spidernet_outcome_lines_malformed_total", ())] == 2
    assert got[("spidernet_installer_ready", ())] == 1


def test_each_line_is_counted_once_over_several_scrapes(tmp_path: Path) -> None:
    record = tmp_path / "outcomes.jsonl"
    exporter = exporting.Exporter(str(record), lambda: True, lambda: False)
    assert samples(exporter.scrape())[("spidernet_installer_ready", ())] == 0  # no record yet
    for n in range(1, 4):
        with record.open("a") as f:
            f.write(line() + "\n")
        got = samples(exporter.scrape())
        key = ("code", "0"), ("plugin", "spiderpool"), ("verb", "ADD")
        assert got[("spidernet_plugin_execs_total", key)] == n


def test_the_probe_paths_answer_from_the_service(tmp_path: Path) -> None:
    state = {"alive": False, "ready": False}
    exporter = exporting.Exporter(
        str(tmp_path / "r"), lambda: state["alive"], lambda: state["ready"]
    )
    assert [exporter.answer(p)[0] for p in ("/healthz", "/readyz")] == [503, 503]
    state.update(alive=True, ready=True)
    assert [exporter.answer(p)[0] for p in ("/healthz", "/readyz")] == [200, 200]
    status, _, body = exporter.answer("/other")
    assert status == 404 and b"/metrics" in body


@pytest.mark.parametrize(
    ("raw", "host", "port"),
    [("", "", 5719), (":9000", "", 9000), ("127.0.0.1:0", "127.0.0.1", 0), ("off", "", None)],
)
def test_the_metrics_address_setting(raw: str, host: str, port: int | None) -> None:
    conf = settings.from_env({"SPIDERNET_METRICS_ADDRESS": raw}, fallback_identity="x")
    assert (conf.metrics_host, conf.metrics_port) == (host, port)


@pytest.mark.parametrize("raw", ["9000", "host:", ":99999", "on"])
def test_a_bad_metrics_address_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(settings.SettingsError, match="SPIDERNET_METRICS_ADDRESS"):
        settings.from_env({"SPIDERNET_METRICS_ADDRESS": raw}, fallback_identity="x")
