"""Cold ADD of the frozen spiderpool binary: wall, CPU and peak RSS per exec. Does I/O.

Each run is one fresh process (as kubelet/Multus exec it) allocating for a new pod on an
idle local apiserver: the plugin is exec'd directly with the spec's env and stdin (no
macvlan around it), so the figures are the IPAM's own. CPU and peak RSS come from the
kernel's accounting of the child (wait4 rusage). Prints one line per figure:
min / median / max over the runs.

    python -m tools.bench.cold_add [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from tools.testbed import paths
from tools.testbed.cluster import Cluster, NodeConfig
from tools.testbed.controlplane import ControlPlane


def one_add(binary: Path, conf: bytes, env: dict[str, str]) -> tuple[float, float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert proc.stdin and proc.stdout
    proc.stdin.write(conf)
    proc.stdin.close()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    if proc.returncode != 0:
        raise RuntimeError(f"ADD failed: {out.decode()}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    binary = paths.BUNDLE_BIN / "spiderpool"
    with ControlPlane() as cp:
        cluster = Cluster(cp)
        cluster.install_crds()
        cluster.namespace("bench")
        cluster.node("bench-node")
        cluster.pool("bench", "10.200.0.0/16", ["10.200.0.1-10.200.255.254"])
        node = NodeConfig.create(cp, "bench-node", Path(tempfile.mkdtemp()))
        conf = json.dumps(
            {
                "cniVersion": "1.0.0",
                "name": "bench",
                "type": "macvlan",
                "ipam": node.ipam(default_ipv4_ippool=["bench"], log_level="info"),
            }
        ).encode()
        figures = []
        for i in range(args.runs + 1):
            pod = cluster.pod("bench", f"p{i}", "bench-node")
            env = {
                "PATH": "/usr/bin:/bin",
                "CNI_COMMAND": "ADD",
                "CNI_CONTAINERID": f"c{i}",
                "CNI_NETNS": "/var/run/netns/none",
                "CNI_IFNAME": "eth0",
                "CNI_PATH": paths.cni_path(),
                "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=p{i};"
                f"K8S_POD_UID={pod['metadata']['uid']}",
            }
            result = one_add(binary, conf, env)
            if i:  # the first run warms the page cache, like any node after boot
                figures.append(result)
    print(
        f"cold ADD, frozen spiderpool, {args.runs} runs, idle local apiserver (min / median / max)"
    )
    for label, idx, unit, scale in (
        ("wall", 0, "ms", 1000),
        ("cpu", 1, "ms", 1000),
        ("peak RSS", 2, "MB", 1),
    ):
        vals = [f[idx] * scale for f in figures]
        print(
            f"  {label:<9} {min(vals):7.1f} / {statistics.median(vals):7.1f} / {max(vals):7.1f} {unit}"
        )


if __name__ == "__main__":
    main()
