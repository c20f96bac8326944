"""Read the kubeconfig forms our installer writes (and kubectl's usual ones). Reads files.

Supported: the current context's cluster ``server``, ``certificate-authority`` or
``certificate-authority-data``, ``insecure-skip-tls-verify``; the user's ``token`` or
``tokenFile``, or ``client-certificate``/``client-key`` (files or ``-data``). Exec and
auth-provider plugins are not: node credentials for CNI plugins are static files.
JSON is parsed directly (the installer writes JSON, which is valid YAML); YAML is
parsed with PyYAML only when needed, to keep the plugin's start fast.

Every way a kubeconfig can be wrong (not JSON or YAML, nested too deeply, a field of the
wrong type, undecodable base64) is a ``KubeconfigError`` saying what and where, so the
IPAM answers code 7 naming ``ipam.kubeconfig`` rather than 999. The kubeconfig and its
token file are read through ``protocol.files``: a FIFO, a device or a directory there is
an ``OSError`` naming it (the same code 7), never a hang.
"""

from __future__ import annotations

import base64
import json
import os

from spidernet.protocol import files
from spidernet.types.record import record

TYPE_CHECKING = False  # typing is for the type checker only: not imported on an exec
if TYPE_CHECKING:
    from typing import Any


class KubeconfigError(ValueError):
    pass


@record
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


def _parse(text: str, path: str) -> object:
    try:
        return json.loads(text) if text.lstrip().startswith("{") else _parse_yaml(text, path)
    except RecursionError:  # both parsers recurse per nesting level
        raise KubeconfigError(f"{path}: nested too deeply to parse") from None
    except json.JSONDecodeError as e:
        raise KubeconfigError(f"{path}: not valid JSON: {e}") from e


def _parse_yaml(text: str, path: str) -> object:
    import yaml  # only for hand-written kubeconfigs

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise KubeconfigError(f"{path}: not valid YAML: {e}") from e


def _read(path: str) -> str:
    """The text of a file the kubeconfig involves: a regular file of at most
    ``files.MAX_FILE`` bytes (a FIFO would block the exec for good), in UTF-8."""
    try:
        return files.read_text(path)
    except UnicodeDecodeError as e:
        raise KubeconfigError(f"{path}: not UTF-8 text: {e}") from e


def _load(path: str) -> dict[str, Any]:
    data = _parse(_read(path), path)
    if not isinstance(data, dict):
        raise KubeconfigError(f"{path}: not a kubeconfig mapping")
    return data


def _mapping(value: object, what: str, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise KubeconfigError(f"{path}: {what} must be a mapping")
    return value


def _text(d: dict[str, Any], key: str, what: str, path: str) -> str:
    value = d.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise KubeconfigError(f"{path}: {what}.{key} must be a string")
    return value


def _named(items: object, name: str, kind: str, path: str) -> dict[str, Any]:
    if items is not None and not isinstance(items, list):
        raise KubeconfigError(f"{path}: {kind}s must be a list")
    for item in items or []:
        if isinstance(item, dict) and item.get("name") == name:
            return _mapping(item.get(kind), kind, path)
    raise KubeconfigError(f"{path}: {kind} {name!r} not found")


def _b64(text: str, what: str, path: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as e:  # binascii.Error
        raise KubeconfigError(f"{path}: {what} is not base64: {e}") from e


def _resolve(base: str, value: str) -> str:
    return value if not value or os.path.isabs(value) else os.path.join(base, value)


def _context(data: dict[str, Any], path: str) -> dict[str, Any]:
    ctx_name = _text(data, "current-context", "kubeconfig", path)
    contexts = data.get("contexts")
    if (
        not ctx_name
        and isinstance(contexts, list)
        and len(contexts) == 1
        and isinstance(contexts[0], dict)
    ):
        ctx_name = contexts[0].get("name", "")
    return _named(contexts, ctx_name, "context", path)


def _token(user: dict[str, Any], base: str, path: str) -> str:
    token = _text(user, "token", "user", path)
    token_file = _text(user, "tokenFile", "user", path)
    if not token and token_file:
        token = _read(_resolve(base, token_file)).strip()
    return token


def load(path: str) -> Credentials:
    data = _load(path)
    base = os.path.dirname(os.path.abspath(path))
    ctx = _context(data, path)
    cluster = _named(data.get("clusters"), _text(ctx, "cluster", "context", path), "cluster", path)
    user_name = _text(ctx, "user", "context", path)
    user = _named(data.get("users"), user_name, "user", path) if user_name else {}
    server = _text(cluster, "server", "cluster", path)
    if not server:
        raise KubeconfigError(f"{path}: cluster has no server")
    ca_data = _text(cluster, "certificate-authority-data", "cluster", path)
    return Credentials(
        server=server.rstrip("/"),
        token=_token(user, base, path),
        ca_file=_resolve(base, _text(cluster, "certificate-authority", "cluster", path)),
        ca_data=_b64(ca_data, "certificate-authority-data", path).decode("utf-8", "replace")
        if ca_data
        else "",
        cert_file=_resolve(base, _text(user, "client-certificate", "user", path)),
        key_file=_resolve(base, _text(user, "client-key", "user", path)),
        cert_data=_b64(
            _text(user, "client-certificate-data", "user", path), "client-certificate-data", path
        ),
        key_data=_b64(_text(user, "client-key-data", "user", path), "client-key-data", path),
        insecure=cluster.get("insecure-skip-tls-verify") is True,
    )
