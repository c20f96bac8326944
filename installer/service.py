"""The installer's life on a node: install, keep credentials fresh, retry, be ready, stop.
Does I/O (the readiness file; the rest through ``installing`` and ``credentials``).

One pass = make sure the bundles are installed (a full install at start or when the
cheap ``check`` finds them broken; never over a version a newer installer swapped in)
+ sync the credentials. The two are independent: a bad
token does not stop the bundles from being installed, and the other way round. A pass
with an error is retried after a jittered delay that doubles up to a ceiling (what a
DaemonSet's container would get from kubelet, without leaving the pod unready for
minutes); a clean pass is followed by the next after ``poll_seconds``, which is how a
rotated token is noticed. The readiness file exists exactly while the last pass was
clean, so the pod is Ready only when a plugin exec'd now would find its bundle and
valid credentials.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from installer import credentials, hostfs, installing, kubeconfig
from installer.settings import Settings

log = logging.getLogger("installer")


@dataclass
class Backoff:
    ceiling: float
    first: float = 1.0
    _next: float = field(default=0.0, init=False)

    def reset(self) -> None:
        self._next = 0.0

    def delay(self) -> float:
        self._next = min(self.ceiling, max(self.first, self._next * 2))
        return self._next * random.uniform(0.8, 1.0)


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.renewer = credentials.Renewer(settings)
        self.installed: installing.Installed | None = None
        self.backoff = Backoff(settings.backoff_max_seconds)
        self.yielded = False  # another installer has swapped in its version since ours
        self.last_end: float | None = None  # monotonic time the last pass ended
        self.last_ok = False

    def run_pass(self) -> bool:
        """One pass; True when both steps succeeded (and the readiness file is there)."""
        ok = self._bundles() & self._credentials()  # & not and: both steps run every pass
        # The probes' answers first: whoever sees the readiness file must get 200 from them.
        self.last_ok, self.last_end = ok, time.monotonic()
        self._ready(ok)
        return ok

    def alive(self) -> bool:
        """A pass ended, and recently: the loop is not stuck (the liveness probe's answer)."""
        return (
            self.last_end is not None
            and time.monotonic() - self.last_end < self.settings.stall_seconds
        )

    def ready(self) -> bool:
        return self.last_ok

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.run_pass():
                self.backoff.reset()
                stop.wait(self.settings.poll_seconds)
            else:
                delay = self.backoff.delay()
                log.info("retrying in %.1f s", delay)
                stop.wait(delay)
        self.shutdown()

    def shutdown(self) -> None:
        self._ready(False)
        if not self.settings.uninstall_on_exit:
            self.hand_over()
        else:
            log.info("SPIDERNET_UNINSTALL_ON_EXIT is set: uninstalling")
            try:
                installing.uninstall(self.settings, self.installed)
                self.renewer.remove()
            except OSError as e:
                log.error("uninstall failed: %s", e)

    def hand_over(self, tick: float = 0.2) -> None:
        """Stay until a successor owns the node's credentials, at most ``handover_seconds``.

        The node's token is this pod's, and the API server revokes it once the pod object
        is gone: that is when this process has exited. A successor started meanwhile (the
        DaemonSet surges a replacement for a terminating pod) writes its own token first,
        so no ADD on the node meets a revoked one (docs/install.md, "Credentials")."""
        limit = self.settings.handover_seconds
        if limit <= 0 or self.renewer.owner() != self.settings.identity:
            return  # nothing to hand over: not ours (or never written)
        log.info("waiting up to %.0f s for a successor to take the node's credentials over", limit)
        started = time.monotonic()
        while time.monotonic() - started < limit:
            owner = self.renewer.owner()
            if owner != self.settings.identity:
                log.info(
                    "installer %s took the credentials over after %.1f s; exiting",
                    owner or "(none)",
                    time.monotonic() - started,
                )
                return
            time.sleep(tick)
        log.warning(
            "no successor took the credentials over within %.0f s: the node keeps this pod's "
            "token, which the API server refuses (401, revoked) once the pod is gone, until "
            "an installer runs on this node again",
            limit,
        )

    # ------------------------------------------------------------ steps

    def _bundles(self) -> bool:
        try:
            state = (
                "broken"
                if self.installed is None
                else installing.check(self.settings, self.installed)
            )
            if state == "broken":
                self.installed = installing.install(self.settings)
                log.info(
                    "bundles %s installed in %s (%s)",
                    self.installed.version,
                    self.settings.cni_bin_dir,
                    "swapped in" if self.installed.changed else "already there",
                )
            elif state == "foreign" and not self.yielded:
                log.info("another installer now serves this node's bundles; leaving them")
            self.yielded = state == "foreign"
            return True
        except (installing.InstallError, OSError) as e:
            log.error("bundles not installed: %s", e)
            return False

    def _credentials(self) -> bool:
        try:
            self.renewer.sync()
            return True
        except kubeconfig.CredentialError as e:
            log.error("credentials not written, the last good ones stay: %s", e)
            return False

    def _ready(self, ok: bool) -> None:
        path = Path(self.settings.ready_file)
        try:
            if ok:
                if not path.exists():
                    hostfs.ensure_dir(path.parent)
                    hostfs.write_atomic(path, b"ready\n", 0o644)
                    log.info("ready")
            elif path.exists():
                hostfs.remove(path)
                log.info("not ready")
        except OSError as e:
            log.error("readiness file %s: %s", path, e)
