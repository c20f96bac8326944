"""The webhook's CA and serving certificate, made and read with the openssl command. Does I/O.

P-256 keys (small, fast handshakes, accepted by every API server's Go TLS); the serving
certificate names the webhook Service's DNS names in subjectAltName (Go ignores the CN)
and, for tests and ``clientConfig.url`` set-ups, addresses. Private keys are made in a
directory on /dev/shm when there is one, removed on return, and never logged. openssl is
in the image (installer/Containerfile); the Python standard library cannot sign.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CA_DAYS, SERVING_DAYS = 3650, 365


class CertError(RuntimeError):
    """openssl failed or is missing: the message has its stderr."""


@dataclass(frozen=True)
class Pair:
    cert: bytes  # PEM
    key: bytes  # PEM


@contextmanager
def _workdir() -> Iterator[Path]:
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix="spidernet-tls-", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CertError(f"openssl {args[0]}: {e} (is openssl installed?)") from None


def _run(*args: str, cwd: Path) -> None:
    done = _openssl(*args, cwd=cwd)
    if done.returncode != 0:
        raise CertError(f"openssl {args[0]}: {done.stderr.decode(errors='replace').strip()}")


_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


def new_ca(common_name: str = "spidernet-webhook-ca", days: int = CA_DAYS) -> Pair:
    with _workdir() as d:
        _run(
            "req",
            "-x509",
            *_KEY,
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            str(days),
            "-subj",
            f"/CN={common_name}",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            cwd=d,
        )
        return Pair((d / "ca.crt").read_bytes(), (d / "ca.key").read_bytes())


def new_serving(
    ca: Pair, dns: Sequence[str], ips: Sequence[str] = (), days: int = SERVING_DAYS
) -> Pair:
    """A serving certificate for ``dns`` (the first is its CN) and ``ips``, signed by ``ca``."""
    alt = ",".join([f"DNS:{n}" for n in dns] + [f"IP:{a}" for a in ips])
    with _workdir() as d:
        (d / "ca.crt").write_bytes(ca.cert)
        (d / "ca.key").write_bytes(ca.key)
        (d / "ext").write_text(f"subjectAltName={alt}\nextendedKeyUsage=serverAuth\n")
        _run(
            "req",
            "-new",
            *_KEY,
            "-keyout",
            "tls.key",
            "-out",
            "tls.csr",
            "-subj",
            f"/CN={dns[0]}",
            cwd=d,
        )
        _run(
            "x509",
            "-req",
            "-in",
            "tls.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-set_serial",
            str(int.from_bytes(os.urandom(8), "big")),
            "-out",
            "tls.crt",
            "-days",
            str(days),
            "-extfile",
            "ext",
            cwd=d,
        )
        return Pair((d / "tls.crt").read_bytes(), (d / "tls.key").read_bytes())


def expires_within(cert: bytes, seconds: float) -> bool:
    """True when ``cert`` (PEM) expires within ``seconds``, or cannot be read."""
    with _workdir() as d:
        (d / "c.crt").write_bytes(cert)
        done = _openssl("x509", "-noout", "-checkend", str(int(seconds)), "-in", "c.crt", cwd=d)
        return done.returncode != 0


def signed_by(cert: bytes, ca: bytes) -> bool:
    with _workdir() as d:
        (d / "c.crt").write_bytes(cert)
        (d / "ca.crt").write_bytes(ca)
        return _openssl("verify", "-CAfile", "ca.crt", "c.crt", cwd=d).returncode == 0


def alt_names(cert: bytes) -> set[str]:
    """The subjectAltName entries, as ``DNS:name`` and ``IP:address``."""
    with _workdir() as d:
        (d / "c.crt").write_bytes(cert)
        done = _openssl("x509", "-noout", "-ext", "subjectAltName", "-in", "c.crt", cwd=d)
    if done.returncode != 0:
        return set()
    text = done.stdout.decode().splitlines()[1:]
    items = [i.strip() for line in text for i in line.split(",") if i.strip()]
    return {i.replace("IP Address:", "IP:") for i in items}
