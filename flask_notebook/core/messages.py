"""Kernel messages between ZMQ and the WebSocket: one parsed-once record, and both wire formats.

A message from the kernel is kept as its raw ZMQ parts (header, parent_header, metadata,
content, buffers...). Only the header and the parent header are parsed, for routing and state
tracking; the content passes through untouched. Encodings for the two WebSocket protocols are
made on first use and shared by every connection that receives the message (contract 9.3, 9.4);
so are the WebSocket frames the transport makes of them (``frames``), but framing is the
transport's (``flask_notebook.transport.framing``): nothing here knows RFC 6455.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

DELIM = b"<IDS|MSG>"
V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"
CHANNELS = ("shell", "control", "stdin", "iopub")

#: iopub types that may be shed from a connection that cannot keep up (with a notice):
#: pure output. Status, replies, input requests, errors and results are never dropped.
SHEDDABLE = frozenset({"stream", "display_data", "update_display_data"})


class Malformed(ValueError):
    """A client frame that is not a kernel message in the connection's protocol."""


class Msg:
    """One kernel message: channel, raw parts, the two parsed headers, and what routing and
    state tracking read of them (taken once: every message is looked at several times)."""

    __slots__ = ("channel", "parts", "header", "parent", "size", "msg_type", "parent_msg_id", "sheddable",
                 "frames", "_v1", "_legacy")

    def __init__(self, channel: str, parts: list[bytes], header: dict[str, Any], parent: dict[str, Any]) -> None:
        self.channel = channel
        self.parts = parts
        self.header = header
        self.parent = parent
        self.size = sum(map(len, parts))
        msg_type = header.get("msg_type", "")
        self.msg_type: str = msg_type if isinstance(msg_type, str) else str(msg_type)
        msg_id = parent.get("msg_id")
        self.parent_msg_id: str | None = msg_id if isinstance(msg_id, str) else None
        #: Pure output, which a connection that cannot keep up may shed (with a notice).
        self.sheddable: bool = channel == "iopub" and self.msg_type in SHEDDABLE
        self._v1: bytes | None = None
        self._legacy: bytes | str | None = None
        #: The transport's frames of this message, by protocol: made once, for every connection.
        self.frames: dict[str | None, bytes] | None = None

    def content(self) -> dict[str, Any]:
        """Parsed on demand: only small messages (status) need it."""
        value = orjson.loads(self.parts[3])
        return value if isinstance(value, dict) else {}

    def encode(self, protocol: str | None) -> bytes | str:
        if protocol == V1_PROTOCOL:
            if self._v1 is None:
                self._v1 = encode_v1(self.channel, self.parts)
            return self._v1
        if self._legacy is None:
            self._legacy = encode_legacy(self.channel, self.parts, self.header)
        return self._legacy

    def pieces(self, protocol: str | None) -> tuple[list[bytes], bool]:
        """What ``encode`` gives, as pieces to join, and whether it is text: for a transport
        that joins them once with its frame header. Its frame then holds the message, so the
        encoding ``encode`` kept is let go."""
        if protocol == V1_PROTOCOL:
            self._v1 = None
            return _v1_pieces(self.channel, self.parts), False
        data = self.encode(protocol)
        self._legacy = None
        if isinstance(data, str):
            return [data.encode()], True
        return [data], False


def from_zmq(channel: str, frames: list[bytes]) -> Msg:
    """A message as received from a kernel socket: identities, delimiter and HMAC dropped.

    :raises Malformed: no delimiter, or fewer than four parts after the signature.
    """
    try:
        start = frames.index(DELIM) + 2
    except ValueError:
        raise Malformed("no <IDS|MSG> delimiter") from None
    parts = frames[start:]
    if len(parts) < 4:
        raise Malformed("fewer than four message parts")
    return Msg(channel, parts, _loads_dict(parts[0]), _loads_dict(parts[1]))


def make(channel: str, header: dict[str, Any], parent: dict[str, Any], content: dict[str, Any],
         metadata: dict[str, Any] | None = None) -> Msg:
    """A message the server makes itself (a status or a notice)."""
    parts = [orjson.dumps(header), orjson.dumps(parent), orjson.dumps(metadata or {}), orjson.dumps(content)]
    return Msg(channel, parts, header, parent)


def _loads_dict(raw: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Malformed("a header that is not JSON") from None
    if not isinstance(value, dict):
        raise Malformed("a header that is not a JSON object")
    return value


# -- v1.kernel.websocket.jupyter.org ------------------------------------------------------


def encode_v1(channel: str, parts: list[bytes]) -> bytes:
    """`u64le N`, N u64le offsets (channel first, then each part's end), the payload."""
    return b"".join(_v1_pieces(channel, parts))


def _v1_pieces(channel: str, parts: list[bytes]) -> list[bytes]:
    """A v1 message as the pieces to join: offsets, channel, parts."""
    name = channel.encode()
    n = len(parts) + 2
    offsets = [8 * (n + 1)]
    offsets.append(offsets[0] + len(name))
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    return [struct.pack(f"<{n + 1}Q", n, *offsets), name, *parts]


def decode_v1(data: bytes) -> tuple[str, list[bytes]]:
    """(channel, parts) from a v1 frame.

    :raises Malformed: offsets that do not describe the frame.
    """
    if len(data) < 8:
        raise Malformed("a v1 frame shorter than its header")
    (n,) = struct.unpack_from("<Q", data)
    if not 6 <= n <= 1 + 4 + 65536 or len(data) < 8 * (n + 1):
        raise Malformed("a v1 frame with an impossible offset count")
    offsets = struct.unpack_from(f"<{n}Q", data, 8)
    if offsets[0] != 8 * (n + 1) or offsets[-1] != len(data) or any(a > b for a, b in zip(offsets, offsets[1:])):
        raise Malformed("v1 offsets that do not fit the frame")
    try:
        channel = data[offsets[0]:offsets[1]].decode()
    except UnicodeDecodeError:
        raise Malformed("a channel name that is not UTF-8") from None
    parts = [data[a:b] for a, b in zip(offsets[1:], offsets[2:])]
    return channel, parts


# -- legacy JSON --------------------------------------------------------------------------


def encode_legacy(channel: str, parts: list[bytes], header: dict[str, Any]) -> bytes | str:
    """The legacy message: a text frame of JSON, or a binary frame when there are buffers.

    The JSON is spliced from the parts as they came from the kernel, so the content (which
    may be megabytes) is never parsed or re-serialised.
    """
    extra = b'"channel":' + orjson.dumps(channel) + b',"msg_id":' + orjson.dumps(header.get("msg_id", "")) + \
        b',"msg_type":' + orjson.dumps(header.get("msg_type", ""))
    body = b'{"header":' + parts[0] + b',"parent_header":' + parts[1] + b',"metadata":' + parts[2] + \
        b',"content":' + parts[3]
    buffers = parts[4:]
    if not buffers:
        return (body + b',"buffers":[],' + extra + b"}").decode()
    first = body + b"," + extra + b"}"
    nbufs = 1 + len(buffers)
    offsets = [4 * (nbufs + 1)]
    for piece in (first, *buffers[:-1]):
        offsets.append(offsets[-1] + len(piece))
    return b"".join([struct.pack(f">{nbufs + 1}I", nbufs, *offsets), first, *buffers])


def decode_legacy(data: bytes | str) -> tuple[str, list[bytes], dict[str, Any]]:
    """(channel, parts, header) from a legacy text or binary frame.

    :raises Malformed: not JSON, not an object, missing header, or bad binary offsets.
    """
    buffers: list[bytes] = []
    if isinstance(data, bytes):
        if len(data) < 8:
            raise Malformed("a binary frame shorter than its header")
        (nbufs,) = struct.unpack_from(">I", data)
        if not 1 <= nbufs <= 65536 or len(data) < 4 * (nbufs + 1):
            raise Malformed("a binary frame with an impossible buffer count")
        offsets = [*struct.unpack_from(f">{nbufs}I", data, 4), len(data)]
        if any(a > b for a, b in zip(offsets, offsets[1:])) or offsets[0] != 4 * (nbufs + 1):
            raise Malformed("binary offsets that do not fit the frame")
        pieces = [data[a:b] for a, b in zip(offsets, offsets[1:])]
        json_part, buffers = pieces[0], pieces[1:]
    else:
        json_part = data.encode()
    try:
        msg = orjson.loads(json_part)
    except orjson.JSONDecodeError:
        raise Malformed("a frame that is not JSON") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("header"), dict):
        raise Malformed("a message without a header object")
    channel = msg.get("channel") or "shell"
    if not isinstance(channel, str):
        raise Malformed("a channel that is not a string")
    header = msg["header"]
    try:
        parts = [orjson.dumps(header), orjson.dumps(msg.get("parent_header") or {}),
                 orjson.dumps(msg.get("metadata") or {}), orjson.dumps(msg.get("content") or {}), *buffers]
    except orjson.JSONEncodeError:  # orjson reads 1024 levels but writes 254: the socket stays up
        raise Malformed("a message nested more than 254 levels deep") from None
    return channel, parts, header


def header_of(parts: list[bytes]) -> dict[str, Any]:
    """The parsed header of a client message (v1), for routing its reply.

    :raises Malformed: fewer than four parts, or a header that is not a JSON object.
    """
    if len(parts) < 4:
        raise Malformed("fewer than four message parts")
    return _loads_dict(parts[0])
