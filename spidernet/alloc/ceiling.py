"""The pool size ceiling: no write grows a pool's object past what the API can store. Pure, no I/O.

A SpiderIPPool holds one record per address in use (``status.allocatedIPs``, upstream's
format), so its object grows with its pods, about 112 bytes a record. Measured on the suite's
kube-apiserver 1.20 + etcd 3.4 (docs/ipam.md, "Pool size ceiling"), a pool PUT fails
past 1.5 MiB (etcd's ``--max-request-bytes``: "etcdserver: request is too large", a 500),
past 2 MiB (the apiserver's etcd client: "ResourceExhausted", a 500) and past 3 MiB (the
apiserver's body limit: 413). Any of these after an ADD decided would be an API error
mid-write. So the store encodes the PUT's body here, once (the bytes it then sends), and
a write that adds records and whose body would exceed the ceiling is refused as
``PoolTooLarge``: the pool is full for practical purposes, an ``Exhausted`` (CNI code
100, as a pool with no free address), and the ADD goes on to its next candidate pool.

A write that adds no record (a release, a cool-down, a StatefulSet's record moving to
its successor) is never refused, whatever the size: a DEL must always be able to clean
up, also when an administrator lowered the ceiling below a pool's size.
"""

from __future__ import annotations

import json

from spidernet.alloc.failures import Exhausted

TYPE_CHECKING = False  # typing is for the type checker only: not imported on an exec
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

# etcd's default request limit (1.5 MiB) less 256 KiB for what others add to the object
# (managedFields, labels, annotations, a longer spec) and etcd's own framing.
DEFAULT = 1_310_720
LOWEST = 65_536  # a ceiling below a few hundred records would only refuse ADDs
# The apiserver's etcd client sends no message over 2 MiB (2,097,152, measured), whatever
# etcd accepts: an administrator who raised etcd's limit may go up to this.
HIGHEST = 2_000_000


class PoolTooLarge(Exhausted):
    """The write would push a pool's object past the ceiling: nothing was written."""

    def __init__(self, pool: str, size: int, limit: int) -> None:
        reason = (
            f"exhausted (full for practical purposes: with this record its object would be "
            f"{size:,} bytes, over the pool size ceiling of {limit:,} bytes, max_pool_bytes "
            "in the cluster IPAM config; split the pool, or give the network another pool)"
        )
        super().__init__(f"pool {pool}: {reason}", {pool: reason})
        self.pool, self.size, self.limit, self.reason = pool, size, limit, reason


def encode(pool: str, body: Mapping[str, Any], grows: bool, limit: int) -> bytes:
    """The pool PUT's body as it is sent; ``PoolTooLarge`` if the write ``grows`` the pool's
    records and the body is over ``limit`` bytes."""
    payload = json.dumps(body, separators=(",", ":")).encode()
    if grows and len(payload) > limit:
        raise PoolTooLarge(pool, len(payload), limit)
    return payload
