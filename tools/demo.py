"""The README's main job: a local cluster and two pods wired through the full chain. Does I/O.

The chain is the README's NAD: ``ifacer`` (VLAN 100 on the node's NIC) -> Debian
``macvlan`` on ``ens1.100`` -> our ``spiderpool`` IPAM -> our ``coordinator`` (veth0 to
the node, host routes). The host kernel here has no VLAN driver, so by default the whole
demo runs inside one user-mode-Linux boot (``--guest`` is that inner run); with
``--host``, or where UML cannot boot, it runs on the host without ``ifacer`` (macvlan
straight on ``ens1``) and says so.

1. start etcd + kube-apiserver, install our CRDs, create dual-stack SpiderIPPools;
2. simulate two nodes (network namespaces on an underlay bridge, each with a node
   address) and create two pod objects, one per node;
3. run the conflist through libcni (the library containerd and CRI-O use) per pod;
4. show addresses, the pod's routes and the node's policy rule and table, then ping
   pod to pod (IPv4, IPv6), pod to its node and node to pod;
5. delete the pods, run the runtime's DEL, show the pools empty and the host veths gone.
Never touches the machine's own network namespace.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from tools.testbed import cni, netns, paths, uml
from tools.testbed.cluster import Cluster, NodeConfig
from tools.testbed.controlplane import ControlPlane

V4_POOL, V6_POOL = "demo-v4", "demo-v6"
VLAN = 100
NODE_NET = "192.168.50"  # node addresses on ens1 (untagged); pods live on VLAN 100
HOST_RULE_TABLE = 500


def say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def conflist(node: NodeConfig, *, with_vlan: bool) -> dict[str, Any]:
    master = f"ens1.{VLAN}" if with_vlan else "ens1"
    plugins: list[dict[str, Any]] = [
        {
            "type": "macvlan",
            "master": master,
            "mode": "bridge",
            "ipam": node.ipam(default_ipv4_ippool=[V4_POOL], default_ipv6_ippool=[V6_POOL]),
        },
        {
            "type": "coordinator",
            "mode": "underlay",
            "hostRuleTable": HOST_RULE_TABLE,
            "logOptions": {"logLevel": "debug", "logFile": str(node.dir / "coordinator.log")},
        },
    ]
    if with_vlan:
        plugins.insert(
            0,
            {
                "type": "ifacer",
                "interfaces": ["ens1"],
                "vlanID": VLAN,
                "logOptions": {"logFile": str(node.dir / "ifacer.log")},
            },
        )
    return {"cniVersion": "1.0.0", "name": "macvlan-vlan100", "plugins": plugins}


def show_pools(cluster: Cluster) -> None:
    print(f"{'NAME':<10} {'VERSION':<8} {'SUBNET':<16} {'ALLOCATED':<10} TOTAL  RECORDS")
    for name in (V4_POOL, V6_POOL):
        p = cluster.get_pool(name)
        st = p.get("status") or {}
        print(
            f"{name:<10} {p['spec']['ipVersion']:<8} {p['spec']['subnet']:<16} "
            f"{st.get('allocatedIPCount', 0):<10} {st.get('totalIPCount', 0):<6} "
            f"{json.dumps(cluster.records(name))}"
        )


def scenario(with_vlan: bool) -> int:
    work = Path(tempfile.mkdtemp(prefix="spidernet-demo-"))
    say("starting etcd + kube-apiserver")
    with ControlPlane(workdir=work / "cp") as cp:
        print(f"apiserver {cp.server}")
        cluster = Cluster(cp)
        cluster.install_crds()
        cluster.namespace("demo")
        cluster.pool(V4_POOL, "10.250.0.0/24", ["10.250.0.10-10.250.0.19"])
        cluster.pool(V6_POOL, "fd00:250::/64", ["fd00:250::10-fd00:250::ffff"])
        say("pools created")
        show_pools(cluster)
        with netns.Underlay(api_port=cp.port) as underlay:
            return run_pods(cluster, underlay, work, with_vlan)


def run_pods(cluster: Cluster, underlay: netns.Underlay, work: Path, with_vlan: bool) -> int:
    pods = []
    for i, name in enumerate(("web", "db")):
        node_name = f"node{i}"
        cluster.node(node_name)
        config = NodeConfig.create(cluster.cp, node_name, work / "nodes")
        node = underlay.add_node(host_addresses=(f"{NODE_NET}.{10 + i}/24",))
        obj = cluster.pod("demo", name, node_name)
        ref = cni.PodRef(
            "demo", name, uid=obj["metadata"]["uid"], container_id=f"sandbox-{name}-0123456789"
        )
        pods.append(
            (
                cni.Runtime(conflist(config, with_vlan=with_vlan), node=node, extra_env=config.env),
                ref,
                underlay.add_pod(name),
            )
        )
    say("the NAD's conflist (node0)")
    print(json.dumps(pods[0][0].conflist, indent=2))

    chain = [
        p["type"] + (f" -> {p['ipam']['type']}" if "ipam" in p else "")
        for p in pods[0][0].conflist["plugins"]
    ]
    say("CNI ADD through libcni: " + " -> ".join(chain))
    addresses = {}
    for runtime, ref, pod in pods:
        result = runtime.add(ref.container_id, pod.path, pod=ref)
        addresses[ref.name] = [ip["address"].split("/")[0] for ip in result["ips"]]
        print(
            f"pod demo/{ref.name} on {runtime.node.name if runtime.node else '?'}: "
            f"{addresses[ref.name]}"
        )
    show_pools(cluster)
    show_plumbing(pods[0], with_vlan)
    ok = ping_all(pods, addresses)
    say("deleting the pods; the runtime's DEL releases their addresses and removes the host veths")
    for runtime, ref, pod in pods:
        cluster.delete_pod("demo", ref.name)
        runtime.delete(ref.container_id, pod.path, pod=ref)
        node = runtime.node
        veths = (
            [
                link["ifname"]
                for link in netns.ip_json("link", "show", netns=node.name)
                if link["ifname"].startswith("veth")
            ]
            if node
            else []
        )
        print(f"pod demo/{ref.name}: DEL done; host veths left on its node: {veths}")
    show_pools(cluster)
    empty = all(not cluster.records(p) for p in (V4_POOL, V6_POOL)) and not cluster.endpoints(
        "demo"
    )
    say("pools empty again, no endpoints left" if empty else "LEAK: records remain")
    return 0 if ok and empty else 1


def show_plumbing(first: tuple[cni.Runtime, cni.PodRef, netns.Netns], with_vlan: bool) -> None:
    runtime, ref, pod = first
    node = runtime.node
    assert node is not None
    say(f"inside pod demo/{ref.name}: links and routes")
    print(pod.run("ip", "-br", "addr").stdout.rstrip())
    print(pod.run("ip", "route").stdout.rstrip())
    say(
        f"on {node.name}: devices, the 'from all lookup {HOST_RULE_TABLE}' rule and table "
        f"{HOST_RULE_TABLE}"
    )
    if with_vlan:
        detail = re.search(
            r"vlan protocol \S+ id \d+", node.run("ip", "-d", "link", "show", f"ens1.{VLAN}").stdout
        )
        print(f"ens1.{VLAN}: {detail.group(0) if detail else 'not a VLAN?'}")
    for family in ("-4", "-6"):
        print(node.run("ip", family, "rule").stdout.rstrip())
        print(
            node.run("ip", family, "route", "show", "table", str(HOST_RULE_TABLE)).stdout.rstrip()
        )


def ping_all(
    pods: list[tuple[cni.Runtime, cni.PodRef, netns.Netns]], addresses: dict[str, list[str]]
) -> bool:
    (rt_web, _, web), _ = pods
    node0 = rt_web.node
    assert node0 is not None
    checks = [(f"demo/web -> demo/db {a}", web, a) for a in addresses["db"]]
    checks.append((f"demo/web -> its node {NODE_NET}.10 (via veth0)", web, f"{NODE_NET}.10"))
    checks += [(f"node0 -> demo/web {a}", node0, a) for a in addresses["web"] if ":" not in a]
    say("connectivity")
    ok = True
    for label, source, target in checks:
        reached = source.ping(target, count=2)
        ok &= reached
        print(f"  {label}: {'ok' if reached else 'FAILED'}")
    return ok


def in_uml() -> int:
    say("booting a user-mode-Linux kernel (VLAN support) to run the demo in; about 1-2 minutes")
    result = uml.run(
        [sys.executable, "-m", "tools.demo", "--guest"],
        timeout=900,
        mem="3G",
        env=uml.project_env(),
        cwd=str(paths.REPO),
    )
    print(result.stdout, end="")
    if result.returncode != 0:
        print(result.stderr[-4000:], file=sys.stderr)
    return result.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--host", action="store_true", help="run on the host kernel, without ifacer/VLAN"
    )
    parser.add_argument("--guest", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.guest:
        return scenario(with_vlan=True)
    reason = None if args.host else uml.available()
    if args.host or reason:
        say(f"running on the host kernel without VLAN ({reason or '--host'})")
        return scenario(with_vlan=False)
    return in_uml()


if __name__ == "__main__":
    sys.exit(main())
