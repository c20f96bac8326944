"""One simulated node's kubelet side: at most N CNI calls at once, failed ones retried later. Does
I/O (threads).

A kubelet works on each pod in its own worker, and the runtime runs the CNI calls;
here a node has ``concurrency`` worker threads (the bound the seed benchmark is
measured with: 10 nodes, 50 concurrent execs) and a queue of jobs ordered by the time they are due.
A job is a callable returning ``None`` when it is done, or the seconds after which it is to run
again: that is how a failed sandbox waits for its retry without holding a worker.

``backoff`` is the kubelet's: after a failed sync a pod worker is requeued after
``wait.Jitter(10 s, 0.5)`` (pkg/kubelet/pod_workers.go, ``backOffPeriod`` and
``workerBackOffPeriodJitterFactor``), i.e. 10-15 s; a failed RunPodSandbox or
StopPodSandbox (a CNI ADD or DEL) is retried on that schedule. The benchmark's tests
use a shorter period.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable

Job = Callable[[], float | None]


def backoff(period: float, rng: random.Random) -> float:
    """``wait.Jitter(period, 0.5)``: period plus up to half of it again."""
    return period * (1 + 0.5 * rng.random())


class Kubelet:
    def __init__(self, name: str, concurrency: int) -> None:
        self.name = name
        self._due: list[tuple[float, int, Job]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._pending = 0  # queued or running
        self._stop = False
        self._errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-w{i}", daemon=True)
            for i in range(concurrency)
        ]
        for t in self._threads:
            t.start()

    def submit(self, job: Job, delay: float = 0.0) -> None:
        with self._cv:
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._seq), job))
            self._pending += 1
            self._cv.notify()

    def drain(self) -> None:
        """Wait until every job (retries included) is done; re-raise a job's exception."""
        with self._cv:
            while self._pending and not self._errors:
                self._cv.wait(1.0)
            if self._errors:
                raise self._errors[0]

    def close(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        for t in self._threads:
            t.join(5)

    def _next(self) -> Job | None:
        with self._cv:
            while not self._stop:
                if self._due and self._due[0][0] <= time.monotonic():
                    return heapq.heappop(self._due)[2]
                self._cv.wait(max(0.0, self._due[0][0] - time.monotonic()) if self._due else None)
            return None

    def _work(self) -> None:
        while (job := self._next()) is not None:
            try:
                again = job()
            except BaseException as e:  # a harness bug: stop the phase rather than hang in it
                again = None
                with self._cv:
                    self._errors.append(e)
            with self._cv:
                self._pending -= 1
                if again is not None:
                    heapq.heappush(self._due, (time.monotonic() + again, next(self._seq), job))
                    self._pending += 1
                self._cv.notify_all()
