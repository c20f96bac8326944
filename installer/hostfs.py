"""Every file-system operation of the installer, each one safe to be interrupted. Does I/O.

The promise to a concurrent reader (a runtime exec'ing a plugin, a plugin reading its
kubeconfig) is that it sees the old state or the new one, never a mix: new content is
written under a temporary name in the same directory, flushed (fsync), and renamed over
the old name, which rename(2) does atomically; the directory is then flushed so the
rename survives a power cut. A directory of files is made complete under a staging name
and renamed once. A failure part-way (a full disk, a read-only mount) leaves only
temporary names, which the caller removes; the live names are never touched before that.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import secrets
import shutil
import stat
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from installer import bundleset, layout

_CHUNK = 1 << 20


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def read_required(path: Path, what: str) -> bytes:
    """The file's bytes; a missing or unreadable file is an OSError naming ``what``."""
    try:
        return path.read_bytes()
    except OSError as e:
        raise OSError(e.errno, f"cannot read {what} {path}: {e.strerror}") from e


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_name(directory: Path) -> Path:
    return directory / f"{layout.TMP_PREFIX}{secrets.token_hex(6)}"


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` with ``data`` (mode ``mode``): readers see the old or the new file."""
    tmp = _temp_name(path.parent)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        try:
            os.fchmod(fd, mode)  # the umask must not widen or narrow it
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def symlink_atomic(path: Path, target: str) -> None:
    """Point ``path`` at ``target``: an exec through it finds the old target or the new."""
    tmp = _temp_name(path.parent)
    os.symlink(target, tmp)
    try:
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def readlink_or_none(path: Path) -> str | None:
    """Where the symlink ``path`` points; None if it is absent or not a symlink."""
    try:
        return os.readlink(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.EINVAL:
            return None
        raise


def ensure_dir(path: Path, mode: int = 0o755) -> None:
    path.mkdir(mode=mode, parents=True, exist_ok=True)


def remove(path: Path) -> None:
    """Remove a file, link or whole directory; gone already is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def touch(path: Path) -> None:
    with open(path, "ab"):
        pass
    os.utime(path)


def age(path: Path) -> float | None:
    """Seconds since ``path`` was last modified, None if it does not exist."""
    try:
        return max(0.0, time.time() - path.stat().st_mtime)
    except FileNotFoundError:
        return None


# ------------------------------------------------------------ bundle trees


def _copy_file(src: Path, dst: Path, mode: int) -> None:
    with open(src, "rb") as fin:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        try:
            os.fchmod(fd, mode)
            while block := fin.read(_CHUNK):
                view = memoryview(block)
                while view:
                    view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)


def copy_entries(src_root: Path, dst_root: Path, entries: Iterable[bundleset.Entry]) -> None:
    """Copy the listed files and links into ``dst_root`` (which must not exist yet)."""
    dst_root.mkdir(mode=0o755)
    dirs = {dst_root}
    for entry in entries:
        dst = dst_root / entry.path
        for d in reversed(dst.relative_to(dst_root).parents[:-1]):
            if dst_root / d not in dirs:
                (dst_root / d).mkdir(mode=0o755, exist_ok=True)
                dirs.add(dst_root / d)
        if entry.kind == "link":
            os.symlink(entry.target, dst)
        else:
            _copy_file(src_root / entry.path, dst, entry.mode)
    for d in dirs:
        fsync_dir(d)


def verify(root: Path, entries: Iterable[bundleset.Entry]) -> list[str]:
    """Every way the tree under ``root`` differs from the entries (empty: it matches)."""
    problems = []
    for entry in entries:
        path = root / entry.path
        try:
            if entry.kind == "link":
                if os.readlink(path) != entry.target:
                    problems.append(
                        f"{entry.path}: link points at {os.readlink(path)!r}, not {entry.target!r}"
                    )
                continue
            if path.is_symlink() or not path.is_file():
                problems.append(f"{entry.path}: not a regular file")
            elif (path.stat().st_mode & 0o777) != entry.mode:
                problems.append(
                    f"{entry.path}: mode {path.stat().st_mode & 0o777:o}, expected {entry.mode:o}"
                )
            elif sha256(path) != entry.sha256:
                problems.append(f"{entry.path}: SHA-256 differs from the manifest")
        except OSError as e:
            problems.append(f"{entry.path}: {e.strerror}")
    return problems


def list_state(state: Path) -> list[layout.Seen]:
    seen = []
    for child in sorted(state.iterdir()):
        is_dir = child.is_dir() and not child.is_symlink()
        seen.append(
            layout.Seen(child.name, is_dir, age(child / layout.RETIRED) if is_dir else None)
        )
    return seen


# ------------------------------------------------------------ processes and the host


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run_plugin_version(executable: Path, timeout: float = 30.0) -> Ran:
    """Exec a plugin with CNI_COMMAND=VERSION, as a runtime would."""
    env = {
        "CNI_COMMAND": "VERSION",
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
    }
    try:
        proc = subprocess.run(
            [str(executable)],
            input=b'{"cniVersion": "1.0.0"}',
            env=env,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return Ran(-1, "", f"no answer within {timeout:.0f} s")
    except OSError as e:
        return Ran(-1, "", f"cannot exec: {e.strerror}")
    return Ran(
        proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    )


def executables(directory: Path) -> list[str]:
    """Names of the executable files and of the symlinks in ``directory``, hidden ones left
    out; none when it does not exist. Symlinks are not followed: a node's plugin links are
    often absolute (``/usr/lib/cni/macvlan``), and resolve on the host, not in this pod."""
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    return [n for n in names if not n.startswith(".") and _plugin_like(directory / n)]


def _plugin_like(path: Path) -> bool:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        return True
    return stat.S_ISREG(st.st_mode) and bool(st.st_mode & 0o111)


def uname() -> tuple[str, str]:
    """(machine, kernel release) of the kernel we run on, which is the node's."""
    u = os.uname()
    return u.machine, u.release


class LockTimeout(OSError):
    pass


@contextlib.contextmanager
def locked(path: Path, timeout: float = 120.0) -> Iterator[None]:
    """Hold an flock on ``path``. If the file was replaced or removed while we waited
    (an uninstall removes the state dir), lock the file that is there now instead."""
    deadline = time.monotonic() + timeout
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            _flock_until(fd, deadline, path)
            if _same_file(fd, path):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield
    finally:
        os.close(fd)


def _flock_until(fd: int, deadline: float, path: Path) -> None:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise LockTimeout(
                    errno.EWOULDBLOCK, f"{path} is held by another installer"
                ) from None
            time.sleep(0.05)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
