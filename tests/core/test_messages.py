"""Kernel message framing and the relay's bounded queues, without a kernel."""

from __future__ import annotations

import json
import struct

import pytest

from flask_notebook.core import messages
from flask_notebook.core.channels import Gap, Outbox
from flask_notebook.core.messages import Malformed
from flask_notebook.transport import framing

from ..support.kernel_client import pack_v1, unpack_legacy, unpack_v1

HEADER = {"msg_id": "m1", "msg_type": "stream", "session": "s", "username": "u", "date": "", "version": "5.3"}


def zmq_frames(content: dict[str, object], *buffers: bytes, msg_type: str = "stream") -> list[bytes]:
    header = {**HEADER, "msg_type": msg_type}
    return [b"topic", messages.DELIM, b"hmac", json.dumps(header).encode(), b'{"msg_id": "p1", "msg_type": "x"}',
            b"{}", json.dumps(content).encode(), *buffers]


def test_v1_round_trip_matches_an_independent_client() -> None:
    msg = messages.from_zmq("iopub", zmq_frames({"text": "hi"}, b"\x00buf"))
    decoded = unpack_v1(msg.encode(messages.V1_PROTOCOL))
    assert decoded["channel"] == "iopub" and decoded["content"] == {"text": "hi"}
    assert decoded["buffers"] == [b"\x00buf"] and decoded["parent_header"]["msg_id"] == "p1"
    channel, parts = messages.decode_v1(pack_v1("shell", [b"{}", b"{}", b"{}", b'{"a": 1}', b"xyz"]))
    assert channel == "shell" and parts[3] == b'{"a": 1}' and parts[4] == b"xyz"


@pytest.mark.parametrize("size", [0, 200, 70_000])
def test_the_shared_v1_frame_is_the_v1_message_framed(size: int) -> None:
    msg = messages.from_zmq("iopub", zmq_frames({"text": "x" * size}, b"\x00buf"))
    frame = framing.shared_frame(msg, messages.V1_PROTOCOL)
    assert frame == framing.frame(messages.encode_v1("iopub", msg.parts))
    assert framing.shared_frame(msg, messages.V1_PROTOCOL) is frame  # made once
    head = 2 if len(frame) - 2 < 126 else 4 if len(frame) - 4 < 65536 else 10
    assert unpack_v1(frame[head:])["content"] == {"text": "x" * size}
    assert (msg.msg_type, msg.parent_msg_id, msg.sheddable) == ("stream", "p1", True)


def test_legacy_text_and_binary_frames() -> None:
    text = messages.from_zmq("iopub", zmq_frames({"text": "hi"})).encode(None)
    assert isinstance(text, str)
    decoded = unpack_legacy(text)
    assert decoded["msg_type"] == "stream" and decoded["msg_id"] == "m1" and decoded["channel"] == "iopub"
    assert decoded["content"] == {"text": "hi"} and decoded["buffers"] == []
    binary = messages.from_zmq("iopub", zmq_frames({"x": 1}, b"ab", b"cde")).encode(None)
    assert isinstance(binary, bytes)
    assert unpack_legacy(binary)["buffers"] == [b"ab", b"cde"]
    # A client's binary frame: u32 big-endian count and offsets, JSON without "buffers".
    body = json.dumps({"header": HEADER, "parent_header": {}, "metadata": {}, "content": {}, "channel": "shell"})
    pieces = [body.encode(), b"B1"]
    frame = struct.pack(">3I", 2, 12, 12 + len(pieces[0])) + b"".join(pieces)
    channel, parts, header = messages.decode_legacy(frame)
    assert channel == "shell" and parts[4] == b"B1" and header["msg_id"] == "m1"


@pytest.mark.parametrize("frame", [
    b"", b"\x01", struct.pack("<Q", 3), struct.pack("<Q", 6) + b"\x00" * 8,
    struct.pack("<7Q", 6, 56, 57, 58, 59, 60, 999) + b"x" * 4,
])
def test_malformed_v1_frames_are_refused(frame: bytes) -> None:
    with pytest.raises(Malformed):
        messages.decode_v1(frame)


@pytest.mark.parametrize("frame", ["not json", "[]", '{"content": {}}', '{"header": {}, "channel": 3}',
                                   b"\x00\x00", struct.pack(">2I", 1, 99)])
def test_malformed_legacy_frames_are_refused(frame: bytes | str) -> None:
    with pytest.raises(Malformed):
        messages.decode_legacy(frame)


def test_zmq_messages_without_delimiter_are_refused() -> None:
    with pytest.raises(Malformed):
        messages.from_zmq("iopub", [b"a", b"b", b"c", b"d"])


def test_outbox_sheds_only_output_and_marks_the_gap() -> None:
    outbox = Outbox(limit=1000, why="testing")
    stream = messages.from_zmq("iopub", zmq_frames({"text": "x" * 600}))
    status = messages.from_zmq("iopub", zmq_frames({"execution_state": "idle"}, msg_type="status"))
    reply = messages.from_zmq("shell", zmq_frames({"status": "ok"}, msg_type="execute_reply"))
    outbox.put(stream)
    outbox.put(stream)  # over the limit: shed
    outbox.put(stream)  # counted in the same gap
    outbox.put(status)  # never shed
    outbox.put(reply)
    items = list(outbox.items)
    assert items[0] is stream and isinstance(items[1], Gap) and items[2:] == [status, reply]
    gap = items[1]
    assert isinstance(gap, Gap) and gap.count == 2
    notice = gap.notice("client-session")
    assert notice.header["session"] == "client-session" and notice.parent["msg_id"] == "p1"
    assert "2 output messages" in notice.content()["text"] and "testing" in notice.content()["text"]
