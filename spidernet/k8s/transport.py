"""What the Store needs of an API transport: one Protocol, two implementations. No I/O.

``spidernet.k8s.client.Client`` is the lean one the plugins use (no ``kubernetes``
import on a pod's start path); ``spidernet.k8s.official.OfficialClient`` wraps the
``kubernetes`` package for the GC, which is not on that path (docs/design.md). Both send
one request per call, retry transport failures until ``deadline``, and raise the
classes of ``spidernet.k8s.errors``, so ``spidernet.ipam.store.Store`` and its
compare-and-swap loop are one code path over either.
"""

from __future__ import annotations

from typing import Any, Protocol

from spidernet.k8s.backoff import Deadline


class Transport(Protocol):
    deadline: Deadline
    requests: int  # requests sent (answered or not)
    history: list[str]  # "METHOD /path" per request, for debug logs

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Any:
        """Send one request; the decoded body, or a spidernet.k8s.errors class. ``body``: a
        JSON value, or bytes already encoded as JSON (the pool PUT's, sized by
        ``spidernet.alloc.ceiling``), sent as they are."""

    def get(self, path: str) -> Any: ...

    def close(self) -> None: ...
