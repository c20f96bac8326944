"""What a DEL does with one interface's addresses, from what it can see. No I/O.

The facts a DEL gathers (the node's note on the attachment, the pod, the pod's
SpiderEndpoint, whether the runtime sent a ``prevResult``) go in; one verdict comes
out: nothing to do, keep the addresses for the pod's next sandbox, or release this
interface's addresses (after a failed ADD: into cool-down). The rules, in order:

1. The pod UID is ``K8S_POD_UID``, else the endpoint's when its detail for this
   interface names this container (the API's word on this very sandbox), else the UID
   the node's note recorded. None: nothing of this sandbox is known, so nothing is ours
   to release.
2. The endpoint's detail for this interface belongs to another sandbox (the pod's next
   one already took it over): this DEL is for an older sandbox; nothing to do.
3. Nothing recorded for this interface (no detail, no note with pools): nothing to do.
   A spec-1.1 GC that does not list this attachment as valid: release (the runtime
   says the sandbox is gone; a newer sandbox of the pod would be in the list).
4. The pod is gone, finished, terminating, or has another UID: release; unless the
   endpoint is a StatefulSet pod's whose StatefulSet still has a place for that
   ordinal: keep, for the re-created pod (StatefulSet fixed IPs, docs/ipam.md).
5. The pod lives, and an earlier DEL of this sandbox kept the addresses: keep again.
   A re-sent DEL carries no ``prevResult`` (libcni drops its cache after a successful
   DEL) and must not read that as a failed ADD (I2).
6. The pod lives but no longer asks for this interface (its Multus networks annotation
   dropped it: a NIC unplugged by Multus dynamic networks): release this interface.
7. The pod lives and the node's note says this interface's ADD never answered (it
   failed in this IPAM, ran out of time, or was killed before its answer): release at
   once, without cool-down. The addresses reached no interface, so nothing implicates
   them; with IPs = pods a cooling address is a pod that cannot start meanwhile.
8. The pod lives and this sandbox failed: this NIC's ADD failed after this IPAM
   answered (spec >= 0.4.0: no ``prevResult``, as a runtime caches results only of ADDs
   that succeeded; spec 0.3.x, which never sends one: the sandbox lived less than
   ``FAILED_ADD_WINDOW``), or another NIC's ADD of the sandbox failed (Multus then DELs
   every NIC, those that succeeded with their cached result). Release (multi-NIC is
   all-or-nothing), into cool-down (I5) when the failure may implicate the address:
   this NIC's own failure (a later plugin, the coordinator's conflict probe, may have
   failed on it), or another NIC's failure after its IPAM answered. Another NIC's
   failure *in this IPAM* (a pool exhausted, the API unreachable: code 11) implicates
   no address: release at once. A StatefulSet pod keeps its fixed addresses when only
   another NIC failed: they wait for the pod's next sandbox.
9. Otherwise keep: sandbox re-creation keeps the pod's addresses (docs/ipam.md, DEL).
"""

from __future__ import annotations

import enum

from spidernet.types.record import record

FAILED_ADD_WINDOW = (
    60.0  # s: a 0.3.x sandbox DEL'd this soon after its ADD is taken as a failed ADD
)


class Action(enum.Enum):
    NOTHING = "nothing"
    KEEP = "keep"
    RELEASE = "release"


@record
class Facts:
    container_id: str
    uid_arg: str  # K8S_POD_UID, or ""
    note_uid: str = ""  # the node's note on this attachment ("" when there is none)
    note_state: str = ""  # "", "adding", "attached" or "kept"
    note_since: float = 0.0
    note_has_addresses: bool = False  # the note names pools the ADD may have written
    endpoint_uid: str = ""
    detail_container: str | None = None  # None: the endpoint has no detail for this interface
    pod_uid: str = ""  # "" when the pod is gone
    pod_alive: bool = False
    interface_requested: bool = True  # the pod's Multus annotation still lists this interface
    # an ADD of this sandbox (any NIC) failed: "ipam" in this IPAM (before any answer),
    # "chain" after its IPAM answered (so its address may be implicated); "" none
    sandbox_failed: str = ""
    stateful: bool = False  # the endpoint is a StatefulSet pod's (its addresses are fixed)
    stateful_place: str | None = (
        None  # StatefulSet endpoint: "" it keeps its place, else why not; None: not one
    )
    sent_prev_result: bool = False
    spec_040: bool = True  # cniVersion >= 0.4.0
    collecting: bool = False  # a GC verb found this attachment missing from the valid ones
    now: float = 0.0


@record
class Verdict:
    action: Action
    reason: str
    uid: str = ""
    cooldown: bool = False
    use_detail: bool = False  # the endpoint's detail for this interface is this DEL's to remove
    forget_note: bool = False  # the node's note on this attachment is stale: drop it


def uid_of(f: Facts) -> str:
    if f.uid_arg:
        return f.uid_arg
    if f.detail_container == f.container_id and f.endpoint_uid:
        return f.endpoint_uid  # the API's word on this very sandbox, written after the note
    return f.note_uid


def decide(f: Facts) -> Verdict:
    uid = uid_of(f)
    if not uid:
        return Verdict(Action.NOTHING, "nothing of this sandbox is known here")
    ours = f.detail_container is not None and f.endpoint_uid == uid
    if ours and f.detail_container != f.container_id:
        return Verdict(
            Action.NOTHING,
            f"an older sandbox: the pod's sandbox {f.detail_container} holds the addresses",
            uid,
            forget_note=True,
        )
    if not ours and not f.note_has_addresses:
        return Verdict(
            Action.NOTHING, "no address recorded for this interface", uid, forget_note=True
        )
    if f.collecting:
        return Verdict(
            Action.RELEASE, "the runtime no longer has this attachment (GC)", uid, use_detail=ours
        )
    if not (f.pod_uid == uid and f.pod_alive):
        gone = (
            "gone"
            if not f.pod_uid
            else ("re-created with another UID" if f.pod_uid != uid else "finished or terminating")
        )
        if ours and f.stateful_place == "":
            return Verdict(
                Action.KEEP,
                f"StatefulSet pod {gone}: its addresses wait for the pod of its name",
                uid,
            )
        place = f" ({f.stateful_place})" if ours and f.stateful_place else ""
        return Verdict(Action.RELEASE, f"pod {gone}{place}", uid, use_detail=ours)
    if f.note_state == "kept":
        return Verdict(Action.KEEP, "kept by an earlier DEL of this sandbox (a re-sent DEL)", uid)
    if not f.interface_requested:
        return Verdict(
            Action.RELEASE,
            "the pod no longer asks for this interface (unplugged)",
            uid,
            use_detail=ours,
        )
    if f.note_state == "adding":
        return Verdict(
            Action.RELEASE,
            "pod alive but this ADD never answered: its addresses reached no interface, "
            "free at once",
            uid,
            use_detail=ours,
        )
    failed, own, implicated = _failed_add(f)
    if failed and not own and ours and f.stateful:
        return Verdict(
            Action.KEEP,
            f"StatefulSet pod alive, {failed}: its fixed addresses wait for its next sandbox",
            uid,
        )
    if failed:
        how = "into cool-down" if implicated else "at once: nothing implicates its addresses"
        return Verdict(
            Action.RELEASE,
            f"pod alive but {failed}: release {how}",
            uid,
            cooldown=implicated,
            use_detail=ours,
        )
    return Verdict(Action.KEEP, "pod alive: sandbox re-creation keeps its addresses", uid)


def _failed_add(f: Facts) -> tuple[str, bool, bool]:
    """(why the sandbox failed, whether this NIC's own ADD did, whether its address may be
    implicated); ("", False, False) when it did not fail."""
    if f.spec_040 and not f.sent_prev_result:
        return "no prevResult: the runtime recorded no successful ADD", True, True
    if not f.spec_040 and f.note_state == "attached" and f.now - f.note_since < FAILED_ADD_WINDOW:
        lived = f"the sandbox lived {f.now - f.note_since:.0f} s (< {FAILED_ADD_WINDOW:.0f} s)"
        return f"{lived}: taken as a failed ADD", True, True
    if f.sandbox_failed == "ipam":
        return "another NIC's ADD of this sandbox failed in this IPAM", False, False
    if f.sandbox_failed:
        return "another NIC's ADD of this sandbox failed after its IPAM answered", False, True
    return "", False, False
