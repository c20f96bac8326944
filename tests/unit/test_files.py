"""protocol.files: configured paths are opened without blocking, as regular files only.

| call            | path holds                                 | outcome                          |
|-----------------|--------------------------------------------|----------------------------------|
| read_bytes/text | a regular file                             | its content                      |
|                 | a FIFO (no writer), a directory, /dev/null | Unusable naming the path and     |
|                 | a socket                                   | what it is; never blocks         |
|                 | more than the bound                        | Unusable giving the size         |
|                 | nothing                                    | FileNotFoundError                |
|                 | bytes that are not UTF-8 (read_text)       | UnicodeDecodeError               |
| open_regular    | nothing, with O_CREAT                      | created with the mode asked      |
|                 | a FIFO with O_WRONLY (nobody reads)        | Unusable, never blocks           |
| checked         | a regular file                             | /proc/self/fd path, same content |
|                 | "" / a FIFO                                | None / Unusable                  |
| directory       | nothing (parents too)                      | created                          |
|                 | a directory                                | nothing to do                    |
|                 | a regular file; a path under one           | Unusable naming the path         |
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from spidernet.protocol import files


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"token\n")
    assert files.read_bytes(str(tmp_path / "f")) == b"token\n"
    assert files.read_text(str(tmp_path / "f")) == "token\n"


@pytest.mark.parametrize(
    ("what", "kind"),
    [("fifo", "a FIFO"), ("dir", "a directory"), ("null", "a character device")],
)
def test_anything_but_a_regular_file_is_refused_without_blocking(
    tmp_path: Path, fifo: Path, what: str, kind: str
) -> None:
    path = {"fifo": str(fifo), "dir": str(tmp_path), "null": "/dev/null"}[what]
    with pytest.raises(files.Unusable) as e:
        files.read_bytes(path)
    assert str(e.value) == f"{path}: is {kind}, not a regular file"
    assert e.value.path == path


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(path)
        with pytest.raises(files.Unusable, match="is a socket, not a regular file"):
            files.read_text(path)


def test_a_file_over_the_bound_is_refused_with_its_size(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 101)
    with pytest.raises(files.Unusable, match="is 101 bytes, more than the 100 allowed"):
        files.read_bytes(str(tmp_path / "big"), max_bytes=100)
    assert files.read_bytes(str(tmp_path / "big"), max_bytes=101) == b"x" * 101


def test_a_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        files.read_bytes(str(tmp_path / "absent"))


def test_text_that_is_not_utf8_is_a_decode_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"\xff\xfe")
    with pytest.raises(UnicodeDecodeError):
        files.read_text(str(tmp_path / "f"))


def test_a_missing_file_is_created_with_the_mode_asked(tmp_path: Path) -> None:
    fd = files.open_regular(str(tmp_path / "lock"), os.O_RDWR | os.O_CREAT, mode=0o600)
    os.close(fd)
    assert (tmp_path / "lock").stat().st_mode & 0o777 == 0o600


def test_a_fifo_nobody_reads_is_refused_for_writing_without_blocking(fifo: Path) -> None:
    with pytest.raises(files.Unusable, match="is a FIFO"):
        files.open_regular(str(fifo), os.O_WRONLY | os.O_APPEND | os.O_CREAT)


def test_checked_names_the_descriptor_of_the_file_it_checked(tmp_path: Path, fifo: Path) -> None:
    (tmp_path / "ca").write_text("PEM")
    with files.checked(str(tmp_path / "ca")) as path:
        assert path is not None and path.startswith("/proc/self/fd/")
        assert Path(path).read_text() == "PEM"
    with files.checked("") as path:
        assert path is None
    with pytest.raises(files.Unusable), files.checked(str(fifo)):
        pass


def test_a_missing_directory_is_made_with_its_parents(tmp_path: Path) -> None:
    files.directory(str(tmp_path / "a" / "b"))
    files.directory(str(tmp_path / "a" / "b"))  # there already: nothing to do
    assert (tmp_path / "a" / "b").is_dir()


def test_a_regular_file_where_a_directory_should_be_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(files.Unusable) as e:
        files.directory(str(tmp_path / "f"))
    assert str(e.value) == f"{tmp_path / 'f'}: is a regular file, not a directory"
    with pytest.raises(files.Unusable, match="has a part that is not a directory"):
        files.directory(str(tmp_path / "f" / "sub"))
