"""Read the kubeconfig forms our installer writes (and kubectl's usual ones). Reads files.

Supported: the current context's cluster ``server``, ``certificate-authority`` or
``certificate-authority-data``, ``insecure-skip-tls-verify``; the user's ``token`` or
``tokenFile``, or ``client-certificate``/``client-key`` (files or ``-data``). Exec and
auth-provider plugins are not: node credentials for CNI plugins are static files.
JSON is parsed directly (the installer writes JSON, which is valid YAML); YAML is
parsed with PyYAML only when needed, to keep the plugin's start fast.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any


class KubeconfigError(ValueError):
    pass


@dataclass(frozen=True)
class Credentials:
    server: str
    token: str = ""
    ca_file: str = ""
    ca_data: str = ""  # PEM text
    cert_file: str = ""
    key_file: str = ""
    cert_data: bytes = b""
    key_data: bytes = b""
    insecure: bool = False


def _load(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.lstrip().startswith("{"):
        data = json.loads(text)
    else:
        import yaml  # only for hand-written kubeconfigs

        data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise KubeconfigError(f"{path}: not a kubeconfig mapping")
    return data


def _named(items: Any, name: str, kind: str, path: str) -> dict[str, Any]:
    for item in items or []:
        if isinstance(item, dict) and item.get("name") == name:
            return dict(item.get(kind) or {})
    raise KubeconfigError(f"{path}: {kind} {name!r} not found")


def _resolve(base: str, value: str) -> str:
    return value if not value or os.path.isabs(value) else os.path.join(base, value)


def load(path: str) -> Credentials:
    data = _load(path)
    base = os.path.dirname(os.path.abspath(path))
    ctx_name = data.get("current-context") or ""
    contexts = data.get("contexts") or []
    if not ctx_name and len(contexts) == 1:
        ctx_name = contexts[0].get("name", "")
    ctx = _named(contexts, ctx_name, "context", path)
    cluster = _named(data.get("clusters"), ctx.get("cluster", ""), "cluster", path)
    user = _named(data.get("users"), ctx.get("user", ""), "user", path) if ctx.get("user") else {}
    if not cluster.get("server"):
        raise KubeconfigError(f"{path}: cluster has no server")
    token = user.get("token") or ""
    if not token and user.get("tokenFile"):
        with open(_resolve(base, user["tokenFile"]), encoding="utf-8") as f:
            token = f.read().strip()
    return Credentials(
        server=cluster["server"].rstrip("/"),
        token=token,
        ca_file=_resolve(base, cluster.get("certificate-authority", "")),
        ca_data=base64.b64decode(cluster["certificate-authority-data"]).decode() if cluster.get("certificate-authority-data") else "",
        cert_file=_resolve(base, user.get("client-certificate", "")),
        key_file=_resolve(base, user.get("client-key", "")),
        cert_data=base64.b64decode(user.get("client-certificate-data", "") or b""),
        key_data=base64.b64decode(user.get("client-key-data", "") or b""),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
    )
