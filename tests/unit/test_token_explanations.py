"""A 401 explained from the token's claims (spidernet/k8s/tokens.py).

| token                                    | the explanation says                             |
|------------------------------------------|--------------------------------------------------|
| a JWT whose ``exp`` has passed           | expired at <time>, how long ago, the installer   |
|                                          | pods to check                                    |
| a JWT still valid, bound to a pod        | revoked, the pod it was bound to                 |
| not a JWT                                | not a token this cluster issued                  |
| none (a client certificate)              | the certificate                                  |
| every case                               | the server and the kubeconfig                    |
"""

from __future__ import annotations

import base64
import json

import pytest

from spidernet.k8s import tokens

NOW = 1_800_000_000.0
SERVER, SOURCE = "https://10.96.0.1:443", "/etc/cni/net.d/spiderpool.d/spiderpool.kubeconfig"


def jwt(payload: dict[str, object]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJSUzI1NiJ9.{body}.c2ln"


@pytest.mark.parametrize(
    ("token", "phrases"),
    [
        (jwt({"exp": NOW - 90}), ["expired at 2027-01-15T07:58:30Z (90 s ago)", "installer"]),
        (
            jwt(
                {
                    "exp": NOW + 600,
                    "kubernetes.io": {"namespace": "kube-system", "pod": {"name": "i-x"}},
                }
            ),
            ["revoked", "bound to pod kube-system/i-x", "valid until 2027-01-15T08:10:00Z"],
        ),
        ("not-a-jwt", ["not a service-account token"]),
        ("", ["client certificate"]),
    ],
)
def test_a_401_names_the_likely_cause(token: str, phrases: list[str]) -> None:
    text = tokens.explain_401(token, SOURCE, SERVER, now=NOW)
    assert text.startswith(f"the API server {SERVER} refused the credentials of {SOURCE}")
    for phrase in phrases:
        assert phrase in text, text
