"""The admission webhook's decisions (spidernet.guard.admission, .ledger) and the GC's finalizer
decisions (spidernet.gc.finalizers), pure.

Case matrix:

    parse        not an AdmissionReview, another apiVersion, no uid, no kind, no operation,
                 no object on CREATE: Malformed naming it; v1 and v1beta1 echoed back
    validate     an invalid pool, reserved IP, SpiderMultusConfig: denied (422) naming the
                 field; an overlap: denied (403) naming the other pool; valid ones admitted;
                 an update leaving the spec alone always admitted (a pool broken before the
                 rules were); on update the subnet and allocated addresses; a DELETE admitted
    mutate       the finalizer added (no list / other finalizers), none when present or
                 terminating or another kind; the patch base64 JSON patch
    ledger       claims round-trip; stale ones dropped; an unreadable ledger is empty
    finalizers   add to a pool holding addresses without it; none to an empty one; remove
                 from an empty terminating pool (cooling records hold nothing); keep on a
                 terminating pool in use, and on one whose records cannot be read
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from spidernet.gc import finalizers
from spidernet.guard import admission, ledger
from spidernet.validation import ippools

GROUP = "spiderpool.spidernet.io/v2beta1"


def pool(name: str = "p", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GROUP,
        "kind": "SpiderIPPool",
        "metadata": {"name": name},
        "spec": {"subnet": "10.6.0.0/24", "ips": ["10.6.0.10-10.6.0.20"], **spec},
    }


def review(
    obj: dict[str, Any], op: str = "CREATE", old: dict[str, Any] | None = None
) -> dict[str, Any]:
    request = {
        "uid": "u-1",
        "kind": {"group": "spiderpool.spidernet.io", "version": "v2beta1", "kind": obj["kind"]},
        "operation": op,
        "name": obj["metadata"]["name"],
        "object": obj,
    }
    if old is not None:
        request["oldObject"] = old
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def decide(body: dict[str, Any], others: list[ippools.Extent] | None = None) -> dict[str, Any]:
    req = admission.parse(body)
    found = admission.problems(req, others or [])
    return (admission.denied(req, found) if found else admission.allowed(req))["response"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "kind"),
        ({"kind": "AdmissionReview", "apiVersion": "v1"}, "apiVersion"),
        ({"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": {}}, "uid"),
        (
            {
                "kind": "AdmissionReview",
                "apiVersion": "admission.k8s.io/v1",
                "request": {"uid": "x"},
            },
            "operation",
        ),
        (
            {
                "kind": "AdmissionReview",
                "apiVersion": "admission.k8s.io/v1",
                "request": {"uid": "x", "kind": {"kind": "SpiderIPPool"}, "operation": "CREATE"},
            },
            "object",
        ),
    ],
    ids=["not-a-review", "api-version", "uid", "operation", "object"],
)
def test_a_malformed_review_names_what_is_missing(body: object, message: str) -> None:
    with pytest.raises(admission.Malformed, match=message):
        admission.parse(body)


def test_the_reviews_api_version_is_echoed() -> None:
    body = review(pool())
    body["apiVersion"] = "admission.k8s.io/v1beta1"
    answer = admission.allowed(admission.parse(body))
    assert answer["apiVersion"] == "admission.k8s.io/v1beta1" and answer["response"] == {
        "uid": "u-1",
        "allowed": True,
    }


def test_an_invalid_pool_is_denied_naming_the_field() -> None:
    response = decide(review(pool(gateway="10.6.0.12")))
    assert response["allowed"] is False and response["status"]["code"] == 422
    assert response["status"]["message"].startswith(
        "SpiderIPPool p: spec.gateway: 10.6.0.12 is inside spec.ips"
    )


def test_an_overlap_is_denied_naming_the_other_pool() -> None:
    other = ippools.extent(pool("other", ips=["10.6.0.15-10.6.0.30"]))
    assert other is not None
    response = decide(review(pool()), [other])
    assert (
        response["status"]["code"] == 403
        and "also in SpiderIPPool other" in response["status"]["message"]
    )


@pytest.mark.parametrize(
    "obj",
    [
        {
            "apiVersion": GROUP,
            "kind": "SpiderReservedIP",
            "metadata": {"name": "r"},
            "spec": {"ips": []},
        },
        {
            "apiVersion": GROUP,
            "kind": "SpiderMultusConfig",
            "metadata": {"name": "m", "namespace": "n"},
            "spec": {"cniType": "macvlan", "macvlan": {"master": ["a"], "vlanID": 5000}},
        },
    ],
    ids=["reserved", "multus"],
)
def test_the_other_kinds_are_judged_by_their_rules(obj: dict[str, Any]) -> None:
    assert decide(review(obj))["allowed"] is False


def test_an_update_that_leaves_the_spec_alone_is_admitted() -> None:
    broken = pool(gateway="10.6.0.12")  # made before the rules
    labelled = json.loads(json.dumps(broken))
    labelled["metadata"]["labels"] = {"a": "b"}
    assert decide(review(labelled, "UPDATE", broken))["allowed"] is True


def test_an_update_may_not_take_an_allocated_address_out() -> None:
    old = pool()
    old["status"] = {"allocatedIPs": json.dumps({"10.6.0.12": {"pod": "ns/a", "podUid": "u"}})}
    response = decide(review(pool(ips=["10.6.0.13-10.6.0.20"]), "UPDATE", old))
    assert (
        response["allowed"] is False
        and "10.6.0.12 is allocated to pod ns/a" in response["status"]["message"]
    )


def test_a_delete_is_admitted() -> None:
    body = review(pool(gateway="10.6.0.12"), "DELETE")
    assert decide(body)["allowed"] is True


# ------------------------------------------------------------------ mutate


def patched(obj: dict[str, Any]) -> list[dict[str, Any]]:
    response = admission.mutation(review(obj))["response"]
    return json.loads(base64.b64decode(response["patch"])) if "patch" in response else []


def test_the_finalizer_is_added_to_a_pool_once() -> None:
    assert patched(pool()) == [
        {"op": "add", "path": "/metadata/finalizers", "value": [admission.FINALIZER]}
    ]
    other = pool()
    other["metadata"]["finalizers"] = ["example.com/x"]
    assert patched(other) == [
        {"op": "add", "path": "/metadata/finalizers/-", "value": admission.FINALIZER}
    ]
    other["metadata"]["finalizers"].append(admission.FINALIZER)
    assert patched(other) == []


def test_no_finalizer_for_a_terminating_pool_or_another_kind() -> None:
    gone = pool()
    gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    reserved = {
        "apiVersion": GROUP,
        "kind": "SpiderReservedIP",
        "metadata": {"name": "r"},
        "spec": {"ips": ["10.0.0.1"]},
    }
    assert patched(gone) == [] and patched(reserved) == []


# ------------------------------------------------------------------ ledger


def test_claims_round_trip_and_stale_ones_go() -> None:
    extent = ippools.extent(pool())
    assert extent is not None
    claim = ledger.Claim.of(extent, now=1000.0)
    claims = ledger.decode(ledger.encode({"p": claim}))
    assert claims["p"].extent() == extent
    newer = ledger.Claim("q", 4, "10.7.0.0/24", ("10.7.0.1",), 1000.0 + ledger.TTL + 1)
    assert list(ledger.with_claim(claims, newer, newer.at)) == ["q"]


def test_a_claim_the_list_shows_stored_as_claimed_goes_and_one_in_flight_stays() -> None:
    stored = ippools.extent(pool())
    moving = ippools.extent(pool(ips=["10.6.0.10-10.6.0.30"]))
    assert stored is not None and moving is not None
    claims = {stored.name: ledger.Claim.of(stored, now=1000.0)}
    assert ledger.live(claims, 1001.0, {stored.name: stored}) == {}
    assert list(ledger.live(claims, 1001.0, {stored.name: moving})) == [stored.name]
    assert list(ledger.live(claims, 1001.0, {})) == [stored.name]
    assert ledger.live(claims, 1000.0 + ledger.TTL, {}) == {}


def test_an_unreadable_ledger_is_empty() -> None:
    assert ledger.decode({"claims": "not json"}) == {} and ledger.decode(None) == {}


# ------------------------------------------------------------------ finalizers


def state(
    terminating: bool, finalizer: bool, records: dict[str, Any] | str | None
) -> dict[str, Any]:
    obj = pool()
    if terminating:
        obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if finalizer:
        obj["metadata"]["finalizers"] = [admission.FINALIZER]
    if records is not None:
        raw = records if isinstance(records, str) else json.dumps(records)
        obj["status"] = {"allocatedIPs": raw}
    return obj


HELD = {"10.6.0.10": {"pod": "ns/a", "podUid": "u"}}
COOLING = {"10.6.0.10": {"pod": "ns/a", "podUid": "u", "cooldownUntil": "2099-01-01T00:00:00Z"}}


def test_without_the_webhook_the_gc_adds_no_finalizer() -> None:
    assert finalizers.decide(state(False, False, HELD), backfill=False) == ""
    assert finalizers.decide(state(True, True, None), backfill=False) == "remove"


@pytest.mark.parametrize(
    ("terminating", "finalizer", "records", "action"),
    [
        (False, False, HELD, "add"),
        (False, False, None, ""),
        (False, True, HELD, ""),
        (True, True, None, "remove"),
        (True, True, COOLING, "remove"),
        (True, True, HELD, ""),
        (True, True, "{not json", ""),
        (True, False, None, ""),
    ],
    ids=[
        "in-use",
        "empty",
        "has-it",
        "empty-terminating",
        "cooling-only",
        "terminating-in-use",
        "unreadable",
        "none-to-remove",
    ],
)
def test_the_gc_keeps_the_finalizer_on_pools_in_use_only(
    terminating: bool, finalizer: bool, records: Any, action: str
) -> None:
    assert finalizers.decide(state(terminating, finalizer, records)) == action
