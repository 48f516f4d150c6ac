"""REST execution tests: the kernel tests' live server, and helpers for records and event streams."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import requests

from ..kernels.conftest import Server, kernel_id, make_server, server  # noqa: F401 (fixtures)


def execute(srv: Server, kernel_id: str, code: str, status: int = 200, *, params: dict[str, str] | None = None,
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
