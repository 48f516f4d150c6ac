"""A small terminal WebSocket client for the tests (terminado's JSON-array protocol), and a
check that a process is gone. Every wait has a deadline."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import websocket

from .env import TOKEN


class Disconnected(Exception):
    """The server said ``["disconnect", 1]``: the terminal has ended."""


class TerminalSocket:
    """One WebSocket to a terminal. `messages` keeps every message read; `output` all stdout.

    Every socket opened is closed by `close_all` (an autouse fixture calls it after each test).
    """

    opened: list[TerminalSocket] = []

    def __init__(self, url: str, name: str, *, token: str | None = TOKEN, header: list[str] | None = None,
                 timeout: float = 10, **kwargs: Any) -> None:
        auth = [f"Authorization: token {token}"] if token else []
        self.ws = websocket.create_connection(url.replace("http", "ws", 1) + f"terminals/websocket/{name}",
                                              header=[*auth, *(header or [])], timeout=timeout, **kwargs)
        TerminalSocket.opened.append(self)
        self.messages: list[list[Any]] = []
        self.output = ""

    def send(self, *message: Any) -> None:
        self.ws.send(json.dumps(list(message)))

    def type(self, text: str) -> None:
        self.send("stdin", text)

    def next(self, timeout: float = 10) -> list[Any]:
        self.ws.settimeout(timeout)
        opcode, data = self.ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise websocket.WebSocketConnectionClosedException("the server closed the socket")
        assert opcode == websocket.ABNF.OPCODE_TEXT, opcode  # the protocol's frames are all text
        message = json.loads(data)
        self.messages.append(message)
        if message[0] == "stdout":
            self.output += message[1]
        return message  # type: ignore[no-any-return]

    def until(self, pattern: str, timeout: float = 15) -> re.Match[str]:
        """Read until the output (all of it, from the start) matches `pattern`.

        :raises Disconnected: the terminal ended first.
        """
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.output)
            if match:
                return match
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise websocket.WebSocketTimeoutException()
                if self.next(left)[0] == "disconnect":
                    raise Disconnected(self.output[-2000:])
            except websocket.WebSocketTimeoutException:
                raise AssertionError(f"{pattern!r} not in the output within {timeout} s:\n{self.output[-2000:]!r}") \
                    from None

    def run(self, command: str, timeout: float = 15) -> str:
        """Type `command` and return what it printed: between two markers the shell computes,
        so the echo of the typed line never matches."""
        mark = f"m{time.monotonic_ns()}"
        self.type(f"echo {mark}-$((1+1)); {command}; echo {mark}-$((2+2))\r")
        return self.until(rf"(?s){mark}-2\r\n(.*?){mark}-4\r\n", timeout).group(1)

    def until_closed(self, timeout: float = 10) -> list[list[Any]]:
        """Messages until the server closes the socket."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.next(max(0.01, deadline - time.monotonic()))
            except websocket.WebSocketConnectionClosedException:
                return self.messages
            if time.monotonic() > deadline:
                raise AssertionError(f"the socket was still open after {timeout} s")

    def close(self) -> None:
        self.ws.close()

    @classmethod
    def close_all(cls) -> None:
        for term in cls.opened:
            term.ws.shutdown()
        cls.opened.clear()


def alive(pid: int) -> bool:
    """Whether `pid` is a running process (not gone, not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # gone, or reaped while being read
        return False
