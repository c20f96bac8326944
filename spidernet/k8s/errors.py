"""API errors by HTTP status (kopf/httpx style): one class per outcome callers act on. No I/O.

ApiError
├── Unavailable      connection refused/reset, timeout, 5xx, 429: retry, then CNI code 11
│   └── BudgetSpent  the invocation's deadline passed: no request is sent after it
├── NotFound         404 naming the object (a 404 naming none: the resource is not
│                    served yet, e.g. CRDs just after an apiserver start: Unavailable)
├── Conflict         409 reason Conflict: stale resourceVersion, re-read and retry
├── AlreadyExists    409 reason AlreadyExists
├── Invalid          422
└── Denied           401 / 403: credentials or RBAC
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is for the type checker only: not imported on an exec
if TYPE_CHECKING:
    from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, message: str, reason: str = "") -> None:
        super().__init__(f"HTTP {status} {reason}: {message}".strip())
        self.status = status
        self.reason = reason
        self.message = message


class Unavailable(ApiError):
    pass


class BudgetSpent(Unavailable):
    """The deadline passed. No request starts after it, so an ADD's writes all happen
    within its budget: the GC relies on that (docs/gc.md, "The allocation budget")."""


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    pass


class AlreadyExists(ApiError):
    pass


class Invalid(ApiError):
    pass


class Denied(ApiError):
    pass


def from_response(status: int, body: Any) -> ApiError:
    message = body.get("message", "") if isinstance(body, dict) else str(body)[:300]
    reason = body.get("reason", "") if isinstance(body, dict) else ""
    if status == 404:
        # "object absent" names it in details; "resource not served (yet)" does not, and
        # reading that as "absent" would make a DEL release what an endpoint still names.
        named = isinstance(body, dict) and bool((body.get("details") or {}).get("name"))
        return (NotFound if named else Unavailable)(status, message, reason)
    if status == 409:
        return (AlreadyExists if reason == "AlreadyExists" else Conflict)(status, message, reason)
    if status == 422:
        return Invalid(status, message, reason)
    if status in (401, 403):
        return Denied(status, message, reason)
    if status == 429 or status >= 500:
        return Unavailable(status, message, reason)
    return ApiError(status, message, reason)
