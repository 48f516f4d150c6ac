"""Kernel ids and kernel messages from clients, malformed (issue 17, section 2).

jupyter_server 2.21.1 takes any ``kernel_id`` in a POST /api/kernels body (it names the
connection file); its URLs take five ``\\w+`` words joined by dashes, matched against the
still-encoded path, so ``%0A`` never matches there. We take the same pattern, matched whole:
``$`` also matches before a final newline, and ``"a-b-c-d-e\\n"`` was started, with a
newline in its connection file's name.
"""

from __future__ import annotations

import json
import uuid

import pytest
import websocket

from ..support.env import TOKEN
from ..support.server import Server


@pytest.mark.parametrize("bad_id", ["a-b-c-d-e\n", "a-b-c-d-e\r\n", "../a-b-c-d-e", "a-b-c-d-e/x", "a-b-c-d", "a-b-c-d-é"])
def test_a_kernel_id_that_is_not_five_words_whole_is_400(server: Server, bad_id: str) -> None:
    before = sorted(server.runtime_dir.iterdir())
    for method, path, body in (("POST", "api/kernels", {"kernel_id": bad_id}),
                               ("POST", "api/sessions", {"path": "k.ipynb", "type": "notebook",
                                                         "kernel": {"id": bad_id}})):
        response = server.request(method, path, json=body)
        assert response.status_code == 400, response.text
        assert response.json() == {"message": f"{bad_id!r} is not a valid kernel id", "reason": None}
    assert server.json("GET", "api/kernels", 200) == []
    assert sorted(server.runtime_dir.iterdir()) == before


def test_a_session_patched_to_a_malformed_kernel_id_is_400(server: Server, kernel_id: str) -> None:
    session = server.json("POST", "api/sessions", 201, json={"path": "p.ipynb", "type": "notebook",
                                                              "kernel": {"id": kernel_id}})
    try:
        for bad_id in ([kernel_id], {"id": kernel_id}, kernel_id + "\n"):  # a list was a 500 (unhashable)
            response = server.request("PATCH", f"api/sessions/{session['id']}", json={"kernel": {"id": bad_id}})
            assert response.status_code == 400, response.text
        assert server.json("GET", f"api/sessions/{session['id']}", 200)["kernel"]["id"] == kernel_id
    finally:
        server.request("DELETE", f"api/sessions/{session['id']}")


def test_a_kernel_url_with_a_newline_after_the_id_is_404(server: Server, kernel_id: str) -> None:
    for method, suffix in (("GET", ""), ("POST", "/interrupt"), ("POST", "/execute"), ("GET", "/requests"),
                           ("GET", "/channels")):
        response = server.request(method, f"api/kernels/{kernel_id}%0A{suffix}", json={"code": "1"})
        assert response.status_code == 404, (suffix, response.text)
        assert response.json()["message"] == f"Kernel does not exist: {kernel_id}\n"
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(server.url.replace("http", "ws", 1) + f"api/kernels/{kernel_id}%0A/channels",
                                    header=[f"Authorization: token {TOKEN}"], timeout=10)
    assert info.value.status_code == 404


def test_a_message_nested_past_what_can_be_relayed_is_dropped_and_the_socket_stays(server: Server,
                                                                                    kernel_id: str) -> None:
    """orjson reads 1024 levels but writes only 254: re-encoding such a legacy message raised
    out of the socket's handler, which closed the socket (and logged an error)."""
    client = server.client(kernel_id, protocol=None)
    for depth in (300, 1000, 5000):
        msg = {"header": {"msg_id": uuid.uuid4().hex, "msg_type": "comm_msg", "session": client.session_id,
                          "username": "test", "date": "", "version": "5.3"},
               "parent_header": {}, "metadata": {}, "channel": "shell", "content": {"comm_id": "c", "data": None}}
        client.ws.send(json.dumps(msg).replace('"data": null', '"data": ' + "[" * depth + "]" * depth))
        assert client.request("kernel_info_request", channel="shell")["msg_type"] == "kernel_info_reply"
    log = server.log()
    assert "a message nested more than 254 levels deep" in log
    assert "closing a kernel WebSocket after an error" not in log
