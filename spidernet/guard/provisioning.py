"""The webhook's TLS: the Secret the installer pods serve with, and the caBundle the API server
trusts; kept by the GC CronJob's pass. Does I/O.

Each pass (docs/install.md, "Admission webhook"):

    GET Secret kube-system/spidernet-webhook-tls
      made by cert-manager (annotation cert-manager.io/certificate-name)  leave it
      absent                          a CA (10 years) and a serving certificate (1 year)
      the CA within a year of its end a new CA; the old one stays in ca.crt while valid
      the serving certificate within 30 days of its end, not of the current CA, or naming
      other hosts than the Service's   a new one
      (judged from the Secret's annotation spidernet.io/webhook-tls: dates, names and the
      digests of the certificates they describe; no openssl unless something is renewed)
      -> POST / PUT with the resourceVersion read (a concurrent writer wins; next pass)
    per webhook configuration (validating, mutating) that exists, and that cert-manager
    does not inject (annotation cert-manager.io/inject-ca-from): each webhook's
    clientConfig.caBundle = the Secret's ca.crt -> PUT with the resourceVersion read

Kubelet updates the Secret mounted in the installer pods within about a minute; the
webhook server loads the new certificate on its next connection. Since ca.crt keeps the
old CA while it is valid, the API server trusts both the old and the new certificate
throughout. Why the GC and not the installer: the installer's token is the one every
node's plugins use, and it must not be able to read the webhook's private key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spidernet.guard import certs
from spidernet.k8s import errors as kerr
from spidernet.k8s.transport import Transport

DAY = 86400.0
RENEW_SERVING = 30 * DAY
RENEW_CA = 365 * DAY
FACTS = "spidernet.io/webhook-tls"  # expiry dates, names and digests of what the Secret holds
CERT_MANAGER_SECRET = "cert-manager.io/certificate-name"
CERT_MANAGER_INJECT = "cert-manager.io/inject-ca-from"
CONFIGS = (
    ("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations", "spidernet"),
    ("admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations", "spidernet"),
)


@dataclass(frozen=True)
class Settings:
    namespace: str = "kube-system"
    secret: str = "spidernet-webhook-tls"
    service: str = "spidernet-webhook"
    extra_ips: tuple[str, ...] = ()  # for clientConfig.url set-ups (tests: 127.0.0.1)

    @property
    def hosts(self) -> list[str]:
        svc, ns = self.service, self.namespace
        return [f"{svc}.{ns}.svc", f"{svc}.{ns}", svc, f"{svc}.{ns}.svc.cluster.local"]


@dataclass
class Outcome:
    object: str
    action: str  # created | renewed | ca-rotated | unchanged | injected | external | absent
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"object": self.object, "action": self.action, "detail": self.detail or None}


@dataclass
class Material:
    ca: certs.Pair
    bundle: bytes  # ca.crt: the current CA, then the previous one while it is valid
    serving: certs.Pair
    facts: dict[str, Any]  # what the Secret's FACTS annotation records (no openssl to judge it)
    changes: list[str] = field(default_factory=list)

    def data(self) -> dict[str, str]:
        raw = {
            "ca.crt": self.bundle,
            "ca.key": self.ca.key,
            "tls.crt": self.serving.cert,
            "tls.key": self.serving.key,
        }
        return {k: base64.b64encode(v).decode() for k, v in raw.items()}


def run(
    transport: Transport, settings: Settings, *, dry_run: bool = False, now: float | None = None
) -> list[Outcome]:
    """One pass over the Secret and the webhook configurations."""
    path = f"/api/v1/namespaces/{_q(settings.namespace)}/secrets/{_q(settings.secret)}"
    where = f"Secret/{settings.namespace}/{settings.secret}"
    secret = _get(transport, path)
    annotations = (secret or {}).get("metadata", {}).get("annotations") or {}
    if CERT_MANAGER_SECRET in annotations:
        out = [Outcome(where, "external", "made by cert-manager: left alone")]
        bundle = _decoded(secret or {}).get("ca.crt", b"")
    else:
        facts = _facts(annotations.get(FACTS))
        material = renewed(
            _decoded(secret or {}), facts, settings, time.time() if now is None else now
        )
        out = [Outcome(where, ", ".join(material.changes) or "unchanged")]
        if material.changes and not dry_run:
            _write_secret(transport, settings, secret, material)
        bundle = material.bundle
    return out + [_inject(transport, c, bundle, dry_run) for c in CONFIGS]


def renewed(
    data: Mapping[str, bytes], facts: Mapping[str, Any], settings: Settings, now: float
) -> Material:
    """The material to serve with: what ``data`` holds, or new parts where it must.

    What the Secret holds is judged by its ``FACTS`` annotation (expiry dates, names, the
    digests of the certificates they describe), so a pass with nothing to renew runs no
    openssl; a Secret whose facts do not match its certificates is renewed."""
    changes: list[str] = []
    ca = certs.Pair(_first(data.get("ca.crt", b"")), data.get("ca.key", b""))
    bundle, facts = data.get("ca.crt", b""), dict(facts)
    if not (
        ca.key
        and facts.get("caSha256") == _sha(ca.cert)
        and facts.get("caNotAfter", 0) - now > RENEW_CA
    ):
        old = ca.cert
        ca = certs.new_ca()
        bundle = ca.cert + (old if old and not certs.expires_within(old, 0) else b"")
        facts = {"caSha256": _sha(ca.cert), "caNotAfter": now + certs.CA_DAYS * DAY}
        changes.append("ca-rotated" if data else "created")
    serving = certs.Pair(data.get("tls.crt", b""), data.get("tls.key", b""))
    wanted = sorted({f"DNS:{h}" for h in settings.hosts} | {f"IP:{a}" for a in settings.extra_ips})
    fresh = (
        serving.key
        and facts.get("tlsSha256") == _sha(serving.cert)
        and facts.get("hosts") == wanted
        and facts.get("servingNotAfter", 0) - now > RENEW_SERVING
    )
    if changes or not fresh:
        serving = certs.new_serving(ca, settings.hosts, settings.extra_ips)
        facts.update(
            tlsSha256=_sha(serving.cert),
            hosts=wanted,
            servingNotAfter=now + certs.SERVING_DAYS * DAY,
        )
        if not changes:
            changes.append("renewed")
    return Material(ca, bundle, serving, facts, changes)


def _sha(pem: bytes) -> str:
    return hashlib.sha256(pem).hexdigest() if pem else ""


def _facts(text: object) -> dict[str, Any]:
    try:
        value = json.loads(str(text)) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _first(bundle: bytes) -> bytes:
    """The first certificate of a PEM bundle (the current CA)."""
    end = b"-----END CERTIFICATE-----"
    i = bundle.find(end)
    return bundle[: i + len(end)] + b"\n" if i >= 0 else b""


def _inject(
    transport: Transport, config: tuple[str, str, str], bundle: bytes, dry_run: bool
) -> Outcome:
    api, plural, name = config
    where = f"{plural}/{name}"
    path = f"/apis/{api}/{plural}/{_q(name)}"
    obj = _get(transport, path)
    if obj is None:
        return Outcome(where, "absent", "the webhook is not installed")
    if CERT_MANAGER_INJECT in (obj["metadata"].get("annotations") or {}):
        return Outcome(where, "external", "cert-manager injects its caBundle")
    encoded = base64.b64encode(bundle).decode()
    hooks = obj.get("webhooks") or []
    if all((h.get("clientConfig") or {}).get("caBundle") == encoded for h in hooks):
        return Outcome(where, "unchanged")
    for h in hooks:
        h.setdefault("clientConfig", {})["caBundle"] = encoded
    if not dry_run:
        transport.request("PUT", path, obj)
    return Outcome(where, "injected", "caBundle set to the Secret's ca.crt")


def _write_secret(
    transport: Transport, settings: Settings, secret: dict[str, Any] | None, material: Material
) -> None:
    base = f"/api/v1/namespaces/{_q(settings.namespace)}/secrets"
    meta: dict[str, Any] = {
        "name": settings.secret,
        "namespace": settings.namespace,
        "labels": {"app.kubernetes.io/part-of": "spidernet"},
        "annotations": {FACTS: json.dumps(material.facts, sort_keys=True)},
    }
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": meta,
        "data": material.data(),
    }
    if secret is None:
        transport.request("POST", base, body)
    else:
        meta["resourceVersion"] = secret["metadata"]["resourceVersion"]
        transport.request("PUT", f"{base}/{_q(settings.secret)}", body)


def _decoded(secret: Mapping[str, Any]) -> dict[str, bytes]:
    out = {}
    for k, v in (secret.get("data") or {}).items():
        try:
            out[k] = base64.b64decode(v)
        except (ValueError, TypeError):
            continue
    return out


def _get(transport: Transport, path: str) -> dict[str, Any] | None:
    try:
        return dict(transport.get(path))
    except kerr.NotFound:
        return None


def _q(text: str) -> str:
    return urllib.parse.quote(text, safe="")
