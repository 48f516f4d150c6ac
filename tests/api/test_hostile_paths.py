"""No path reaches outside the contents root, however it is spelled.

Every hostile path is sent through every operation that takes a path (read, download,
save, mkdir, upload chunk, new, copy to and from, rename to and from, delete,
checkpoints, trust). Paths we refuse must get 400 or 404 and change nothing anywhere;
paths that are legal names inside the root (fullwidth dots, backslashes on POSIX, ...)
may be used, but must stay confined. No response may ever carry the secret's bytes.

A few encoded cases are repeated against the real server: the Flask test client and
gevent's WSGI server decode `%2F` the same way, which is exactly what needs checking.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from flask.testing import FlaskClient

from ..support.env import AUTH
from ..support.server import LiveServer

SECRET = b"TOP-SECRET-7f3a9c-never-serve-me"
SECRET_MARKERS = (SECRET, base64.b64encode(SECRET)[:24])
VICTIM = b"victim bytes\n"

#: Refused outright: every operation answers 400 or 404 and nothing changes, in or out.
REFUSED = [
    # plain traversal
    "../secret.txt",
    "..",
    "./../secret.txt",
    "a/../../secret.txt",
    "sub/../../secret.txt",
    "victim.txt/../../secret.txt",
    "../outside/secret.txt",
    "../root/victim.txt",
    "./victim.txt",
    "a/./b",
    "../rootx/secret.txt",
    "inner/../../secret.txt",
    # percent-encoded separators and dots
    "..%2Fsecret.txt",
    "..%2fsecret.txt",
    "%2E%2E/secret.txt",
    "%2e%2e%2fsecret.txt",
    "%2E%2E%2F%2E%2E%2Fsecret.txt",
    ".%2E/secret.txt",
    "%2E./secret.txt",
    ".%2e/.%2e/secret.txt",
    "sub/..%2F..%2Fsecret.txt",
    "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e/%2e%2e/%2e%2e/etc/shadow",
    # double encoding decodes once, to a hidden name
    "..%252Fsecret.txt",
    "..%255c..%255csecret.txt",
    # very long chains
    "../../../../../../../../../../etc/passwd",
    "../" * 64 + "etc/passwd",
    "a/" * 30 + "../" * 31 + "secret.txt",
    "%2E%2E%2F" * 40 + "secret.txt",
    # NUL bytes
    "..%00/secret.txt",
    "victim.txt%00.ipynb",
    "%00",
    "victim.txt%00",
    "inner%00/../secret.txt",
    # absolute paths (a leading `/` is relative to the root; `//` and `%2F` match no route)
    "%2Fetc%2Fpasswd",
    "//etc/passwd",
    "/etc/passwd",
    "etc/passwd",
    "{secret_abs}",
    "%2F{secret_abs}",
    "file:///etc/passwd",
    # drive letters
    "C:\\Windows",
    "C:%5CWindows%5Csystem32",
    "C:/x",
    "c:secret.txt",
    "D:",
    # backslash variants that are also hidden names (a leading dot)
    "..\\secret.txt",
    "..%5Csecret.txt",
    "..\\..\\secret.txt",
    # look-alikes that start with a dot, and so are hidden
    "...",
    ".../secret.txt",
    "..;/secret.txt",
    "%2e%2e;/secret.txt",
    "..%20/secret.txt",
    "..%09/secret.txt",
    "..\u2215secret.txt",
    "..\u2044secret.txt",
    "..%c0%afsecret.txt",
    "..%u2215secret.txt",
    ".ipynb_checkpoints/../../secret.txt",
    # empty segments
    "....//secret.txt",
    "a//b",
    # symlinks that lead out of the root (built by the `tree` fixture)
    "out_dir",
    "out_dir/secret.txt",
    "out_dir/new.txt",
    "out_dir/sub",
    "out_file",
    "out_parent_file",
    "deep1/deep2/link_dir",
    "deep1/deep2/link_dir/secret.txt",
    "deep1/deep2/link_dir/new.txt",
    "chain1",
    "chain2",
    "chain_dir1/secret.txt",
    "chain_dir1/new.txt",
    "sub/rel",
    "sub/rel/secret.txt",
    "sub/rel/new.txt",
    "slash",
    "slash/etc/passwd",
    "slash{secret_abs}",
    "dangling",
    "dangling_deep",
    "prefix/secret.txt",
    "prefix/new.txt",
    "loop",
    "loop/new.txt",
]

#: Legal names inside the root on POSIX: they may be created and used, but stay confined.
CONFINED = [
    "\uff0e\uff0e/secret.txt",
    "%EF%BC%8E%EF%BC%8E%EF%BC%8Fsecret.txt",
    "\uff0e\uff0e\uff0fsecret.txt",
    "\u2025/secret.txt",
    "\u2024\u2024/secret.txt",
    "\ufe52\ufe52/secret.txt",
    "\u2024\u2024\u2215secret.txt",
    "%C0%AE%C0%AE/secret.txt",
    "%C0%AE%C0%AE%C0%AFsecret.txt",
    "%E2%80%AEtxt.terces",
    "%252E%252E%252Fsecret.txt",
    "a\\..\\..\\secret.txt",
    "%5C..%5Csecret.txt",
    "\\\\server\\share\\secret.txt",
    "\\\\%3F\\C:\\secret.txt",
    "%20../secret.txt",
    "~/secret.txt",
    "~root",
    "$HOME",
    "CON",
    "inner/C:",
]

CASES = [pytest.param(p, id=f"refused:{p[:60]!r}") for p in REFUSED] + [
    pytest.param(p, id=f"confined:{p[:60]!r}") for p in CONFINED
]


# -- the disk around the root --------------------------------------------------------


@pytest.fixture
def tree(root: Path) -> Path:
    """Secrets outside the root, and a root full of symlinks, good and bad. Returns the outside dir."""
    base = root.parent
    outside = base / "outside"
    (outside / "sub").mkdir(parents=True)
    for secret in (base / "secret.txt", outside / "secret.txt", outside / "sub" / "secret.txt"):
        secret.write_bytes(SECRET)
    (base / "rootx").mkdir()  # shares the root's name as a prefix
    (base / "rootx" / "secret.txt").write_bytes(SECRET)

    (root / "victim.txt").write_bytes(VICTIM)
    (root / "inner").mkdir()
    (root / "inner" / "file.txt").write_text("inner file")
    (root / "sub").mkdir()
    (root / "deep1" / "deep2").mkdir(parents=True)

    links = {
        "good_dir": "inner",
        "good_file": "inner/file.txt",
        "out_dir": str(outside),
        "out_file": str(outside / "secret.txt"),
        "out_parent_file": "../secret.txt",
        "deep1/deep2/link_dir": str(outside),
        "chain1": "chain2",
        "chain2": "../secret.txt",
        "chain_dir1": "chain_dir2",
        "chain_dir2": str(outside),
        "sub/rel": "../../outside",
        "slash": "/",
        "dangling": str(outside / "nonexistent.txt"),
        "dangling_deep": str(outside / "newdir" / "new.txt"),
        "prefix": "../rootx",
        "loop": str(outside / "loopback"),
    }
    for name, target in links.items():
        os.symlink(target, root / name)
    os.symlink(root / "loop", outside / "loopback")  # a loop that passes through the outside
    return outside


def snapshot(top: Path, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every entry under `top` (links not followed): kind, bytes or link target, mode."""
    found: dict[str, Any] = {}
    for folder, dirs, files in os.walk(top):
        rel_folder = os.path.relpath(folder, top)
        if rel_folder == ".":
            dirs[:] = [d for d in dirs if d not in skip]
            files = [f for f in files if f not in skip and not f.endswith(".log")]
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if os.path.islink(path):
                value: Any = ("link", os.readlink(path))
            elif os.path.isdir(path):
                value = ("dir", st.st_mode)
            else:
                value = ("file", st.st_mode, hashlib.sha256(Path(path).read_bytes()).hexdigest())
            found[os.path.normpath(os.path.join(rel_folder, name))] = value
    return found


def outside_state(root: Path) -> dict[str, Any]:
    passwd = Path("/etc/passwd")
    return {
        "tree": snapshot(root.parent, skip=(root.name,)),
        "passwd": hashlib.sha256(passwd.read_bytes()).hexdigest() if passwd.exists() else None,
    }


def assert_no_secret(body: bytes, what: str) -> None:
    for marker in SECRET_MARKERS:
        assert marker not in body, f"{what} leaked the secret"


def expand(path: str, root: Path) -> str:
    """Fill in `{secret_abs}`: the secret's absolute path without its leading `/`."""
    return path.replace("{secret_abs}", str(root.parent / "secret.txt").lstrip("/"))


# -- every operation on one path ------------------------------------------------------


def operations(client: FlaskClient, url_path: str, api_path: str) -> Iterator[tuple[str, Any]]:
    """(label, response) for each request that takes `url_path` in the URL or `api_path` in a body.

    A generator, so the caller can check the disk after each step.
    """
    api = "/api/contents/" + url_path
    file_model = {"type": "file", "format": "text", "content": "pwned"}
    yield "GET", client.get(api)
    yield "GET type=file base64", client.get(api + "?type=file&format=base64")
    yield "GET type=directory", client.get(api + "?type=directory")
    yield "GET type=notebook", client.get(api + "?type=notebook")
    yield "GET hash", client.get(api + "?content=0&hash=1")
    yield "GET /files", client.get("/files/" + url_path)
    yield "GET /files download", client.get("/files/" + url_path + "?download=1")
    yield "PUT file", client.put(api, json=file_model)
    yield "PUT base64", client.put(api, json={"type": "file", "format": "base64", "content": "cHduZWQ="})
    yield "PUT notebook", client.put(
        api, json={"type": "notebook", "content": {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}}
    )
    yield "PUT directory", client.put(api, json={"type": "directory"})
    yield "PUT chunk 1", client.put(api, json={**file_model, "chunk": 1})
    yield "PUT chunk -1", client.put(api, json={**file_model, "chunk": -1})
    yield "PUT no body", client.put(api)
    yield "POST new untitled", client.post(api, json={"type": "file"})
    yield "POST copy victim to it", client.post(api, json={"copy_from": "victim.txt"})
    yield "POST copy_from it", client.post("/api/contents", json={"copy_from": api_path})
    yield "POST copy_from it into inner", client.post("/api/contents/inner", json={"copy_from": api_path})
    yield "PATCH rename victim to it", client.patch("/api/contents/victim.txt", json={"path": api_path})
    yield "PATCH rename it to stolen", client.patch(api, json={"path": "stolen.txt"})
    yield "POST checkpoint", client.post(api + "/checkpoints")
    yield "POST restore checkpoint", client.post(api + "/checkpoints/checkpoint")
    yield "DELETE checkpoint", client.delete(api + "/checkpoints/checkpoint")
    yield "POST trust", client.post(api + "/trust")
    yield "DELETE", client.delete(api)


@pytest.mark.parametrize("hostile", CASES)
def test_hostile_path_is_refused_or_confined(client: FlaskClient, root: Path, tree: Path, hostile: str) -> None:
    url_path = expand(hostile, root)
    api_path = unquote(url_path)
    refused = hostile in REFUSED
    # A path that starts with `/` matches no contents route (`merge_slashes=False`), so it never
    # reaches our code; werkzeug then answers 405 for some methods, from its merged-slash retry.
    refusals = (400, 404, 405) if api_path.startswith("/") else (400, 404)
    outside_before = outside_state(root)
    root_before = snapshot(root)
    for label, response in operations(client, url_path, api_path):
        what = f"{label} {url_path!r}"
        body = response.get_data()
        response.close()  # a download that succeeded holds its file open
        assert_no_secret(body, what)
        if refused:
            assert response.status_code in refusals, f"{what}: {response.status_code} {response.get_data()!r}"
            assert snapshot(root) == root_before, f"{what} changed the root"
        else:
            assert response.status_code < 500, f"{what}: {response.status_code} {response.get_data()!r}"
        assert outside_state(root) == outside_before, f"{what} changed something outside the root"
        if not (root / "victim.txt").exists():  # a confined rename moved it: put it back
            (root / "victim.txt").write_bytes(VICTIM)
    # Listing a checkpoint list is harmless (an unknown file has none), but must not leak.
    listing = client.get("/api/contents/" + url_path + "/checkpoints")
    assert listing.status_code < 500
    assert_no_secret(listing.get_data(), "list checkpoints")
    assert (root.parent / "secret.txt").read_bytes() == SECRET


def test_there_are_at_least_sixty_hostile_paths() -> None:
    assert len(set(REFUSED)) == len(REFUSED) and len(set(CONFINED)) == len(CONFINED)
    assert len(REFUSED) + len(CONFINED) >= 60


# -- symlinks ------------------------------------------------------------------------------

ESCAPING = ["out_dir", "out_file", "out_parent_file", "chain1", "chain2", "chain_dir1", "chain_dir2",
            "slash", "dangling", "dangling_deep", "prefix", "loop"]


def names(response: Any) -> set[str]:
    assert response.status_code == 200, response.get_data()
    return {entry["name"] for entry in response.get_json()["content"]}


def test_listings_omit_symlinks_that_escape(client: FlaskClient, tree: Path) -> None:
    listed = names(client.get("/api/contents"))
    assert listed.isdisjoint(ESCAPING)
    assert {"victim.txt", "inner", "sub", "deep1", "good_dir", "good_file"} <= listed
    assert "rel" not in names(client.get("/api/contents/sub"))
    assert "link_dir" not in names(client.get("/api/contents/deep1/deep2"))
    for query in ("?sort=name", "?sort=-size&limit=100", "?offset=0&limit=3"):
        assert names(client.get("/api/contents" + query)).isdisjoint(ESCAPING)


def test_symlinks_that_stay_inside_work(client: FlaskClient, root: Path, tree: Path) -> None:
    response = client.get("/api/contents/good_dir")
    assert response.status_code == 200 and response.get_json()["type"] == "directory"
    assert names(response) == {"file.txt"}
    assert client.get("/api/contents/good_dir/file.txt").get_json()["content"] == "inner file"
    assert client.get("/api/contents/good_file").get_json()["content"] == "inner file"
    for url in ("/files/good_file", "/files/good_dir/file.txt"):
        with client.get(url) as download:
            assert download.status_code == 200 and download.get_data() == b"inner file"

    saved = client.put("/api/contents/good_file", json={"type": "file", "format": "text", "content": "through"})
    assert saved.status_code == 200
    assert (root / "good_file").is_symlink()
    assert (root / "inner" / "file.txt").read_text() == "through"
    created = client.put("/api/contents/good_dir/new.txt", json={"type": "file", "format": "text", "content": "n"})
    assert created.status_code == 201
    assert (root / "inner" / "new.txt").read_text() == "n"
    copied = client.post("/api/contents", json={"copy_from": "good_file"})
    assert copied.status_code == 201 and (root / "good_file-Copy1").read_text() == "through"
    renamed = client.patch("/api/contents/good_dir/new.txt", json={"path": "sub/moved.txt"})
    assert renamed.status_code == 200 and (root / "sub" / "moved.txt").read_text() == "n"


def test_deleting_an_inside_symlink_removes_only_the_link(client: FlaskClient, root: Path, tree: Path) -> None:
    assert client.delete("/api/contents/good_dir").status_code == 204
    assert not os.path.lexists(root / "good_dir")
    assert (root / "inner" / "file.txt").read_text() == "inner file"


def test_deleting_a_directory_holding_escaping_links_leaves_the_outside_alone(
    client: FlaskClient, root: Path, tree: Path
) -> None:
    before = outside_state(root)
    assert client.delete("/api/contents/sub").status_code == 204
    assert client.delete("/api/contents/deep1").status_code == 204
    assert not (root / "sub").exists() and not (root / "deep1").exists()
    assert outside_state(root) == before


def test_writing_through_an_escaping_directory_link_creates_nothing(
    client: FlaskClient, root: Path, tree: Path
) -> None:
    before = outside_state(root)
    for link in ("out_dir", "deep1/deep2/link_dir", "chain_dir1", "sub/rel", "prefix", "slash/tmp"):
        for name in ("new.txt", "new.ipynb", "newdir"):
            path = f"{link}/{name}"
            model: dict[str, Any] = {"type": "file", "format": "text", "content": "x"}
            if name.endswith(".ipynb"):
                model = {"type": "notebook", "content": {"cells": [], "metadata": {}, "nbformat": 4,
                                                          "nbformat_minor": 5}}
            elif name == "newdir":
                model = {"type": "directory"}
            response = client.put(f"/api/contents/{path}", json=model)
            assert response.status_code in (400, 404), (path, response.get_data())
            assert client.post(f"/api/contents/{link}", json={"type": "notebook"}).status_code in (400, 404)
    assert outside_state(root) == before
    assert not (tree / "new.txt").exists() and not Path("/tmp/new.txt").exists()


def test_a_symlink_made_to_escape_by_a_rename_is_refused_after(
    client: FlaskClient, root: Path, tree: Path
) -> None:
    """`sub/up -> ../inner` points inside; moved to the root, the same text points outside.

    The move itself may be refused or done (the link is only text), but once moved the
    link is refused like any other that escapes.
    """
    os.symlink("../inner", root / "sub" / "up")
    assert client.get("/api/contents/sub/up/file.txt").status_code == 200
    before = outside_state(root)
    moved = client.patch("/api/contents/sub/up", json={"path": "up"})
    assert moved.status_code in (200, 400, 404)
    assert_no_secret(moved.get_data(), "rename")
    for response in (client.get("/api/contents/up"), client.get("/api/contents/up/secret.txt"),
                     client.get("/files/up/secret.txt"), client.delete("/api/contents/up"),
                     client.put("/api/contents/up/x.txt", json={"type": "file", "format": "text", "content": ""})):
        assert response.status_code == 404
        assert_no_secret(response.get_data(), "moved link")
    assert "up" not in names(client.get("/api/contents"))
    assert outside_state(root) == before


def test_copying_a_directory_keeps_escaping_links_as_links(client: FlaskClient, root: Path, tree: Path) -> None:
    response = client.post("/api/contents/copied", json={"copy_from": "sub"})
    assert response.status_code == 201, response.get_data()
    assert (root / "copied" / "sub" / "rel").is_symlink()  # a missing destination is made, and copied into
    assert client.get("/api/contents/copied/sub/rel/secret.txt").status_code == 404
    for path in (root / "copied").rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert SECRET not in path.read_bytes()


def test_a_chunked_upload_cannot_write_through_a_hidden_link(client: FlaskClient, root: Path, tree: Path) -> None:
    """The upload's partial file sits beside the target: if a link already has its name, it is not followed."""
    os.symlink(tree / "secret.txt", root / ".~upload-up.txt")
    before = outside_state(root)
    for chunk in (1, -1):
        model = {"type": "file", "format": "text", "content": "pwned", "chunk": chunk}
        response = client.put("/api/contents/up.txt", json=model)
        assert_no_secret(response.get_data(), f"chunk {chunk}")
        assert outside_state(root) == before
    assert SECRET not in (root / "up.txt").read_bytes() if (root / "up.txt").exists() else True


def test_checkpoints_never_follow_a_checkpoint_dir_that_escapes(
    client: FlaskClient, root: Path, tree: Path
) -> None:
    os.symlink(tree, root / ".ipynb_checkpoints")
    (tree / "victim-checkpoint.txt").write_bytes(SECRET)
    before = outside_state(root)
    restored = client.post("/api/contents/victim.txt/checkpoints/checkpoint")
    assert_no_secret(restored.get_data(), "restore checkpoint")
    assert (root / "victim.txt").read_bytes() == VICTIM, "a checkpoint outside the root was restored"
    for response in (client.post("/api/contents/victim.txt/checkpoints"),
                     client.get("/api/contents/victim.txt/checkpoints"),
                     client.delete("/api/contents/victim.txt/checkpoints/checkpoint")):
        assert_no_secret(response.get_data(), "checkpoint")
    assert outside_state(root) == before


# -- the same against the real server ----------------------------------------------------

LIVE_CASES = [
    "../secret.txt",
    "..%2Fsecret.txt",
    "%2E%2E/secret.txt",
    "%2e%2e%2fsecret.txt",
    "%2E%2E%2F%2E%2E%2Fsecret.txt",
    "sub/..%2F..%2Fsecret.txt",
    "..%00/secret.txt",
    "%2Fetc%2Fpasswd",
    "//etc/passwd",
    "C:%5CWindows",
    "..%5Csecret.txt",
    "out_file",
    "out_dir/secret.txt",
    "sub/rel/secret.txt",
]


def raw_request(server: LiveServer, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    """Send `path` byte for byte: requests (through urllib3) would remove `..` segments itself."""
    url = urlsplit(server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.putheader("Authorization", AUTH["Authorization"])
        conn.putheader("Content-Length", str(len(body or b"")))
        if body is not None:
            conn.putheader("Content-Type", "application/json")
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_requests_would_normalise_dot_segments() -> None:
    """Why the live tests use http.client: urllib3 removes `..` before sending."""
    import requests

    prepared = requests.Request("GET", "http://127.0.0.1:1/api/contents/../secret.txt").prepare()
    assert prepared.url == "http://127.0.0.1:1/api/secret.txt"


@pytest.mark.live
def test_hostile_paths_against_the_real_server(live_server: LiveServer, root: Path, tree: Path) -> None:
    before = outside_state(root)
    root_before = snapshot(root)
    status, body = raw_request(live_server, "GET", "/api/contents/victim.txt")
    assert status == 200 and b"victim bytes" in body  # the raw requests do reach the server
    for hostile in LIVE_CASES:
        put = b'{"type": "file", "format": "text", "content": "pwned"}'
        for method, path, payload in [
            ("GET", f"/api/contents/{hostile}", None),
            ("GET", f"/files/{hostile}", None),
            ("PUT", f"/api/contents/{hostile}", put),
            ("DELETE", f"/api/contents/{hostile}", None),
            ("PATCH", f"/api/contents/{hostile}", b'{"path": "stolen.txt"}'),
            ("PATCH", "/api/contents/victim.txt", json.dumps({"path": unquote(hostile)}).encode()),
            ("POST", "/api/contents", json.dumps({"copy_from": unquote(hostile)}).encode()),
        ]:
            status, body = raw_request(live_server, method, path, payload)
            assert_no_secret(body, f"{method} {path}")
            refusals = (400, 404, 405) if unquote(hostile).startswith("/") else (400, 404)
            assert status in refusals, (method, path, payload, status, body)
    assert outside_state(root) == before
    assert snapshot(root) == root_before
