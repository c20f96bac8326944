"""Keep the plugins' kubeconfig, token, CA, nodename and cluster IPAM config on the host in
step with the installer's service account and the ConfigMap spidernet-ipam. Does I/O
(through ``hostfs``; what to write is ``kubeconfig``'s).

Each ``sync`` reads the sources (the projected token and CA that kubelet refreshes, the
API server from the environment, NODE_NAME), renders the files and rewrites the ones
that differ, each by rename. A source that is missing, unreadable or malformed raises
``CredentialError`` before anything on the host is touched, so the plugins keep the last
good credentials; so does a write that fails (full disk, read-only mount).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from installer import hostfs, kubeconfig
from installer.kubeconfig import CredentialError
from installer.settings import Settings
from spidernet.ipam import cluster
from spidernet.protocol import errors

log = logging.getLogger("installer")


def read_access(settings: Settings) -> tuple[bytes, bytes, str]:
    """The installer pod's own token, the cluster CA and the API server's URL."""
    try:
        token = hostfs.read_required(Path(settings.token_file), "the service-account token")
        ca = hostfs.read_required(Path(settings.ca_file), "the cluster CA")
    except OSError as e:
        raise CredentialError(str(e)) from e
    server = settings.api_server or kubeconfig.server_url(
        settings.service_host, settings.service_port
    )
    return token, ca, server


def read_sources(settings: Settings) -> kubeconfig.Sources:
    token, ca, server = read_access(settings)
    try:
        ipam_config = cluster_ipam(hostfs.read_or_none(Path(settings.ipam_config)))
    except OSError as e:
        raise CredentialError(
            f"cannot read the cluster IPAM config {settings.ipam_config}: {e}"
        ) from e
    return kubeconfig.Sources(
        token=token,
        ca=ca,
        server=server,
        node=settings.node_name,
        owner=settings.identity,
        ipam_config=ipam_config,
    )


def cluster_ipam(source: bytes | None) -> bytes:
    """The cluster IPAM config for the plugins, from the ConfigMap's file (None: there is none).

    Checked with the plugins' own parser, strictly (an unknown key is a typo here, where
    the plugins would only log it), and written with every key, so that the file on a node
    shows what applies there."""
    where = "the cluster IPAM config (ConfigMap spidernet-ipam)"
    try:
        data = json.loads(source or b"{}")
    except ValueError as e:
        raise CredentialError(f"{where} is not JSON: {e}") from None
    known = cluster.to_json(cluster.ClusterConf())
    unknown = sorted(set(data) - set(known)) if isinstance(data, dict) else []
    if unknown:
        raise CredentialError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    try:
        conf = cluster.parse(data, "cluster-ipam.json")
    except errors.CniError as e:
        raise CredentialError(f"{where}: {e.msg}") from None
    return (json.dumps(cluster.to_json(conf), indent=2, sort_keys=True) + "\n").encode()


class Renewer:
    """One per installer process: remembers whether it has taken the files over yet."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dir = Path(settings.cni_conf_dir) / kubeconfig.SUBDIR
        self.first_pass = True

    def sync(self) -> tuple[str, ...]:
        """Render and write what changed; returns the names written."""
        wanted = kubeconfig.files(read_sources(self.settings))
        try:
            hostfs.ensure_dir(self.dir)
            on_disk = {name: hostfs.read_or_none(self.dir / name) for name in wanted}
            decision = kubeconfig.decide(wanted, on_disk, first_pass=self.first_pass)
            if decision.foreign:
                log.info(
                    "credentials in %s now belong to installer %s; leaving them",
                    self.dir,
                    (on_disk[kubeconfig.OWNER] or b"").decode(errors="replace").strip(),
                )
            for name in decision.write:
                hostfs.write_atomic(self.dir / name, wanted[name], kubeconfig.MODES[name])
                log.info("wrote %s", self.dir / name)
        except OSError as e:
            raise CredentialError(f"writing credentials into {self.dir}: {e}") from e
        self.first_pass = False
        return decision.write

    def owner(self) -> str:
        """The installer the node's files belong to ("" when none wrote them)."""
        raw = hostfs.read_or_none(self.dir / kubeconfig.OWNER) or b""
        return raw.decode(errors="replace").strip()

    def remove(self) -> None:
        """Uninstall: remove the files, if they are still ours."""
        if self.owner() != self.settings.identity:
            log.info("not removing %s: another installer owns it", self.dir)
            return
        for name in (*reversed(kubeconfig.ORDER), kubeconfig.OWNER):  # the kubeconfig first
            hostfs.remove(self.dir / name)
        try:
            self.dir.rmdir()
        except OSError:
            pass  # not empty: other files (locks, a user's) are not ours to remove
        log.info("removed the plugins' credentials from %s", self.dir)
