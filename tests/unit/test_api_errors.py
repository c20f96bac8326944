"""spidernet.k8s.errors.from_response: one class per outcome callers act on.

Case matrix: 404 naming the object -> NotFound; 404 naming none (a resource not served
yet, as CRDs just after an apiserver start) -> Unavailable, retried; 409 Conflict /
AlreadyExists; 422; 401/403; 429 and 5xx -> Unavailable; a non-JSON body.
"""

from __future__ import annotations

import pytest

from spidernet.k8s import errors

ABSENT = {
    "kind": "Status",
    "reason": "NotFound",
    "message": 'pods "a" not found',
    "details": {"name": "a", "kind": "pods"},
}
UNSERVED = {
    "kind": "Status",
    "reason": "NotFound",
    "message": "the server could not find the requested resource",
    "details": {},
}


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (404, ABSENT, errors.NotFound),
        (404, UNSERVED, errors.Unavailable),
        (404, "404 page not found", errors.Unavailable),
        (409, {"reason": "Conflict"}, errors.Conflict),
        (409, {"reason": "AlreadyExists"}, errors.AlreadyExists),
        (422, {"reason": "Invalid"}, errors.Invalid),
        (401, {}, errors.Denied),
        (403, {"reason": "Forbidden"}, errors.Denied),
        (429, {}, errors.Unavailable),
        (503, {"message": "server is starting"}, errors.Unavailable),
        (400, {"reason": "BadRequest"}, errors.ApiError),
    ],
)
def test_each_status_maps_to_the_class_its_callers_act_on(
    status: int, body: object, kind: type
) -> None:
    assert type(errors.from_response(status, body)) is kind
