"""ipam.attachments (the node's notes) and ipam.pods.identity (CNI_ARGS validated).

Case matrix:
    notes     write/read round trip; a re-write replaces atomically (no temp file left);
              remove is idempotent; all() lists every note, skips unreadable ones; a very
              long container ID still makes a short unique file name; ':' separates
              container and interface so "a.b"+"c" and "a"+"b.c" never share a file;
              a state dir that is a regular file is files.Unusable on write
    identity  none when CNI_ARGS name no pod; valid names pass; a name, namespace or UID
              that Kubernetes would refuse (upper case, '/', '?', CR/LF, too long, empty
              half) is code 4 naming the key
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spidernet.alloc.failures import BadArgs
from spidernet.ipam import pods
from spidernet.ipam.attachments import Attachment, Notes
from spidernet.protocol import files


def note(cid: str = "c1", ifname: str = "eth0", **kw: object) -> Attachment:
    base: dict[str, object] = {
        "network": "net",
        "pod": "ns/a",
        "uid": "u1",
        "state": "adding",
        "pools": ("p4", "p6"),
        "ips": {},
    }
    return Attachment(container_id=cid, ifname=ifname, **{**base, **kw})  # type: ignore[arg-type]


def test_a_note_round_trips_and_a_rewrite_replaces_it_atomically(tmp_path: Path) -> None:
    notes = Notes(str(tmp_path / "state"))
    first = note()
    notes.write(first)
    assert notes.read("c1", "eth0") == first
    second = note(state="attached", ips={"p4": "10.0.0.1"}).moved("attached")
    notes.write(second)
    assert notes.read("c1", "eth0") == second
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["c1:eth0.json"]


def test_remove_is_idempotent_and_all_skips_unreadable_notes(tmp_path: Path) -> None:
    notes = Notes(str(tmp_path))
    notes.write(note("c1"))
    notes.write(note("c2", "net1"))
    (tmp_path / "junk.json").write_text("{not json")
    assert sorted((n.container_id, n.ifname) for n in notes.all()) == [
        ("c1", "eth0"),
        ("c2", "net1"),
    ]
    notes.remove("c1", "eth0")
    notes.remove("c1", "eth0")
    assert notes.read("c1", "eth0") is None
    assert Notes(str(tmp_path / "missing")).read("c1", "eth0") is None
    assert list(Notes(str(tmp_path / "missing")).all()) == []


def test_file_names_are_unique_and_short(tmp_path: Path) -> None:
    notes = Notes(str(tmp_path))
    long_id = "a" * 300
    notes.write(note("a.b", "c"))
    notes.write(note("a", "b.c"))
    notes.write(note(long_id))
    assert notes.read("a.b", "c") != notes.read("a", "b.c")
    assert notes.read(long_id, "eth0") is not None
    assert max(len(p.name) for p in tmp_path.iterdir()) < 255


def test_identity_is_none_when_cni_args_name_no_pod() -> None:
    assert pods.identity({}) is None
    assert pods.identity(
        {"K8S_POD_NAMESPACE": "ns", "K8S_POD_NAME": "web-0.x", "K8S_POD_UID": "9f1c-aa"}
    ) == (pods.Identity("ns", "web-0.x", "9f1c-aa"))


@pytest.mark.parametrize(
    ("args", "key"),
    [
        ({"K8S_POD_NAMESPACE": "ns", "K8S_POD_NAME": "a?x=1"}, "K8S_POD_NAME"),
        ({"K8S_POD_NAMESPACE": "ns", "K8S_POD_NAME": "a\r\nX-Evil: 1"}, "K8S_POD_NAME"),
        ({"K8S_POD_NAMESPACE": "ns", "K8S_POD_NAME": "Web"}, "K8S_POD_NAME"),
        ({"K8S_POD_NAMESPACE": "ns", "K8S_POD_NAME": "a" * 254}, "K8S_POD_NAME"),
        ({"K8S_POD_NAMESPACE": "../kube-system", "K8S_POD_NAME": "a"}, "K8S_POD_NAMESPACE"),
        ({"K8S_POD_NAMESPACE": "n.s", "K8S_POD_NAME": "a"}, "K8S_POD_NAMESPACE"),
        ({"K8S_POD_NAME": "a"}, "K8S_POD_NAMESPACE"),
        ({"K8S_POD_NAMESPACE": "ns"}, "K8S_POD_NAME"),
        ({"K8S_POD_NAMESPACE": "ns", "K8S_POD_NAME": "a", "K8S_POD_UID": "u/../x"}, "K8S_POD_UID"),
    ],
)
def test_identity_refuses_what_kubernetes_would_naming_the_key(
    args: dict[str, str], key: str
) -> None:
    with pytest.raises(BadArgs) as e:  # the plugin answers code 4
        pods.identity(args)
    assert key in str(e.value)


def test_a_state_dir_that_is_a_regular_file_is_unusable_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("")
    notes = Notes(str(tmp_path / "state"))
    with pytest.raises(files.Unusable, match="is a regular file, not a directory"):
        notes.write(note())
    with pytest.raises(files.Unusable):
        notes.mark_failed("c1", "ipam")
    assert notes.read("c1", "eth0") is None  # a note it cannot read is no note
