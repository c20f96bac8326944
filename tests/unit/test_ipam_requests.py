"""The API requests of one uncontended ADD and DEL, in order, on the in-memory API server
(tests/unit/fake_transport.py). docs/performance.md ("API requests per exec") says why each
one is there; a request added or dropped shows here first.

| case                                            | requests                                   |
|-------------------------------------------------|--------------------------------------------|
| ADD, no pool annotation, the network's default  | pod, endpoint, namespace, pool,            |
|                                                 | reserved IPs, PUT pool, POST endpoint      |
| ADD, the pool has a namespaceAffinity           | the same: the namespace is read once       |
| DEL of that ADD's pod                           | pod, endpoint, DELETE endpoint, pool,      |
|                                                 | PUT pool                                   |
"""

from __future__ import annotations

from spidernet.ipam.store import GROUP
from tests.unit.test_ipam_failure_paths import POOL, World, _pool, world

__all__ = ["world"]  # the fixture, shared with the failure paths

ADD = [
    "GET /api/v1/namespaces/ns/pods/web",
    f"GET {GROUP}/namespaces/ns/spiderendpoints/web",
    "GET /api/v1/namespaces/ns",
    f"GET {GROUP}/spiderippools/p4",
    f"GET {GROUP}/spiderreservedips",
    f"PUT {GROUP}/spiderippools/p4/status",
    f"POST {GROUP}/namespaces/ns/spiderendpoints",
]


def test_an_uncontended_add_sends_seven_requests_and_a_del_five(world: World) -> None:
    world.add()
    assert world.api.history == ADD
    world.api.history.clear()
    world.delete()
    assert [h.split(" ")[0] + " " + h.split("/")[-1] for h in world.api.history] == [
        "GET web",  # the pod
        "GET web",  # its endpoint
        "DELETE web",  # the endpoint first, then the records (I1)
        "GET p4",
        "PUT status",
    ]


def test_a_namespace_affinity_reads_the_namespace_the_annotation_rule_already_read(
    world: World,
) -> None:
    pool = _pool(["10.0.0.10-10.0.0.12"])
    pool["spec"]["namespaceAffinity"] = {"matchLabels": {}}
    del world.api.objects[POOL]
    world.api.put_object(POOL, pool)
    world.add()
    assert world.api.history == ADD
