"""Publishing a pass's pool usage and outcome for the installer's exporter: the ConfigMap
``kube-system/spidernet-pool-usage`` (key ``usage.json``, spidernet/gc/usage.py). Does I/O:
one PUT per pass (a POST the first time; a GET first when the pass read no pools).

A pass that read no pools keeps the previous figures (``usage.document``). A refusal
or failure is an error of the pass, named: the gauges would otherwise go stale unseen.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from spidernet.gc import usage
from spidernet.gc.report import Report
from spidernet.k8s import errors as kerr
from spidernet.k8s.transport import Transport

NAME = "spidernet-pool-usage"
KEY = "usage.json"


def publish(
    transport: Transport,
    report: Report,
    namespace: str,
    *,
    clock: Callable[[], float] = time.time,
) -> None:
    base = f"/api/v1/namespaces/{urllib.parse.quote(namespace, safe='')}/configmaps"
    where = f"ConfigMap/{namespace}/{NAME}"
    try:
        measured = bool(report.usage) or report.ok
        previous = None if measured else _previous(transport, f"{base}/{NAME}")
        doc = usage.document(report, clock(), previous)
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": NAME,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/part-of": "spidernet"},
            },
            "data": {KEY: json.dumps(doc, sort_keys=True)},
        }
        try:
            transport.request("PUT", f"{base}/{NAME}", body)
        except kerr.NotFound:
            transport.request("POST", base, body)
    except kerr.ApiError as e:
        report.error(where, f"pool usage not published ({e}): the pool gauges go stale")


def _previous(transport: Transport, path: str) -> dict[str, Any] | None:
    try:
        obj = transport.get(path)
    except kerr.NotFound:
        return None
    try:
        doc = json.loads((obj.get("data") or {}).get(KEY) or "{}")
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
