"""Every way an IPAM verb can fail, in the IPAM's own words. Pure, no I/O.

The pure core (``spidernet.alloc``), the store and the verbs (``spidernet.ipam``) raise
these, never CNI error classes; each caller maps them once to its own terms
(docs/design.md, "Errors"):

    failure             spiderpool (ipam/plugin.py)  GC pass (gc/)          spiderpoolctl (cli/)
    BadInput            7, the field named           the report's error     exit 4, or a warning
    BadArgs             4                            -                      -
    PodUnknown          3                            -                      -
    Exhausted, Refused  100, 101                     -                      -
    Contended           11                           the pool's error:      exit 5, "try again"
                                                     the next pass retries
    Unfinished          11 (the GC verb)             -                      -
    AllocationMissing   102 (CHECK)                  -                      -
    NotReady            50 (STATUS)                  -                      -
    NotFound            a pool gone: nothing to do   nothing to do          exit 3

API errors (``spidernet.k8s.errors``) are the transport's vocabulary and pass through
the IPAM unchanged; the same translation points map them.
"""

from __future__ import annotations

from collections.abc import Mapping


class IpamFailure(Exception):
    """Base of the IPAM's failures: ``str(e)`` is the message a user reads.

    ``wrote_nothing``: the verb surely changed no pool (a refusal, a conflict, a deadline
    in its own lock queue), so an ADD may forget the node's note on its attempt; a failure
    that cannot say so overrides it."""

    wrote_nothing = True


class BadInput(IpamFailure):
    """Something a user wrote (annotation, reserved IP, config key) cannot be used.

    ``field`` names where it is written (``pod annotation ipam.spidernet.io/ippool.ipv4``);
    ``problem`` says what is wrong with it.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


class BadArgs(IpamFailure):
    """CNI_ARGS do not name a pod, or name it with values Kubernetes would not accept."""


class PodUnknown(IpamFailure):
    """The pod is absent, another UID, not alive, or bound elsewhere: no address for it."""


class NoAddress(IpamFailure):
    """No candidate pool gave an address; ``reasons`` maps each pool tried to why not."""

    def __init__(self, message: str, reasons: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.reasons = dict(reasons or {})


class Exhausted(NoAddress):
    """Some candidate pool could serve the pod but has no free address."""


class Refused(NoAddress):
    """No candidate pool may serve the pod at all (each refusal has its reason)."""


class Contended(IpamFailure):
    """Others kept changing what this verb must change, or held its lock, until its
    deadline: nothing is half-written, a retry may succeed."""


class InDoubt(Contended):
    """The budget ran out while this verb's request waited for another process of the
    node, which may have written it meanwhile (docs/ipam.md, "Combining"): the node's
    note must go on naming the pool."""

    wrote_nothing = False


class Unfinished(IpamFailure):
    """A verb over many attachments left some of them; each is named in the message."""


class AllocationMissing(IpamFailure):
    """CHECK: what ADD recorded for this interface is not (or no longer) there."""


class NotReady(IpamFailure):
    """STATUS: no candidate pool has a free address, so an ADD would fail now."""


class NotFound(IpamFailure):
    """An object the store was asked to change does not exist (any more)."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"{kind} {name} not found")
        self.kind, self.name = kind, name
