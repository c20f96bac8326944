"""The node's own notes on each attachment (containerID, ifname) the IPAM served. Reads and writes
files.

One small JSON file per attachment under ``state_dir`` (default /var/lib/cni/spidernet,
as host-local keeps its state under /var/lib/cni): who it was for, which pools it may
have written, the addresses it got, and what the last verb decided. It lets DEL act on
what *this node* did even when the API can no longer tell (docs/ipam.md, DEL and I2):

- ``adding``: written before the first pool write. A DEL that finds it knows the ADD
  never finished (crash, or a chain failure after the IPAM): release with cool-down.
  Its ``pools`` name where records may be, so nothing needs a LIST of every pool.
- ``attached``: the ADD answered. ``since`` (wall clock, this node) tells a DEL under
  spec 0.3.x, which never carries ``prevResult``, how young the sandbox was.
- ``kept``: a DEL kept the addresses for the live pod's next sandbox. A re-sent DEL
  (libcni drops its cached result after a successful DEL, so it carries no
  ``prevResult``) finds this and keeps again, instead of reading "ADD failed".
- ``uid`` and ``pod``: the pod UID the ADD served. A DEL without ``K8S_POD_UID``
  (Multus < v4) after a force delete, whose endpoint is gone or now a successor's,
  still knows whose records to release.

- a sandbox marker ``<containerID>.failed``: one of the sandbox's ADDs failed, and how:
  ``ipam`` (it failed in this IPAM, before any answer: no address is implicated) or
  ``chain`` (a DEL found it failed after the IPAM answered: its address may be). Multus
  undoes every NIC after a failed one, and the NICs that had succeeded come with their
  cached ``prevResult``: the marker tells those DELs the sandbox failed, so they
  release too (multi-NIC is all-or-nothing, docs/ipam.md), into cool-down only for
  ``chain`` (verdicts rule 8). An empty marker (written before the kinds) reads as
  ``chain``.

The directory is made where missing; anything else at its path is ``files.Unusable``
(code 7 naming the cluster IPAM config's ``state_dir``). Writes are atomic (temp file +
rename): a SIGKILL leaves the old note or the new one. The notes are hints, never the
truth about ownership: every release is still a compare-and-swap on the record's pod
UID. Lost notes (a wiped disk) make DEL fall back to the endpoint, which is safe but may
release a live pod's address on a re-sent DEL under spec >= 0.4.0 (never a duplicate:
the DEL's sandbox is going away).
"""

from __future__ import annotations

import json
import os
import time

from spidernet.protocol import files
from spidernet.types import bounds
from spidernet.types.record import field, record, replace

TYPE_CHECKING = False  # the typed shapes are for the type checker: not imported on an exec
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Literal

    State = Literal["adding", "attached", "kept"]
    Failure = Literal["ipam", "chain"]
MAX_NOTE = 1 << 16  # bytes: a note is ~200; a larger file there is no note of ours


@record
class Attachment:
    container_id: str
    ifname: str
    network: str
    pod: str  # "<namespace>/<name>"
    uid: str
    state: State
    since: float = 0.0  # when the state was entered (epoch seconds, this node's clock)
    pools: tuple[str, ...] = ()  # every pool the ADD may have written a record in
    ips: dict[str, str] = field(default_factory=dict)  # pool -> address, once recorded

    def moved(self, state: State) -> Attachment:
        return replace(self, state=state, since=time.time())


class Notes:
    """The attachment notes of one node."""

    def __init__(self, state_dir: str) -> None:
        self.dir = state_dir

    def _path(self, container_id: str, ifname: str) -> str:
        # ':' is in neither a container ID nor an interface name (protocol.env), so the
        # name is unambiguous; very long container IDs are hashed to fit NAME_MAX.
        name = f"{container_id}:{ifname}"
        if len(name) > 200:
            name = _digest(name)
        return os.path.join(self.dir, name + ".json")

    def read(self, container_id: str, ifname: str) -> Attachment | None:
        return _load(self._path(container_id, ifname))

    def write(self, note: Attachment) -> None:
        files.directory(self.dir, 0o700)
        path = self._path(note.container_id, note.ifname)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(_fields(note), f, separators=(",", ":"))
        os.replace(tmp, path)

    def mark_failed(self, container_id: str, kind: Failure) -> None:
        """One of this sandbox's ADDs failed (markers older than a day are swept here);
        ``chain`` is never turned back into ``ipam``."""
        files.directory(self.dir, 0o700)
        if self.failed(container_id) != "chain":
            with open(self._marker(container_id), "w", encoding="utf-8") as f:
                f.write(kind)
        self._sweep_markers(time.time() - 86400)

    def _sweep_markers(self, cutoff: float) -> None:
        """Remove the markers last written before ``cutoff``. Other execs of this node sweep
        the same directory at the same moment (a burst of failing ADDs): a marker gone
        between the listing and its removal is the outcome we wanted, not an error."""
        for name in os.listdir(self.dir):
            if name.endswith(".failed"):
                _unlink_if_older(os.path.join(self.dir, name), cutoff)

    def succeeded(self, container_id: str) -> None:
        """An ADD of the sandbox succeeded after all (a runtime retrying with the same ID)."""
        try:
            os.unlink(self._marker(container_id))
        except FileNotFoundError:
            pass

    def failed(self, container_id: str) -> Failure | Literal[""]:
        """How an ADD of this sandbox failed; "" when none did."""
        try:
            text = files.read_bytes(self._marker(container_id), 64)  # never blocks (files)
        except FileNotFoundError:
            return ""
        except OSError:
            return "chain"  # there, but not a marker we wrote: taken as the cautious kind
        return "ipam" if text.strip() == b"ipam" else "chain"

    def _marker(self, container_id: str) -> str:
        name = container_id if len(container_id) <= 200 else _digest(container_id)
        return os.path.join(self.dir, name + ".failed")

    def remove(self, container_id: str, ifname: str) -> None:
        try:
            os.unlink(self._path(container_id, ifname))
        except FileNotFoundError:
            pass

    def all(self) -> Iterator[Attachment]:
        files.directory(self.dir, 0o700)  # anything else there is Unusable, named
        names = sorted(os.listdir(self.dir))
        for name in names:
            if name.endswith(".json"):
                note = _load(os.path.join(self.dir, name))
                if note is not None:
                    yield note


def _digest(name: str) -> str:
    """The file name of a name too long for one: hashlib (and the OpenSSL digests it
    loads) only for such names, never on the common path."""
    import hashlib

    return hashlib.sha256(name.encode()).hexdigest()


def _fields(note: Attachment) -> dict[str, object]:
    """A note as its file holds it."""
    return {
        "container_id": note.container_id,
        "ifname": note.ifname,
        "network": note.network,
        "pod": note.pod,
        "uid": note.uid,
        "state": note.state,
        "since": note.since,
        "pools": list(note.pools),
        "ips": dict(note.ips),
    }


def _unlink_if_older(path: str, cutoff: float) -> None:
    try:
        if os.stat(path).st_mtime < cutoff:
            os.unlink(path)
    except FileNotFoundError:
        pass  # another exec swept it first


def _load(path: str) -> Attachment | None:
    try:
        raw = bounds.json_document(files.read_bytes(path, MAX_NOTE))
        return Attachment(
            container_id=str(raw["container_id"]),
            ifname=str(raw["ifname"]),
            network=str(raw["network"]),
            pod=str(raw["pod"]),
            uid=str(raw["uid"]),
            state=raw["state"],
            since=float(raw.get("since", 0)),
            pools=tuple(str(p) for p in raw.get("pools") or ()),
            ips={str(k): str(v) for k, v in (raw.get("ips") or {}).items()},
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # a note we cannot read is no note: DEL falls back to the endpoint
