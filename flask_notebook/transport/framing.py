"""RFC 6455 frames, as a server writes and reads them after the handshake.

Written here rather than taken from wsproto for two measured reasons: a server frame is built
once and the same bytes go to every connection (``shared_frame``: fanning one kernel's iopub
out to N sockets is N writes, not N framings), and a parked idle socket keeps only a
``FrameParser`` (a few slots) where a ``wsproto.WSConnection`` keeps a state machine, a
buffer and a frame decoder per socket. No extension is negotiated on these sockets: one
configured for permessage-deflate is served by wsproto throughout (``simple.SimpleSocket``).
"""

from __future__ import annotations

import struct
from typing import Protocol

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
#: Close codes (RFC 6455 7.4.1).
NORMAL, GOING_AWAY, PROTOCOL_ERROR, INVALID_DATA, POLICY, TOO_BIG, SERVER_ERROR = \
    1000, 1001, 1002, 1007, 1008, 1009, 1011


class Closed(Exception):
    """The WebSocket is closed: nothing more can be written."""


class ProtocolError(Exception):
    """The client broke the protocol; the connection is closed with `code`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Shareable(Protocol):
    """A message that many sockets send alike (``core.messages.Msg``): it keeps the frames
    made of it, so that each is made once."""

    frames: dict[str | None, bytes] | None

    def encode(self, protocol: str | None) -> bytes | str:
        """The payload in `protocol`: text as ``str``, binary as ``bytes``."""
        ...

    def pieces(self, protocol: str | None) -> tuple[list[bytes], bool]:
        """The same payload as pieces to join, and whether it is text."""
        ...


def frame(payload: bytes | str, opcode: int | None = None) -> bytes:
    """One final, unmasked frame (server to client): binary for bytes, text for str."""
    if isinstance(payload, str):
        payload = payload.encode()
        opcode = TEXT if opcode is None else opcode
    elif opcode is None:
        opcode = BINARY
    return _head(opcode, len(payload)) + payload


def frame_of(pieces: list[bytes], opcode: int = BINARY) -> bytes:
    """``frame`` of the pieces' concatenation, joined once."""
    return b"".join([_head(opcode, sum(map(len, pieces))), *pieces])


def shared_frame(msg: Shareable, protocol: str | None) -> bytes:
    """`msg` as one whole frame in `protocol`, made on first use and kept on the message for
    every other connection with that protocol (header and payload joined in one copy)."""
    frames = msg.frames
    if frames is None:
        frames = msg.frames = {}
    data = frames.get(protocol)
    if data is None:
        pieces, text = msg.pieces(protocol)
        data = frames[protocol] = frame_of(pieces, TEXT if text else BINARY)
    return data


def close_payload(code: int, reason: str) -> bytes:
    """A close frame's payload: the code, and the reason cut to fit a control frame."""
    return struct.pack("!H", code) + reason.encode()[:120]


def _head(opcode: int, n: int) -> bytes:
    if n < 126:
        return struct.pack("!BB", 0x80 | opcode, n)
    if n < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, n)
    return struct.pack("!BBQ", 0x80 | opcode, 127, n)


def _unmask(data: bytes | bytearray, mask: bytes | bytearray) -> bytes:
    n = len(data)
    if not n:
        return b""
    key = int.from_bytes((bytes(mask) * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(data, "big") ^ key).to_bytes(n, "big")


class FrameParser:
    """Client frames in, whole messages and control frames out, whatever the chunking."""

    __slots__ = ("max_size", "_buf", "_opcode", "_parts", "_size")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._buf = bytearray()
        self._opcode: int | None = None  # of the fragmented message being received
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """(opcode, payload) for every message and control frame completed by `data`.

        :raises ProtocolError: on anything RFC 6455 forbids a client, or a message over
            `max_size` bytes.
        """
        buf = self._buf
        buf += data
        out: list[tuple[int, bytes]] = []
        pos = 0
        while len(buf) - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            fin, opcode, n = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
            if b0 & 0x70:
                raise ProtocolError(PROTOCOL_ERROR, "reserved bits set without an extension")
            if not b1 & 0x80:
                raise ProtocolError(PROTOCOL_ERROR, "an unmasked client frame")
            head = 2
            if n == 126:
                if len(buf) - pos < 4:
                    break
                n, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif n == 127:
                if len(buf) - pos < 10:
                    break
                n, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            if opcode >= 0x8:
                if opcode not in (CLOSE, PING, PONG):
                    raise ProtocolError(PROTOCOL_ERROR, f"unknown control opcode {opcode:#x}")
                if n > 125 or not fin:
                    raise ProtocolError(PROTOCOL_ERROR, "a control frame that is fragmented or too long")
            elif opcode not in (CONTINUATION, TEXT, BINARY):
                raise ProtocolError(PROTOCOL_ERROR, f"unknown data opcode {opcode:#x}")
            if self._size + n > self.max_size:
                raise ProtocolError(TOO_BIG, f"a message over {self.max_size} bytes")
            end = pos + head + 4 + n
            if len(buf) < end:
                break
            payload = _unmask(buf[pos + head + 4:end], buf[pos + head:pos + head + 4])
            pos = end
            if opcode >= 0x8:
                out.append((opcode, payload))
                continue
            if opcode == CONTINUATION:
                if self._opcode is None:
                    raise ProtocolError(PROTOCOL_ERROR, "a continuation frame with no message to continue")
            elif self._opcode is not None:
                raise ProtocolError(PROTOCOL_ERROR, "a new message before the last one ended")
            else:
                self._opcode = opcode
            if fin and not self._parts:  # the common case: a message in one frame
                out.append((self._opcode, payload))
            else:
                self._parts.append(payload)
                self._size += n
                if not fin:
                    continue
                out.append((self._opcode, b"".join(self._parts)))
                self._parts = []
                self._size = 0
            self._opcode = None
        if pos:
            del buf[:pos]
        return out
