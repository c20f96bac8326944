"""The pool scale benchmark's parts (tools/bench/pool_scale.py) against the suite's apiserver.

Small and quick, as a correctness test of the harness: never a time asserted. The full
run, with the limits bisected to the byte, is the documented command (docs/ipam.md,
"Pool size ceiling").
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from spidernet.alloc.pools import Pool
from tools.bench import pool_scale
from tools.testbed.cluster import Cluster
from tools.testbed.controlplane import ControlPlane

pytestmark = [pytest.mark.apiserver]


@pytest.fixture
def bench(control_plane: ControlPlane, cluster: Cluster) -> Iterator[pool_scale.Bench]:
    cluster.delete_pool(pool_scale.NAME)
    cluster.pool(pool_scale.NAME, "10.64.0.0/10", ["10.64.0.1-10.127.255.254"])
    bench = pool_scale.Bench(control_plane, control_plane.client(keep_alive=True))
    yield bench
    bench.api.close()


def test_a_row_measures_the_pool_as_written_and_as_etcd_stores_it(bench: pool_scale.Bench) -> None:
    row = bench.row(50, repeats=2, cas_seconds=0.2)
    assert row.refused == "" and row.cas_per_s > 0 and row.get_ms[0] <= row.get_ms[1]
    obj = bench.get()
    assert len(json.loads(obj["status"]["allocatedIPs"])) == 50
    assert abs(row.stored - row.body) < 1024  # etcd holds the object the PUT carried
    pool = Pool.parse(obj)
    assert not pool.broken and len(pool.records) == 50


def test_a_body_of_an_exact_size_is_sent_and_stored(bench: pool_scale.Bench) -> None:
    sizer = pool_scale.Sizer(bench)
    for size in (20_000, 20_001, 123_457):
        assert len(sizer.body(size)) == size
    assert sizer.answer(123_457) == ("ok", "200")
