"""Named points where the fault tests kill or stall an IPAM process. Does I/O (signals).

``SPIDERNET_FAILPOINT=<name>`` SIGKILLs the process at that point; ``<name>:stop``
SIGSTOPs it (a stalled process, resumed by the test's SIGCONT). Unset, a point costs one
environment lookup. The points, in the order an ADD and a DEL pass them:

    after-pod-read          ADD: the pod read alive
    before-pool-write       store: a pool's records decided, not yet written
    after-pool-write        store: the pool written, nothing names the record yet
    after-endpoint-write    ADD: the endpoint written, before the answer
    after-endpoint-release  DEL: the endpoint no longer names the address, the pools
                            still record it

and combining's (docs/ipam.md, "Combining"), reached only when a node's execs queue:

    combine-waiter-queued           a waiter's request is in the queue
    combine-holder-before-write     a holder took queued requests, before its PUT
    combine-holder-before-answers   a holder wrote them, before the waiters' answers
    combine-waiter-answered         a waiter took its answer, before its endpoint write

The unit tests reach the same places without signals: the in-memory API server
(tests/unit/fake_transport.py) crashes at a request instead.
"""

from __future__ import annotations

import os


def failpoint(name: str) -> None:
    point, _, how = os.environ.get("SPIDERNET_FAILPOINT", "").partition(":")
    if point == name:
        import signal

        os.kill(os.getpid(), signal.SIGSTOP if how == "stop" else signal.SIGKILL)
