"""Chunked uploads under hostile conditions (issue 17, section 3): two at once to one name,
out of order, a write that fails, an upload abandoned half-way.

jupyter_server 2.21.1 writes chunk 1 over the target itself and appends every later chunk to
it: two uploads to one name interleave into one file, a failed chunk leaves the target
half-written. Ours collect in a hidden partial file beside the target (``core/uploads.py``).
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ..support.responses import assert_error
from ..support.server import LiveServer
from ..support.waiting import wait_for

API = "/api/contents"


def chunk(data: bytes, number: int) -> dict[str, Any]:
    return {"type": "file", "format": "base64", "content": base64.b64encode(data).decode(), "chunk": number}


def partials(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.startswith(".~"))


def test_a_second_upload_to_the_same_name_is_409_and_never_interleaves(client: FlaskClient, root: Path) -> None:
    assert client.put(f"{API}/big.bin", json=chunk(b"A1.", 1)).status_code == 201
    second = client.put(f"{API}/big.bin", json=chunk(b"B1.", 1))
    assert assert_error(second, 409)["reason"] == "upload in progress"
    assert second.json["message"].startswith("An upload of big.bin is under way")
    assert client.put(f"{API}/big.bin", json=chunk(b"A2.", 2)).status_code == 200
    assert client.put(f"{API}/big.bin", json=chunk(b"A3", -1)).status_code == 200
    assert (root / "big.bin").read_bytes() == b"A1.A2.A3"
    # Once it is done, the next upload to the name goes ahead.
    assert client.put(f"{API}/big.bin", json=chunk(b"B1.", 1)).status_code == 200
    assert client.put(f"{API}/big.bin", json=chunk(b"B2", -1)).status_code == 200
    assert (root / "big.bin").read_bytes() == b"B1.B2" and partials(root) == []


def test_chunks_out_of_order_are_409_and_change_nothing(client: FlaskClient, root: Path) -> None:
    assert client.put(f"{API}/f.bin", json=chunk(b"1", 1)).status_code == 201
    for number in (3, 1, 7):
        assert_error(client.put(f"{API}/f.bin", json=chunk(b"x", number)), 409)
    assert client.put(f"{API}/f.bin", json=chunk(b"2", 2)).status_code == 200
    assert_error(client.put(f"{API}/f.bin", json=chunk(b"x", 2)), 409,
                 "Chunk 2 of f.bin is out of order: the upload expects chunk 3, or -1 for the last")
    assert client.put(f"{API}/f.bin", json=chunk(b"3", -1)).status_code == 200
    assert (root / "f.bin").read_bytes() == b"123"


def test_an_abandoned_upload_is_dropped_and_its_partial_removed(app: Flask, client: FlaskClient, root: Path) -> None:
    uploads = app.extensions["notebook"].contents.uploads
    uploads.idle_timeout = 0.2  # the default is two minutes
    assert client.put(f"{API}/gone.bin", json=chunk(b"half", 1)).status_code == 201
    assert partials(root) == [".~upload-gone.bin"]
    # Every chunk and delete the server gets looks for abandoned uploads.
    wait_for(lambda: client.delete(f"{API}/nothing.txt").status_code == 404 and partials(root) == [], timeout=10)
    assert_error(client.put(f"{API}/gone.bin", json=chunk(b"rest", -1)), 400)
    assert not (root / "gone.bin").exists()
    assert client.put(f"{API}/gone.bin", json=chunk(b"again", 1)).status_code == 201  # not 409


def test_delete_cancels_an_upload_and_removes_a_partial_left_by_a_crash(client: FlaskClient, root: Path) -> None:
    assert client.put(f"{API}/up.bin", json=chunk(b"1", 1)).status_code == 201
    assert client.delete(f"{API}/up.bin").status_code == 204  # no file yet: the upload was all there was
    assert partials(root) == []
    assert_error(client.put(f"{API}/up.bin", json=chunk(b"2", -1)), 400)
    # A partial no upload of this server knows: a server that was killed mid-upload.
    (root / ".~upload-old.bin").write_bytes(b"left over")
    assert client.delete(f"{API}/old.bin").status_code == 204 and partials(root) == []
    (root / ".~upload-old.bin").write_bytes(b"left over")
    assert client.put(f"{API}/old.bin", json=chunk(b"new", 1)).status_code == 201  # taken over, not 409
    assert client.put(f"{API}/old.bin", json=chunk(b"!", -1)).status_code == 200
    assert (root / "old.bin").read_bytes() == b"new!"
    # A file and an upload replacing it: both go.
    assert client.put(f"{API}/old.bin", json=chunk(b"newer", 1)).status_code == 200
    assert client.delete(f"{API}/old.bin").status_code == 204
    assert sorted(os.listdir(root)) == []
    assert_error(client.delete(f"{API}/old.bin"), 404)


def test_delete_with_upload_query_cancels_only_the_upload(client: FlaskClient, root: Path) -> None:
    """Ours (the UI's Cancel): the upload goes at once, the file it was replacing stays."""
    (root / "keep.bin").write_bytes(b"old")
    assert client.put(f"{API}/keep.bin", json=chunk(b"new-1.", 1)).status_code == 200
    assert client.delete(f"{API}/keep.bin?upload=1").status_code == 204
    assert partials(root) == [] and (root / "keep.bin").read_bytes() == b"old"
    assert_error(client.put(f"{API}/keep.bin", json=chunk(b"new-2", -1)), 400)  # it is over
    assert_error(client.delete(f"{API}/keep.bin?upload=1"), 404, "No upload to keep.bin is under way")
    assert_error(client.delete(f"{API}/keep.bin?upload=yes"), 400)
    assert (root / "keep.bin").read_bytes() == b"old"
    # Sent again at once: not 409 for the cancelled one.
    assert client.put(f"{API}/keep.bin", json=chunk(b"new-1.", 1)).status_code == 200
    assert client.put(f"{API}/keep.bin", json=chunk(b"new-2", -1)).status_code == 200
    assert (root / "keep.bin").read_bytes() == b"new-1.new-2"


def test_partials_left_by_an_earlier_server_go_when_their_folder_is_listed(client: FlaskClient, root: Path) -> None:
    """A server killed mid-upload leaves its hidden partial; the next one removes it once it
    has been left alone for the idle timeout, and keeps one that may still be written."""
    sub = root / "sub"
    sub.mkdir()
    (sub / ".~upload-old.bin").write_bytes(b"left over")
    hours_ago = os.stat(sub).st_mtime - 3 * 3600
    os.utime(sub / ".~upload-old.bin", (hours_ago, hours_ago))
    (sub / ".~upload-fresh.bin").write_bytes(b"maybe another process's, under way")
    (sub / ".~upload-dir").mkdir()  # not a partial of ours: a folder is never removed
    os.utime(sub / ".~upload-dir", (hours_ago, hours_ago))
    assert client.get(f"{API}/sub").status_code == 200
    assert partials(sub) == [".~upload-dir", ".~upload-fresh.bin"]
    # A chunk into a folder sweeps it too.
    (root / ".~upload-old.bin").write_bytes(b"left over")
    os.utime(root / ".~upload-old.bin", (hours_ago, hours_ago))
    assert client.put(f"{API}/other.bin", json=chunk(b"1", 1)).status_code == 201
    assert partials(root) == [".~upload-other.bin"]


class SizeLimitedServer(LiveServer):
    """The real server with files limited to `FILE_LIMIT` bytes (RLIMIT_FSIZE): a write
    past it fails with EFBIG, as one fails on a full disk (Python ignores SIGXFSZ)."""

    FILE_LIMIT = 4 << 20

    def command(self, root: Path, args: list[str]) -> list[str]:
        limit = ("import os, resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, "
                 f"({self.FILE_LIMIT}, {self.FILE_LIMIT})); os.execv(sys.executable, sys.argv[1:])")
        return [sys.executable, "-c", limit, *super().command(root, args)]


@pytest.fixture
def limited_server(tmp_path: Path, root: Path) -> Iterator[LiveServer]:
    server = SizeLimitedServer(root, tmp_path / "limited.log", [], dict(os.environ))
    yield server
    server.stop()


@pytest.mark.live
def test_a_chunk_that_fails_to_be_written_removes_its_partial(limited_server: LiveServer, root: Path) -> None:
    (root / "big.bin").write_bytes(b"old")
    put = lambda data, number: limited_server.request("PUT", f"{API}/big.bin", json=chunk(data, number))  # noqa: E731
    assert put(b"x" * (3 << 20), 1).status_code == 200
    failed = put(b"y" * (2 << 20), 2)  # the partial would pass 4 MB
    assert failed.status_code == 500, failed.text
    assert failed.json() == {"message": "Unexpected error while saving file: big.bin File too large", "reason": None}
    assert partials(root) == [] and (root / "big.bin").read_bytes() == b"old"
    assert put(b"z", -1).status_code == 400  # the upload is over
    assert put(b"small", 1).status_code == 200 and put(b"!", -1).status_code == 200  # a new one goes ahead
    assert (root / "big.bin").read_bytes() == b"small!"
