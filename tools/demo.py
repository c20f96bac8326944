"""The README's main job: a local cluster, pools, two pods wired through the CNI chain. Does I/O.

1. start etcd + kube-apiserver, install our CRDs, create dual-stack SpiderIPPools;
2. simulate two nodes (network namespaces on an underlay bridge) and create two pod
   objects, one per node;
3. for each pod, run the NAD's conflist through libcni (the runtime containerd/CRI-O use):
   Debian's macvlan delegates IPAM to our frozen ``spiderpool``;
4. show the pods' addresses and the pools' status, ping pod to pod over IPv4 and IPv6;
5. delete the pods, run the runtime's DEL, and show the pools empty again.
Run by tools/demo.sh (which does all set-up first). Never touches the host's own netns.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from tools.testbed import cni, netns
from tools.testbed.cluster import Cluster, NodeConfig
from tools.testbed.controlplane import ControlPlane

V4_POOL, V6_POOL = "demo-v4", "demo-v6"


def say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def conflist(node: NodeConfig) -> dict[str, object]:
    return {
        "cniVersion": "1.0.0",
        "name": "macvlan-ens1",
        "plugins": [{
            "type": "macvlan", "master": "ens1", "mode": "bridge",
            "ipam": node.ipam(default_ipv4_ippool=[V4_POOL], default_ipv6_ippool=[V6_POOL]),
        }],
    }  # fmt: skip


def show_pools(cluster: Cluster) -> None:
    print(f"{'NAME':<10} {'VERSION':<8} {'SUBNET':<16} {'ALLOCATED':<10} TOTAL  RECORDS")
    for name in (V4_POOL, V6_POOL):
        p = cluster.get_pool(name)
        st = p.get("status") or {}
        print(f"{name:<10} {p['spec']['ipVersion']:<8} {p['spec']['subnet']:<16} "
              f"{st.get('allocatedIPCount', 0):<10} {st.get('totalIPCount', 0):<6} {json.dumps(cluster.records(name))}")  # fmt: skip


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="spidernet-demo-"))
    say("starting etcd + kube-apiserver")
    with ControlPlane(workdir=work / "cp") as cp:
        print(f"apiserver {cp.server}, kubeconfig {cp.kubeconfig}")
        cluster = Cluster(cp)
        cluster.install_crds()
        cluster.namespace("demo")
        cluster.pool(V4_POOL, "10.250.0.0/24", ["10.250.0.10-10.250.0.19"], gateway="10.250.0.1")
        cluster.pool(V6_POOL, "fd00:250::/64", ["fd00:250::10-fd00:250::ffff"], gateway="fd00:250::1")
        say("pools created")
        show_pools(cluster)
        with netns.Underlay(api_port=cp.port) as underlay:
            return run_pods(cluster, underlay, work)


def run_pods(cluster: Cluster, underlay: netns.Underlay, work: Path) -> int:
    pods = []
    for i, name in enumerate(("web", "db")):
        node_name = f"node{i}"
        cluster.node(node_name)
        config = NodeConfig.create(cluster.cp, node_name, work / "nodes")
        runtime = cni.Runtime(conflist(config), node=underlay.add_node())
        obj = cluster.pod("demo", name, node_name)
        ref = cni.PodRef("demo", name, uid=obj["metadata"]["uid"], container_id=f"sandbox-{name}")
        pods.append((runtime, ref, underlay.add_pod(name)))
    say("the NAD's conflist (node0)")
    print(json.dumps(pods[0][0].conflist, indent=2))

    say("CNI ADD through libcni: macvlan -> spiderpool")
    addresses = {}
    for runtime, ref, pod in pods:
        result = runtime.add(ref.container_id, pod.path, pod=ref)
        addresses[ref.name] = [ip["address"] for ip in result["ips"]]
        print(f"pod demo/{ref.name} on {runtime.node.name if runtime.node else '?'}: {addresses[ref.name]}")
        print(f"  routes: {[(r['dst'], r.get('gw')) for r in result.get('routes', [])]}")
        print(f"  in the pod netns: eth0 {pod.addresses('eth0')}")
    show_pools(cluster)

    say("ping from demo/web to demo/db")
    ok = True
    for address in addresses["db"]:
        target = address.split("/")[0]
        reached = pods[0][2].ping(target, count=2)
        ok &= reached
        print(f"  ping {target}: {'ok' if reached else 'FAILED'}")

    say("deleting the pods; the runtime's DEL releases their addresses")
    for runtime, ref, pod in pods:
        cluster.delete_pod("demo", ref.name)
        runtime.delete(ref.container_id, pod.path, pod=ref)
        print(f"pod demo/{ref.name}: DEL done, eth0 present: {pod.has_link('eth0')}")
    show_pools(cluster)
    empty = all(not cluster.records(p) for p in (V4_POOL, V6_POOL)) and not cluster.endpoints("demo")
    say("pools empty again, no endpoints left" if empty else "LEAK: records remain")
    return 0 if ok and empty else 1


if __name__ == "__main__":
    sys.exit(main())
