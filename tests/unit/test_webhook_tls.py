"""The admission webhook's TLS material as the GC keeps it (spidernet.guard.provisioning.renewed),
with the real openssl.

Case matrix:

    nothing yet          a CA and a serving certificate it signs, naming the Service's hosts
    all fresh            nothing renewed, and not one openssl run (the facts annotation judges)
    serving cert due     renewed 30 days before its end, signed by the same CA
    CA due               a new CA a year before the old one's end; ca.crt holds both
    names changed        a serving certificate for the new names
    certificate swapped  (its digest no longer the recorded one) renewed
"""

from __future__ import annotations

from typing import Any

import pytest

from spidernet.guard import certs, provisioning

DAY = provisioning.DAY
NOW = 1_800_000_000.0
SETTINGS = provisioning.Settings(extra_ips=("127.0.0.1",))


def data_of(m: provisioning.Material) -> dict[str, bytes]:
    return {
        "ca.crt": m.bundle,
        "ca.key": m.ca.key,
        "tls.crt": m.serving.cert,
        "tls.key": m.serving.key,
    }


@pytest.fixture(scope="module")
def first() -> provisioning.Material:
    return provisioning.renewed({}, {}, SETTINGS, NOW)


def test_the_first_pass_makes_a_ca_and_a_serving_certificate_for_the_service(
    first: provisioning.Material,
) -> None:
    assert first.changes == ["created"]
    assert certs.signed_by(first.serving.cert, first.ca.cert)
    hosts = {f"DNS:{h}" for h in SETTINGS.hosts} | {"IP:127.0.0.1"}
    assert certs.alt_names(first.serving.cert) == hosts
    assert "spidernet-webhook.kube-system.svc" in SETTINGS.hosts


def test_a_fresh_secret_is_judged_without_openssl(
    first: provisioning.Material, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no(*a: Any, **kw: Any) -> Any:
        raise AssertionError("openssl ran")

    monkeypatch.setattr(certs, "_openssl", no)
    again = provisioning.renewed(data_of(first), first.facts, SETTINGS, NOW + 100 * DAY)
    assert again.changes == [] and again.serving == first.serving


def test_the_serving_certificate_is_renewed_a_month_before_its_end(
    first: provisioning.Material,
) -> None:
    later = provisioning.renewed(data_of(first), first.facts, SETTINGS, NOW + 340 * DAY)
    assert later.changes == ["renewed"] and later.ca == first.ca
    assert later.serving != first.serving and certs.signed_by(later.serving.cert, first.ca.cert)


def test_the_ca_is_rotated_a_year_before_its_end_and_the_old_one_kept_in_the_bundle(
    first: provisioning.Material,
) -> None:
    later = provisioning.renewed(data_of(first), first.facts, SETTINGS, NOW + 9.5 * 365 * DAY)
    assert later.changes == ["ca-rotated"] and later.ca != first.ca
    assert later.bundle == later.ca.cert + first.ca.cert  # the old CA is still valid today
    assert certs.signed_by(later.serving.cert, later.ca.cert)


def test_new_names_or_a_swapped_certificate_get_a_new_serving_certificate(
    first: provisioning.Material,
) -> None:
    moved = provisioning.renewed(
        data_of(first), first.facts, provisioning.Settings(namespace="net"), NOW
    )
    assert moved.changes == ["renewed"] and "DNS:spidernet-webhook.net.svc" in certs.alt_names(
        moved.serving.cert
    )
    swapped = {**data_of(first), "tls.crt": first.ca.cert}
    assert provisioning.renewed(swapped, first.facts, SETTINGS, NOW).changes == ["renewed"]
