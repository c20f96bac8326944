"""Make the apiserver on the host's loopback reachable from a node netns's loopback. Does I/O.

A simulated node (a netns) has its own 127.0.0.1, so plugins running there cannot
reach the control plane, and the tests may not add links to the machine's own netns.
A socket stays in the netns it was created in, so this process creates its listening
socket inside the node netns (setns, then back) and its outgoing connections in the
host netns. The node's ``127.0.0.1:<port>`` then forwards, byte for byte, to the
host's ``127.0.0.1:<port>``: the same server URL and TLS certificate work on both sides.

Run as ``python -m tools.testbed.apiproxy <netns path> <port>``; prints "ready".
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


def listen_in(netns_path: str, port: int) -> socket.socket:
    host = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(netns_path, os.O_RDONLY)
    try:
        _setns(target)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(1024)
        sock.setblocking(False)
    finally:
        _setns(host)
        os.close(host)
        os.close(target)
    return sock


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _serve(sock: socket.socket, port: int) -> None:
    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            w.close()
            return
        await asyncio.gather(_pump(r, uw), _pump(ur, w))

    server = await asyncio.start_server(handle, sock=sock)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    netns_path, port = sys.argv[1], int(sys.argv[2])
    asyncio.run(_serve(listen_in(netns_path, port), port))


if __name__ == "__main__":
    main()
