"""The pool usage a GC pass publishes (spidernet/gc/usage.py, publishing.py) and the gauges
the installer's exporter makes of it (installer/exporting.py, docs/metrics.md).

| case                                            | expected                                   |
|-------------------------------------------------|--------------------------------------------|
| a pool of 10 with 2 held and 1 cooling record;  | total 10, allocated 2, cooling 1; the      |
| a pool whose records cannot be read             | unreadable pool left out                   |
| a pass that read the pools                      | its figures, poolsTime = the pass's time   |
| a pass that failed before reading them          | the previous figures and their poolsTime;  |
|                                                 | ok false, the errors counted               |
| publishing: no ConfigMap yet / one there / the  | POST after the PUT's 404 / one PUT / the   |
| API refuses                                     | pass gets an error naming the ConfigMap    |
| the exporter fed two documents, the second      | spidernet_pool_ips per pool and state; the |
| without a pool                                  | deleted pool's series gone; GC gauges      |
| the installer reads the name the GC writes      | the same ConfigMap and key                 |
"""

from __future__ import annotations

import json
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from installer import exporting, poolusage
from spidernet.gc import census, publishing, usage
from spidernet.gc.report import Report
from spidernet.k8s import errors as kerr

COOL = "2026-12-07T00:00:00Z"


def pool_obj(name: str, ips: list[str], records: dict[str, dict[str, Any]] | str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "resourceVersion": "1"},
        "spec": {"ipVersion": 4, "subnet": "10.9.0.0/24", "ips": ips},
        "status": {"allocatedIPs": records if isinstance(records, str) else json.dumps(records)},
    }


def test_each_readable_pool_counts_its_total_allocated_and_cooling_addresses() -> None:
    held = {
        "10.9.0.10": {"pod": "a/p1", "podUid": "u1"},
        "10.9.0.11": {"pod": "a/p2", "podUid": "u2"},
        "10.9.0.12": {"pod": "a/p3", "podUid": "u3", "cooldownUntil": COOL},
    }
    seen = census.take(
        [
            pool_obj("full-view", ["10.9.0.10-10.9.0.19"], held),
            pool_obj("unreadable", ["10.9.0.20-10.9.0.29"], "{not json"),
        ],
        [],
    )
    assert usage.of(seen) == {"full-view": {"total": 10, "allocated": 2, "cooling": 1}}


def test_a_pass_that_read_the_pools_publishes_its_figures_and_time() -> None:
    report = Report(started="", seconds=0.25)
    report.usage = {"p": {"total": 4, "allocated": 1, "cooling": 0}}
    doc = usage.document(report, 1000.0, {"pools": {"old": {}}, "poolsTime": 1.0})
    assert doc["pools"] == report.usage and doc["poolsTime"] == 1000.0
    assert doc["ok"] is True and doc["errors"] == 0 and doc["time"] == 1000.0


def test_a_pass_that_could_not_read_the_pools_keeps_the_previous_figures() -> None:
    report = Report(started="")
    report.error("SpiderIPPools", "list failed (HTTP 500)")
    previous = {"pools": {"p": {"total": 4, "allocated": 3, "cooling": 0}}, "poolsTime": 900.0}
    doc = usage.document(report, 1000.0, previous)
    assert doc["pools"] == previous["pools"] and doc["poolsTime"] == 900.0
    assert doc["ok"] is False and doc["errors"] == 1 and doc["time"] == 1000.0


class Recorder:
    """A transport that answers from a script and keeps the requests."""

    def __init__(self, *answers: Any) -> None:
        self.requests, self.history = 0, []
        self.answers = list(answers)
        self.sent: list[tuple[str, str]] = []

    def request(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        self.sent.append((method, path))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def close(self) -> None:
        pass


def measured() -> Report:
    report = Report(started="")
    report.usage = {"p": {"total": 4, "allocated": 1, "cooling": 0}}
    return report


def test_publishing_creates_the_configmap_when_there_is_none_yet() -> None:
    t = Recorder(kerr.NotFound(404, "not found"), {})
    report = measured()
    publishing.publish(t, report, "kube-system", clock=lambda: 5.0)
    base = "/api/v1/namespaces/kube-system/configmaps"
    assert t.sent == [("PUT", f"{base}/spidernet-pool-usage"), ("POST", base)]
    assert report.ok


def test_publishing_replaces_the_configmap_with_one_put() -> None:
    t = Recorder({})
    publishing.publish(t, measured(), "kube-system", clock=lambda: 5.0)
    assert [m for m, _ in t.sent] == ["PUT"]


def test_a_refused_publication_is_an_error_of_the_pass_naming_the_configmap() -> None:
    t = Recorder(kerr.Denied(403, "forbidden"))
    report = measured()
    publishing.publish(t, report, "kube-system", clock=lambda: 5.0)
    assert [e["object"] for e in report.errors] == ["ConfigMap/kube-system/spidernet-pool-usage"]
    assert "the pool gauges go stale" in report.errors[0]["message"]


def gauges(exporter: exporting.Exporter) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(exporter.scrape().decode())
        for s in family.samples
    }


def test_the_exporter_serves_the_published_usage_and_drops_a_deleted_pools_series(
    tmp_path: Any,
) -> None:
    docs = [
        {
            "time": 100.0,
            "ok": True,
            "errors": 0,
            "poolsTime": 100.0,
            "pools": {
                "a": {"total": 10, "allocated": 9, "cooling": 1},
                "b": {"total": 4, "allocated": 0, "cooling": 0},
            },
        },
        {"time": 160.0, "ok": False, "errors": 2, "poolsTime": 100.0, "pools": {"a": {}}},
    ]
    exporter = exporting.Exporter(
        str(tmp_path / "none"), lambda: True, lambda: True, lambda: docs[0]
    )
    got = gauges(exporter)
    assert got[("spidernet_pool_ips", (("pool", "a"), ("state", "allocated")))] == 9
    assert got[("spidernet_pool_ips", (("pool", "a"), ("state", "cooling")))] == 1
    assert got[("spidernet_pool_ips", (("pool", "b"), ("state", "total")))] == 4
    assert got[("spidernet_gc_last_pass_ok", ())] == 1
    docs.pop(0)
    got = gauges(exporter)
    assert ("spidernet_pool_ips", (("pool", "b"), ("state", "total"))) not in got
    assert got[("spidernet_gc_last_pass_ok", ())] == 0
    assert got[("spidernet_gc_last_pass_errors", ())] == 2
    assert got[("spidernet_gc_last_pass_timestamp_seconds", ())] == 160
    assert got[("spidernet_pool_usage_timestamp_seconds", ())] == 100


def test_the_installer_reads_the_configmap_and_key_the_gc_writes() -> None:
    assert f"/configmaps/{publishing.NAME}?" in poolusage.PATH
    assert poolusage.KEY == publishing.KEY
