"""The plugins' credentials on the host, and when the installer may rewrite them. No I/O.

Written into ``<conf>/spiderpool.d/`` (the IPAM's default kubeconfig path, docs/ipam.md):

    spiderpool.kubeconfig  0600  JSON (the plugins read it without PyYAML); names the two below
    token                  0600  the installer's projected service-account token, copied as is
    ca.crt                 0644  the cluster CA
    nodename               0644  this node's name (NODE_NAME, from the downward API)
    cluster-ipam.json      0644  the cluster IPAM config (docs/ipam.md, "Who sets what"): the
                                 ConfigMap spidernet-ipam as mounted, checked, every key spelled
                                 out (``credentials`` checks and renders it)
    .owner                 0644  which installer wrote them (its pod UID)

Decision (docs/install.md, "Credentials"): the kubeconfig points at the token *file*
(``tokenFile``) rather than holding the token, so a rotation rewrites one small file by
rename and the kubeconfig itself changes only with the server or CA. The plugins read
the token anew on every exec, so the next pod after a rotation uses the new token.
Paths in the kubeconfig are relative to it (kubectl and our reader resolve them so),
so the directory works wherever it is mounted.

Ownership, for two installers on one node at once (a DaemonSet rolling update with
``maxSurge``): the newer one takes over at its start by writing its identity into
``.owner``; afterwards an installer rewrites the files only while ``.owner`` still names
it, so the old pod never puts back its own token, which dies with it (a bound token
is revoked when its pod is deleted). A missing file is always rewritten.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

SUBDIR = "spiderpool.d"
KUBECONFIG = "spiderpool.kubeconfig"
TOKEN = "token"
CA = "ca.crt"
NODENAME = "nodename"
CLUSTER_IPAM = "cluster-ipam.json"
OWNER = ".owner"
# Written in this order: the kubeconfig names the others, so it goes last.
ORDER = (CA, TOKEN, NODENAME, CLUSTER_IPAM, KUBECONFIG)
MODES = {
    KUBECONFIG: 0o600,
    TOKEN: 0o600,
    CA: 0o644,
    NODENAME: 0o644,
    CLUSTER_IPAM: 0o644,
    OWNER: 0o644,
}
_NODE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class CredentialError(ValueError):
    """A source the plugins' credentials cannot be made from; nothing on the host changes."""


@dataclass(frozen=True)
class Sources:
    token: bytes
    ca: bytes
    server: str
    node: str
    owner: str  # this installer: its pod UID
    ipam_config: bytes = b"{}\n"  # the cluster IPAM config, checked and rendered


def server_url(host: str, port: str) -> str:
    """https://host:port from KUBERNETES_SERVICE_HOST/PORT; an IPv6 host gets brackets."""
    if not host or not port:
        raise CredentialError(
            "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set"
            " (set SPIDERNET_API_SERVER to name the API server yourself)"
        )
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise CredentialError(f"KUBERNETES_SERVICE_PORT {port!r} is not a port number")
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def render(server: str) -> bytes:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "spidernet",
        "clusters": [
            {"name": "spidernet", "cluster": {"server": server, "certificate-authority": CA}}
        ],
        "users": [{"name": "spidernet", "user": {"tokenFile": TOKEN}}],
        "contexts": [
            {"name": "spidernet", "context": {"cluster": "spidernet", "user": "spidernet"}}
        ],
    }
    return (json.dumps(config, indent=2, sort_keys=True) + "\n").encode()


def files(src: Sources) -> dict[str, bytes]:
    """The four files' contents; a CredentialError names the first bad source."""
    token = src.token.strip()
    if not token:
        raise CredentialError("the service-account token is empty")
    if any(c in token for c in b" \t\r\n"):
        raise CredentialError("the service-account token is not one word (is it the right file?)")
    if b"-----BEGIN CERTIFICATE-----" not in src.ca:
        raise CredentialError("the CA file holds no PEM certificate")
    if not _NODE_NAME.match(src.node):
        raise CredentialError(
            f"node name {src.node!r} is not a Kubernetes node name (is NODE_NAME set?)"
        )
    if not src.server.startswith("https://"):
        raise CredentialError(f"API server {src.server!r} is not an https:// URL")
    # No newline after the token: the Python kubernetes client sends tokenFile verbatim.
    return {
        OWNER: src.owner.encode() + b"\n",
        CA: src.ca,
        TOKEN: token,
        NODENAME: src.node.encode() + b"\n",
        CLUSTER_IPAM: src.ipam_config,
        KUBECONFIG: render(src.server),
    }


@dataclass(frozen=True)
class Decision:
    write: tuple[str, ...]
    foreign: bool  # another installer has taken the files over since


def decide(
    wanted: Mapping[str, bytes], on_disk: Mapping[str, bytes | None], *, first_pass: bool
) -> Decision:
    """Which files to write; ``wanted`` includes OWNER (this installer's identity)."""
    stale = tuple(n for n in (OWNER, *ORDER) if on_disk.get(n) != wanted[n])
    owner = on_disk.get(OWNER)
    if first_pass or owner is None or owner == wanted[OWNER]:
        return Decision(stale, False)
    return Decision(tuple(n for n in stale if n != OWNER and on_disk.get(n) is None), True)
