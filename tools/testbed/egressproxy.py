"""Carry the API server's calls into the cluster (admission webhooks, kubelets) across the
netns boundary: an HTTP CONNECT proxy on a Unix socket. Does I/O.

The local cluster's API server runs on the machine's loopback, its nodes in network
namespaces on the underlay, and no route may be added to the machine's own netns. The
API server's egress selector (``--egress-selector-config-file``, the ``cluster``
connection as ``HTTPConnect`` over a Unix socket, which is what konnectivity serves on a
real control plane) sends every call into the cluster through this proxy; with
``--enable-aggregator-routing`` a Service resolves to its endpoints' addresses (the
installer pods' host-network addresses, for the pools' webhook), not to a ClusterIP
nobody routes. This process runs inside a netns on the underlay (``nsenter --net``), so
its outgoing connections reach every node; the Unix socket is a file, which the API
server reaches from its own netns.

Run as ``python -m tools.testbed.egressproxy <socket path>``; prints "ready".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

from tools.testbed.apiproxy import pump

MAX_HEADER = 8192


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One ``CONNECT host:port`` request: 200 and then bytes both ways, or 502 and close."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        writer.close()
        return
    method, _, rest = head.decode("latin-1").partition(" ")
    target = rest.split(" ", 1)[0]
    host, _, port = target.rpartition(":")
    if method != "CONNECT" or not host or not port.isdigit():
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        writer.close()
        return
    try:
        upstream_r, upstream_w = await asyncio.open_connection(host.strip("[]"), int(port))
    except OSError as e:
        writer.write(f"HTTP/1.1 502 Bad Gateway\r\nX-Error: {e}\r\n\r\n".encode())
        writer.close()
        return
    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await writer.drain()
    await asyncio.gather(pump(reader, upstream_w), pump(upstream_r, writer))


async def _serve(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    server = await asyncio.start_unix_server(_handle, path=path, limit=MAX_HEADER)
    os.chmod(path, 0o600)
    print("ready", flush=True)
    await server.serve_forever()


def main() -> None:
    asyncio.run(_serve(sys.argv[1]))


if __name__ == "__main__":
    main()
