"""ContentsManager with no Flask app: saves that fail, names, rename and delete rules."""

from __future__ import annotations

import os
import resource
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat import v4

from flask_notebook.core import errors, notebooks
from flask_notebook.core.contents import ContentsManager


def litter(directory: Path) -> list[str]:
    """Temporary and partial files a failed save might leave behind."""
    return sorted(name for name in os.listdir(directory) if name.startswith(".~"))


def text_model(content: str) -> dict[str, Any]:
    return {"type": "file", "format": "text", "content": content}


def notebook_model(source: str = "x = 1") -> dict[str, Any]:
    nb = notebooks.parse_notebook(nbformat.writes(v4.new_notebook(cells=[v4.new_code_cell(source)])).encode(),
                                  api_path="nb.ipynb")
    return {"type": "notebook", "content": nb}


# -- a failed save leaves the old file as it was -------------------------------------


def test_a_notebook_that_cannot_be_serialized_leaves_the_old_file(cm: ContentsManager, root: Path) -> None:
    cm.save(notebook_model("old"), "nb.ipynb")
    old = (root / "nb.ipynb").read_bytes()
    model = notebook_model("new")
    model["content"]["metadata"]["unserializable"] = object()
    with pytest.raises((errors.NotebookError, TypeError)):
        cm.save(model, "nb.ipynb")
    assert (root / "nb.ipynb").read_bytes() == old
    assert litter(root) == []


def test_a_notebook_with_broken_structure_leaves_the_old_file(cm: ContentsManager, root: Path) -> None:
    cm.save(notebook_model("old"), "nb.ipynb")
    old = (root / "nb.ipynb").read_bytes()
    for content in (None, [], {"cells": [{"cell_type": "code", "source": "no metadata"}]}, {"cells": "x"}):
        with pytest.raises(errors.Invalid):
            cm.save({"type": "notebook", "content": content}, "nb.ipynb")
    assert (root / "nb.ipynb").read_bytes() == old


def test_bad_file_content_leaves_the_old_file(cm: ContentsManager, root: Path) -> None:
    (root / "a.txt").write_bytes(b"old")
    for model in ({"type": "file", "format": "hex", "content": "00"}, {"type": "file", "format": "text", "content": 5},
                  {"type": "file", "format": "base64", "content": "\u00e9\u00e9"}, {"type": "file"},
                  {"type": "file", "format": "text", "content": "x", "copy_from": "b.txt"}):
        with pytest.raises(errors.Invalid):
            cm.save(model, "a.txt")
    assert (root / "a.txt").read_bytes() == b"old"


@pytest.fixture
def file_size_limit() -> Iterator[int]:
    """Make writes beyond 64 KiB fail with EFBIG, as a full disk would fail them; restored after."""
    limit = 64 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield limit
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def test_a_write_that_fails_half_way_leaves_the_old_file(
    cm: ContentsManager, root: Path, file_size_limit: int
) -> None:
    (root / "a.txt").write_bytes(b"old bytes")
    with pytest.raises(errors.SaveFailed, match="Unexpected error while saving file: a.txt"):
        cm.save(text_model("x" * (4 * file_size_limit)), "a.txt")
    assert (root / "a.txt").read_bytes() == b"old bytes"
    assert litter(root) == []
    with pytest.raises(errors.SaveFailed):
        cm.save(notebook_model("y = '" + "y" * (4 * file_size_limit) + "'"), "nb.ipynb")
    assert not (root / "nb.ipynb").exists() and litter(root) == []


def test_an_unfinished_chunked_upload_leaves_the_old_file(cm: ContentsManager, root: Path) -> None:
    (root / "big.bin").write_bytes(b"old")
    cm.save({**text_model("part one "), "chunk": 1}, "big.bin")
    cm.save({**text_model("part two "), "chunk": 2}, "big.bin")
    assert (root / "big.bin").read_bytes() == b"old"
    with pytest.raises(errors.Invalid):
        cm.save({"type": "file", "format": "text", "content": 7, "chunk": -1}, "big.bin")
    assert (root / "big.bin").read_bytes() == b"old"
    cm.save({**text_model("end"), "chunk": -1}, "big.bin")
    assert (root / "big.bin").read_bytes() == b"part one part two end"


def test_saving_onto_a_directory_fails_and_keeps_it(cm: ContentsManager, root: Path) -> None:
    (root / "d").mkdir()
    (root / "d" / "keep.txt").write_text("keep")
    with pytest.raises(errors.Invalid):
        cm.save(text_model("x"), "d")
    assert (root / "d" / "keep.txt").read_text() == "keep"


def test_saving_under_a_file_is_not_found(cm: ContentsManager, root: Path) -> None:
    (root / "a.txt").write_text("a")
    with pytest.raises(errors.NotFound):
        cm.save(text_model("x"), "a.txt/child.txt")
    assert (root / "a.txt").read_text() == "a"


def test_a_saved_notebook_is_written_as_nbformat_writes_it(cm: ContentsManager, root: Path) -> None:
    node = v4.new_notebook(cells=[v4.new_markdown_cell("# Title\ntext"), v4.new_code_cell("print(1)\nprint(2)")])
    model = {"type": "notebook", "content": notebooks.parse_notebook(nbformat.writes(node).encode(), api_path="n")}
    result, created = cm.save(model, "n.ipynb")
    assert created and result["type"] == "notebook" and result["content"] is None
    assert (root / "n.ipynb").read_bytes() == (nbformat.writes(node) + "\n").encode()
    _, created = cm.save(model, "n.ipynb")
    assert not created


# -- names ---------------------------------------------------------------------------------


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")


@pytest.mark.parametrize(
    ("existing", "filename", "insert", "expected"),
    [
        ((), "untitled.txt", "", "untitled.txt"),
        (("untitled.txt",), "untitled.txt", "", "untitled1.txt"),
        (("untitled.txt", "untitled1.txt"), "untitled.txt", "", "untitled2.txt"),
        (("untitled.txt", "untitled2.txt"), "untitled.txt", "", "untitled1.txt"),  # the first free one
        (("a.tar.gz",), "a.tar.gz", "", "a1.tar.gz"),  # before the first dot
        (("a.b.ipynb",), "a.b.ipynb", "", "a.b1.ipynb"),  # .ipynb: before the last dot
        (("Untitled.ipynb",), "Untitled.ipynb", "", "Untitled1.ipynb"),
        (("Makefile",), "Makefile", "", "Makefile1"),
        (("untitled",), "untitled", "", "untitled1"),
        (("Untitled Folder",), "Untitled Folder", " ", "Untitled Folder 1"),
        (("Untitled Folder", "Untitled Folder 1"), "Untitled Folder", " ", "Untitled Folder 2"),
        (("a.ipynb",), "a.ipynb", "-Copy", "a-Copy1.ipynb"),
        (("a.ipynb", "a-Copy1.ipynb"), "a.ipynb", "-Copy", "a-Copy2.ipynb"),
        (("data.csv.gz",), "data.csv.gz", "-Copy", "data-Copy1.csv.gz"),
    ],
)
def test_increment_filename(
    cm: ContentsManager, root: Path, existing: tuple[str, ...], filename: str, insert: str, expected: str
) -> None:
    touch(root, *existing)
    assert cm.increment_filename(filename, "", insert=insert) == expected


def test_increment_filename_looks_in_the_given_directory(cm: ContentsManager, root: Path) -> None:
    touch(root, "untitled.txt", "sub/untitled.txt", "sub/untitled1.txt")
    assert cm.increment_filename("untitled.txt", "sub") == "untitled2.txt"
    assert cm.increment_filename("untitled.txt", "") == "untitled1.txt"
    assert cm.increment_filename("untitled.txt", "/sub/") == "untitled2.txt"


def test_increment_filename_counts_directories_and_links_as_taken(cm: ContentsManager, root: Path) -> None:
    (root / "untitled.txt").mkdir()
    os.symlink("nowhere", root / "untitled1.txt")  # broken, but the name is taken
    assert cm.increment_filename("untitled.txt") == "untitled2.txt"


def test_new_untitled_uses_the_names(cm: ContentsManager, root: Path) -> None:
    assert cm.new_untitled("", type="notebook")["name"] == "Untitled.ipynb"
    assert cm.new_untitled("", ext=".ipynb")["name"] == "Untitled1.ipynb"
    assert cm.new_untitled("", type="directory")["name"] == "Untitled Folder"
    assert cm.new_untitled("", type="directory")["name"] == "Untitled Folder 1"
    assert cm.new_untitled("", ext=".txt")["name"] == "untitled.txt"
    assert cm.new_untitled("", ext=".txt")["name"] == "untitled1.txt"
    assert cm.new_untitled("Untitled Folder")["path"] == "Untitled Folder/untitled"
    with pytest.raises(errors.NotFound):
        cm.new_untitled("missing")


def test_copy_names(cm: ContentsManager, root: Path) -> None:
    cm.save(notebook_model(), "a.ipynb")
    (root / "sub").mkdir()
    assert cm.copy("a.ipynb", "sub")["path"] == "sub/a.ipynb"  # the name is free there
    assert cm.copy("a.ipynb", "")["path"] == "a-Copy1.ipynb"
    assert cm.copy("a-Copy1.ipynb", "")["path"] == "a-Copy2.ipynb"  # not a-Copy1-Copy1
    assert cm.copy("a.ipynb", "b.ipynb")["path"] == "b.ipynb"  # a free path is the target itself
    with pytest.raises(errors.NotFound):
        cm.copy("missing.ipynb", "")
    with pytest.raises(errors.NotFound):
        cm.copy("a.ipynb", "no/such/dir.ipynb")


# -- rename and delete -------------------------------------------------------------------------


def test_rename_onto_an_existing_file_is_a_conflict(cm: ContentsManager, root: Path) -> None:
    touch(root, "a.txt", "b.txt", "d/c.txt")
    (root / "a.txt").write_text("a")
    (root / "b.txt").write_text("b")
    (root / "e").mkdir()
    for old, new in (("a.txt", "b.txt"), ("a.txt", "d"), ("d", "a.txt"), ("d", "e"), ("a.txt", "/b.txt/")):
        with pytest.raises(errors.Conflict, match="File already exists"):
            cm.rename(old, new)
    assert (root / "a.txt").read_text() == "a" and (root / "b.txt").read_text() == "b"
    assert (root / "d" / "c.txt").exists()


def test_rename_onto_a_broken_symlink_is_a_conflict(cm: ContentsManager, root: Path) -> None:
    touch(root, "a.txt")
    os.symlink("missing", root / "broken")
    with pytest.raises(errors.Conflict):
        cm.rename("a.txt", "broken")
    assert (root / "a.txt").exists() and os.path.islink(root / "broken")


def test_rename_moves_files_and_directories(cm: ContentsManager, root: Path) -> None:
    touch(root, "a.txt", "d/c.txt")
    (root / "e").mkdir()
    assert cm.rename("a.txt", "e/a2.txt")["path"] == "e/a2.txt"
    assert cm.rename("d", "e/d")["type"] == "directory"
    assert (root / "e" / "d" / "c.txt").exists() and not (root / "a.txt").exists()
    assert cm.rename("e/a2.txt", "e/a2.txt")["path"] == "e/a2.txt"  # same path: no-op


def test_rename_of_missing_or_into_missing_is_not_found(cm: ContentsManager, root: Path) -> None:
    touch(root, "a.txt")
    with pytest.raises(errors.NotFound):
        cm.rename("missing.txt", "b.txt")
    with pytest.raises(errors.NotFound):
        cm.rename("a.txt", "no/such/dir.txt")


def test_rename_root_or_hidden_is_refused(cm: ContentsManager, root: Path) -> None:
    touch(root, "a.txt")
    with pytest.raises(errors.Invalid):
        cm.rename("", "x")
    with pytest.raises(errors.Invalid):
        cm.rename("a.txt", ".a.txt")
    assert (root / "a.txt").exists()


@pytest.mark.parametrize("api_path", ["", "/", "//"])
def test_delete_of_root_is_invalid(cm: ContentsManager, root: Path, api_path: str) -> None:
    touch(root, "keep.txt")
    with pytest.raises(errors.Invalid, match="Can't delete root"):
        cm.delete(api_path)
    assert (root / "keep.txt").exists()


def test_delete(cm: ContentsManager, root: Path) -> None:
    touch(root, "a.txt", "d/e/f.txt")
    cm.delete("a.txt")
    cm.delete("d")
    assert os.listdir(root) == []
    with pytest.raises(errors.NotFound):
        cm.delete("a.txt")
    with pytest.raises(errors.Invalid):
        cm.delete(".hidden")


def test_delete_removes_the_checkpoint_too(cm: ContentsManager, root: Path) -> None:
    model, _ = cm.save(notebook_model(), "nb.ipynb")
    cm.finish_save(model)
    assert cm.list_checkpoints("nb.ipynb")
    cm.delete("nb.ipynb")
    assert cm.list_checkpoints("nb.ipynb") == []


# -- confinement, with no web layer ------------------------------------------------------------


def test_an_escaping_link_is_refused_by_every_method(cm: ContentsManager, root: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", root / "out")
    touch(root, "a.txt")
    calls = [
        lambda: cm.get("out"),
        lambda: cm.save(text_model("x"), "out"),
        lambda: cm.copy("out", ""),
        lambda: cm.copy("a.txt", "out"),
        lambda: cm.rename("out", "in.txt"),
        lambda: cm.rename("a.txt", "out"),
        lambda: cm.delete("out"),
        lambda: cm.trust_notebook("out"),
        lambda: cm.create_checkpoint("out"),
        lambda: cm.file_exists("out"),
        lambda: cm.file_hash("out"),
    ]
    for call in calls:
        with pytest.raises(errors.NotFound):
            call()
    assert (tmp_path / "secret.txt").read_text() == "secret"
    assert [entry["name"] for entry in cm.get("")["content"]] == ["a.txt"]
