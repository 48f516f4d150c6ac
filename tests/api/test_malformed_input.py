"""Malformed input gets a 4xx with a message, never a 5xx (issue 17, section 2).

Compared side by side with a live jupyter_server 2.21.1:

- A body nested 1,000 levels or more: 400 "Invalid JSON in body of request" (its json module
  runs out of recursion). Between about 500 and 1,000 levels it parses, and what walks the
  document then fails: 500 ("maximum recursion depth exceeded"). We refuse a body nested
  deeper than ``notebooks.MAX_DEPTH`` (400) levels, everywhere, with 400 "Invalid JSON in
  body of request: nested deeper than 400 levels"; up to that, every endpoint works.
- A notebook on disk nested 500 levels: GET 400 "Unreadable Notebook: <path>
  RecursionError(...)" (450 still read). Ours: past 400 levels, 400 "Unreadable Notebook:
  <path> nested deeper than 400 levels"; /trust the same (the reference's /trust answers
  its 400s as HTML pages; ours are JSON).
- A notebook on disk that nbformat cannot read is "Unreadable Notebook" 400: nbformat "4",
  nbformat_minor "x" (``AssertionError()`` there), metadata a list, a cell without metadata,
  a cell that is a string, source lines that are not strings. A notebook it reads but that
  is schema-invalid is 200 with "Notebook validation failed" in ``message``: a cell without
  source; a cell without cell_type (the reference: 500, a KeyError marking trust; ours 200).
  ``"cells": {}`` is 200 there (it iterates the empty object), 400 here (cells must be a list).
- Lone surrogates (``"\\ud800"``): a notebook on disk, 500 there; 400 Unreadable here. In a
  body the reference takes them and fails later (500 for a notebook PUT; 400 "Encoding error"
  for a text file); we refuse every body holding one: 400 naming it.
- A notebook that is not UTF-8: 400 "<path> is not UTF-8 encoded", reason "bad format".
- PUT of a notebook the reference cannot write (wrong nbformat, no metadata, ...): 500
  "Unexpected error while saving file: <path> <exception>"; some it writes and then cannot
  read (source lines that are not strings). Ours: 400 with the same prefix and the problem in
  words, for everything GET would call unreadable, and nothing is written.
- Renaming a folder into itself: 500 "Unknown error renaming file: ... Cannot move a
  directory ... into itself ..."; ours 400. Names over 255 bytes: 500 there; ours 400 "Name
  too long". A chunk aimed at a folder: 500 "Is a directory"; ours 400, as a plain PUT.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from flask_notebook.core.notebooks import MAX_DEPTH

from ..support.responses import assert_error
from ..support.server import LiveServer

API = "/api/contents"
TOO_DEEP = f"Invalid JSON in body of request: nested deeper than {MAX_DEPTH} levels"


def nested(depth: int) -> str:
    """A JSON list nested `depth` levels."""
    return "[" * depth + "]" * depth


def notebook_json(*, metadata: str = "{}", cells: str = "[]", nbformat: str = "4", minor: str = "5") -> str:
    return f'{{"cells": {cells}, "metadata": {metadata}, "nbformat": {nbformat}, "nbformat_minor": {minor}}}'


def cell(**fields: Any) -> dict[str, Any]:
    return {"cell_type": "code", "id": "c1", "metadata": {}, "source": "", "outputs": [], "execution_count": None,
            **fields}


# -- nesting ---------------------------------------------------------------------------------------


@pytest.mark.live
def test_a_body_nested_100000_levels_is_400_on_every_json_endpoint(live_server: LiveServer) -> None:
    """On the real server (gevent, worker threads): where RecursionError was raised matters."""
    session = live_server.request("POST", "/api/sessions", json={"path": "s.ipynb", "type": "notebook"}).json()
    try:
        endpoints = [("PUT", f"{API}/x.ipynb"), ("POST", API), ("PATCH", f"{API}/x.ipynb"),
                     ("POST", "/api/sessions"), ("PATCH", f"/api/sessions/{session['id']}"), ("POST", "/api/kernels"),
                     ("PUT", "/api/config/c"), ("PATCH", "/api/config/c"), ("POST", "/api/events"),
                     ("POST", f"/api/kernels/{session['kernel']['id']}/execute"), ("POST", "/api/execute"),
                     ("PATCH", "/api/me"), ("POST", "/api/terminals")]
        for body in ("[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000):
            for method, url in endpoints:
                response = live_server.request(method, url, data=body)
                assert response.status_code == 400, (method, url, response.text)
                assert response.json() == {"message": TOO_DEEP, "reason": None}, (method, url)
    finally:
        live_server.request("DELETE", f"/api/sessions/{session['id']}")
    assert "unhandled error" not in live_server.log()


@pytest.mark.live
def test_values_nested_up_to_the_limit_never_fail_the_server(live_server: LiveServer) -> None:
    """A body at the limit parses; every field that takes it answers, none with a 5xx (each
    was a 500 at some depth under orjson's 1024: ``str()``, ``repr``, jsonschema, the json
    module's encoder ran out of Python's 1000 frames)."""
    events = '{"schema_id": "https://events.jupyter.org/jupyter_server/contents_service/v1", "version": "1", '
    cases: list[tuple[str, str, Callable[[str], str]]] = [  # the body, from a value nested one level less
        ("PUT", f"{API}/n.ipynb", lambda deep: f'{{"type": "notebook", "content": '
                                               f'{notebook_json(metadata=f"""{{"x": {deep[2:-2]}}}""")}}}'),
        ("PUT", f"{API}/f.txt", lambda deep: f'{{"type": "file", "format": "text", "content": {deep}}}'),
        ("PUT", f"{API}/t.txt", lambda deep: f'{{"type": {deep}, "format": "text", "content": ""}}'),
        ("PUT", f"{API}/c.txt", lambda deep: f'{{"type": "file", "format": "text", "content": "", "chunk": {deep}}}'),
        ("PUT", f"{API}/p.txt", lambda deep: f'{{"type": "file", "format": "text", "content": "", "path": {deep}}}'),
        ("POST", API, lambda deep: f'{{"copy_from": {deep}}}'),
        ("POST", API, lambda deep: f'{{"ext": {deep}}}'),
        ("PATCH", f"{API}/n.ipynb", lambda deep: f'{{"path": {deep}}}'),
        ("POST", "/api/sessions", lambda deep: f'{{"path": "a.ipynb", "type": "notebook", "notebook": {deep}}}'),
        ("POST", "/api/kernels", lambda deep: f'{{"name": {deep}}}'),
        ("PUT", "/api/config/c", lambda deep: f'{{"a": {deep}}}'),
        ("POST", "/api/events", lambda deep: events + f'"data": {deep}}}'),
        ("POST", "/api/events", lambda deep: f'{{"schema_id": {deep}, "version": 1, "data": {{}}}}'),
        ("POST", "/api/execute", lambda deep: f'{{"code": "1", "user_expressions": {deep}}}'),
        ("PATCH", "/api/me", lambda deep: f'{{"name": {deep}}}'),
        ("POST", "/api/terminals", lambda deep: f'{{"name": {deep}}}'),
    ]
    for method, url, body in cases:
        response = live_server.request(method, url, data=body(nested(MAX_DEPTH - 1)))
        assert response.status_code < 500, (method, url, response.text[:300])
        assert response.headers["Content-Type"].startswith("application/json"), (method, url)
        assert len(response.content) < 2000, (method, url)  # no client value echoed whole
        response = live_server.request(method, url, data=body(nested(MAX_DEPTH)))
        assert response.json() == {"message": TOO_DEEP, "reason": None}, (method, url)
    # The notebook at the limit was saved: it reads, trusts and checkpoints like any other.
    for method, url in (("GET", f"{API}/n.ipynb"), ("POST", f"{API}/n.ipynb/trust"),
                        ("POST", f"{API}/n.ipynb/checkpoints"), ("POST", API)):
        response = live_server.request(method, url, json={"copy_from": "n.ipynb"} if url == API else None)
        assert response.status_code in (200, 201), (method, url, response.text[:300])
    assert "unhandled error" not in live_server.log()


@pytest.mark.parametrize("depth, readable", [(MAX_DEPTH, True), (MAX_DEPTH + 1, False), (100_000, False)])
def test_a_notebook_nested_past_the_limit_on_disk_is_unreadable(client: FlaskClient, root: Path, depth: int,
                                                                readable: bool) -> None:
    (root / "deep.ipynb").write_text(notebook_json(metadata=f'{{"x": {nested(depth - 2)}}}'))
    if readable:
        assert client.get(f"{API}/deep.ipynb").status_code == 200
        assert client.post(f"{API}/deep.ipynb/trust").status_code == 201
        return
    message = f"Unreadable Notebook: deep.ipynb nested deeper than {MAX_DEPTH} levels"
    assert_error(client.get(f"{API}/deep.ipynb"), 400, message)
    assert_error(client.post(f"{API}/deep.ipynb/trust"), 400, message)


# -- notebooks that cannot be read ---------------------------------------------------------------

UNREADABLE = {  # the notebook's JSON -> what the message names
    "nbformat_str": (notebook_json(nbformat='"4"'), "NBFormatError('Unsupported nbformat version 4')"),
    "minor_str": (notebook_json(minor='"x"'), 'nbformat_minor must be an integer, not "x"'),
    "minor_null": (notebook_json(minor="null"), "nbformat_minor must be an integer, not null"),
    "metadata_list": (notebook_json(metadata="[]"), "metadata must be an object, not a list"),
    "no_metadata": ('{"cells": [], "nbformat": 4, "nbformat_minor": 5}', "has no metadata"),
    "no_cells": ('{"metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "has no cells"),
    "cells_object": (notebook_json(cells="{}"), "cells must be a list, not an object"),
    "cell_string": (notebook_json(cells='["x"]'), 'cell 0: not an object but "x"'),
    "cell_no_keys": (notebook_json(cells="[{}]"), "cell 0: has no metadata object"),
    "cell_no_metadata": (notebook_json(cells='[{"cell_type": "code", "source": "", "outputs": []}]'),
                         "cell 0: has no metadata object"),
    "cell_type_list": (notebook_json(cells=json.dumps([cell(cell_type=[])])), "cell 0: cell_type must be a string, not a list"),
    "source_ints": (notebook_json(cells=json.dumps([cell(source=[1, 2])])), "cell 0: source lines must all be strings"),
    "outputs_string": (notebook_json(cells=json.dumps([cell(outputs="x")])), 'cell 0: outputs must be a list, not "x"'),
    "output_text_ints": (notebook_json(cells=json.dumps([cell(outputs=[
        {"output_type": "stream", "name": "stdout", "text": [1]}])])), "cell 0: output 0: text lines must all be strings"),
    "output_data_list": (notebook_json(cells=json.dumps([cell(outputs=[
        {"output_type": "display_data", "data": [], "metadata": {}}])])), "cell 0: output 0: data must be an object, not a list"),
    "attachments_list": (notebook_json(cells=json.dumps([{"cell_type": "markdown", "id": "m", "metadata": {},
                                                          "source": "", "attachments": [1]}])),
                         "cell 0: attachments must be an object of objects"),
    "lone_surrogate": (notebook_json(cells='[{"cell_type": "markdown", "id": "m", "metadata": {}, '
                                           '"source": "\\ud800"}]'), "a lone surrogate ('\\ud800') is not text"),
    "lone_surrogate_key": (notebook_json(metadata='{"\\udfff": 1}'), "a lone surrogate ('\\udfff') is not text"),
}


@pytest.mark.parametrize("case", UNREADABLE)
def test_a_notebook_nbformat_cannot_read_is_unreadable_and_never_trusted(client: FlaskClient, root: Path,
                                                                         case: str) -> None:
    text, problem = UNREADABLE[case]
    (root / "bad.ipynb").write_text(text)
    for response in (client.get(f"{API}/bad.ipynb"), client.post(f"{API}/bad.ipynb/trust")):
        assert_error(response, 400, f"Unreadable Notebook: bad.ipynb {problem}")


@pytest.mark.parametrize("case", [case for case in UNREADABLE if not case.startswith("lone")])
def test_put_of_a_notebook_that_could_not_be_read_back_is_400_naming_the_problem(client: FlaskClient, root: Path,
                                                                                 case: str) -> None:
    text, problem = UNREADABLE[case]
    if case == "nbformat_str":
        problem = 'nbformat must be 4, not "4"'
    body = f'{{"type": "notebook", "content": {text}}}'
    assert_error(client.put(f"{API}/bad.ipynb", data=body), 400,
                 f"Unexpected error while saving file: bad.ipynb {problem}")
    assert not (root / "bad.ipynb").exists()


@pytest.mark.parametrize("nbformat, problem", [("3", "nbformat must be 4, not 3"), ("4.0", "nbformat must be 4, not 4.0"),
                                               ("null", "nbformat must be 4, not null")])
def test_put_of_a_notebook_that_is_not_nbformat_4_is_400(client: FlaskClient, root: Path, nbformat: str,
                                                         problem: str) -> None:
    body = f'{{"type": "notebook", "content": {notebook_json(nbformat=nbformat)}}}'
    assert_error(client.put(f"{API}/v.ipynb", data=body), 400, f"Unexpected error while saving file: v.ipynb {problem}")
    assert not (root / "v.ipynb").exists()


@pytest.mark.parametrize("damage", [{"cell_type": None}, {"source": None}])
def test_a_cell_missing_cell_type_or_source_is_read_with_a_validation_message(client: FlaskClient, root: Path,
                                                                               damage: dict[str, Any]) -> None:
    broken = {key: value for key, value in cell().items() if key not in damage}
    content = {"cells": [broken], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    saved = client.put(f"{API}/v.ipynb", json={"type": "notebook", "content": content})
    assert saved.status_code == 201 and saved.json["message"].startswith("Notebook validation failed")
    for response in (client.get(f"{API}/v.ipynb"), client.get(f"{API}/v.ipynb")):  # checked, then remembered
        assert response.status_code == 200 and response.json["message"].startswith("Notebook validation failed")
    assert client.post(f"{API}/v.ipynb/trust").status_code == 201


def test_a_notebook_that_is_not_utf8_is_a_bad_format(client: FlaskClient, root: Path) -> None:
    (root / "latin.ipynb").write_bytes(notebook_json(metadata='{"x": "\xff"}').encode("latin-1"))
    body = assert_error(client.get(f"{API}/latin.ipynb"), 400, "latin.ipynb is not UTF-8 encoded")
    assert body["reason"] == "bad format"


# -- lone surrogates in bodies -----------------------------------------------------------------------


@pytest.mark.parametrize("model", [
    {"type": "file", "format": "text", "content": "a\ud800b"},
    {"type": "file", "format": "text", "content": "a\ud800b", "chunk": 1},
    {"type": "notebook", "content": {"cells": [], "metadata": {"\udfff": "x"}, "nbformat": 4, "nbformat_minor": 5}},
])
def test_a_lone_surrogate_is_refused_not_written_as_invalid_utf8(client: FlaskClient, root: Path,
                                                                 model: dict[str, Any]) -> None:
    body = json.dumps(model).encode()  # escaped (\\ud800), as a browser's JSON.stringify sends it
    response = client.put(f"{API}/s.txt", data=body)
    assert assert_error(response, 400)["message"].startswith("Invalid JSON in body of request: a lone surrogate")
    assert sorted(path.name for path in root.iterdir()) == []


def test_raw_surrogate_bytes_and_non_utf8_bodies_are_invalid_json(client: FlaskClient, root: Path) -> None:
    # UTF-8 of a surrogate (ED A0 80) passed the json module's surrogatepass decoding; UTF-16
    # its encoding detection: both were read.
    for body in (b'{"type": "file", "format": "text", "content": "\xed\xa0\x80"}',
                 '{"type": "file", "format": "text", "content": "x"}'.encode("utf-16")):
        assert_error(client.put(f"{API}/s.txt", data=body), 400, "Invalid JSON in body of request")
    assert not (root / "s.txt").exists()


# -- names and places ------------------------------------------------------------------------------


def test_renaming_a_folder_into_itself_is_400(client: FlaskClient, root: Path) -> None:
    (root / "f" / "sub").mkdir(parents=True)
    for target in ("f/inner", "f/sub/inner"):
        assert_error(client.patch(f"{API}/f", json={"path": target}), 400,
                     f"Cannot move a directory 'f' into itself '{target}'")
    # An existing target is a conflict first, as in the reference.
    assert_error(client.patch(f"{API}/f", json={"path": "f/sub"}), 409, "File already exists: f/sub")
    assert sorted(p.name for p in root.rglob("*")) == ["f", "sub"]


def test_renaming_under_a_file_or_a_missing_folder_names_the_folder(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    assert_error(client.patch(f"{API}/a.txt", json={"path": "a.txt/b"}), 404, "No such directory: a.txt")
    assert_error(client.patch(f"{API}/a.txt", json={"path": "no/b"}), 404, "No such directory: no")
    assert_error(client.patch(f"{API}/gone.txt", json={"path": "b"}), 404, "File or directory does not exist: gone.txt")


def test_names_over_255_bytes_are_400_name_too_long(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    long_name = "é" * 128  # 256 bytes of UTF-8
    message = f"Name too long: '{'é' * 39}…' is 256 bytes; the file system allows 255"
    text = {"type": "file", "format": "text", "content": "x"}
    for response in (client.put(f"{API}/{long_name}", json=text), client.put(f"{API}/{long_name}", json={"type": "directory"}),
                     client.get(f"{API}/{long_name}"), client.delete(f"{API}/{long_name}"),
                     client.patch(f"{API}/a.txt", json={"path": long_name}), client.post(f"{API}/{long_name}", json={}),
                     client.post(f"{API}/{long_name}", json={"copy_from": "a.txt"})):
        assert_error(response, 400, message)
    deep = "/".join(["d" * 200] * 21)  # 4,200 bytes: past the longest path the system takes
    assert assert_error(client.put(f"{API}/{deep}", json=text), 400)["message"].startswith("Path too long: ")
    assert sorted(p.name for p in root.iterdir()) == ["a.txt"]


def test_names_of_255_bytes_are_saved_uploaded_and_copied(client: FlaskClient, root: Path) -> None:
    """The temporary file beside a save, and an upload's partial file, are named after the
    target, and were over the limit: a 500 for a save, a 404 "outside root" for an upload."""
    name = "n" * 249 + ".ipynb"
    assert client.put(f"{API}/{name}", json={"type": "notebook"}).status_code == 201
    upload = "u" * 255
    assert client.put(f"{API}/{upload}", json={"type": "file", "format": "text", "content": "1", "chunk": 1}).status_code == 201
    assert client.put(f"{API}/{upload}", json={"type": "file", "format": "text", "content": "2", "chunk": -1}).status_code == 200
    assert (root / upload).read_text() == "12"
    (root / "sub").mkdir()
    assert client.post(f"{API}/sub", json={"copy_from": name}).status_code == 201
    # Its checkpoint's name would be too long: the notebook was saved all the same.
    assert not (root / ".ipynb_checkpoints").exists() or not list((root / ".ipynb_checkpoints").iterdir())
    assert_error(client.post(f"{API}/{name}/checkpoints"), 400)
    assert client.get(f"{API}/{name}/checkpoints").json == []
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == sorted([name, upload, "sub"])
    assert [p.name for p in root.iterdir() if p.name.startswith(".~")] == []


@pytest.mark.parametrize("chunk", [1, 2, -1])
def test_a_chunk_aimed_at_a_folder_is_400_and_leaves_nothing(client: FlaskClient, root: Path, chunk: int) -> None:
    (root / "f").mkdir()
    model = {"type": "file", "format": "base64", "content": "YQ==", "chunk": chunk}
    assert_error(client.put(f"{API}/f", json=model), 400, "f is a directory: a file cannot be saved over it")
    assert [p.name for p in root.iterdir()] == ["f"]
