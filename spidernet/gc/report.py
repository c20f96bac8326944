"""The report of one GC pass: JSON for stdout, a summary for people. No I/O.

Format (docs/gc.md, "The report")::

    {"dryRun": false, "started": "<RFC 3339>", "serverTime": "<RFC 3339>", "seconds": 1.2,
     "waited": 0.0,
     "scanned": {"pools", "records", "cooling", "endpoints", "pods", "nodes", "statefulsets"},
     "released":          [{"ip", "pool", "pod", "uid", "reason", "detail"}],
     "wouldRelease":      [...]                   (--dry-run: what a real pass would release)
     "kept":              [{"ip", "pool", "pod", "uid", "reason", "detail"}]   (suspicious only)
     "endpointsDeleted":  [{"endpoint", "uid", "reason", "detail"}],
     "endpointsKept":     [{"endpoint", "uid", "reason", "detail"}],
     "coolingDropped":    [{"ip", "pool", "pod", "uid", "reason", "detail"}],
     "coolingReclaimed":  [{"ip", "pool", "pod", "uid", "reason", "detail"}],
     "counts":            [{"pool", "allocatedIPCount": [old, new], "totalIPCount": [old, new]}],
     "inconsistencies":   [{"kind", "ip", "detail", ...}],
     "networks":          [{"spiderMultusConfig", "networkAttachmentDefinition", "action",
                            "detail"}]            (NADs written, deleted, refused: docs/cli.md)
     "finalizers":        [{"pool", "action"}]    (the pool finalizer added, removed: docs/ipam.md)
     "webhookTLS":        [{"object", "action", "detail"}]  (the webhook's Secret, caBundles)
     "errors":            [{"object", "message", "ip"?}]}

Any entry in ``errors`` means something could not be processed: the exit status is 1.
``serverTime`` is the API server's clock the pass decided by (``started`` is the GC's own);
``waited`` the seconds a ``--min-age 0`` pass waited for zombies too young for the
allocation budget before judging them again.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

Item = dict[str, Any]


@dataclass
class Report:
    started: str
    dry_run: bool = False
    seconds: float = 0.0
    server_time: str = ""
    waited: float = 0.0
    scanned: dict[str, int] = field(default_factory=dict)
    released: list[Item] = field(default_factory=list)
    would_release: list[Item] = field(default_factory=list)
    kept: list[Item] = field(default_factory=list)
    endpoints_deleted: list[Item] = field(default_factory=list)
    endpoints_kept: list[Item] = field(default_factory=list)
    cooling_dropped: list[Item] = field(default_factory=list)
    cooling_reclaimed: list[Item] = field(default_factory=list)
    counts: list[Item] = field(default_factory=list)
    inconsistencies: list[Item] = field(default_factory=list)
    networks: list[Item] = field(default_factory=list)
    finalizers: list[Item] = field(default_factory=list)
    webhook_tls: list[Item] = field(default_factory=list)
    errors: list[Item] = field(default_factory=list)
    usage: dict[str, dict[str, int]] = field(default_factory=dict)  # pool -> figures (usage.py)

    def reset_findings(self) -> None:
        """Forget what a judgement found (a pass that waits judges again from a fresh read)."""
        self.scanned, self.inconsistencies, self.errors = {}, [], []

    def error(self, obj: str, message: str, **extra: str) -> None:
        self.errors.append({"object": obj, "message": message, **extra})

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> Item:
        return {
            "dryRun": self.dry_run,
            "started": self.started,
            "serverTime": self.server_time,
            "seconds": round(self.seconds, 3),
            "waited": round(self.waited, 3),
            "scanned": self.scanned,
            "released": self.released,
            "wouldRelease": self.would_release,
            "kept": self.kept,
            "endpointsDeleted": self.endpoints_deleted,
            "endpointsKept": self.endpoints_kept,
            "coolingDropped": self.cooling_dropped,
            "coolingReclaimed": self.cooling_reclaimed,
            "counts": self.counts,
            "inconsistencies": self.inconsistencies,
            "networks": self.networks,
            "finalizers": self.finalizers,
            "webhookTLS": self.webhook_tls,
            "errors": self.errors,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1, sort_keys=False)

    def summary(self) -> str:
        s = self.scanned
        lines = [
            f"gc{' (dry run)' if self.dry_run else ''}: scanned {s.get('pools', 0)} pools, "
            f"{s.get('records', 0)} records, {s.get('endpoints', 0)} endpoints, "
            f"{s.get('pods', 0)} pods "
            f"in {self.seconds:.1f} s"
        ]
        gone = self.would_release if self.dry_run else self.released
        verb = "would release" if self.dry_run else "released"
        lines.append(
            f"gc: {verb} {len(gone)} address(es){_by_reason(gone)}, deleted "
            f"{len(self.endpoints_deleted)} "
            f"endpoint(s), dropped {len(self.cooling_dropped)} expired cooling record(s), "
            f"freed {len(self.cooling_reclaimed)} cooling in full pools"
        )
        if self.waited:
            lines.append(f"gc: waited {self.waited:.0f} s for zombies too young to judge")
        lines.append(f"gc: kept {len(self.kept)} suspicious record(s){_by_reason(self.kept)}")
        if self.counts:
            lines.append(f"gc: refreshed the counts of {len(self.counts)} pool(s)")
        if self.networks:
            actions = Counter(str(n["action"]) for n in self.networks)
            done = ", ".join(f"{a} {n}" for a, n in sorted(actions.items()))
            lines.append(f"gc: NetworkAttachmentDefinitions of SpiderMultusConfigs: {done}")
        for item in self.finalizers:
            lines.append(f"gc: SpiderIPPool {item['pool']}: finalizer {item['action']}")
        for item in self.webhook_tls:
            if item["action"] not in ("unchanged", "absent", "external"):
                lines.append(f"gc: webhook TLS: {item['object']}: {item['action']}")
        for item in self.inconsistencies:
            lines.append(f"gc: inconsistency ({item['kind']}): {item['detail']}")
        for item in self.errors:
            lines.append(f"gc: error: {item['object']}: {item['message']}")
        return "\n".join(lines)


def _by_reason(items: list[Item]) -> str:
    if not items:
        return ""
    counts = Counter(str(i["reason"]) for i in items)
    return " (" + ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items())) + ")"
