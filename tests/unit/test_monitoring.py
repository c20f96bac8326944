"""The alert rules and the Grafana dashboard of installer/manifests/monitoring, checked with
promtool (Debian's prometheus package; tools/bootstrap.sh installs it) and against what the
exporter serves (docs/metrics.md).

| case                                   | expected                                        |
|----------------------------------------|-------------------------------------------------|
| ``promtool check rules`` of the rule   | valid PromQL and templates                      |
| groups                                 |                                                 |
| ``promtool test rules``                | each alert fires on its condition, not on its   |
| (monitoring/alerts_test.yaml)          | near miss (annotations left out of the compare) |
| the dashboard's JSON                   | the fields Grafana needs, unique panel ids,     |
|                                        | panels within the 24-column grid, every query   |
|                                        | on the datasource variable                      |
| every dashboard query                  | valid PromQL (checked as recording rules)       |
| every metric the rules and dashboard   | one the exporter serves (or Prometheus's ``up``)|
| name                                   |                                                 |
| each alert                             | a severity, a summary and a runbook whose       |
|                                        | anchor is a heading of docs/troubleshooting.md  |
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from installer import exporting
from tools.testbed import paths

MONITORING = paths.REPO / "installer" / "manifests" / "monitoring"
RULE = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
DASHBOARD = json.loads((MONITORING / "spidernet-dashboard.json").read_text())
HERE = Path(__file__).parent / "monitoring"
PANEL_TYPES = {"row", "stat", "timeseries", "bargauge", "gauge", "table"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: apt-get install prometheus (tools/bootstrap.sh does)")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)


def alerts() -> list[dict[str, Any]]:
    return [r for g in RULE["spec"]["groups"] for r in g["rules"] if "alert" in r]


def queries() -> list[str]:
    found = [t["expr"] for p in DASHBOARD["panels"] for t in p.get("targets", [])]
    return [e.replace("$__rate_interval", "5m").replace("$node", ".*") for e in found]


def write_groups(path: Path, groups: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"groups": groups}))
    return path


def test_the_rules_are_valid_for_promtool(tmp_path: Path) -> None:
    ran = promtool("check", "rules", str(write_groups(tmp_path / "r.yaml", RULE["spec"]["groups"])))
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_each_alert_fires_on_its_condition_and_not_on_its_near_miss(tmp_path: Path) -> None:
    bare = [
        {**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]}
        for g in RULE["spec"]["groups"]
    ]
    write_groups(tmp_path / "rules.yaml", bare)
    shutil.copy(HERE / "alerts_test.yaml", tmp_path / "alerts_test.yaml")
    ran = promtool("test", "rules", str(tmp_path / "alerts_test.yaml"))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    tested = set(re.findall(r"alertname: (\w+)", (HERE / "alerts_test.yaml").read_text()))
    assert tested == {a["alert"] for a in alerts()}


def test_the_dashboard_has_what_grafana_needs() -> None:
    for field in ("title", "uid", "schemaVersion", "panels", "templating", "time"):
        assert field in DASHBOARD, field
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in DASHBOARD["templating"]["list"]}
    assert variables == {"datasource", "node"}
    for p in DASHBOARD["panels"]:
        assert p["type"] in PANEL_TYPES, p["title"]
        g = p["gridPos"]
        assert g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24, p["title"]
        for t in p.get("targets", []):
            assert t["datasource"]["uid"] == "${datasource}" and t["expr"], p["title"]


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    rules = [{"record": f"spidernet:dashboard_{i}", "expr": e} for i, e in enumerate(queries())]
    group = [{"name": "dashboard", "rules": rules}]
    ran = promtool("check", "rules", str(write_groups(tmp_path / "q.yaml", group)))
    assert ran.returncode == 0, ran.stdout + ran.stderr


def served() -> set[str]:
    names = set()
    for metric in exporting.Metrics().registry.collect():  # families; no samples before use
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        names |= {metric.name + x for x in suffixes.get(metric.type, [""])}
    return names


def test_every_metric_named_is_one_the_exporter_serves() -> None:
    text = " ".join(queries() + [a["expr"] for a in alerts()])
    named = set(re.findall(r"\b(spidernet_[a-z_]+)\b", text))
    assert named and named - served() == set()


def test_each_alert_has_a_severity_a_summary_and_a_runbook_that_exists() -> None:
    page = (paths.REPO / "docs" / "troubleshooting.md").read_text()
    headings = {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
        for h in re.findall(r"^#{2,3} (.+)$", page, re.M)
    }
    for a in alerts():
        assert a["labels"]["severity"] in ("warning", "critical"), a["alert"]
        assert a["annotations"]["summary"], a["alert"]
        doc, _, anchor = a["annotations"]["runbook"].partition("#")
        assert doc == "docs/troubleshooting.md" and anchor in headings, a["alert"]
