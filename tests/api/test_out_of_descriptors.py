"""Running out of file descriptors is a passing state the client is told of: 503 with a JSON
body and ``Retry-After``, not a 500 (issue 17, section 1).

The want is real: this process's open-file limit is lowered, and filled, for the request.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ..support.responses import assert_error


@contextmanager
def no_descriptors_left() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 16, hard))
    held: list[int] = []
    try:
        while True:
            try:
                held.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                break
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def assert_out_of_descriptors(response: TestResponse) -> None:
    body = assert_error(response, 503, "The server has run out of file descriptors; try again shortly")
    assert body["reason"] == "too many open files"
    assert response.headers["Retry-After"] == "1"


def test_a_file_that_cannot_be_opened_for_want_of_descriptors_is_503(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("hello")
    with no_descriptors_left():
        response = client.get("/api/contents/a.txt")  # (was a 500, "Unhandled error")
    assert_out_of_descriptors(response)
    assert client.get("/api/contents/a.txt").json["content"] == "hello"


def test_a_directory_that_cannot_be_listed_for_want_of_descriptors_is_503(client: FlaskClient, root: Path) -> None:
    (root / "sub").mkdir()
    with no_descriptors_left():
        response = client.get("/api/contents/sub")
    assert_out_of_descriptors(response)


def test_a_kernel_that_cannot_be_started_for_want_of_descriptors_is_503(client: FlaskClient) -> None:
    with no_descriptors_left():
        response = client.post("/api/kernels", json={})  # (was a 500)
    assert_out_of_descriptors(response)
    assert client.get("/api/kernels").json == []
