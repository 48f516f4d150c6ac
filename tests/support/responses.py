"""Assertions on the API's error bodies: ``{"message": str, "reason": str | None}``."""

from __future__ import annotations

from typing import Any

import requests
from werkzeug.test import TestResponse


def assert_error(response: TestResponse, status: int, message: str | None = None) -> dict[str, Any]:
    """An error with `status` whose body is exactly ``{"message": str, "reason": str | None}``
    (a response of Flask's test client)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"message", "reason"}
    assert isinstance(body["message"], str) and body["message"]
    assert body["reason"] is None or isinstance(body["reason"], str)
    if message is not None:
        assert body["message"] == message
    return body


def assert_json_error(response: requests.Response, status: int, contains: str = "") -> dict[str, object]:
    """An error with `status` from a live server, with at least ``message`` (holding
    `contains`) and ``reason``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert {"message", "reason"} <= set(body) and contains in body["message"], body
    return body  # type: ignore[no-any-return]
