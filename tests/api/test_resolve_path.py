"""`GET /api/resolvePath?path=&kernel=` (jupyter_server 2.18+, contract section 8).

Compared side by side with a live jupyter_server 2.21.1 (token auth, root with files, a
dot-file, a symlink out of the root):

- ``path=a.txt``, ``/a.txt``, ``//a.txt``, ``<root>/a.txt`` -> ``{"resolved": [{"scope":
  "server", "path": "a.txt"}]}``; ``sub/`` -> ``sub``; ``path=`` -> the root, ``""``.
- missing or outside (``../outside.txt``, ``<elsewhere>/outside.txt``, ``~/x`` with a home
  outside the root) -> ``{"resolved": []}``: 200, never an error.
- no ``path`` argument -> 400 ``{"message": "Missing argument path", "reason": null}``.
- ``kernel=<unknown>`` (well-formed or not) -> 200 with ``"unresolved": [{"scope": "kernel",
  "reason": "Kernel <id> could not be found"}]``; ``kernel=`` (empty) is ignored.
- kernel scope: the absolute path, resolved against the kernel's working directory.

Where we answer differently, on purpose: the reference answers ``sub/../a.txt`` as is (the
contents API cannot open that), we normalise it to ``a.txt``; it resolves dot-files and
symlinks that lead out of the root, which our contents API refuses (404), so we do not.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from ..support.kernels import kernel_processes
from ..support.server import Server
from ..support.waiting import wait_for


@pytest.fixture
def tree(root: Path) -> Path:
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.txt").write_text("b")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "h.txt").write_text("h")
    (root / ".dot.txt").write_text("d")
    outside = root.parent / "outside.txt"
    outside.write_text("secret")
    (root / "link-out.txt").symlink_to(outside)
    (root / "link-in.txt").symlink_to(root / "a.txt")
    return root


def _resolve(client: FlaskClient, **query: str) -> dict[str, object]:
    response = client.get("/api/resolvePath", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()  # type: ignore[no-any-return]


def _server(path: str) -> dict[str, object]:
    return {"resolved": [{"scope": "server", "path": path}]}


@pytest.mark.parametrize("query, api_path", [
    ("a.txt", "a.txt"),
    ("/a.txt", "a.txt"),
    ("//a.txt", "a.txt"),
    ("sub/b.txt", "sub/b.txt"),
    ("/sub/b.txt", "sub/b.txt"),
    ("sub/", "sub"),
    ("", ""),
    ("link-in.txt", "link-in.txt"),
    ("sub/../a.txt", "a.txt"),  # the reference answers "sub/../a.txt"
    ("./a.txt", "a.txt"),  # the reference answers "./a.txt"
    # tornado makes control characters spaces and strips the value; so do we (both: "a.txt").
    ("a.txt\0", "a.txt"),
    (" a.txt\n", "a.txt"),
])
def test_existing_paths_in_the_root_resolve_to_api_paths(client: FlaskClient, tree: Path, query: str,
                                                         api_path: str) -> None:
    assert _resolve(client, path=query) == _server(api_path)


def test_an_absolute_path_inside_the_root_resolves_to_its_api_path(client: FlaskClient, tree: Path) -> None:
    assert _resolve(client, path=str(tree / "sub" / "b.txt")) == _server("sub/b.txt")
    assert _resolve(client, path=str(tree / "sub" / ".." / "a.txt")) == _server("a.txt")
    assert _resolve(client, path=str(tree)) == _server("")


@pytest.mark.parametrize("query", ["nope.txt", "../outside.txt", "sub/../../outside.txt", "../root/a.txt", "link-out.txt",
                                   ".dot.txt", ".hidden/h.txt", "a\0.txt", "sub/b.txt/x"])
def test_missing_hidden_or_outside_paths_are_not_resolved(client: FlaskClient, tree: Path, query: str) -> None:
    assert _resolve(client, path=query) == {"resolved": []}


def test_an_absolute_path_outside_the_root_is_not_revealed(client: FlaskClient, tree: Path) -> None:
    assert _resolve(client, path=str(tree.parent / "outside.txt")) == {"resolved": []}


def test_home_relative_paths_resolve_only_inside_the_root(client: FlaskClient, tree: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tree))
    assert _resolve(client, path="~/sub/b.txt") == _server("sub/b.txt")
    assert _resolve(client, path="~/sub/../a.txt") == _server("a.txt")
    monkeypatch.setenv("HOME", str(tree.parent))
    assert _resolve(client, path="~/outside.txt") == {"resolved": []}
    assert _resolve(client, path="~/root/a.txt") == _server("a.txt")


def test_hidden_paths_resolve_when_hidden_files_are_allowed(client: FlaskClient, tree: Path) -> None:
    client.application.extensions["notebook"].contents.root.allow_hidden = True
    assert _resolve(client, path=".hidden/h.txt") == _server(".hidden/h.txt")


def test_missing_path_argument_is_400_json(client: FlaskClient) -> None:
    response = client.get("/api/resolvePath")
    assert response.status_code == 400
    assert response.get_json() == {"message": "Missing argument path", "reason": None}


@pytest.mark.parametrize("kernel_id", ["111-111-111-111-111", "zzz"])
def test_an_unknown_kernel_is_listed_as_unresolved(client: FlaskClient, tree: Path, kernel_id: str) -> None:
    assert _resolve(client, path="a.txt", kernel=kernel_id) == {
        "resolved": [{"scope": "server", "path": "a.txt"}],
        "unresolved": [{"scope": "kernel", "reason": f"Kernel {kernel_id} could not be found"}],
    }


def test_an_empty_kernel_argument_is_ignored(client: FlaskClient, tree: Path) -> None:
    assert _resolve(client, path="a.txt", kernel="") == _server("a.txt")


def test_resolving_is_not_activity(client: FlaskClient, tree: Path) -> None:
    state = client.application.extensions["notebook"]
    state.last_activity = 0.0
    _resolve(client, path="a.txt")
    assert state.last_activity == 0.0


def test_unauthenticated_is_403_json(anon: FlaskClient) -> None:
    response = anon.get("/api/resolvePath?path=a.txt")
    assert response.status_code == 403
    assert response.get_json() == {"message": "Forbidden", "reason": None}


# -- the kernel scope, with a real kernel ---------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "srv")
    yield srv
    srv.stop()
    wait_for(lambda: not kernel_processes(srv.runtime_dir), timeout=10)


@pytest.mark.live
def test_kernel_scope_resolves_against_the_kernels_working_directory(server: Server) -> None:
    root = server.root
    kernel_dir = root / "more" / "path"
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "hello.py").write_text("x")
    (root / "hello.py").write_text("x")
    (root / "top.py").write_text("x")
    (kernel_dir / ".secret.py").write_text("x")
    (root.parent / "outside.py").write_text("x")
    kernel_id = server.start_kernel(path="more/path")

    def resolve(path: str) -> object:
        return server.json("GET", "api/resolvePath", 200, params={"path": path, "kernel": kernel_id})

    real_dir = os.path.realpath(kernel_dir)
    assert resolve("hello.py") == {"resolved": [{"scope": "server", "path": "hello.py"},
                                                {"scope": "kernel", "path": f"{real_dir}/hello.py"}]}
    assert resolve("../../top.py") == {"resolved": [{"scope": "kernel", "path": os.path.realpath(root / "top.py")}]}
    assert resolve(f"{real_dir}/hello.py")["resolved"][1] == {  # type: ignore[index]
        "scope": "kernel", "path": f"{real_dir}/hello.py"}
    # Outside the root (relative or absolute), hidden, or missing: not for this endpoint to tell.
    for path in ("../../../outside.py", str(root.parent / "outside.py"), ".secret.py", "nope.py"):
        assert resolve(path) == {"resolved": []}, path
    server.request("DELETE", f"api/kernels/{kernel_id}")
