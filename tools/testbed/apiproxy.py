"""Make the apiserver on the host's loopback reachable from a node netns's loopback. Does I/O.

A simulated node (a netns) has its own 127.0.0.1, so plugins running there cannot
reach the control plane, and the tests may not add links to the machine's own netns.
A socket stays in the netns it was created in, so this process creates its listening
socket inside the node netns (setns, then back) and its outgoing connections in the
host netns. The node's ``127.0.0.1:<port>`` then forwards, byte for byte, to the
host's ``127.0.0.1:<port>``: the same server URL and TLS certificate work on both sides.

Run as ``python -m tools.testbed.apiproxy <netns path> <port> [<address>:<port> ...]``;
prints "ready". Each extra ``<address>:<port>`` is listened on in the node netns too
and forwarded to the same host port: the local cluster (tools/testbed/kubecluster.py)
puts the ``kubernetes`` Service's ClusterIP on each node's loopback and listens on
``10.96.0.1:443`` there, the role kube-proxy plays on a real node for this one Service,
so in-cluster clients find the API exactly as they do in a cluster.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import sys

CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns failed")


def listen_in(netns_path: str, port: int, address: str = "127.0.0.1") -> socket.socket:
    host = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(netns_path, os.O_RDONLY)
    try:
        _setns(target)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(1024)
        sock.setblocking(False)
    finally:
        _setns(host)
        os.close(host)
        os.close(target)
    return sock


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _serve(socks: list[socket.socket], port: int) -> None:
    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            w.close()
            return
        await asyncio.gather(pump(r, uw), pump(ur, w))

    servers = [await asyncio.start_server(handle, sock=sock) for sock in socks]
    print("ready", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


def main() -> None:
    netns_path, port = sys.argv[1], int(sys.argv[2])
    socks = [listen_in(netns_path, port)]
    for extra in sys.argv[3:]:
        address, _, extra_port = extra.rpartition(":")
        socks.append(listen_in(netns_path, int(extra_port), address))
    asyncio.run(_serve(socks, port))


if __name__ == "__main__":
    main()
