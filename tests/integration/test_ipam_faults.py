"""The randomized fault run of the spiderpool IPAM (tests/integration/faultrun.py), short and long.

| run     | rounds x width | nodes | pool | where                                       |
|---------|----------------|-------|------|---------------------------------------------|
| short   | 6 x 8          | 3     | 60   | default suite, a new seed each run (printed)|
| long    | SPIDERNET_FAULT_ROUNDS (200) x 16 | 4 | 120 | `tools/test.sh -m slow -k faults` |
Both assert after every round: one holder per address, I1, every running sandbox holds
its address; at the end, after every pod is deleted and every DEL has succeeded,
nothing is left but cooling records. The counts of rounds, execs, kills and restarts
are printed (pytest -s, or the -rA summary).
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


def test_a_short_randomized_fault_run_keeps_every_invariant(
    cluster: Cluster, tmp_path: Path, bundle_bin: Path
) -> None:
    run = faultrun.fresh(cluster, tmp_path, faultrun.Settings(seed=_seed()))
    run.run()
    print("\n" + run.report())


@pytest.mark.slow
@pytest.mark.timeout(4 * 3600)
def test_a_long_randomized_fault_run_keeps_every_invariant(
    cluster: Cluster, tmp_path: Path, bundle_bin: Path
) -> None:
    rounds = int(os.environ.get("SPIDERNET_FAULT_ROUNDS", "200"))
    run = faultrun.fresh(
        cluster,
        tmp_path,
        faultrun.Settings(seed=_seed()),
        rounds=rounds,
        width=16,
        nodes=4,
        pool_size=120,
    )
    run.run()
    print("\n" + run.report())
