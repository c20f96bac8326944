"""The floor IPAM: python + TLS + one GET + one PUT of a pool's status per pool and call. Does I/O.

What any Python IPAM of this design must at least pay per exec, measured in the same
run as the real plugins so that every figure is also a ratio (docs/performance.md). Exec'd as
``python -I -S floor.py`` (or through a ``#!`` wrapper when a main plugin execs it by
type name), with the CNI env and stdin. Standard library only, nothing else imported:

- ADD: for each pool named in ``ipam.pools``, GET it, take the lowest address of
  ``spec.ips`` that no record holds (the pod's own record if it has one), PUT the status
  with the read ``resourceVersion``, print a CNI result;
- DEL: GET each pool, and PUT only if a record carries the pod's UID.

The GET and PUT of all nodes are serialised by one ``flock`` (``ipam.lock_file``), so a
floor call never loses a compare-and-swap: it is the best a one-pool CAS allocator can
do, at exactly one GET and one PUT. The lock is taken after the TLS handshake, so
process start and TLS still run in parallel. No endpoint, no cool-down, no note on
disk: the floor measures cost, and is correct only as long as nothing else writes.
Error codes: 100 exhausted, 11 API trouble (the runtime retries), 7 bad config.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import socket
import ssl
import sys

if False:  # for the type checker only: importing typing would cost the floor ~4 ms a call
    from collections.abc import Iterator
    from typing import Any


class Fail(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


def credentials(path: str) -> tuple[str, str, str]:
    with open(path) as f:
        cfg = json.load(f)
    ctx = {c["name"]: c["context"] for c in cfg["contexts"]}[cfg["current-context"]]
    cluster = {c["name"]: c["cluster"] for c in cfg["clusters"]}[ctx["cluster"]]
    user = {u["name"]: u["user"] for u in cfg["users"]}[ctx["user"]]
    return cluster["server"], cluster.get("certificate-authority", ""), user.get("token", "")


class Api:
    """One TLS connection, raw HTTP/1.1 with keep-alive (as the real plugin talks)."""

    def __init__(self, server: str, ca_file: str, token: str) -> None:
        rest = server.split("://", 1)[1].rstrip("/")
        host, _, port = rest.partition(":")
        self.host, self.port, self.token = host, int(port or 443), token
        raw = socket.create_connection((host, self.port), timeout=30)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = ssl.create_default_context(cafile=ca_file or None)
        self.sock = ctx.wrap_socket(raw, server_hostname=host)
        self.reader = self.sock.makefile("rb")

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        head = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Accept: application/json",
            f"Authorization: Bearer {self.token}",
            f"Content-Length: {len(data)}",
            "Content-Type: application/json",
        ]
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        status = int(self.reader.readline().split()[1])
        headers = {}
        while (line := self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"transfer-encoding") == b"chunked":  # large objects come chunked
            raw = b"".join(iter(self._chunk, b""))
        else:
            raw = self.reader.read(int(headers.get(b"content-length", b"0")))
        return status, json.loads(raw) if raw else None

    def _chunk(self) -> bytes:
        size = int(self.reader.readline().split(b";")[0], 16)
        data = self.reader.read(size)
        # the CRLF after the chunk (after the last, empty one: no trailers here)
        self.reader.readline()
        return data


def addresses(spec: dict[str, Any]) -> Iterator[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The pool's addresses, lowest first, one ``spec.ips`` item at a time."""
    for item in spec.get("ips") or []:
        lo, _, hi = item.partition("-")
        first = ipaddress.ip_address(lo)
        last = ipaddress.ip_address(hi) if hi else first
        for n in range(int(first), int(last) + 1):
            yield ipaddress.ip_address(n)


def allocate(api: Api, pool: str, pod: str, uid: str) -> dict[str, str]:
    path = f"/apis/spiderpool.spidernet.io/v2beta1/spiderippools/{pool}"
    status, obj = api.request("GET", path)
    if status != 200:
        raise Fail(11, f"GET {pool}: HTTP {status}")
    records = json.loads((obj.get("status") or {}).get("allocatedIPs") or "{}")
    mine = [ip for ip, r in records.items() if r.get("podUid") == uid]
    ip = (
        mine[0]
        if mine
        else next((str(a) for a in addresses(obj["spec"]) if str(a) not in records), None)
    )
    if ip is None:
        raise Fail(100, f"pool {pool} exhausted")
    if not mine:
        records[ip] = {"pod": pod, "podUid": uid}
        put(api, path, obj, records)
    prefix = obj["spec"]["subnet"].split("/")[1]
    entry = {"address": f"{ip}/{prefix}"}
    if obj["spec"].get("gateway"):
        entry["gateway"] = obj["spec"]["gateway"]
    return entry


def release(api: Api, pool: str, uid: str) -> None:
    path = f"/apis/spiderpool.spidernet.io/v2beta1/spiderippools/{pool}"
    status, obj = api.request("GET", path)
    if status == 404:
        return
    if status != 200:
        raise Fail(11, f"GET {pool}: HTTP {status}")
    records = json.loads((obj.get("status") or {}).get("allocatedIPs") or "{}")
    kept = {ip: r for ip, r in records.items() if r.get("podUid") != uid}
    if len(kept) != len(records):
        put(api, path, obj, kept)


def put(api: Api, path: str, obj: dict[str, Any], records: dict[str, Any]) -> None:
    status_body = dict(obj.get("status") or {})
    status_body["allocatedIPs"] = json.dumps(records, separators=(",", ":"))
    status_body["allocatedIPCount"] = len(records)
    body = {**obj, "status": status_body}
    code, _reply = api.request("PUT", f"{path}/status", body)
    if code != 200:  # 409 only if something else wrote the pool (the GC): the runtime retries
        raise Fail(11, f"PUT {path}/status: HTTP {code}")


def cni_args() -> dict[str, str]:
    pairs = (kv.split("=", 1) for kv in os.environ.get("CNI_ARGS", "").split(";") if "=" in kv)
    return {k: v for k, v in pairs}


def main() -> int:
    command = os.environ.get("CNI_COMMAND", "")
    conf = json.loads(sys.stdin.buffer.read() or b"{}")
    if command == "VERSION":
        print(
            json.dumps(
                {
                    "cniVersion": conf.get("cniVersion", "1.0.0"),
                    "supportedVersions": ["0.4.0", "1.0.0"],
                }
            )
        )
        return 0
    ipam = conf.get("ipam") or {}
    args = cni_args()
    pod = f"{args.get('K8S_POD_NAMESPACE', '')}/{args.get('K8S_POD_NAME', '')}"
    uid = args.get("K8S_POD_UID", "")
    try:
        if command not in ("ADD", "DEL"):
            return 0  # CHECK and the rest: nothing to check in a floor
        if not uid or not ipam.get("pools"):
            raise Fail(7, "K8S_POD_UID and ipam.pools are required")
        api = Api(*credentials(ipam["kubeconfig"]))
        with open(ipam["lock_file"], "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if command == "ADD":
                ips = [allocate(api, p, pod, uid) for p in ipam["pools"]]
            else:
                for p in ipam["pools"]:
                    release(api, p, uid)
        if command == "ADD":
            print(json.dumps({"cniVersion": conf.get("cniVersion", "1.0.0"), "ips": ips}))
        return 0
    except Fail as e:
        print(
            json.dumps(
                {"cniVersion": conf.get("cniVersion", "1.0.0"), "code": e.code, "msg": e.msg}
            )
        )
        return 1
    except (OSError, ValueError, KeyError) as e:
        print(
            json.dumps(
                {
                    "cniVersion": conf.get("cniVersion", "1.0.0"),
                    "code": 11,
                    "msg": f"{type(e).__name__}: {e}",
                }
            )
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
