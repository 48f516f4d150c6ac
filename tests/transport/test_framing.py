"""The server side of RFC 6455 after the handshake: the frame parser, the frame builder, and\nparked sockets' readers."""

from __future__ import annotations

import os
import struct
from typing import Any

import gevent
import gevent.event
import gevent.socket
import pytest

from flask_notebook.transport import framing as ws
from flask_notebook.transport import server_socket
from flask_notebook.transport.framing import BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT, FrameParser, ProtocolError


def client_frame(payload: bytes, opcode: int = BINARY, *, fin: bool = True, masked: bool = True,
                 rsv: int = 0) -> bytes:
    """A frame as a client sends it: masked with a random key."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | rsv | opcode
    if n < 126:
        head = struct.pack("!BB", b0, (0x80 if masked else 0) | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, (0x80 if masked else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", b0, (0x80 if masked else 0) | 127, n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_one_frame_of_every_length_class(size: int) -> None:
    payload = os.urandom(size)
    assert FrameParser(1 << 20).feed(client_frame(payload)) == [(BINARY, payload)]


def test_any_chunking_gives_the_same_messages() -> None:
    payloads = [b"a", os.urandom(300), "héllo".encode(), os.urandom(70_000)]
    stream = b"".join(client_frame(p, TEXT if i == 2 else BINARY) for i, p in enumerate(payloads))
    expected = [(TEXT if i == 2 else BINARY, p) for i, p in enumerate(payloads)]
    for step in (1, 7, 4096):
        parser = FrameParser(1 << 20)
        got = []
        for i in range(0, len(stream), step):
            got.extend(parser.feed(stream[i:i + step]))
        assert got == expected, step


def test_fragments_are_joined_and_control_frames_may_come_between() -> None:
    stream = (client_frame(b"one ", TEXT, fin=False) + client_frame(b"ping!", PING)
              + client_frame(b"two ", CONTINUATION, fin=False) + client_frame(b"three", CONTINUATION))
    assert FrameParser(100).feed(stream) == [(PING, b"ping!"), (TEXT, b"one two three")]


def test_close_and_pong_are_reported() -> None:
    stream = client_frame(b"", PONG) + client_frame(struct.pack("!H", 1001), CLOSE)
    assert FrameParser(100).feed(stream) == [(PONG, b""), (CLOSE, struct.pack("!H", 1001))]


@pytest.mark.parametrize(("stream", "code"), [
    (client_frame(b"x", masked=False), ws.PROTOCOL_ERROR),
    (client_frame(b"x", rsv=0x40), ws.PROTOCOL_ERROR),  # permessage-deflate was not negotiated
    (client_frame(b"x", 0x3), ws.PROTOCOL_ERROR),
    (client_frame(b"x", 0xB), ws.PROTOCOL_ERROR),
    (client_frame(b"x" * 126, PING), ws.PROTOCOL_ERROR),
    (client_frame(b"x", PING, fin=False), ws.PROTOCOL_ERROR),
    (client_frame(b"x", CONTINUATION), ws.PROTOCOL_ERROR),
    (client_frame(b"x", TEXT, fin=False) + client_frame(b"y", BINARY), ws.PROTOCOL_ERROR),
    (client_frame(b"x" * 101), ws.TOO_BIG),
    (client_frame(b"x" * 60, fin=False) + client_frame(b"y" * 60, CONTINUATION), ws.TOO_BIG),
], ids=["unmasked", "reserved-bits", "unknown-data-opcode", "unknown-control-opcode", "long-ping",
        "fragmented-ping", "lone-continuation", "interleaved-messages", "too-big", "too-big-in-fragments"])
def test_what_a_client_may_not_send(stream: bytes, code: int) -> None:
    with pytest.raises(ProtocolError) as info:
        FrameParser(100).feed(stream)
    assert info.value.code == code


def test_an_oversized_frame_is_refused_from_its_header() -> None:
    """Before its payload arrives: a client cannot make the server buffer it."""
    header = client_frame(b"x" * 70_000)[:14]
    with pytest.raises(ProtocolError) as info:
        FrameParser(65536).feed(header)
    assert info.value.code == ws.TOO_BIG


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 100_000])
def test_server_frames_are_final_and_unmasked(size: int) -> None:
    payload = os.urandom(size)
    data = ws.frame(payload)
    assert data[0] == 0x80 | BINARY and not data[1] & 0x80
    if size < 126:
        head, length = 2, data[1]
    elif size < 65536:
        head, length = 4, struct.unpack("!H", data[2:4])[0]
    else:
        head, length = 10, struct.unpack("!Q", data[2:10])[0]
    assert data[1] & 0x7F == {2: size, 4: 126, 10: 127}[head]
    assert length == size and data[head:] == payload
    assert ws.frame("é")[0] == 0x80 | TEXT and ws.frame("é")[2:] == "é".encode()
    pieces = [payload[:size // 3], b"", payload[size // 3:]]
    assert ws.frame_of(pieces) == data
    assert ws.frame(b"", PING) == bytes([0x80 | PING, 0])


# -- parked sockets: read by reused reader greenlets ----------------------------------------------

DEADLINE = 10.0


class Parked:
    """A parked ServerSocket on one end of a gevent socket pair; the test writes the other end."""

    def __init__(self, handle: Any) -> None:
        self.client, server = gevent.socket.socketpair()
        self.received: list[bytes | str] = []
        self.closed = gevent.event.Event()
        self.server = server_socket.ServerSocket(server, lambda data: handle(self, data), self.closed.set,
                                      max_message_size=1 << 20)
        self.server.park()

    def send(self, payload: bytes) -> None:
        self.client.sendall(client_frame(payload))


def wait_for(condition: Any, what: str) -> None:
    with gevent.Timeout(DEADLINE, AssertionError(f"not within {DEADLINE} s: {what}")):
        while not condition():
            gevent.sleep(0.005)


def test_a_parked_socket_whose_handler_waits_holds_up_no_other() -> None:
    """As when a client writes to a kernel that is still starting: its reader waits, and
    another socket's message is handled meanwhile; then both go on."""
    release, waiting = gevent.event.Event(), gevent.event.Event()

    def handle(p: Parked, data: bytes | str) -> None:
        if data == b"wait":
            waiting.set()
            release.wait(DEADLINE)
        p.received.append(data)

    slow, fast = Parked(handle), Parked(handle)
    slow.send(b"wait")
    wait_for(waiting.is_set, "the slow socket's reader waiting in its handler")
    fast.send(b"one")
    wait_for(lambda: fast.received == [b"one"], "the other socket's message handled")
    assert slow.received == []
    release.set()
    wait_for(lambda: slow.received == [b"wait"], "the waiting handler finished")
    slow.send(b"two")  # the socket is watched again after its reader was held up
    fast.send(b"three")
    wait_for(lambda: slow.received == [b"wait", b"two"] and fast.received == [b"one", b"three"],
             "both sockets still read")
    for p in (slow, fast):
        p.client.close()
        wait_for(p.closed.is_set, "the close noticed")


def test_readers_are_reused_and_their_number_bounded() -> None:
    release = gevent.event.Event()
    busy: list[int] = []

    def handle(p: Parked, data: bytes | str) -> None:
        busy.append(1)
        if data == b"wait":
            release.wait(DEADLINE)
        p.received.append(data)

    sockets = [Parked(handle) for _ in range(server_socket._Readers.MAX_IDLE * 2)]
    for p in sockets:  # every reader held at once: one greenlet per socket
        p.send(b"wait")
    wait_for(lambda: len(busy) == len(sockets), "every message taken by a reader")
    release.set()
    wait_for(lambda: all(p.received == [b"wait"] for p in sockets), "every message handled")
    readers = server_socket._readers_here()
    assert len(readers.idle) == server_socket._Readers.MAX_IDLE  # the rest ended
    idle = list(readers.idle)
    for i in range(50):  # one at a time: the same reader each time, no new greenlet
        sockets[i % len(sockets)].send(b"x")
        wait_for(lambda: sum(len(p.received) for p in sockets) == len(sockets) + i + 1, "handled")
        assert sorted(map(id, readers.idle)) == sorted(map(id, idle))
    for p in sockets:
        p.client.close()
        wait_for(p.closed.is_set, "the close noticed")
