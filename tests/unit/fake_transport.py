"""An in-memory API server behind the ``Transport`` protocol, with scheduled faults. Test
support only: the product never imports it (tests/unit/test_layering.py).

It keeps what the IPAM's store relies on from a kube-apiserver, and only that:

- objects by path; GET of an object, LIST of a collection (across namespaces too, with
  an equality ``labelSelector``); a Table is never served, as by a server that cannot;
- POST creates (``AlreadyExists`` when the name is taken) and gives a ``uid``, a
  ``resourceVersion`` and a ``creationTimestamp`` (this machine's clock, whole seconds);
  ``generateName`` names it; ``?dryRun=All`` answers without storing (the GC reads the
  server's clock so);
- a LIST answers every item in one page (no ``continue``), whatever its ``limit``;
- PUT replaces, PUT ``.../status`` replaces the status only, both compare-and-swap on
  the body's ``resourceVersion`` (409 ``Conflict`` when it is stale); a kind with a
  status subresource (SpiderIPPool) keeps its status on POST and PUT of the object, as
  the CRDs in installer/manifests/crds say;
- DELETE honours ``preconditions`` (uid, resourceVersion) with 409 when they fail;
- 404 names the object, as a server does for an object it serves the kind of.

Faults are scheduled by method (or methods: ``"POST|PUT"``) and a path pattern
(``re.search``), skipping the first ``after`` matching requests and hitting the next
``times``:

- ``conflict``: 409 Conflict, nothing applied (another writer won the race);
- ``timeout``: the transport gives up (``Unavailable``), the write applied or not;
- ``crash``: the process dies there (``Crash``, a BaseException no product code catches),
  after the write applied or before; every later request raises ``Crash`` too, as nothing
  of a dead process reaches the server, until ``revive()``.

The real-apiserver integration tests prove the same contract against kube-apiserver.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from spidernet.k8s import errors as kerr
from spidernet.k8s.backoff import Deadline


class Crash(BaseException):
    """The plugin process died here (SIGKILL in the real world)."""


@dataclass
class Fault:
    kind: str  # conflict | timeout | crash
    method: str  # one method, or several as "POST|PUT|DELETE"
    pattern: str
    after: int = 0  # matching requests let through first
    times: int = 1  # matching requests hit after those
    applied: bool = False  # timeout / crash: the write happened before the failure
    seen: int = 0
    hit: int = 0

    def matches(self, method: str, path: str) -> bool:
        return method in self.method.split("|") and re.search(self.pattern, path) is not None

    def fires(self) -> bool:
        self.seen += 1
        if self.seen <= self.after or self.hit >= self.times:
            return False
        self.hit += 1
        return True


class FakeApi:
    """A Transport over an in-memory object store (the module docstring)."""

    def __init__(self, seconds: float = 5.0) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.faults: list[Fault] = []
        self.deadline = Deadline(seconds)
        self.requests = 0
        self.history: list[str] = []
        self.writes: list[str] = []  # "METHOD /path" of every write that applied
        self.dead = False
        self._versions = itertools.count(1)
        self._uids = itertools.count(1)

    # ------------------------------------------------------------ test side

    def put_object(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create ``obj`` at ``path`` as a POST would (uid, resourceVersion), status kept."""
        collection, _, name = path.rpartition("/")
        meta = {**obj.get("metadata", {}), "name": name}
        created = self._create(collection, {**obj, "metadata": meta})
        if "status" in obj:
            self.objects[path]["status"] = copy.deepcopy(obj["status"])
        return created

    def object(self, path: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.objects.get(path))

    def schedule(self, kind: str, method: str, pattern: str, **kw: Any) -> Fault:
        fault = Fault(kind, method, pattern, **kw)
        self.faults.append(fault)
        return fault

    def revive(self, seconds: float = 5.0) -> FakeApi:
        """The next process: a fresh deadline, no faults left, alive."""
        self.dead, self.faults, self.deadline = False, [], Deadline(seconds)
        self.requests, self.history = 0, []
        return self

    # ------------------------------------------------------------ Transport

    def close(self) -> None:
        pass

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Any:
        if self.dead:
            raise Crash(f"{method} {path}: the process is dead")
        if self.deadline.remaining() <= 0:
            raise kerr.BudgetSpent(0, f"time budget spent: {method} {path} not sent")
        self.requests += 1
        self.history.append(f"{method} {path}")
        if body is not None:  # the wire's copy
            body = json.loads(body if isinstance(body, bytes) else json.dumps(body))
        fault = next((f for f in self.faults if f.matches(method, path) and f.fires()), None)
        if fault is None:
            return self._serve(method, path, body)
        return self._fail(fault, method, path, body)

    def _fail(self, fault: Fault, method: str, path: str, body: Any) -> Any:
        if fault.kind == "conflict":
            raise kerr.from_response(409, {"reason": "Conflict", "message": "injected"})
        if fault.applied:
            self._serve(method, path, body)
        if fault.kind == "timeout":
            raise kerr.Unavailable(0, f"TimeoutError: {method} {path}: timed out (injected)")
        self.dead = True
        raise Crash(f"{method} {path}: crashed {'after' if fault.applied else 'before'} it")

    # ------------------------------------------------------------ the server

    def _serve(self, method: str, path: str, body: Any) -> Any:
        plain, _, query = path.partition("?")
        plain = urllib.parse.unquote(plain)
        if method == "GET":
            return self._get(plain, urllib.parse.parse_qs(query))
        if method == "POST":
            return self._create(plain, body, dry_run="dryRun=All" in query)
        if method == "PUT":
            if plain.endswith("/status"):
                return self._replace(plain.removesuffix("/status"), body, status_only=True)
            return self._replace(plain, body, status_only=False)
        if method == "DELETE":
            return self._delete(plain, body)
        raise kerr.ApiError(405, f"{method} not served by the fake")

    def _get(self, path: str, query: dict[str, list[str]]) -> Any:
        if path in self.objects:
            return copy.deepcopy(self.objects[path])
        items = self._list(path, (query.get("labelSelector") or [""])[0])
        if items is None:
            raise _not_found(path)
        return {"kind": "List", "metadata": {}, "items": items}

    def _list(self, collection: str, selector: str) -> list[dict[str, Any]] | None:
        head, _, resource = collection.rpartition("/")
        shape = re.compile(
            rf"{re.escape(head)}(/namespaces/[^/]+)?/{re.escape(resource)}/[^/]+"
            if "/namespaces/" not in collection
            else rf"{re.escape(collection)}/[^/]+"
        )
        found = [o for p, o in sorted(self.objects.items()) if shape.fullmatch(p)]
        if not found and not any(k.startswith(collection) for k in _KNOWN_COLLECTIONS):
            return None
        wanted = dict(kv.split("=", 1) for kv in selector.split(",") if kv)
        labels = [((o.get("metadata") or {}).get("labels") or {}, o) for o in found]
        return [copy.deepcopy(o) for lab, o in labels if wanted.items() <= lab.items()]

    def _create(
        self, collection: str, body: dict[str, Any], *, dry_run: bool = False
    ) -> dict[str, Any]:
        meta = body.get("metadata") or {}
        name = meta.get("name") or f"{meta.get('generateName', '')}{secrets.token_hex(3)}"
        path = f"{collection}/{name}"
        if path in self.objects:
            raise kerr.from_response(409, {"reason": "AlreadyExists", "message": path})
        obj = copy.deepcopy(body)
        if _has_status_subresource(path):
            obj.pop("status", None)
        obj["metadata"] = {
            **meta,
            "name": name,
            "uid": meta.get("uid") or f"uid-{next(self._uids)}",
            "resourceVersion": str(next(self._versions)),
            "creationTimestamp": meta.get("creationTimestamp") or _now(),
        }
        if dry_run:
            return obj
        self.objects[path] = obj
        self.writes.append(f"POST {path}")
        return copy.deepcopy(obj)

    def _replace(self, path: str, body: dict[str, Any], *, status_only: bool) -> dict[str, Any]:
        current = self._current(path, (body.get("metadata") or {}).get("resourceVersion"))
        new = copy.deepcopy(current)
        if status_only:
            new["status"] = copy.deepcopy(body.get("status"))
        else:
            new = copy.deepcopy(body)
            if _has_status_subresource(path):
                new["status"] = copy.deepcopy(current.get("status"))
            new["metadata"] = {**body["metadata"], "uid": current["metadata"]["uid"]}
        new["metadata"]["resourceVersion"] = str(next(self._versions))
        self.objects[path] = new
        self.writes.append(f"PUT {path}{'/status' if status_only else ''}")
        return copy.deepcopy(new)

    def _delete(self, path: str, body: Any) -> dict[str, Any]:
        pre = (body or {}).get("preconditions") or {}
        current = self._current(path, pre.get("resourceVersion"))
        if pre.get("uid") and pre["uid"] != current["metadata"]["uid"]:
            raise _conflict(path, "uid precondition failed")
        del self.objects[path]
        self.writes.append(f"DELETE {path}")
        return {"kind": "Status", "status": "Success"}

    def _current(self, path: str, version: str | None) -> dict[str, Any]:
        current = self.objects.get(path)
        if current is None:
            raise _not_found(path)
        if version and version != current["metadata"]["resourceVersion"]:
            raise _conflict(path, "the object has been modified")
        return current


# Collections served even when empty (a LIST of them answers an empty list, not 404).
_KNOWN_COLLECTIONS = (
    "/apis/spiderpool.spidernet.io/v2beta1/spiderippools",
    "/apis/spiderpool.spidernet.io/v2beta1/spiderreservedips",
    "/apis/spiderpool.spidernet.io/v2beta1/spiderendpoints",
    "/api/v1/pods",
    "/api/v1/nodes",
    "/apis/apps/v1/statefulsets",
)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _has_status_subresource(path: str) -> bool:
    return "/spiderippools/" in path


def _not_found(path: str) -> kerr.ApiError:
    name = path.rpartition("/")[2]
    body = {"reason": "NotFound", "message": f"{path} not found", "details": {"name": name}}
    return kerr.from_response(404, body)


def _conflict(path: str, why: str) -> kerr.ApiError:
    return kerr.from_response(409, {"reason": "Conflict", "message": f"{path}: {why}"})
