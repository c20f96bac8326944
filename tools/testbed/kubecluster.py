"""A real local Kubernetes cluster: control plane, controllers, nodes with kubelets. Does I/O.

    etcd + kube-apiserver        host netns, loopback (tools/testbed/controlplane.py), with
                                 ServiceAccount admission, the Node authorizer, NodeRestriction
    kube-controller-manager      host netns; service-account credentials per controller
    kube-scheduler               host netns
    node<i>                      a netns on the underlay bridge (NIC ens1, 10.6.0.1<i>/16) with
                                 its own mount namespace, containerd and kubelet
                                 (tools/testbed/kubenode.py)

All binaries come from Debian's kubernetes 1.20 source package (tools/bootstrap.sh
--cluster builds them) and Debian's containerd and runc. Kubelets reach the API through
an apiproxy in their netns at ``127.0.0.1:<port>``; in-cluster clients (the installer,
the GC Job) through the same apiproxy at the ``kubernetes`` Service's ClusterIP,
``10.96.0.1:443``, which each node holds on its loopback: there is no kube-proxy, and
this one Service is all our components use. A pod reaches it through the coordinator's
route for the service CIDR via the node (``serviceCIDR`` in our conflist). The other
way, the API server's calls into the cluster (the pools' admission webhook, a Service
of the installer pods) go through its egress selector to tools/testbed/egressproxy.py
on the underlay, a Service resolved to its endpoints (``--enable-aggregator-routing``).

The images (the spidernet image from tools/build_image.sh, and busybox as pause and
workload image) are imported into every node's containerd; nothing is pulled.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.testbed import images, nodecgroups, nodefiles, paths
from tools.testbed.cluster import Cluster
from tools.testbed.controlplane import ControlPlane
from tools.testbed.kubenode import DIE_WITH_US, KubeNode, NodeConfig
from tools.testbed.netns import TAG, Underlay

SERVICE_IP = "10.96.0.1"
SUBNET = "10.6.0.0/16"
BUSYBOX = "localhost/busybox:testbed"
SPIDERNET_IMAGE = "localhost/spidernet:testbed"
OVERLAY = paths.REPO / "tools" / "testbed" / "overlay"
NETWORK = "spidernet"  # the name of the nodes' conflist network
EGRESS_IP = "10.6.0.2"  # the egress proxy's address on the underlay
EGRESS_SOCKET = "egress.sock"  # in the work directory


OWNER = "owner"  # the test process's pid, in the work directory
KEPT = "kept"  # a work directory kept on request (SPIDERNET_CLUSTER_KEEP): removed by hand


def cleanup_stale() -> None:
    """What runs killed before their clean-up left: node processes and cgroups, work directories
    (but not one kept on request: its logs are what the next run would be started to read)."""
    nodecgroups.cleanup_stale()
    for workdir in Path("/var/tmp").glob("spidernet-kube-*"):
        owner = workdir / OWNER
        if (workdir / KEPT).exists():
            continue
        with contextlib.suppress(OSError, ValueError):
            if not Path(f"/proc/{int(owner.read_text())}").exists():
                shutil.rmtree(workdir, ignore_errors=True)


def node_ip(index: int) -> str:
    return f"10.6.0.{11 + index}"


def conflist(ipam: dict[str, Any]) -> dict[str, Any]:
    """The nodes' pod network: macvlan on the underlay NIC, ``ipam``, then the coordinator."""
    return {
        "cniVersion": "0.3.1",
        "name": NETWORK,
        "plugins": [
            {"type": "macvlan", "master": "ens1", "mode": "bridge", "ipam": ipam},
            {"type": "coordinator", "mode": "underlay", "serviceCIDR": ["10.96.0.0/16"]},
        ],
    }


def spiderpool_ipam() -> dict[str, Any]:
    """Our IPAM with its defaults: credentials and node name from the installer's files."""
    return {"type": "spiderpool"}


@dataclass
class LocalCluster:
    image: Path  # the spidernet image's docker-archive
    node_count: int = 2
    workdir: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="spidernet-kube-", dir="/var/tmp"))
    )
    cp: ControlPlane | None = None
    underlay: Underlay | None = None
    nodes: list[KubeNode] = field(default_factory=list)
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _node_tokens: dict[str, str] = field(default_factory=dict)
    _webhook_last: str = ""  # the webhook probe's last answer, for a failure message

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        for binary in (paths.KUBELET, paths.KUBE_SCHEDULER, paths.KUBE_CONTROLLER_MANAGER):
            if not binary.exists():
                raise RuntimeError(f"{binary} is missing: run tools/bootstrap.sh --cluster first")
        cleanup_stale()
        (self.workdir / OWNER).write_text(f"{os.getpid()}\n")
        names = [f"node{i}-{TAG}".lower() for i in range(self.node_count)]
        self._node_tokens = {name: secrets.token_hex(16) for name in names}
        users = [(t, f"system:node:{n}", "system:nodes") for n, t in self._node_tokens.items()]
        self._controller_tokens = {
            who: secrets.token_hex(16) for who in ("kube-controller-manager", "kube-scheduler")
        }
        users += [
            (t, f"system:{who}", "spidernet:testbed") for who, t in self._controller_tokens.items()
        ]
        self.cp = ControlPlane(
            workdir=self.workdir / "control-plane",
            kubelets=True,
            users=users,
            apiserver_flags=self._egress_flags(),
        )
        self.underlay = Underlay()
        self._egress_proxy()
        self.cp.start()
        self._start_controllers()
        busybox = images.busybox_image(self.workdir, BUSYBOX)
        for index, name in enumerate(names):
            self._add_node(index, name, [busybox, self.image])
        self.wait_for(lambda: len(self.api_nodes()) == len(names), "nodes registered", 120)

    def stop(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.destroy()
        for proc in self._procs.values():
            proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self._procs.clear()
        if self.underlay is not None:
            self.underlay.close()
        if self.cp is not None:
            self.cp.stop()
        if os.environ.get("SPIDERNET_CLUSTER_KEEP"):
            (self.workdir / KEPT).touch()
            print(f"kubecluster: kept {self.workdir} (SPIDERNET_CLUSTER_KEEP)", file=sys.stderr)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ access

    @property
    def api(self) -> ControlPlane:
        if self.cp is None:
            raise RuntimeError("the cluster is not started")
        return self.cp

    def objects(self) -> Cluster:
        """Helpers for pools and endpoints (tools/testbed/cluster.py) on this cluster."""
        return Cluster(self.api)

    def kubectl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Debian's kubectl 1.20 against this cluster (as admin)."""
        argv = [str(paths.KUBECTL), f"--kubeconfig={self.api.kubeconfig}", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)

    def node(self, name: str) -> KubeNode:
        return next(n for n in self.nodes if n.name == name)

    def api_nodes(self) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/nodes")["items"])

    def pods(self, namespace: str, selector: str = "") -> list[dict[str, Any]]:
        query = f"?labelSelector={selector}" if selector else ""
        return list(self._get(f"/api/v1/namespaces/{namespace}/pods{query}")["items"])

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """POST an object (core or apps group, namespaced or not)."""
        meta, version = obj["metadata"], obj["apiVersion"]
        base = f"/api/{version}" if "/" not in version else f"/apis/{version}"
        scope = f"/namespaces/{meta['namespace']}" if "namespace" in meta else ""
        plural = obj["kind"].lower() + "s"
        status, reply = self.api.request("POST", f"{base}{scope}/{plural}", obj)
        if status not in (200, 201):
            raise RuntimeError(f"create {obj['kind']} {meta['name']}: HTTP {status}: {reply}")
        return dict(reply)

    def namespace(self, name: str) -> None:
        self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def scale(self, kind: str, namespace: str, name: str, replicas: int) -> None:
        path = f"/apis/apps/v1/namespaces/{namespace}/{kind.lower()}s/{name}"
        status, reply = self.api.request(
            "PATCH",
            path,
            {"spec": {"replicas": replicas}},
            content_type="application/merge-patch+json",
        )
        if status != 200:
            raise RuntimeError(f"scale {kind} {namespace}/{name}: HTTP {status}: {reply}")

    def delete_pod(self, namespace: str, name: str, *, force: bool = False) -> None:
        body = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if force:
            body["gracePeriodSeconds"] = 0  # type: ignore[assignment]
        status, reply = self.api.request(
            "DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}", body
        )
        if status not in (200, 202, 404):
            raise RuntimeError(f"delete pod {namespace}/{name}: HTTP {status}: {reply}")

    def ping(self, pod: dict[str, Any], address: str) -> bool:
        """One ping from ``pod``'s network namespace (entered through one of its processes)."""
        node = self.node(pod["spec"]["nodeName"])
        pid = node.pod_pid(pod["metadata"]["uid"])
        if pid is None:
            raise RuntimeError(f"no process of pod {pod['metadata']['name']} on {node.name}")
        argv = ["nsenter", f"--net=/proc/{pid}/ns/net", "ping", "-c", "1", "-W", "2", address]
        return subprocess.run(argv, capture_output=True, timeout=30, check=False).returncode == 0

    def installer_pods(self) -> dict[str, dict[str, Any]]:
        """The installer DaemonSet's pods by node name."""
        pods = self.pods("kube-system", "app.kubernetes.io/name=spidernet-installer")
        return {p["spec"]["nodeName"]: p for p in pods}

    def node_token_claims(self, node: KubeNode) -> dict[str, Any]:
        """The claims of the token the installer copied to ``node`` (a JWT's payload)."""
        token = node.host_path("/etc/cni/net.d/spiderpool.d/token").read_text()
        payload = token.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))

    def _get(self, path: str) -> Any:
        status, reply = self.api.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: HTTP {status}: {reply}")
        return reply

    def wait_for(
        self, predicate: Callable[[], bool], what: str, timeout: float, every: float = 1.0
    ) -> float:
        """Poll ``predicate`` until true; returns the seconds it took, or raises naming ``what``.
        A poll the API server does not answer in time (a busy machine) counts as not yet."""
        start, last = time.monotonic(), ""
        while time.monotonic() - start < timeout:
            try:
                if predicate():
                    return time.monotonic() - start
            except OSError as e:  # TimeoutError and URLError are OSErrors
                last = f"; last poll: {type(e).__name__}: {e}"
            time.sleep(every)
        raise TimeoutError(f"{what}: not reached within {timeout:.0f} s ({self.diagnosis()}{last})")

    def diagnosis(self) -> str:
        """A short state of the nodes and daemons, for failure messages."""
        states = []
        for node in self.nodes:
            daemons = ",".join(d for d in ("containerd", "kubelet") if node.running(d)) or "none"
            states.append(f"{node.name}: running {daemons}, logs {node.log_dir}")
        return "; ".join(states)

    # ------------------------------------------------------------ installing our suite

    def install(self, timeout: float = 300) -> None:
        """``kubectl apply -k`` of the overlay (installer/manifests with the local image), then
        wait until every node's installer pod is Ready and the pools' admission webhook
        admits a pool (it refuses every pool change until the GC CronJob's first pass has
        made its TLS Secret and set its caBundle, docs/install.md)."""
        done = self.kubectl("apply", "-k", str(OVERLAY))
        if done.returncode != 0:
            raise RuntimeError(f"kubectl apply -k {OVERLAY} failed: {done.stderr.strip()}")
        self.wait_for(self._installers_ready, "installer DaemonSet ready on every node", timeout)
        try:
            took = self.wait_for(
                self._webhook_admits, "the pools' admission webhook admitting", timeout, every=3
            )
        except TimeoutError as e:
            raise TimeoutError(f"{e}; the last dry-run pool create: {self._webhook_last}") from None
        print(
            f"kubecluster: the pools' webhook admits {took:.0f} s after the installers",
            file=sys.stderr,
        )

    def _webhook_admits(self) -> bool:
        """A dry-run pool create (nothing stored, the webhook's ledger untouched) is admitted."""
        probe = {
            "apiVersion": "spiderpool.spidernet.io/v2beta1",
            "kind": "SpiderIPPool",
            "metadata": {"name": "webhook-probe"},
            "spec": {"ipVersion": 4, "subnet": SUBNET, "ips": ["10.6.255.254"]},
        }
        path = "/apis/spiderpool.spidernet.io/v2beta1/spiderippools?dryRun=All"
        status, reply = self.api.request("POST", path, probe)
        self._webhook_last = f"HTTP {status}: {str(reply)[:300]}"
        return status in (200, 201)

    def _installers_ready(self) -> bool:
        ds = self._get("/apis/apps/v1/namespaces/kube-system/daemonsets/spidernet-installer")
        status = ds.get("status", {})
        return bool(
            status.get("numberReady", 0) == len(self.nodes) == status.get("desiredNumberScheduled")
        )

    def write_conflist(self, ipam: dict[str, Any] | Callable[[KubeNode], dict[str, Any]]) -> None:
        """Every node's pod network (``/etc/cni/net.d/10-spidernet.conflist``); containerd
        picks a change up by itself."""
        for node in self.nodes:
            chosen = ipam(node) if callable(ipam) else ipam
            target = node.host_path("/etc/cni/net.d/10-spidernet.conflist")
            tmp = target.with_suffix(".tmp")
            tmp.write_text(json.dumps(conflist(chosen), indent=2) + "\n")
            tmp.rename(target)

    # ------------------------------------------------------------ pieces

    def _kubeconfig(self, name: str, token: str, server: str | None = None) -> Path:
        path = self.workdir / f"{name}.kubeconfig"
        path.write_text(nodefiles.kubeconfig(server or self.api.server, self.api.ca_file, token))
        return path

    def _start_controllers(self) -> None:
        cp, w = self.api, self.api.workdir
        cm = self._kubeconfig(
            "controller-manager", self._controller_tokens["kube-controller-manager"]
        )
        self._spawn(
            "kube-controller-manager",
            [
                str(paths.KUBE_CONTROLLER_MANAGER),
                f"--kubeconfig={cm}",
                "--leader-elect=false",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={w / 'sa.key'}",
                f"--root-ca-file={cp.ca_file}",
                "--controllers=*,-csrsigning,-csrapproving,-csrcleaner",
                "--port=0",
                "--secure-port=0",
                "--logtostderr=true",
                # 2: the node lifecycle controller's taint and eviction decisions are logged
                "--v=2",
            ],
        )
        sched = self._kubeconfig("scheduler", self._controller_tokens["kube-scheduler"])
        self._spawn(
            "kube-scheduler",
            [
                str(paths.KUBE_SCHEDULER),
                f"--kubeconfig={sched}",
                "--leader-elect=false",
                "--port=0",
                "--secure-port=0",
                "--logtostderr=true",
                "--v=1",
            ],
        )

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        self._procs[name] = subprocess.Popen(
            [*DIE_WITH_US, *argv], stdout=log, stderr=log, stdin=subprocess.DEVNULL
        )
        log.close()

    def _add_node(self, index: int, name: str, archives: list[Path]) -> None:
        assert self.underlay is not None
        netns = self.underlay.add_node((f"{node_ip(index)}/16",))
        netns.run("ip", "addr", "add", f"{SERVICE_IP}/32", "dev", "lo")
        self._api_proxy(name, netns.path)
        config = NodeConfig(
            api_server=self.api.server,
            ca_file=self.api.ca_file,
            token=self._node_tokens[name],
            pause_image=BUSYBOX,
            node_ip=node_ip(index),
        )
        node = KubeNode(name=name, netns=netns, workdir=self.workdir / name, config=config)
        self.nodes.append(node)
        node.create()
        for archive in archives:
            node.import_image(archive)

    def _egress_flags(self) -> list[str]:
        """The API server's calls into the cluster (the pools' admission webhook, kubelets)
        through the egress proxy, a Service resolved to its endpoints (no kube-proxy here)."""
        config = self.workdir / "egress-selector.yaml"
        config.write_text(
            "apiVersion: apiserver.k8s.io/v1beta1\n"
            "kind: EgressSelectorConfiguration\n"
            "egressSelections:\n"
            "- name: cluster\n"
            "  connection:\n"
            "    proxyProtocol: HTTPConnect\n"
            "    transport:\n"
            f"      uds: {{udsName: {self.workdir / EGRESS_SOCKET}}}\n"
        )
        return [
            f"--egress-selector-config-file={config}",
            "--enable-aggregator-routing=true",
            # A node's name resolves nowhere here: kubectl logs and exec dial its address.
            "--kubelet-preferred-address-types=InternalIP",
        ]

    def _egress_proxy(self) -> None:
        """tools/testbed/egressproxy.py in a netns of its own on the underlay."""
        assert self.underlay is not None
        netns = self.underlay.add_peer("egress", (f"{EGRESS_IP}/16",))
        argv = [
            "nsenter",
            f"--net={netns.path}",
            "--",
            sys.executable,
            "-m",
            "tools.testbed.egressproxy",
            str(self.workdir / EGRESS_SOCKET),
        ]
        proc = subprocess.Popen([*DIE_WITH_US, *argv], stdout=subprocess.PIPE, cwd=str(paths.REPO))
        self._procs["egressproxy"] = proc
        if proc.stdout is None or proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("the egress proxy did not start")

    def _api_proxy(self, name: str, netns_path: str) -> None:
        argv = [
            sys.executable,
            "-m",
            "tools.testbed.apiproxy",
            netns_path,
            str(self.api.port),
            f"{SERVICE_IP}:443",
        ]
        proc = subprocess.Popen([*DIE_WITH_US, *argv], stdout=subprocess.PIPE, cwd=str(paths.REPO))
        self._procs[f"apiproxy-{name}"] = proc
        if proc.stdout is None or proc.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"apiproxy for {name} did not start")
