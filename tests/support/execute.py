"""REST execution (``POST /api/kernels/<id>/execute``): requests, records, event streams."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from .server import LiveServer


def execute(srv: LiveServer, kernel_id: str, code: str, status: int = 200, *, params: dict[str, str] | None = None,
            headers: dict[str, str] | None = None, **body: Any) -> requests.Response:
    response = srv.request("POST", f"api/kernels/{kernel_id}/execute", json={"code": code, **body},
                           params=params, headers=headers or {})
    assert response.status_code == status, (response.status_code, response.text)
    return response


def stdout(record: dict[str, Any]) -> str:
    return "".join(o["text"] for o in record["outputs"] if o["output_type"] == "stream" and o["name"] == "stdout")


def result(record: dict[str, Any]) -> str | None:
    for output in record["outputs"]:
        if output["output_type"] == "execute_result":
            return str(output["data"]["text/plain"])
    return None


def events(response: requests.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a Server-Sent Events response, as they arrive."""
    name, data = "message", []
    for line in response.iter_lines(decode_unicode=True):
        if line == "":
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
        elif line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            data.append(line[len("data: "):])


def wait_file(path: Path) -> str:
    """Code that blocks until the test creates `path` (so a test decides when it ends)."""
    return f"import os, time\nwhile not os.path.exists({str(path)!r}):\n    time.sleep(0.02)\n"
