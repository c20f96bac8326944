"""The pool size ceiling (spidernet/alloc/ceiling.py), and the store's one use of it.

The pure check: a write that adds records and whose body is over the ceiling is refused
with the pool, the size and the limit named, as an Exhausted (code 100); a write that
adds nothing is never refused. The store: a refused write sends nothing, an accepted one
sends exactly the bytes the check measured. The same through the frozen binary against
the real apiserver: tests/integration/test_pool_ceiling.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from spidernet.alloc import ceiling
from spidernet.alloc.failures import Exhausted
from spidernet.alloc.pools import Pool, Record
from spidernet.ipam import cluster
from spidernet.ipam.store import GROUP, Store
from tests.unit.fake_transport import FakeApi

PATH = f"{GROUP}/spiderippools/big"


def held(n: int) -> dict[str, dict[str, str]]:
    return {f"10.0.{i // 256}.{i % 256}": {"pod": f"ns/p{i}", "podUid": f"u{i}"} for i in range(n)}


def pool_object(records: int) -> dict[str, Any]:
    return {
        "metadata": {"name": "big"},
        "spec": {"ipVersion": 4, "subnet": "10.0.0.0/16", "ips": ["10.0.0.0-10.0.255.255"]},
        "status": {"allocatedIPs": json.dumps(held(records), separators=(",", ":"))},
    }


def test_a_body_within_the_ceiling_is_the_json_the_transport_would_send() -> None:
    body = pool_object(10)
    got = ceiling.encode("big", body, True, ceiling.DEFAULT)
    assert got == json.dumps(body, separators=(",", ":")).encode()


def test_a_growing_write_over_the_ceiling_names_the_pool_its_size_and_the_limit() -> None:
    body = pool_object(100)
    size = len(json.dumps(body, separators=(",", ":")))
    with pytest.raises(ceiling.PoolTooLarge) as e:
        ceiling.encode("big", body, True, size - 1)
    assert isinstance(e.value, Exhausted)  # code 100, as a pool with no free address
    assert (e.value.pool, e.value.size, e.value.limit) == ("big", size, size - 1)
    text = str(e.value)
    assert text.startswith("pool big: exhausted (full for practical purposes")
    assert f"{size:,} bytes" in text and f"{size - 1:,} bytes" in text
    assert "max_pool_bytes" in text and "split the pool" in text
    assert e.value.reasons == {"big": e.value.reason} and e.value.reason.startswith("exhausted")


def test_a_body_of_exactly_the_ceiling_passes() -> None:
    body = pool_object(100)
    size = len(json.dumps(body, separators=(",", ":")))
    assert len(ceiling.encode("big", body, True, size)) == size


def test_a_write_that_adds_no_record_is_never_refused_whatever_its_size() -> None:
    assert ceiling.encode("big", pool_object(100), False, 1)


def test_the_default_sits_below_etcds_default_request_limit_with_a_margin() -> None:
    etcd_default = 1_572_864  # --max-request-bytes, measured: docs/ipam.md "Pool size ceiling"
    assert ceiling.LOWEST <= ceiling.DEFAULT <= etcd_default - 200_000
    assert ceiling.DEFAULT < ceiling.HIGHEST < 2_097_152  # the apiserver's etcd client


@pytest.mark.parametrize(
    ("value", "ok"), [(ceiling.LOWEST - 1, False), (ceiling.LOWEST, True), (2_000_001, False)]
)
def test_the_cluster_config_bounds_the_ceiling(value: int, ok: bool) -> None:
    if ok:
        assert cluster.parse({"max_pool_bytes": value}, "/f.json").max_pool_bytes == value
    else:
        with pytest.raises(Exception, match="max_pool_bytes"):
            cluster.parse({"max_pool_bytes": value}, "/f.json")


def _store(records: int, limit: int, locks: Any) -> tuple[FakeApi, Store]:
    api = FakeApi()
    api.put_object(PATH, pool_object(records))
    api.writes.clear()
    return api, Store(api, str(locks), limit)


def _add_one(pool: Pool) -> tuple[dict[str, Record] | None, str]:
    return {**pool.records, "10.0.200.1": Record("ns/new", "u-new")}, "added"


def _drop_one(pool: Pool) -> tuple[dict[str, Record] | None, str]:
    records = dict(pool.records)
    records.pop("10.0.0.1")
    return records, "dropped"


def test_the_store_sends_nothing_for_a_refused_write(tmp_path: Any) -> None:
    api, store = _store(50, 1000, tmp_path)
    with pytest.raises(ceiling.PoolTooLarge):
        store.update_pool("big", _add_one)
    assert api.writes == [] and store.stats.writes == 0


def test_the_store_still_releases_from_a_pool_over_the_ceiling(tmp_path: Any) -> None:
    api, store = _store(50, 1000, tmp_path)
    assert store.update_pool("big", _drop_one) == "dropped"
    assert api.writes == [f"PUT {PATH}/status"]
    assert "10.0.0.1" not in json.loads(api.objects[PATH]["status"]["allocatedIPs"])
