"""A local Kubernetes control plane: etcd + kube-apiserver on loopback. Does I/O.

Started per test session (or per demo / benchmark run) in its own work directory:
etcd keeps its data on tmpfs (/dev/shm) since etcd 3.4 has no way to skip fsync; the
apiserver (1.20, built by tools/bootstrap.sh) serves HTTPS on a free loopback port
with a self-signed certificate, token authentication and RBAC. It writes a kubeconfig
(bearer token + CA file) of the same shape our installer writes for the plugins.

Facts this relies on (docs/testbed.md): no kube-controller-manager runs, so the
ServiceAccount admission plugin is disabled (pods are plain API objects that stay
Pending); the insecure port of 1.20 is switched off so two control planes can coexist.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.testbed import paths
from tools.testbed.apiclient import ApiClient


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ControlPlane:
    """etcd + kube-apiserver; use as a context manager or call start()/stop()."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="spidernet-cp-")))
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    port: int = 0
    # For a cluster with kubelets and a controller-manager (tools/testbed/kubecluster.py):
    # ServiceAccount admission on, the Node authorizer and NodeRestriction for kubelets.
    kubelets: bool = False
    # More token users: (token, user name, group), e.g. a kubelet's system:node:<name>.
    users: list[tuple[str, str, str]] = field(default_factory=list)
    # More kube-apiserver flags (the local cluster's egress to its nodes).
    apiserver_flags: list[str] = field(default_factory=list)
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _etcd_dir: str = ""
    _etcd_url: str = ""

    # ------------------------------------------------------------ derived paths

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "certs" / "apiserver.crt"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    def pids(self) -> dict[str, int]:
        """The running processes by program name (etcd, kube-apiserver): benchmarks read their
        CPU."""
        return {Path(str(p.args[0])).name: p.pid for p in self._procs if isinstance(p.args, list)}

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 180.0) -> None:
        """etcd, then the apiserver; ready waits up to ``timeout`` (a UML guest on a busy 2-core
        host is slow)."""
        if not paths.KUBE_APISERVER.exists():
            raise RuntimeError(f"{paths.KUBE_APISERVER} is missing: run tools/bootstrap.sh first")
        self.workdir.mkdir(parents=True, exist_ok=True)
        etcd_url = self._etcd_url = self._start_etcd()
        self._write_credentials()
        self.port = free_port()
        self._spawn("kube-apiserver", [str(paths.KUBE_APISERVER), *self._apiserver_flags(etcd_url)])
        self._wait_ready(timeout)
        self._write_kubeconfig()

    def restart_apiserver(self, timeout: float = 60.0, *, kill: bool = False) -> None:
        """Stop the kube-apiserver (SIGTERM, or SIGKILL) and start it again on the same port; etcd
        keeps the data."""
        api = self._procs.pop()
        api.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            api.wait(20)
        except subprocess.TimeoutExpired:
            api.kill()
            api.wait()
        self._spawn(
            "kube-apiserver", [str(paths.KUBE_APISERVER), *self._apiserver_flags(self._etcd_url)]
        )
        self._wait_ready(timeout)

    def stop(self) -> None:
        for proc in reversed(self._procs):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self._procs):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
        if self._etcd_dir:
            shutil.rmtree(self._etcd_dir, ignore_errors=True)

    # ------------------------------------------------------------ pieces

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        self._procs.append(subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL))
        log.close()

    def _start_etcd(self) -> str:
        client, peer = free_port(), free_port()
        self._etcd_dir = tempfile.mkdtemp(prefix="spidernet-etcd-", dir="/dev/shm")
        url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
        self._spawn(
            "etcd",
            [
                "etcd",
                "--data-dir",
                self._etcd_dir,
                "--name",
                "default",
                "--listen-client-urls",
                url,
                "--advertise-client-urls",
                url,
                "--listen-peer-urls",
                peer_url,
                "--initial-advertise-peer-urls",
                peer_url,
                "--initial-cluster",
                f"default={peer_url}",
                "--log-level",
                "warn",
            ],
        )
        return url

    def _write_credentials(self) -> None:
        key = self.workdir / "sa.key"
        if not key.exists():
            subprocess.run(
                ["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True
            )
            subprocess.run(
                [
                    "openssl",
                    "rsa",
                    "-in",
                    str(key),
                    "-pubout",
                    "-out",
                    str(self.workdir / "sa.pub"),
                ],
                check=True,
                capture_output=True,
            )
        admin = f'{self.token},admin,admin-uid,"system:masters"\n'
        users = "".join(f'{token},{name},{name},"{group}"\n' for token, name, group in self.users)
        (self.workdir / "tokens.csv").write_text(admin + users)

    def _apiserver_flags(self, etcd_url: str) -> list[str]:
        w = self.workdir
        return [
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.port}",
            "--advertise-address=127.0.0.1",  # a UML guest has no default route to derive it from
            "--insecure-port=0",
            f"--cert-dir={w / 'certs'}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={w / 'sa.pub'}",
            f"--service-account-signing-key-file={w / 'sa.key'}",
            f"--token-auth-file={w / 'tokens.csv'}",
            f"--authorization-mode={'Node,RBAC' if self.kubelets else 'RBAC'}",
            "--service-cluster-ip-range=10.96.0.0/16",
            *(
                ["--enable-admission-plugins=NodeRestriction"]
                if self.kubelets
                else ["--disable-admission-plugins=ServiceAccount"]
            ),
            "--profiling=false",
            "--logtostderr=true",
            "--v=1",
            *self.apiserver_flags,
        ]

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self._procs):
                break
            try:
                if self.request("GET", "/readyz", insecure=True)[0] == 200:
                    return
            except OSError as e:
                last = str(e)
            time.sleep(0.2)
        self.stop()
        tail = (self.workdir / "kube-apiserver.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"kube-apiserver not ready ({last}); log tail:\n{tail}")

    def _write_kubeconfig(self) -> None:
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "local",
                    "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)},
                }
            ],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
            "current-context": "local",
        }
        self.kubeconfig.write_text(json.dumps(cfg, indent=2))  # JSON is valid YAML
        os.chmod(self.kubeconfig, 0o600)

    # ------------------------------------------------------------ the API, for tools and tests

    def client(
        self, *, keep_alive: bool = False, tries: int = 1, timeout: float = 30.0
    ) -> ApiClient:
        """A client of this apiserver as the admin (tools/testbed/apiclient.py)."""
        return ApiClient(
            self.port, self.ca_file, self.token, keep_alive=keep_alive, tries=tries, timeout=timeout
        )

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        insecure: bool = False,
        content_type: str = "application/json",
        accept: str | None = None,
        bearer: str | None = None,
    ) -> tuple[int, Any]:
        """One request, on a connection of its own; returns (status, decoded JSON or text)."""
        return self.client().request(
            method,
            path,
            body,
            insecure=insecure,
            content_type=content_type,
            accept=accept,
            bearer=bearer,
        )

    def apply_crd(self, crd: dict[str, Any], timeout: float = 30.0) -> None:
        """Create (or replace) a CustomResourceDefinition and wait until it is served."""
        name = crd["metadata"]["name"]
        base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        status, existing = self.request("GET", f"{base}/{name}")
        if status == 200:
            crd = {
                **crd,
                "metadata": {
                    **crd["metadata"],
                    "resourceVersion": existing["metadata"]["resourceVersion"],
                },
            }
            status, reply = self.request("PUT", f"{base}/{name}", crd)
        else:
            status, reply = self.request("POST", base, crd)
        if status not in (200, 201):
            raise RuntimeError(f"CRD {name}: HTTP {status}: {reply}")
        self._wait_established(base, name, timeout)

    def _wait_established(self, base: str, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, crd = self.request("GET", f"{base}/{name}")
            conditions = (crd.get("status") or {}).get(
                "conditions"
            ) or []  # null right after create
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                return
            time.sleep(0.1)
        raise RuntimeError(f"CRD {name} not established after {timeout}s")
