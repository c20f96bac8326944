"""The randomized fault run of the spiderpool IPAM (tests/integration/faultrun.py), short and long.

| run   | rounds x width         | nodes | pools: eth0, net1 | where                           |
|-------|------------------------|-------|-------------------|---------------------------------|
| short | 6 x 8                  | 3     | 60, 30 + 30       | default suite, a new seed a run |
| long  | $SPIDERNET_FAULT_ROUNDS | 4    | 120, 60 + 60      | `tools/test.sh -m slow -k       |
|       | (200) x 16             |       |                   | faults`                         |
Both assert after every round: one holder per address, I1, every running sandbox holds
its address, the node-restricted pool's addresses only on its nodes; at the end, after
every pod is deleted and every DEL has succeeded, what is left but cooling records is
named and one GC pass must reclaim it, each sandbox an endpoint still names traced from
the nodes' logs. The seed is printed first (``SPIDERNET_FAULT_SEED=<n>`` replays it); the
counts of rounds, execs, kills, restarts, late ADDs by code, take-overs and GC passes are
printed at the end (pytest -s, or -rA). The long run stops at the first of
``SPIDERNET_FAULT_ROUNDS`` rounds, ``SPIDERNET_FAULT_MINUTES`` minutes and
``SPIDERNET_FAULT_EXECS`` plugin execs (checked between rounds).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.integration import faultrun
from tools.testbed.cluster import Cluster

pytestmark = [pytest.mark.apiserver]


def _seed() -> int:
    return int(os.environ.get("SPIDERNET_FAULT_SEED", random.SystemRandom().randrange(1 << 30)))


@pytest.mark.timeout(900)  # about a minute here; over five under a load average of 50
def test_a_short_randomized_fault_run_keeps_every_invariant(
    cluster: Cluster, tmp_path: Path, bundle_bin: Path
) -> None:
    seed = _seed()
    print(f"\nfault run seed {seed}")
    run = faultrun.fresh(cluster, tmp_path, faultrun.Settings(seed=seed))
    run.run()
    print("\n" + run.report())


@pytest.mark.slow
@pytest.mark.timeout(4 * 3600)
def test_a_long_randomized_fault_run_keeps_every_invariant(
    cluster: Cluster, tmp_path: Path, bundle_bin: Path
) -> None:
    rounds = int(os.environ.get("SPIDERNET_FAULT_ROUNDS", "200"))
    seed = _seed()
    print(f"\nfault run seed {seed}")
    run = faultrun.fresh(
        cluster,
        tmp_path,
        faultrun.Settings(
            seed=seed,
            minutes=float(os.environ.get("SPIDERNET_FAULT_MINUTES", 0)),
            execs=int(os.environ.get("SPIDERNET_FAULT_EXECS", 0)),
        ),
        rounds=rounds,
        width=16,
        nodes=4,
        pool_size=120,
    )
    run.run()
    print("\n" + run.report())
