"""A run writing a notebook in place and its user saving it at the same time (no live server:
the app's test client and a RunDocument on the app's own contents manager)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import gevent
import nbformat
import orjson
from flask import Flask
from flask.testing import FlaskClient

from flask_notebook.core import rundoc
from flask_notebook.core.execute import Execution, Options
from flask_notebook.core.rundoc import RunDocument

from ..support.waiting import wait_for

URL = "/api/contents/nb.ipynb"


def code(cell_id: str, source: str) -> dict[str, Any]:
    return {"id": cell_id, "cell_type": "code", "metadata": {}, "source": source, "outputs": [],
            "execution_count": None}


def stdout(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stdout", "text": text}


def write(path: Path, *cells: dict[str, Any]) -> None:
    path.write_text(json.dumps({"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def read(path: Path) -> dict[str, Any]:
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    return nb  # type: ignore[no-any-return]


def by_id(nb: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {cell["id"]: cell for cell in nb["cells"]}


def document(app: Flask, **kwargs: Any) -> RunDocument:
    options: dict[str, Any] = {"save_interval": 0.02, "max_output_bytes": 10**6, "run_id": "r" * 32, **kwargs}
    return RunDocument(app.extensions["notebook"].contents, "nb.ipynb", None, **options)


def saved(path: Path, predicate: Any) -> Any:
    """Wait (yielding to the document's saver greenlet) until the file satisfies `predicate`."""
    return wait_for(lambda: gevent.sleep(0.01) or predicate(read(path)), timeout=10)


def test_a_put_of_an_edited_copy_mid_run_keeps_the_edit_and_the_outputs_without_a_409(
        app: Flask, client: FlaskClient, root: Path) -> None:
    write(root / "nb.ipynb", code("a", "print('a')"), code("b", "print('b')"))
    opened = client.get(URL)
    etag, browser_copy = opened.headers["ETag"], opened.get_json()["content"]
    doc = document(app)
    doc.cell_started("a")
    doc.output("a", stdout("first\n"))
    saved(root / "nb.ipynb", lambda nb: by_id(nb)["a"]["outputs"])
    doc.output("a", stdout("unsaved\n"))  # not on disk yet when the user saves

    browser_copy["cells"][1]["source"] = "print('b, edited')"
    browser_copy["cells"].append(code("c", "print('new')"))
    response = client.put(URL, json={"type": "notebook", "format": "json", "content": browser_copy},
                          headers={"If-Match": etag})
    assert response.status_code == 200, response.get_json()
    on_disk = by_id(read(root / "nb.ipynb"))
    assert on_disk["a"]["outputs"] == [stdout("first\nunsaved\n")]
    assert on_disk["b"]["source"] == "print('b, edited')" and "c" in on_disk

    doc.output("a", stdout("last\n"))
    doc.cell_finished("a", 1, [stdout("first\nunsaved\nlast\n")], "ok")
    doc.close()
    nb = read(root / "nb.ipynb")
    assert [cell["id"] for cell in nb["cells"]] == ["a", "b", "c"]
    cells = by_id(nb)
    assert cells["a"]["outputs"] == [stdout("first\nunsaved\nlast\n")] and cells["a"]["execution_count"] == 1
    assert cells["a"]["metadata"]["flask_notebook"]["execution"]["status"] == "ok"
    assert cells["b"]["source"] == "print('b, edited')" and cells["c"]["source"] == "print('new')"


def test_a_put_of_a_runs_output_copy_mid_run_is_merged_not_overwritten_by_the_runs_next_save(
        app: Flask, client: FlaskClient, root: Path) -> None:
    write(root / "nb.ipynb", code("a", "print('a')"), code("b", "print('b')"))
    source = (root / "nb.ipynb").read_bytes()
    doc = RunDocument(app.extensions["notebook"].contents, "nb.ipynb", "out.ipynb", save_interval=0.02,
                      max_output_bytes=10**6, run_id="r" * 32)
    doc.save_now()
    doc.cell_started("a")
    doc.output("a", stdout("first\n"))
    saved(root / "out.ipynb", lambda nb: by_id(nb)["a"]["outputs"])
    opened = client.get("/api/contents/out.ipynb")  # someone opens the copy the run is writing
    etag, copy = opened.headers["ETag"], opened.get_json()["content"]
    copy["cells"][1]["source"] = "print('b, edited')"
    copy["cells"].append(code("c", "print('new')"))
    response = client.put("/api/contents/out.ipynb", json={"type": "notebook", "format": "json", "content": copy},
                          headers={"If-Match": etag})
    assert response.status_code == 200, response.get_json()

    doc.output("a", stdout("last\n"))
    doc.cell_finished("a", 1, [stdout("first\nlast\n")], "ok")
    doc.close()
    cells = by_id(read(root / "out.ipynb"))
    assert cells["a"]["outputs"] == [stdout("first\nlast\n")] and cells["a"]["execution_count"] == 1
    assert cells["b"]["source"] == "print('b, edited')" and cells["c"]["source"] == "print('new')"
    assert (root / "nb.ipynb").read_bytes() == source


def test_the_browsers_next_save_after_run_saves_and_its_own_is_no_conflict(
        app: Flask, client: FlaskClient, root: Path) -> None:
    write(root / "nb.ipynb", code("a", "1"))
    opened = client.get(URL)
    etag, copy = opened.headers["ETag"], opened.get_json()["content"]
    doc = document(app)
    doc.cell_started("a")
    for n in range(3):
        doc.output("a", stdout(f"{n}\n"))
        saved(root / "nb.ipynb", lambda nb, n=n: f"{n}\n" in "".join(by_id(nb)["a"]["outputs"][0]["text"]))
    for n in range(3):  # the browser saves with the ETag it read, its autosave again and again
        copy["cells"][0]["source"] = f"edit {n}"
        response = client.put(URL, json={"type": "notebook", "content": copy}, headers={"If-Match": etag})
        assert response.status_code == 200
    assert client.put(URL, json={"type": "notebook", "content": copy},
                      headers={"If-Match": '"' + "0" * 64 + '"'}).status_code == 409  # never seen: a conflict
    doc.close()
    cell = read(root / "nb.ipynb")["cells"][0]
    assert cell["source"] == "edit 2" and cell["outputs"] == [stdout("0\n1\n2\n")]


def test_a_cell_the_user_deleted_mid_run_is_no_longer_written_and_the_run_goes_on(
        app: Flask, client: FlaskClient, root: Path) -> None:
    write(root / "nb.ipynb", code("a", "1"), code("b", "2"))
    copy = client.get(URL).get_json()["content"]
    doc = document(app)
    doc.cell_started("a")
    doc.output("a", stdout("a runs\n"))
    copy["cells"] = [cell for cell in copy["cells"] if cell["id"] != "a"]
    assert client.put(URL, json={"type": "notebook", "content": copy}).status_code == 200
    doc.output("a", stdout("still running\n"))
    doc.cell_finished("a", 1, [stdout("a runs\nstill running\n")], "ok")
    doc.cell_started("b")
    doc.output("b", stdout("b\n"))
    doc.cell_finished("b", 2, [stdout("b\n")], "ok")
    doc.close()
    nb = read(root / "nb.ipynb")
    assert [cell["id"] for cell in nb["cells"]] == ["b"] and nb["cells"][0]["outputs"] == [stdout("b\n")]


def test_reordered_cells_and_metadata_from_the_user_survive_later_run_saves(
        app: Flask, client: FlaskClient, root: Path) -> None:
    write(root / "nb.ipynb", code("a", "1"), code("b", "2"))
    copy = client.get(URL).get_json()["content"]
    doc = document(app)
    doc.cell_started("a")
    copy["cells"].reverse()
    copy["cells"][1]["metadata"]["tags"] = ["mine"]
    copy["metadata"]["title"] = "user's"
    assert client.put(URL, json={"type": "notebook", "content": copy}).status_code == 200
    doc.output("a", stdout("x\n"))
    doc.cell_finished("a", 5, [stdout("x\n")], "ok")
    doc.close()
    nb = read(root / "nb.ipynb")
    assert [cell["id"] for cell in nb["cells"]] == ["b", "a"] and nb["metadata"]["title"] == "user's"
    a = by_id(nb)["a"]
    assert a["metadata"]["tags"] == ["mine"] and a["outputs"] == [stdout("x\n")] and a["execution_count"] == 5


def test_a_cell_printing_30_mib_is_cut_in_the_file_at_the_limit_with_the_notice(app: Flask, root: Path) -> None:
    write(root / "nb.ipynb", code("a", "big"), code("b", "small"))
    doc = document(app, max_output_bytes=2**20)
    doc.cell_started("a")
    line = "x" * 1023 + "\n"
    chunk = line * 512  # 512 KiB
    for _ in range(60):  # 30 MiB, as the kernel sends it: in pieces
        doc.output("a", stdout(chunk))
    gevent.sleep(0.05)
    assert len(orjson.dumps(doc.notebook)) < 2 * 2**20  # never more than the bound, not only on disk
    doc.cell_finished("a", 1, [stdout(chunk * 60)], "ok")
    doc.cell_started("b")
    doc.output("b", stdout("fine\n"))
    doc.cell_finished("b", 2, [stdout("fine\n")], "ok")
    doc.close()
    nb = read(root / "nb.ipynb")
    kept, notice = by_id(nb)["a"]["outputs"]
    text = "".join(kept["text"])
    assert len(orjson.dumps({**kept, "text": text})) <= 2**20
    assert len(text) > 2**20 - 2048 and (line * 2048).startswith(text)
    left_out = 60 * len(orjson.dumps(chunk)) - 60 * 2 - (len(orjson.dumps(text)) - 2)
    assert notice["name"] == "stderr" and "".join(notice["text"]) == (
        f"[output truncated: 1 MiB limit (NOTEBOOK_RUN_MAX_OUTPUT_BYTES) reached; {left_out} bytes left out]\n")
    assert by_id(nb)["b"]["outputs"] == [stdout("fine\n")]
    assert (root / "nb.ipynb").stat().st_size < 2 * 2**20


def test_every_version_written_during_a_run_of_odd_outputs_is_valid(app: Flask, root: Path) -> None:
    write(root / "nb.ipynb", *(code(f"c{n}", f"cell {n}") for n in range(6)))
    problems: list[str] = []
    reads = 0
    stop = threading.Event()

    def reader() -> None:  # a real thread, reading as fast as it can while the run writes
        nonlocal reads
        while not stop.is_set():
            try:
                nbformat.validate(nbformat.reads((root / "nb.ipynb").read_text(), as_version=4))
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                problems.append(repr(exc))
            reads += 1

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        doc = document(app, save_interval=0.0, max_output_bytes=4096)
        # Kernel messages (iopub msg_type, content), through the execution engine's merge and
        # into the document as the run engine passes them on.
        odd: list[tuple[str, dict[str, Any]]] = [
            ("display_data", {"metadata": {"image/png": {"width": 2}},
                              "data": {"text/plain": "<Figure>", "text/html": "<b>x</b>", "image/png": "iVBORw0KGgo=",
                                       "image/svg+xml": "<svg/>", "application/json": {"a": [1, None]},
                                       "application/vnd.custom+json": [1, 2], "text/latex": "$x$",
                                       "text/x-odd": {"not": "text"}},
                              "transient": {"display_id": "d1"}}),
            ("update_display_data", {"data": {"text/plain": "updated"}, "metadata": {},
                                     "transient": {"display_id": "d1"}}),
            ("clear_output", {"wait": True}),
            ("stream", {"name": "stdout", "text": "10%\r20%\r"}),
            ("stream", {"name": "stdout", "text": "\x1b[31m100%\x1b[0m\r\n"}),
            ("execute_result", {"execution_count": 3, "data": {"text/plain": "3"}, "metadata": {}}),
            ("stream", {"name": "stderr", "text": "é😀\x00\n" * 2000}),
            ("error", {"ename": "ZeroDivisionError", "evalue": "division by zero",
                       "traceback": ["\x1b[0;31m---\x1b[0m", "ZeroDivisionError: division by zero"]}),
        ]
        for n in range(6):
            cell_id = f"c{n}"
            doc.cell_started(cell_id)
            execution = Execution("kernel", Options(code=""))
            execution.start()
            for msg_type, content in odd:
                seen = len(execution.events)
                execution.add_output(msg_type, content)
                for name, payload in execution.events[seen:]:
                    if name == "output":
                        doc.output(cell_id, payload)
                    elif name == "clear_output":
                        doc.clear_output(cell_id, payload["wait"])
                    elif name == "update_display":
                        doc.update_display({"output_type": "display_data", "data": payload["data"],
                                            "metadata": payload["metadata"],
                                            "transient": {"display_id": payload["display_id"]}})
                gevent.sleep(0.005)
            doc.cell_finished(cell_id, n + 1, execution.display_outputs(), "error")
            gevent.sleep(0.01)
        doc.close()
        wait_for(lambda: reads > 50, timeout=10)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert problems == []
    nb = read(root / "nb.ipynb")
    outputs = nb["cells"][5]["outputs"]
    assert outputs[0]["text"] == "10%\r20%\r\x1b[31m100%\x1b[0m\r\n"
    assert outputs[-1]["output_type"] == "error"  # kept after the cut
    assert any("output truncated" in "".join(o.get("text", "")) for o in outputs)
    assert all(c["metadata"]["flask_notebook"]["execution"]["status"] == "error" for c in nb["cells"])


def test_the_run_document_leaves_the_registry_when_it_closes(app: Flask, root: Path) -> None:
    write(root / "nb.ipynb", code("a", "1"))
    doc = document(app)
    assert rundoc.writing(app.extensions["notebook"].contents, "nb.ipynb") is doc
    doc.close()
    assert rundoc.writing(app.extensions["notebook"].contents, "nb.ipynb") is None


def test_the_first_save_after_the_run_of_a_page_open_during_it_is_merged_not_a_409(
        app: Flask, client: FlaskClient, root: Path) -> None:
    write(root / "nb.ipynb", code("a", "1"), code("b", "2"))
    opened = client.get(URL)
    etag, copy = opened.headers["ETag"], opened.get_json()["content"]
    doc = document(app)
    doc.cell_started("a")
    doc.output("a", stdout("run's\n"))
    doc.cell_finished("a", 1, [stdout("run's\n")], "ok")
    doc.close()
    other_tab = json.loads(json.dumps(copy))
    copy["cells"][1]["source"] = "2, edited after the run"
    response = client.put(URL, json={"type": "notebook", "content": copy}, headers={"If-Match": etag})
    assert response.status_code == 200, response.get_json()
    cells = by_id(read(root / "nb.ipynb"))
    assert cells["a"]["outputs"] == [stdout("run's\n")] and cells["a"]["execution_count"] == 1
    assert cells["b"]["source"] == "2, edited after the run"
    # Now the file is the user's: another page with the same old version is in conflict ...
    assert client.put(URL, json={"type": "notebook", "content": other_tab},
                      headers={"If-Match": etag}).status_code == 409
    # ... and a save of the current version is an ordinary one (clearing outputs clears them).
    current = client.get(URL)
    cleared = current.get_json()["content"]
    cleared["cells"][0]["outputs"] = []
    assert client.put(URL, json={"type": "notebook", "content": cleared},
                      headers={"If-Match": current.headers["ETag"]}).status_code == 200
    assert by_id(read(root / "nb.ipynb"))["a"]["outputs"] == []
