"""`POST /api/contents/<dir>` with `copy_from` naming a directory, and a PUT whose model
`path` is hidden (contract sections 3.3, 3.4).

Compared side by side with a live jupyter_server 2.21.1 (root with `d1/` holding files, a
sub-directory, a dot-directory and symlinks):

- ``copy_from: d1`` to an existing ``dst`` -> 201, ``Location: /api/contents/dst/d1``, the
  directory's model (no content), the whole tree copied, dot-files included; again ->
  ``dst/d1-Copy1``; copying ``dst/d1-Copy1`` into ``dst`` -> ``dst/d1-Copy1-Copy1`` (``-CopyN``
  is only stripped before a dot); into the root -> ``d1-Copy1``.
- to a missing ``newdir`` (or ``newdir2/sub``) -> the directories are made and the copy goes
  *into* them: ``newdir/d1``.
- hidden source or destination -> 400 ``Cannot copy file or directory ...``; missing source
  -> 404; ``PUT`` with ``copy_from`` -> 400 ``Cannot copy with PUT, only POST``.
- the reference follows symlinks (a link out of the root is copied as a file holding the
  outside file's bytes; a link to ``/tmp`` fails with 500 half-way, leaving a partial copy),
  copies a directory into itself (``sub`` into ``sub`` -> ``sub/sub``), answers a destination
  under a file with 500, and measures size with ``du``. We copy links as links, refuse a copy
  into itself (400), answer 400 for a destination under a file, count file sizes, and a
  failed copy leaves nothing behind.
- PUT ``vis.txt`` with ``{"path": ".hidden.txt", ...}`` or ``{"path": "sub/.h/x.txt"}`` or
  ``{"type": "directory", "path": ".hd"}`` -> 400 ``Cannot create file or directory '/vis.txt'``
  (the URL's path, with a leading slash there; ours names it without); ``{"name": ".n.txt"}``
  and ``{"path": "other.txt"}`` -> saved at the URL's path (201).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ..support.responses import assert_error
from .test_contents_api import assert_model, post_json, put_json, text_body


@pytest.fixture
def tree(root: Path) -> Path:
    (root / "d1" / "inner").mkdir(parents=True)
    (root / "d1" / "f.txt").write_text("f")
    (root / "d1" / "inner" / "g.txt").write_text("g")
    (root / "d1" / ".hid").mkdir()
    (root / "d1" / ".hid" / "x").write_text("x")
    (root / "dst").mkdir()
    return root


def _names(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def test_copy_keeps_the_name_in_another_directory(client: FlaskClient, tree: Path) -> None:
    response = post_json(client, "dst", {"copy_from": "d1"})
    assert response.status_code == 201
    model = assert_model(response.get_json())
    assert (model["name"], model["path"], model["type"]) == ("d1", "dst/d1", "directory")
    assert model["content"] is None and model["format"] is None
    assert response.headers["Location"] == "/api/contents/dst/d1"
    assert "Last-Modified" in response.headers
    assert _names(tree / "dst" / "d1") == [".hid", "f.txt", "inner"]
    assert (tree / "dst" / "d1" / "inner" / "g.txt").read_text() == "g"
    assert (tree / "dst" / "d1" / ".hid" / "x").read_text() == "x"
    assert _names(tree / "dst") == ["d1"]  # no temporary tree left beside it


def test_copies_take_the_next_free_copy_number(client: FlaskClient, tree: Path) -> None:
    assert post_json(client, "dst", {"copy_from": "d1"}).get_json()["path"] == "dst/d1"
    assert post_json(client, "dst", {"copy_from": "d1"}).get_json()["path"] == "dst/d1-Copy1"
    assert post_json(client, "dst", {"copy_from": "dst/d1-Copy1"}).get_json()["path"] == "dst/d1-Copy1-Copy1"
    assert post_json(client, "", {"copy_from": "d1"}).get_json()["path"] == "d1-Copy1"
    assert post_json(client, "", {"copy_from": "d1/"}).get_json()["path"] == "d1-Copy2"


@pytest.mark.parametrize("to_path", ["newdir", "newdir2/sub"])
def test_copy_to_a_missing_directory_makes_it_and_copies_into_it(client: FlaskClient, tree: Path,
                                                                  to_path: str) -> None:
    response = post_json(client, to_path, {"copy_from": "d1"})
    assert response.status_code == 201
    assert response.get_json()["path"] == f"{to_path}/d1"
    assert response.headers["Location"] == f"/api/contents/{to_path}/d1"
    assert (tree / to_path / "d1" / "inner" / "g.txt").read_text() == "g"


def test_copy_names_are_quoted_in_location(client: FlaskClient, root: Path) -> None:
    (root / "my dir+x").mkdir()
    response = post_json(client, "to here", {"copy_from": "my dir+x"})
    assert response.headers["Location"] == "/api/contents/to%20here/my%20dir%2Bx"


@pytest.mark.parametrize("source, target, status", [
    ("d1/.hid", "dst", 400),
    ("d1", ".hdst", 400),
    ("d1", "dst/.h", 400),
    ("nope", "dst", 404),
    ("d1", "d1", 400),
    ("d1", "d1/inner", 400),
    ("d1", "d1/inner/new", 400),
    ("d1", "dst/f.txt/x", 400),
    ("/", "dst", 400),  # the root
])
def test_copies_that_cannot_be_made_leave_nothing(client: FlaskClient, tree: Path, source: str, target: str,
                                                  status: int) -> None:
    (tree / "dst" / "f.txt").write_text("a file")
    before = sorted(str(p.relative_to(tree)) for p in tree.rglob("*"))
    assert_error(post_json(client, target, {"copy_from": source}), status)
    assert sorted(str(p.relative_to(tree)) for p in tree.rglob("*")) == before


def test_a_hidden_copy_is_allowed_when_hidden_files_are(client: FlaskClient, tree: Path) -> None:
    client.application.extensions["notebook"].contents.root.allow_hidden = True
    assert post_json(client, "dst", {"copy_from": "d1/.hid"}).get_json()["path"] == "dst/.hid"


def test_a_tree_over_500_mb_is_refused(client: FlaskClient, tree: Path) -> None:
    with open(tree / "d1" / "inner" / "big.bin", "wb") as f:
        f.truncate(501 * 2**20)  # sparse: the size counts, not the disk used
    body = assert_error(post_json(client, "dst", {"copy_from": "d1"}), 400)
    # The reference says "... 'd1' is 501.0 MB" (it measures the whole tree with du); we
    # stop counting at the limit.
    assert body["message"] == "Can't copy folders larger than 500MB, 'd1' is over 500 MB"
    assert _names(tree / "dst") == []


def test_a_copy_that_fails_half_way_leaves_no_half_copy(client: FlaskClient, tree: Path) -> None:
    """A FIFO cannot be copied: shutil copies everything else first, then fails."""
    os.mkfifo(tree / "d1" / "inner" / "pipe")
    body = assert_error(post_json(client, "newdir/deeper", {"copy_from": "d1"}), 400)
    assert body["message"] == "Can't copy 'd1' into Folder 'newdir/deeper'"
    assert str(tree) not in body["message"]
    assert not (tree / "newdir").exists()  # the directories made for it are gone too
    assert _names(tree) == ["d1", "dst"]


def test_symlinks_are_copied_as_links_and_never_followed_out_of_the_root(client: FlaskClient, tree: Path) -> None:
    outside = tree.parent / "outside.txt"
    outside.write_text("secret")
    (tree / "top.txt").write_text("top")
    links = tree / "d1" / "inner"
    (links / "to-f").symlink_to("../f.txt")  # within the copied tree
    (links / "to-top").symlink_to("../../top.txt")  # in the root, outside the tree
    (links / "to-outside").symlink_to("../../../outside.txt")  # out of the root
    (links / "absolute").symlink_to(outside)
    (links / "loop").symlink_to("..")
    post_json(client, "dst", {"copy_from": "d1"})
    copied = tree / "dst" / "d1" / "inner"
    for name in ("to-f", "to-top", "to-outside", "absolute", "loop"):
        assert (copied / name).is_symlink(), name
    assert os.readlink(copied / "to-f") == "../f.txt" and (copied / "to-f").read_text() == "f"
    assert os.readlink(copied / "loop") == ".."
    # Links that left the tree still name the same file from their new, deeper place.
    assert os.readlink(copied / "to-top") == "../../../top.txt" and (copied / "to-top").read_text() == "top"
    assert os.readlink(copied / "to-outside") == "../../../../outside.txt"
    assert os.readlink(copied / "absolute") == str(outside)
    # What they lead to outside the root stays out of reach of the API.
    assert_error(client.get("/api/contents/dst/d1/inner/to-outside"), 404)


def test_put_refuses_a_model_whose_path_is_hidden(client: FlaskClient, root: Path) -> None:
    assert_error(put_json(client, "vis.txt", {**text_body("x"), "path": ".hidden.txt"}), 400,
                 "Cannot create file or directory 'vis.txt'")
    assert_error(put_json(client, "vis.txt", {**text_body("x"), "path": "sub/.h/x.txt"}), 400)
    assert_error(put_json(client, "vis", {"type": "directory", "path": "/.hd"}), 400)
    assert _names(root) == []
    assert put_json(client, "a.txt", {**text_body("x"), "path": "other.txt"}).status_code == 201
    assert put_json(client, "b.txt", {**text_body("x"), "name": ".n.txt"}).status_code == 201
    assert _names(root) == ["a.txt", "b.txt"]


def test_put_with_a_hidden_model_path_is_allowed_when_hidden_files_are(app: Flask, client: FlaskClient,
                                                                       root: Path) -> None:
    app.extensions["notebook"].contents.root.allow_hidden = True
    assert put_json(client, "vis.txt", {**text_body("x"), "path": ".hidden.txt"}).status_code == 201
    assert (root / "vis.txt").read_text() == "x"
