"""The least a relay on our stack can do: one v1 WebSocket client <-> one kernel, nothing else.

    python bench/bare_relay.py CONNECTION_FILE PORT_FILE

A reference for bench/relay_floor.py, not a server: gevent's hub, plain pyzmq sockets woken by
their descriptors (as flask-notebook's relay), jupyter_client's signing scheme (HMAC over the
four parts), and a WebSocket written by hand. No JSON parsing of the kernel's messages, no
routing, no kernel model, no queues, no replay, no auth, no HTTP framework: what is left is
what any relay built on gevent and libzmq pays, the extra hops. It serves one client at a
time; while other clients (the floor, flask-notebook) share its kernel, it relays only the
iopub messages of its own client's latest request. It listens on 127.0.0.1 at a free port,
written to PORT_FILE once it accepts connections.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import struct
import sys
from typing import Any

import gevent
import zmq
from gevent.server import StreamServer

DELIM = b"<IDS|MSG>"
V1 = "v1.kernel.websocket.jupyter.org"
_NOBLOCK, _EVENTS, _POLLIN = int(zmq.NOBLOCK), int(zmq.EVENTS), int(zmq.POLLIN)
_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_BINARY, _CLOSE, _PING, _PONG = 0x2, 0x8, 0x9, 0xA


class Relay:
    def __init__(self, info: dict[str, Any]) -> None:
        self.key = info["key"].encode()
        ctx = zmq.Context()
        self.shell = ctx.socket(zmq.DEALER)
        self.iopub = ctx.socket(zmq.SUB)
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        for sock, port in ((self.shell, info["shell_port"]), (self.iopub, info["iopub_port"])):
            sock.linger = 0
            sock.connect(f"tcp://{info['ip']}:{port}")
        self.client: socket.socket | None = None
        #: The msg_id of the client's latest request: only iopub messages for it are relayed.
        self.request_id = b"-"
        gevent.spawn(self.from_kernel, self.shell, b"shell")
        gevent.spawn(self.from_kernel, self.iopub, b"iopub")

    def from_kernel(self, sock: Any, channel: bytes) -> None:
        hub = gevent.get_hub()
        watcher = hub.loop.io(sock.get(zmq.FD), 1)
        while True:
            if not sock.get(_EVENTS) & _POLLIN:
                hub.wait(watcher)
                continue
            frames = sock.recv_multipart(_NOBLOCK)
            parts = frames[frames.index(DELIM) + 2:]  # header, parent, metadata, content, buffers
            client = self.client
            if client is None or (channel == b"iopub" and self.request_id not in parts[1]):
                continue
            n = len(parts) + 2
            offsets = [8 * (n + 1), 8 * (n + 1) + len(channel)]
            for part in parts:
                offsets.append(offsets[-1] + len(part))
            try:
                client.sendall(_frame(_BINARY, b"".join([struct.pack(f"<{n + 1}Q", n, *offsets), channel, *parts])))
            except OSError:  # the client went away: wait for the next one
                if self.client is client:
                    self.client = None

    def to_kernel(self, data: bytes) -> None:
        (n,) = struct.unpack_from("<Q", data)
        offsets = struct.unpack_from(f"<{n}Q", data, 8)
        parts = [data[offsets[i]:offsets[i + 1]] for i in range(1, n - 1)][:4]
        signature = hmac.new(self.key, digestmod=hashlib.sha256)
        for part in parts:
            signature.update(part)
        self.request_id = json.loads(parts[0])["msg_id"].encode()
        self.shell.send_multipart([DELIM, signature.hexdigest().encode(), *parts], _NOBLOCK)

    def serve(self, client: socket.socket, address: Any) -> None:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = client.recv(65536)
            if not chunk:
                return
            buf += chunk
        head, _, buf = buf.partition(b"\r\n\r\n")
        key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:"))
        accept = base64.b64encode(hashlib.sha1(key + _WS_GUID).digest())
        client.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Protocol: " + V1.encode() + b"\r\n\r\n")
        self.client = client
        try:
            while True:
                while (got := _parse(buf)) is not None:
                    opcode, payload, buf = got
                    if opcode == _CLOSE:
                        return
                    if opcode == _PING:
                        client.sendall(_frame(_PONG, payload))
                    elif opcode == _BINARY:
                        self.to_kernel(payload)
                chunk = client.recv(65536)
                if not chunk:
                    return
                buf += chunk
        except OSError:
            return
        finally:
            if self.client is client:
                self.client = None


def _frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, n) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, n) + payload


def _parse(buf: bytes) -> tuple[int, bytes, bytes] | None:
    """(opcode, unmasked payload, the rest) of the first whole frame in `buf`, or None."""
    if len(buf) < 2:
        return None
    length, start = buf[1] & 0x7F, 2
    if length == 126:
        if len(buf) < 4:
            return None
        (length,), start = struct.unpack_from("!H", buf, 2), 4
    elif length == 127:
        if len(buf) < 10:
            return None
        (length,), start = struct.unpack_from("!Q", buf, 2), 10
    end = start + 4 + length
    if len(buf) < end:
        return None
    mask = int.from_bytes(buf[start:start + 4] * (length // 4 + 1), "little") & ((1 << (8 * length)) - 1)
    payload = (int.from_bytes(buf[start + 4:end], "little") ^ mask).to_bytes(length, "little")
    return buf[0] & 0x0F, payload, buf[end:]


def main() -> None:
    connection_file, port_file = sys.argv[1:3]
    with open(connection_file) as f:
        relay = Relay(json.load(f))
    server = StreamServer(("127.0.0.1", 0), relay.serve)
    server.start()
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_port))
    os.replace(port_file + ".tmp", port_file)
    gevent.wait()


if __name__ == "__main__":
    main()
