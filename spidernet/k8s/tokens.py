"""Why the API server refused our credentials: a 401 explained from the token's own claims.
No I/O.

A bare "401 Unauthorized" says nothing a platform engineer can act on. A service-account
token is a JWT whose payload (read here, never verified: the API server did that) says
when it expires and which pod it is bound to, which is enough to tell the usual causes
apart (docs/troubleshooting.md, "401"):

- expired: the installer on the node stopped renewing it (no installer pod there);
- not expired: revoked, i.e. the pod it is bound to or its service account was deleted
  (an installer pod deleted with no successor), or it is from another cluster;
- no token at all: a client certificate the server did not accept.

Only an exec that got a 401 runs this: nothing of it is on the path of one that did not.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

INSTALLER_PODS = (
    "kubectl -n kube-system get pods -o wide -l app.kubernetes.io/name=spidernet-installer"
)


def claims(token: str) -> dict[str, Any] | None:
    """The payload of a JWT, or None when ``token`` is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _bound_pod(payload: dict[str, Any]) -> str:
    k8s = payload.get("kubernetes.io")
    pod = k8s.get("pod") if isinstance(k8s, dict) else None
    if not isinstance(pod, dict) or not pod.get("name"):
        return ""
    return f"{k8s.get('namespace', '')}/{pod['name']}".lstrip("/")  # type: ignore[union-attr]


def explain_401(token: str, source: str, server: str, now: float | None = None) -> str:
    """One sentence: what the server at ``server`` refused, the likely cause and the remedy;
    ``source`` names where the credentials came from (the kubeconfig)."""
    now = time.time() if now is None else now
    head = f"the API server {server} refused the credentials of {source} (401 Unauthorized)"
    if not token:
        return f"{head}: its client certificate is not one this server accepts"
    payload = claims(token)
    if payload is None:
        return f"{head}: its token is not a service-account token this cluster issued"
    exp = payload.get("exp")
    if isinstance(exp, (int, float)) and exp <= now:
        return (
            f"{head}: its token expired at {_when(exp)} ({int(now - exp)} s ago); the installer "
            f"pod on this node renews it, and none has since: check `{INSTALLER_PODS}`"
        )
    pod = _bound_pod(payload)
    bound = f" (bound to pod {pod})" if pod else ""
    until = f", valid until {_when(exp)}" if isinstance(exp, (int, float)) else ""
    return (
        f"{head}: its token{bound}{until} was revoked: the pod it is bound to or its "
        f"service account was deleted; an installer pod running on this node writes a new "
        f"one within seconds: check `{INSTALLER_PODS}`"
    )
