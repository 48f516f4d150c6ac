"""The events WebSocket (``/api/events/subscribe``): subscribing, posting, reading frames."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import requests
import websocket

from .env import TOKEN
from .server import LiveServer

KA = "https://events.jupyter.org/jupyter_server/kernel_actions/v1"
CS = "https://events.jupyter.org/jupyter_server/contents_service/v1"
#: How a marker event's frame (``subscribe``, ``frames_before_marker``) begins.
MARKER_PREFIX = f'{{"schema_id": "{CS}", "action": "get", "path": "marker-'.encode()


def events_url(server: LiveServer) -> str:
    return server.url.replace("http", "ws", 1) + "api/events/subscribe"


def subscribe(server: LiveServer, **options: Any) -> websocket.WebSocket:
    options.setdefault("header", [f"Authorization: token {TOKEN}"])
    ws = websocket.create_connection(events_url(server), timeout=30, **options)
    # The server has registered the subscriber once a posted event comes back.
    marker = {"action": "get", "path": f"marker-{time.monotonic_ns()}"}
    assert post_event(server, marker).status_code == 204
    assert json.loads(ws.recv()) == {"schema_id": CS, **marker}
    return ws


def post_event(server: LiveServer, data: dict[str, Any]) -> requests.Response:
    return server.request("POST", "api/events", json={"schema_id": CS, "version": "1", "data": data})


def read_frames(ws: websocket.WebSocket, count: int) -> list[str]:
    """The next `count` text frames, but for other subscribers' markers (``subscribe``)."""
    frames = []
    while len(frames) < count:
        opcode, data = ws.recv_data()
        assert opcode == websocket.ABNF.OPCODE_TEXT
        if not data.startswith(MARKER_PREFIX):
            frames.append(data.decode())
    return frames


def frames_before_marker(server: LiveServer, ws: websocket.WebSocket) -> list[str]:
    """Posts a marker event and reads up to it: the frames that came first, but for other
    subscribers' markers (``subscribe``). Empty: what was expected is all there was (the marker
    comes after anything the server sent before it)."""
    marker = {"action": "get", "path": f"marker-{uuid.uuid4().hex}"}
    assert post_event(server, marker).status_code == 204
    frames = []
    while True:
        opcode, data = ws.recv_data()  # the socket's timeout (30 s, ``subscribe``) is the deadline
        assert opcode == websocket.ABNF.OPCODE_TEXT
        if json.loads(data) == {"schema_id": CS, **marker}:
            return frames
        if not data.startswith(MARKER_PREFIX):
            frames.append(data.decode())


def kernel_frame(action: str, kernel_id: str, done: str) -> str:
    return json.dumps({"schema_id": KA, "kernel_name": "python3", "action": action, "status": "success",
                       "msg": f"Kernel {kernel_id} was {done}.", "kernel_id": kernel_id})
