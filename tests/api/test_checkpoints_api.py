"""`/api/contents/<path>/checkpoints` and `/trust` (contract sections 3.7 and 3.8)."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat
import pytest
from flask.testing import FlaskClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from werkzeug.test import TestResponse

from ..support.responses import assert_error

API = "/api/contents"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def put_json(client: FlaskClient, api_path: str, body: Any) -> TestResponse:
    return client.put(f"{API}/{api_path}", data=json.dumps(body), content_type="application/json")


def save_notebook(client: FlaskClient, api_path: str, nb: dict[str, Any]) -> TestResponse:
    response = put_json(client, api_path, {"type": "notebook", "content": nb})
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return response


def html_notebook() -> nbformat.NotebookNode:
    """A notebook whose first code cell has HTML output, so it is untrusted unless signed."""
    return new_notebook(cells=[
        new_code_cell("display(HTML('<b>x</b>'))", outputs=[
            new_output("display_data", data={"text/html": "<b>x</b>", "text/plain": "x"}),
        ]),
        new_code_cell("1 + 1", outputs=[new_output("execute_result", data={"text/plain": "2"}, execution_count=1)]),
        new_markdown_cell("notes"),
    ])


def code_cell_trust(client: FlaskClient, api_path: str) -> list[Any]:
    cells = client.get(f"{API}/{api_path}").get_json()["content"]["cells"]
    return [cell["metadata"].get("trusted") for cell in cells if cell["cell_type"] == "code"]


def iso_mtime(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- list -----------------------------------------------------------------------------------------


def test_new_file_has_no_checkpoints(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    response = client.get(f"{API}/a.txt/checkpoints")
    assert response.status_code == 200 and response.get_json() == []


def test_missing_file_lists_no_checkpoints(client: FlaskClient) -> None:
    for url in (f"{API}/nope.txt/checkpoints", f"{API}/no/such/dir/x.txt/checkpoints"):
        response = client.get(url)
        assert response.status_code == 200 and response.get_json() == []


# -- create -------------------------------------------------------------------------------------


def test_create_checkpoint_is_201_with_model_and_location(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    response = client.post(f"{API}/a.txt/checkpoints")
    assert response.status_code == 201
    checkpoint = response.get_json()
    assert set(checkpoint) == {"id", "last_modified"} and checkpoint["id"] == "checkpoint"
    assert TIMESTAMP.match(checkpoint["last_modified"])
    assert response.headers["Location"] == "/api/contents/a.txt/checkpoints/checkpoint"
    assert "Last-Modified" not in response.headers
    assert client.get(f"{API}/a.txt/checkpoints").get_json() == [checkpoint]


def test_checkpoint_last_modified_is_the_copy_mtime(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    client.post(f"{API}/a.txt/checkpoints")
    copy = root / ".ipynb_checkpoints" / "a-checkpoint.txt"
    os.utime(copy, (1_600_000_000.5, 1_600_000_000.5))
    listed = client.get(f"{API}/a.txt/checkpoints").get_json()
    assert listed == [{"id": "checkpoint", "last_modified": "2020-09-13T12:26:40.500000Z"}]
    assert listed[0]["last_modified"] == iso_mtime(copy)


def test_create_checkpoint_location_quotes_the_path(client: FlaskClient, root: Path) -> None:
    (root / "my dir").mkdir()
    (root / "my dir" / "a b.txt").write_text("a")
    response = client.post(f"{API}/my%20dir/a%20b.txt/checkpoints")
    assert response.headers["Location"] == "/api/contents/my%20dir/a%20b.txt/checkpoints/checkpoint"


@pytest.mark.parametrize("api_path, checkpoint", [
    ("a.txt", ".ipynb_checkpoints/a-checkpoint.txt"),
    ("sub/n.ipynb", "sub/.ipynb_checkpoints/n-checkpoint.ipynb"),
    ("sub/deeper/README", "sub/deeper/.ipynb_checkpoints/README-checkpoint"),
    ("a.tar.gz", ".ipynb_checkpoints/a.tar-checkpoint.gz"),
])
def test_checkpoint_is_stored_beside_the_file(client: FlaskClient, root: Path, api_path: str, checkpoint: str) -> None:
    (root / api_path).parent.mkdir(parents=True, exist_ok=True)
    (root / api_path).write_bytes(b"payload")
    assert client.post(f"{API}/{api_path}/checkpoints").status_code == 201
    assert (root / checkpoint).read_bytes() == b"payload"


def test_create_checkpoint_overwrites_the_previous_one(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("v1")
    client.post(f"{API}/a.txt/checkpoints")
    (root / "a.txt").write_text("v2")
    client.post(f"{API}/a.txt/checkpoints")
    assert (root / ".ipynb_checkpoints" / "a-checkpoint.txt").read_text() == "v2"
    assert len(client.get(f"{API}/a.txt/checkpoints").get_json()) == 1


def test_checkpoint_directory_is_hidden_from_listings(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    client.post(f"{API}/a.txt/checkpoints")
    assert [child["name"] for child in client.get(API).get_json()["content"]] == ["a.txt"]
    assert_error(client.get(f"{API}/.ipynb_checkpoints/a-checkpoint.txt"), 404)


def test_create_checkpoint_of_missing_file_is_404(client: FlaskClient, root: Path) -> None:
    assert_error(client.post(f"{API}/nope.txt/checkpoints"), 404)
    assert not (root / ".ipynb_checkpoints").exists()


# -- restore ------------------------------------------------------------------------------------


def test_restore_checkpoint_is_204_and_brings_content_back(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("original")
    client.post(f"{API}/a.txt/checkpoints")
    put_json(client, "a.txt", {"type": "file", "format": "text", "content": "edited"})
    response = client.post(f"{API}/a.txt/checkpoints/checkpoint")
    assert response.status_code == 204 and response.get_data() == b""
    assert "Content-Type" not in response.headers
    assert (root / "a.txt").read_text() == "original"
    assert client.get(f"{API}/a.txt").get_json()["content"] == "original"


def test_restore_recreates_a_deleted_file(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("original")
    client.post(f"{API}/a.txt/checkpoints")
    (root / "a.txt").unlink()
    assert client.post(f"{API}/a.txt/checkpoints/checkpoint").status_code == 204
    assert (root / "a.txt").read_text() == "original"


def test_restore_notebook_to_its_first_save(client: FlaskClient, root: Path) -> None:
    assert client.post(API, data=json.dumps({"type": "notebook"})).status_code == 201
    save_notebook(client, "Untitled.ipynb", new_notebook(cells=[new_markdown_cell("later")]))
    assert client.post(f"{API}/Untitled.ipynb/checkpoints/checkpoint").status_code == 204
    assert client.get(f"{API}/Untitled.ipynb").get_json()["content"]["cells"] == []


def test_restore_missing_checkpoint_is_404(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    assert_error(client.post(f"{API}/a.txt/checkpoints/checkpoint"), 404, "Checkpoint does not exist: a.txt@checkpoint")
    assert (root / "a.txt").read_text() == "a"


def test_restore_unknown_checkpoint_id_is_404(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    client.post(f"{API}/a.txt/checkpoints")
    assert_error(client.post(f"{API}/a.txt/checkpoints/other-id"), 404, "Checkpoint does not exist: a.txt@other-id")


# -- delete -------------------------------------------------------------------------------------


def test_delete_checkpoint_is_204(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    client.post(f"{API}/a.txt/checkpoints")
    response = client.delete(f"{API}/a.txt/checkpoints/checkpoint")
    assert response.status_code == 204 and response.get_data() == b""
    assert client.get(f"{API}/a.txt/checkpoints").get_json() == []
    assert not (root / ".ipynb_checkpoints" / "a-checkpoint.txt").exists()
    assert (root / "a.txt").read_text() == "a"


def test_delete_missing_checkpoint_is_404(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    assert_error(client.delete(f"{API}/a.txt/checkpoints/checkpoint"), 404, "Checkpoint does not exist: a.txt@checkpoint")
    assert_error(client.delete(f"{API}/sub/nope.txt/checkpoints/checkpoint"), 404,
                 "Checkpoint does not exist: sub/nope.txt@checkpoint")


# -- notebook saves -----------------------------------------------------------------------------


def test_first_notebook_save_creates_checkpoint(client: FlaskClient, root: Path) -> None:
    save_notebook(client, "n.ipynb", new_notebook(cells=[new_markdown_cell("first")]))
    checkpoint = root / ".ipynb_checkpoints" / "n-checkpoint.ipynb"
    assert checkpoint.read_bytes() == (root / "n.ipynb").read_bytes()
    assert [c["id"] for c in client.get(f"{API}/n.ipynb/checkpoints").get_json()] == ["checkpoint"]


def test_later_notebook_save_keeps_the_first_checkpoint(client: FlaskClient, root: Path) -> None:
    save_notebook(client, "n.ipynb", new_notebook(cells=[new_markdown_cell("first")]))
    first = (root / "n.ipynb").read_bytes()
    save_notebook(client, "n.ipynb", new_notebook(cells=[new_markdown_cell("second")]))
    assert (root / "n.ipynb").read_bytes() != first
    assert (root / ".ipynb_checkpoints" / "n-checkpoint.ipynb").read_bytes() == first


def test_copied_notebook_gets_its_own_checkpoint(client: FlaskClient, root: Path) -> None:
    save_notebook(client, "n.ipynb", new_notebook(cells=[new_markdown_cell("first")]))
    (root / "sub").mkdir()
    assert client.post(f"{API}/sub", data=json.dumps({"copy_from": "n.ipynb"})).status_code == 201
    checkpoint = root / "sub" / ".ipynb_checkpoints" / "n-checkpoint.ipynb"
    assert checkpoint.read_bytes() == (root / "n.ipynb").read_bytes()


def test_new_untitled_notebook_gets_checkpoint(client: FlaskClient, root: Path) -> None:
    client.post(API, data=json.dumps({"type": "notebook"}))
    assert (root / ".ipynb_checkpoints" / "Untitled-checkpoint.ipynb").is_file()


def test_saving_a_plain_file_creates_no_checkpoint(client: FlaskClient, root: Path) -> None:
    put_json(client, "a.txt", {"type": "file", "format": "text", "content": "a"})
    assert client.get(f"{API}/a.txt/checkpoints").get_json() == []
    assert not (root / ".ipynb_checkpoints").exists()


# -- trust --------------------------------------------------------------------------------------


def test_unsigned_notebook_with_html_output_is_untrusted(client: FlaskClient, root: Path) -> None:
    nbformat.write(html_notebook(), root / "n.ipynb")
    assert code_cell_trust(client, "n.ipynb") == [False, False]


def test_trust_endpoint_is_201_and_marks_code_cells_trusted(client: FlaskClient, root: Path) -> None:
    nbformat.write(html_notebook(), root / "n.ipynb")
    before = (root / "n.ipynb").read_bytes()
    response = client.post(f"{API}/n.ipynb/trust")
    assert response.status_code == 201
    assert code_cell_trust(client, "n.ipynb") == [True, True]
    assert (root / "n.ipynb").read_bytes() == before  # the signature lives in the store, not the file
    cells = client.get(f"{API}/n.ipynb").get_json()["content"]["cells"]
    assert "trusted" not in cells[2]["metadata"]


def test_trust_of_missing_notebook_is_404(client: FlaskClient) -> None:
    assert_error(client.post(f"{API}/nope.ipynb/trust"), 404)


def test_editing_a_trusted_notebook_on_disk_drops_trust(client: FlaskClient, root: Path) -> None:
    nbformat.write(html_notebook(), root / "n.ipynb")
    client.post(f"{API}/n.ipynb/trust")
    nb = nbformat.read(root / "n.ipynb", as_version=4)
    nb.cells[0].outputs[0].data["text/html"] = "<script>evil()</script>"
    nbformat.write(nb, root / "n.ipynb")
    assert code_cell_trust(client, "n.ipynb") == [False, False]


def test_saving_with_all_cells_trusted_signs_the_notebook(client: FlaskClient, root: Path) -> None:
    nb = html_notebook()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.metadata["trusted"] = True
    save_notebook(client, "n.ipynb", nb)
    assert code_cell_trust(client, "n.ipynb") == [True, True]


def test_saving_with_an_untrusted_html_cell_leaves_it_unsigned(client: FlaskClient, root: Path) -> None:
    save_notebook(client, "n.ipynb", html_notebook())
    assert code_cell_trust(client, "n.ipynb") == [False, False]


def test_notebook_without_rich_output_is_trusted_after_save(client: FlaskClient, root: Path) -> None:
    nb = new_notebook(cells=[new_code_cell("print(1)", outputs=[new_output("stream", name="stdout", text="1\n")])])
    save_notebook(client, "n.ipynb", nb)
    assert code_cell_trust(client, "n.ipynb") == [True]
