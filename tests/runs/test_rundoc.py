"""The core of runs without a server: RunDocument on a real ContentsManager (what it writes,
and when), and the pruning of run history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import nbformat
import pytest

from flask_notebook.core import notebooks, rundoc
from flask_notebook.core.contents import ContentsManager
from flask_notebook.core.paths import Root
from flask_notebook.core.rundoc import RunDocument
from flask_notebook.core.runhistory import expired

from ..support.waiting import wait_for


@pytest.fixture
def cm(root: Path, tmp_path: Path) -> Iterator[ContentsManager]:
    manager = ContentsManager(Root(str(root)), notebooks.Notary(str(tmp_path / "data")), listing_cache=False)
    yield manager
    manager.close()
    manager.notary.close()


def _write(path: Path, cells: list[dict[str, Any]], minor: int = 5) -> None:
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": minor}))


def _code(source: str, cell_id: str | None = None) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": "code", "source": source, "metadata": {}, "outputs": [],
                            "execution_count": None}
    if cell_id is not None:
        cell["id"] = cell_id
    return cell


def _read(path: Path) -> Any:
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    return nb


def test_a_notebook_without_ids_gets_the_same_ids_at_every_read(cm: ContentsManager, root: Path) -> None:
    _write(root / "old.ipynb", [_code("1"), _code("2")], minor=4)
    first = rundoc.load_notebook(cm, "old.ipynb")
    again = rundoc.load_notebook(cm, "old.ipynb")
    ids = [cell["id"] for cell in first["cells"]]
    assert len(set(ids)) == 2 and ids == [cell["id"] for cell in again["cells"]]
    assert first["nbformat_minor"] == 5


def test_outputs_and_execution_metadata_are_written_in_place(cm: ContentsManager, root: Path) -> None:
    _write(root / "nb.ipynb", [_code("print(1)", "a"), _code("2", "b")])
    doc = RunDocument(cm, "nb.ipynb", None, save_interval=0.05, max_output_bytes=10**6, run_id="r1")
    assert rundoc.writing(cm, "/nb.ipynb") is doc
    doc.cell_started("a")
    doc.cell_output_changed("a", [{"output_type": "stream", "name": "stdout", "text": "1\n"}])
    # debounced, with no cell end yet (the saver is a greenlet: this test yields to it)
    wait_for(lambda: gevent.sleep(0.01) or _read(root / "nb.ipynb")["cells"][0]["outputs"], timeout=10)
    running = _read(root / "nb.ipynb")["cells"][0]["metadata"]["flask_notebook"]["execution"]
    assert running["status"] == "running" and running["end"] is None and running["run_id"] == "r1"
    doc.cell_finished("a", 1, [{"output_type": "stream", "name": "stdout", "text": "1\n"}], "ok")
    doc.close()
    assert rundoc.writing(cm, "nb.ipynb") is None
    cell = _read(root / "nb.ipynb")["cells"][0]
    assert cell["execution_count"] == 1 and cell["outputs"][0]["text"] == "1\n"
    done = cell["metadata"]["flask_notebook"]["execution"]
    assert done["status"] == "ok" and done["duration"] >= 0 and done["end"] >= done["start"]
    assert "trusted" not in cell["metadata"]
    assert _read(root / "nb.ipynb")["cells"][1]["metadata"] == {}  # not run: untouched


def test_with_an_output_path_the_source_is_untouched(cm: ContentsManager, root: Path) -> None:
    _write(root / "src.ipynb", [_code("1", "a")])
    before = (root / "src.ipynb").read_bytes()
    doc = RunDocument(cm, "src.ipynb", "out.ipynb", save_interval=1, max_output_bytes=10**6, run_id="r2")
    assert rundoc.writing(cm, "src.ipynb") is None
    doc.cell_started("a")
    doc.cell_finished("a", 1, [], "ok")
    doc.close()
    assert (root / "src.ipynb").read_bytes() == before
    assert _read(root / "out.ipynb")["cells"][0]["execution_count"] == 1


def test_history_forgets_runs_past_the_age_then_the_oldest_past_the_count() -> None:
    finished = [(100.0, "a"), (200.0, "b"), (300.0, "c"), (400.0, "d")]
    assert expired(finished, keep=10, age=150, now=450) == ["a", "b"]
    assert expired(finished, keep=1, age=1000, now=450) == ["a", "b", "c"]
    assert expired(finished, keep=0, age=1000, now=450) == ["a", "b", "c", "d"]
    assert expired([], keep=0, age=0) == []
