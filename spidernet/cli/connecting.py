"""The cluster a command talks to, found as kubectl finds it; API errors as failures. Does I/O.

One ``Session`` per command: the official client's transport (kubeconfig, context,
in-cluster, as kubectl resolves them: ``spidernet.k8s.official``), the IPAM's ``Store``
over it (its reads, its compare-and-swap writes, its lock directory), and the
translation of every API error into a failure with its exit code and a remedy.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from spidernet.alloc.failures import Contended, NotFound
from spidernet.cli import failures
from spidernet.gc.command import lock_dir
from spidernet.ipam.store import Store
from spidernet.k8s import errors as kerr
from spidernet.k8s import listing
from spidernet.k8s.client import Deadline
from spidernet.k8s.transport import Transport

COMMAND_BUDGET = 120.0  # s: what one command may spend in all (a GC pass has its own --timeout)


class Session:
    def __init__(self, transport: Transport, server: str, locks: str) -> None:
        self.transport = transport
        self.server = server
        self.store = Store(transport, locks)

    def list(
        self, path: str, progress: Callable[[str], None] = lambda _: None
    ) -> list[dict[str, Any]]:
        """Every item of a LIST, page by page (the GC's paging)."""
        return listing.list_all(self.transport, path, 500, progress)

    def get(self, path: str) -> dict[str, Any] | None:
        try:
            return dict(self.transport.get(path))
        except kerr.NotFound:
            return None


@contextmanager
def session(args: argparse.Namespace, budget: float = COMMAND_BUDGET) -> Iterator[Session]:
    """Connect, run the block, close; API errors leave it as failures."""
    from spidernet.k8s.official import ConfigError, OfficialClient  # imports kubernetes

    try:
        transport = OfficialClient.connect_like_kubectl(
            args.kubeconfig,
            args.context,
            Deadline(budget),
            retry_for=args.request_timeout,
            timeout=args.request_timeout,
        )
    except ConfigError as e:
        raise failures.Config(str(e)) from None
    locks = lock_dir()
    try:
        yield Session(transport, transport.server, locks)
    except kerr.ApiError as e:
        raise api_failure(e, transport.server) from None
    except Contended as e:  # the Store's conflict or lock budget spent
        raise failures.Failure(f"{e}: try again", code=failures.UNREACHABLE) from None
    except NotFound as e:  # a pool the command changes went meanwhile
        raise failures.NotFound(str(e)) from None
    finally:
        transport.close()
        shutil.rmtree(locks, ignore_errors=True)


def api_failure(e: kerr.ApiError, server: str) -> failures.Failure:
    if isinstance(e, kerr.Unavailable):
        why = (e.message or str(e)).removeprefix(f"{server}: ")
        return failures.Unreachable(
            f"cannot reach the API server at {server}: {why} "
            "(is the cluster up? do --context / --kubeconfig point at it?)"
        )
    if isinstance(e, kerr.Denied):
        return failures.Denied(
            f"the API server at {server} refused the request: {e.message} "
            '(bind the ClusterRole spidernet-cli to you, docs/install.md "RBAC")'
        )
    if isinstance(e, kerr.NotFound):
        return failures.NotFound(e.message or str(e))
    return failures.Failure(f"the API server at {server} answered: {e}", code=failures.UNREACHABLE)
