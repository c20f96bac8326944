"""Why a command stopped, and the exit status it stops with (docs/cli.md, "Exit codes"). No I/O.

0  done
1  refused or invalid: validate found a problem, a release was refused, the GC pass
   or a network reported errors, an apply would overwrite what is not ours
2  usage: unknown flag, missing argument, malformed IP or selector
3  not found: pool, address, pod, file
4  configuration: no kubeconfig, unknown context, unreadable kubeconfig
5  the API server is unreachable or failed (after retries until --request-timeout)
6  the API server refused our credentials or RBAC
"""

from __future__ import annotations

OK, REFUSED, USAGE, NOT_FOUND, CONFIG, UNREACHABLE, DENIED = 0, 1, 2, 3, 4, 5, 6


class Failure(Exception):
    """A message for people (what is wrong, and what to do) and an exit code."""

    code = REFUSED

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class Refused(Failure):
    code = REFUSED


class Usage(Failure):
    code = USAGE


class NotFound(Failure):
    code = NOT_FOUND


class Config(Failure):
    code = CONFIG


class Unreachable(Failure):
    code = UNREACHABLE


class Denied(Failure):
    code = DENIED
