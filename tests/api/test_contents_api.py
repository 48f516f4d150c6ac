"""`/api/contents`: models, naming rules, status codes and headers (contract section 3)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import nbformat
import pytest
from flask.testing import FlaskClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from werkzeug.test import TestResponse

from flask_notebook import create_app

from ..support.env import TOKEN
from ..support.responses import assert_error

API = "/api/contents"
KEYS = {
    "name", "path", "type", "writable", "created", "last_modified", "size",
    "mimetype", "content", "format", "hash", "hash_algorithm",
}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
BINARY = bytes(range(256)) * 3  # not UTF-8, and long enough to need several base64 lines


# -- helpers --------------------------------------------------------------------------------


def assert_model(model: dict[str, Any]) -> dict[str, Any]:
    """Every key of the contract's model, nothing internal, timestamps in the strict format."""
    assert set(model) - {"message"} == KEYS
    assert TIMESTAMP.match(model["created"]), model["created"]
    assert TIMESTAMP.match(model["last_modified"]), model["last_modified"]
    return model


def put_json(client: FlaskClient, api_path: str, body: Any, **kwargs: Any) -> TestResponse:
    return client.put(f"{API}/{api_path}", data=json.dumps(body), content_type="application/json", **kwargs)


def post_json(client: FlaskClient, api_path: str, body: Any) -> TestResponse:
    return client.post(f"{API}/{api_path}", data=json.dumps(body), content_type="application/json")


def patch_json(client: FlaskClient, api_path: str, body: Any) -> TestResponse:
    return client.patch(f"{API}/{api_path}", data=json.dumps(body), content_type="application/json")


def text_body(text: str) -> dict[str, Any]:
    return {"type": "file", "format": "text", "content": text}


def html_notebook() -> nbformat.NotebookNode:
    """A notebook whose code cell has HTML output: untrusted unless signed."""
    return new_notebook(cells=[
        new_code_cell("print('a')\nprint('b')", outputs=[
            new_output("display_data", data={"text/html": "<b>bold</b>\n<i>it</i>", "text/plain": "bold"}),
        ]),
        new_markdown_cell("# Title\n\nsome *text*"),
    ])


def listing_names(client: FlaskClient, api_path: str = "", query: str = "") -> list[str]:
    response = client.get(f"{API}/{api_path}{query}")
    assert response.status_code == 200
    return [child["name"] for child in response.get_json()["content"]]


# -- GET: models ------------------------------------------------------------------------------


def test_file_model_has_all_keys_and_strict_timestamps(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("hello\n")
    model = assert_model(client.get(f"{API}/a.txt").get_json())
    assert model["name"] == "a.txt" and model["path"] == "a.txt" and model["type"] == "file"
    assert model["content"] == "hello\n" and model["format"] == "text"
    assert model["mimetype"] == "text/plain"
    assert model["size"] == 6
    assert model["writable"] is True
    assert model["hash"] is None and model["hash_algorithm"] is None


def test_file_in_subdirectory_has_path_relative_to_root(client: FlaskClient, root: Path) -> None:
    (root / "sub").mkdir()
    (root / "sub" / "b.py").write_text("x = 1\n")
    model = assert_model(client.get(f"{API}/sub/b.py").get_json())
    assert model["name"] == "b.py" and model["path"] == "sub/b.py"


def test_directory_model_has_null_size_and_json_format(client: FlaskClient, root: Path) -> None:
    (root / "sub").mkdir()
    model = assert_model(client.get(f"{API}/sub").get_json())
    assert model["type"] == "directory"
    assert model["size"] is None
    assert model["format"] == "json" and model["content"] == []
    assert model["mimetype"] is None


def test_root_model_has_empty_name_and_path(client: FlaskClient, root: Path) -> None:
    for url in (API, f"{API}/"):
        model = assert_model(client.get(url).get_json())
        assert model["name"] == "" and model["path"] == "" and model["type"] == "directory"


def test_listing_children_have_all_keys_and_no_content(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("abc")
    (root / "n.ipynb").write_text(nbformat.writes(new_notebook()))
    (root / "sub").mkdir()
    children = {child["name"]: child for child in client.get(API).get_json()["content"]}
    assert set(children) == {"a.txt", "n.ipynb", "sub"}
    for child in children.values():
        assert_model(child)
        assert child["content"] is None and child["format"] is None
    assert children["a.txt"]["type"] == "file" and children["a.txt"]["size"] == 3
    assert children["a.txt"]["mimetype"] == "text/plain"
    assert children["n.ipynb"]["type"] == "notebook"
    assert children["sub"]["type"] == "directory" and children["sub"]["size"] is None
    assert children["sub"]["path"] == "sub"


def test_content_0_gives_null_content_and_format(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("abc")
    (root / "n.ipynb").write_text(nbformat.writes(new_notebook()))
    (root / "sub").mkdir()
    for name in ("a.txt", "n.ipynb", "sub"):
        model = assert_model(client.get(f"{API}/{name}?content=0").get_json())
        assert model["content"] is None and model["format"] is None, name


def test_content_0_on_unknown_extension_has_null_mimetype(client: FlaskClient, root: Path) -> None:
    (root / "data.unknownext").write_bytes(b"abc")
    assert client.get(f"{API}/data.unknownext?content=0").get_json()["mimetype"] is None
    assert client.get(f"{API}/data.unknownext").get_json()["mimetype"] == "text/plain"


def test_hash_1_gives_sha256_of_bytes_on_disk(client: FlaskClient, root: Path) -> None:
    (root / "a.bin").write_bytes(BINARY)
    model = assert_model(client.get(f"{API}/a.bin?hash=1").get_json())
    assert model["hash"] == hashlib.sha256(BINARY).hexdigest()
    assert model["hash_algorithm"] == "sha256"


def test_hash_1_on_notebook_hashes_the_file_even_without_content(client: FlaskClient, root: Path) -> None:
    raw = nbformat.writes(html_notebook()).encode()
    (root / "n.ipynb").write_bytes(raw)
    model = assert_model(client.get(f"{API}/n.ipynb?hash=1&content=0").get_json())
    assert model["hash"] == hashlib.sha256(raw).hexdigest() and model["content"] is None
    assert model["hash_algorithm"] == "sha256"


@pytest.mark.parametrize("query", ["content=2", "content=", "content=true", "hash=2", "hash=yes", "format=xml"])
def test_invalid_query_values_are_400(client: FlaskClient, root: Path, query: str) -> None:
    (root / "a.txt").write_text("abc")
    assert_error(client.get(f"{API}/a.txt?{query}"), 400)


def test_invalid_format_message_names_the_value(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("abc")
    assert_error(client.get(f"{API}/a.txt?format=xml"), 400, "Format 'xml' is invalid")


@pytest.mark.parametrize("kind", ["file", "notebook"])
def test_directory_read_as_other_type_is_400_bad_type(client: FlaskClient, root: Path, kind: str) -> None:
    (root / "sub").mkdir()
    body = assert_error(client.get(f"{API}/sub?type={kind}"), 400, f"sub is a directory, not a {kind}")
    assert body["reason"] == "bad type"


def test_file_read_as_directory_is_400_bad_type(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("abc")
    body = assert_error(client.get(f"{API}/a.txt?type=directory"), 400, "a.txt is not a directory")
    assert body["reason"] == "bad type"


def test_unknown_type_is_treated_as_file(client: FlaskClient, root: Path) -> None:
    (root / "n.ipynb").write_text(nbformat.writes(new_notebook()))
    model = client.get(f"{API}/n.ipynb?type=banana").get_json()
    assert model["type"] == "file" and isinstance(model["content"], str)


def test_format_text_on_non_utf8_is_400_bad_format(client: FlaskClient, root: Path) -> None:
    (root / "a.bin").write_bytes(BINARY)
    assert assert_error(client.get(f"{API}/a.bin?format=text"), 400)["reason"] == "bad format"


def test_binary_file_is_base64_with_mime_line_wrapping(client: FlaskClient, root: Path) -> None:
    (root / "a.bin").write_bytes(BINARY)
    model = assert_model(client.get(f"{API}/a.bin").get_json())
    assert model["format"] == "base64"
    assert model["content"] == base64.encodebytes(BINARY).decode("ascii")
    lines = model["content"].split("\n")
    assert lines[-1] == "" and all(len(line) == 76 for line in lines[:-2]) and 0 < len(lines[-2]) <= 76
    assert model["mimetype"] == "application/octet-stream"
    assert base64.b64decode(model["content"]) == BINARY


def test_format_base64_on_text_file_encodes_it(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("hello")
    model = client.get(f"{API}/a.txt?format=base64").get_json()
    assert model["format"] == "base64" and model["content"] == base64.encodebytes(b"hello").decode()


def test_notebook_model_joins_sources_and_marks_code_cells_untrusted(client: FlaskClient, root: Path) -> None:
    nbformat.write(html_notebook(), root / "n.ipynb")
    model = assert_model(client.get(f"{API}/n.ipynb").get_json())
    assert model["type"] == "notebook" and model["format"] == "json" and model["mimetype"] is None
    assert model["size"] == (root / "n.ipynb").stat().st_size
    assert "message" not in model
    code, markdown = model["content"]["cells"]
    assert code["source"] == "print('a')\nprint('b')"
    assert code["outputs"][0]["data"]["text/html"] == "<b>bold</b>\n<i>it</i>"
    assert code["metadata"]["trusted"] is False
    assert markdown["source"] == "# Title\n\nsome *text*"
    assert "trusted" not in markdown["metadata"]
    assert model["content"]["nbformat"] == 4


def test_schema_invalid_notebook_is_200_with_validation_message(client: FlaskClient, root: Path) -> None:
    nb = {"cells": [{"cell_type": "markdown", "id": "c1", "metadata": {}, "source": "x", "bogus": 1}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (root / "bad.ipynb").write_text(json.dumps(nb))
    response = client.get(f"{API}/bad.ipynb")
    assert response.status_code == 200
    model = assert_model(response.get_json())
    assert model["message"].startswith("Notebook validation failed")
    assert model["content"]["cells"][0]["source"] == "x"


def test_unparsable_notebook_is_400_unreadable(client: FlaskClient, root: Path) -> None:
    (root / "broken.ipynb").write_text("{not json")
    body = assert_error(client.get(f"{API}/broken.ipynb"), 400)
    assert body["message"].startswith("Unreadable Notebook")


def test_type_notebook_forces_parsing(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("plain text")
    assert assert_error(client.get(f"{API}/a.txt?type=notebook"), 400)["message"].startswith("Unreadable Notebook")
    (root / "nb.json").write_text(nbformat.writes(new_notebook()))
    assert client.get(f"{API}/nb.json?type=notebook").get_json()["type"] == "notebook"


def test_type_file_on_notebook_returns_raw_text(client: FlaskClient, root: Path) -> None:
    raw = nbformat.writes(html_notebook()) + "\n"
    (root / "n.ipynb").write_text(raw)
    model = assert_model(client.get(f"{API}/n.ipynb?type=file").get_json())
    assert model["type"] == "file" and model["format"] == "text" and model["content"] == raw


def test_old_notebook_format_is_upgraded_to_v4(client: FlaskClient, root: Path) -> None:
    v3 = {"metadata": {"name": "old"}, "nbformat": 3, "nbformat_minor": 0,
          "worksheets": [{"cells": [{"cell_type": "code", "input": ["1 +\n", "1"], "language": "python",
                                     "outputs": [], "metadata": {}}], "metadata": {}}]}
    (root / "old.ipynb").write_text(json.dumps(v3))
    content = client.get(f"{API}/old.ipynb").get_json()["content"]
    assert content["nbformat"] == 4
    assert content["cells"][0]["source"] == "1 +\n1"


# -- GET: missing, hidden, outside --------------------------------------------------------------


def test_missing_path_is_404_json(client: FlaskClient) -> None:
    assert_error(client.get(f"{API}/nope.txt"), 404)
    assert_error(client.get(f"{API}/no/such/dir"), 404)


def test_path_outside_root_is_404_json(client: FlaskClient) -> None:
    body = assert_error(client.get(f"{API}/..%2F..%2Fetc%2Fpasswd"), 404)
    assert "outside root" in body["message"]


@pytest.mark.parametrize("api_path", [".hidden.txt", ".dir/x.txt", "sub/.hidden.txt"])
def test_hidden_paths_are_404_on_get(client: FlaskClient, root: Path, api_path: str) -> None:
    target = root / api_path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("secret")
    assert_error(client.get(f"{API}/{api_path}"), 404)


def test_listing_omits_hidden_entries_and_hide_globs(client: FlaskClient, root: Path) -> None:
    for name in (".hidden.txt", "x.pyc", "y.pyo", "backup~", "visible.txt"):
        (root / name).write_text("x")
    (root / "__pycache__").mkdir()
    (root / ".hiddendir").mkdir()
    assert listing_names(client) == ["visible.txt"]


def test_hide_globs_do_not_block_direct_get(client: FlaskClient, root: Path) -> None:
    (root / "x.pyc").write_bytes(b"\x00\x01")
    (root / "__pycache__").mkdir()
    assert client.get(f"{API}/x.pyc").status_code == 200
    assert client.get(f"{API}/__pycache__").get_json()["type"] == "directory"


def test_paths_are_percent_decoded_and_plus_is_literal(client: FlaskClient, root: Path) -> None:
    (root / "my file.txt").write_text("space")
    (root / "a+b.txt").write_text("plus")
    assert client.get(f"{API}/my%20file.txt").get_json()["content"] == "space"
    assert client.get(f"{API}/a+b.txt").get_json()["path"] == "a+b.txt"


def test_trailing_slash_redirects_to_slashless_url(client: FlaskClient, root: Path) -> None:
    (root / "sub").mkdir()
    response = client.get(f"{API}/sub/?content=0")
    assert response.status_code == 302
    assert response.headers["Location"] == "/api/contents/sub?content=0"


def test_unknown_query_parameters_are_ignored(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("abc")
    response = client.get(f"{API}/a.txt?1700000000000&foo=bar")
    assert response.status_code == 200 and response.get_json()["content"] == "abc"


# -- headers: ETag, Last-Modified -------------------------------------------------------------


def test_success_responses_are_json_with_nosniff(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("abc")
    for response in (client.get(f"{API}/a.txt"), put_json(client, "b.txt", text_body("b")), client.post(API)):
        assert response.mimetype == "application/json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"



def test_get_carries_etag_and_if_none_match_gives_304(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("abc")
    (root / "sub").mkdir()
    for url in (f"{API}/a.txt", f"{API}/sub", API):
        response = client.get(url)
        etag = response.headers["ETag"]
        assert etag.startswith('"') and etag.endswith('"') and len(etag) > 2
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.get_data() == b""


def test_stale_if_none_match_gives_200(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("abc")
    etag = client.get(f"{API}/a.txt").headers["ETag"]
    (root / "a.txt").write_text("abcd")
    response = client.get(f"{API}/a.txt", headers={"If-None-Match": etag})
    assert response.status_code == 200 and response.get_json()["content"] == "abcd"


def test_get_sets_last_modified_http_date(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("abc")
    os.utime(root / "a.txt", (1_700_000_000.25, 1_700_000_000.25))
    response = client.get(f"{API}/a.txt")
    assert response.get_json()["last_modified"] == "2023-11-14T22:13:20.250000Z"
    assert parsedate_to_datetime(response.headers["Last-Modified"]).timestamp() == 1_700_000_000
    assert response.headers["Last-Modified"].endswith(" GMT")


# -- POST: untitled -----------------------------------------------------------------------------


def test_post_creates_untitled_files_with_counter(client: FlaskClient, root: Path) -> None:
    names = [post_json(client, "", {"type": "file"}).get_json()["name"] for _ in range(3)]
    assert names == ["untitled", "untitled1", "untitled2"]
    assert (root / "untitled1").read_text() == ""


def test_post_without_body_creates_untitled_file(client: FlaskClient, root: Path) -> None:
    response = client.post(API)
    assert response.status_code == 201
    assert assert_model(response.get_json())["name"] == "untitled"
    assert (root / "untitled").is_file()


def test_post_untitled_with_extension(client: FlaskClient, root: Path) -> None:
    names = [post_json(client, "", {"type": "file", "ext": ".txt"}).get_json()["name"] for _ in range(2)]
    assert names == ["untitled.txt", "untitled1.txt"]


def test_post_untitled_counter_goes_before_first_dot(client: FlaskClient, root: Path) -> None:
    names = [post_json(client, "", {"type": "file", "ext": ".tar.gz"}).get_json()["name"] for _ in range(2)]
    assert names == ["untitled.tar.gz", "untitled1.tar.gz"]


def test_post_untitled_notebooks(client: FlaskClient, root: Path) -> None:
    first, second = (post_json(client, "", {"type": "notebook"}).get_json() for _ in range(2))
    assert (first["name"], second["name"]) == ("Untitled.ipynb", "Untitled1.ipynb")
    assert first["type"] == "notebook" and first["content"] is None
    content = client.get(f"{API}/Untitled.ipynb").get_json()["content"]
    assert content["cells"] == [] and content["nbformat"] == 4 and content["nbformat_minor"] == 5


def test_post_notebook_type_ignores_other_extension(client: FlaskClient, root: Path) -> None:
    model = post_json(client, "", {"type": "notebook", "ext": ".txt"}).get_json()
    assert model["name"] == "Untitled.ipynb" and model["type"] == "notebook"


@pytest.mark.parametrize("body", [{"ext": ".ipynb"}, {"type": "", "ext": ".ipynb"}, {"type": None, "ext": ".ipynb"}])
def test_post_without_type_and_ipynb_ext_creates_notebook(client: FlaskClient, root: Path, body: dict[str, Any]) -> None:
    model = post_json(client, "", body).get_json()
    assert model["name"] == "Untitled.ipynb" and model["type"] == "notebook"


def test_post_unknown_type_creates_file(client: FlaskClient, root: Path) -> None:
    model = post_json(client, "", {"type": "banana"}).get_json()
    assert model["name"] == "untitled" and model["type"] == "file"


def test_post_untitled_folders_numbered_with_space(client: FlaskClient, root: Path) -> None:
    names = [post_json(client, "", {"type": "directory"}).get_json()["name"] for _ in range(3)]
    assert names == ["Untitled Folder", "Untitled Folder 1", "Untitled Folder 2"]
    assert (root / "Untitled Folder 2").is_dir()


def test_post_response_is_201_with_location_and_last_modified(client: FlaskClient, root: Path) -> None:
    (root / "my dir").mkdir()
    response = post_json(client, "my dir", {"type": "directory"})
    assert response.status_code == 201
    model = assert_model(response.get_json())
    assert model["path"] == "my dir/Untitled Folder" and model["content"] is None
    assert response.headers["Location"] == "/api/contents/my%20dir/Untitled%20Folder"
    assert parsedate_to_datetime(response.headers["Last-Modified"]).tzinfo is not None


def test_post_location_quotes_plus(client: FlaskClient, root: Path) -> None:
    (root / "a+b").mkdir()
    response = post_json(client, "a+b", {"type": "file"})
    assert response.headers["Location"] == "/api/contents/a%2Bb/untitled"


def test_post_to_existing_file_is_400(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("abc")
    assert_error(post_json(client, "a.txt", {"type": "file"}), 400, "Cannot POST to files, use PUT instead.")


def test_post_into_missing_directory_is_404(client: FlaskClient) -> None:
    assert_error(post_json(client, "missing", {"type": "file"}), 404)


def test_post_body_parsed_with_form_urlencoded_content_type(client: FlaskClient, root: Path) -> None:
    response = client.post(API, data=json.dumps({"type": "directory"}),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 201 and response.get_json()["name"] == "Untitled Folder"


# -- POST: copy ---------------------------------------------------------------------------------


def test_copy_keeps_name_when_free_in_target_directory(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("abc")
    (root / "sub").mkdir()
    response = post_json(client, "sub", {"copy_from": "a.txt"})
    assert response.status_code == 201
    assert assert_model(response.get_json())["path"] == "sub/a.txt"
    assert response.headers["Location"] == "/api/contents/sub/a.txt"
    assert (root / "sub" / "a.txt").read_text() == "abc"


def test_copy_into_same_directory_numbers_copies(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("abc")
    names = [post_json(client, "", {"copy_from": "a.txt"}).get_json()["name"] for _ in range(2)]
    assert names == ["a-Copy1.txt", "a-Copy2.txt"]
    assert (root / "a-Copy2.txt").read_text() == "abc"


def test_copy_of_a_copy_takes_next_free_number(client: FlaskClient, root: Path) -> None:
    for name in ("a.ipynb", "a-Copy1.ipynb", "a-Copy2.ipynb"):
        nbformat.write(new_notebook(), root / name)
    model = post_json(client, "", {"copy_from": "a-Copy2.ipynb"}).get_json()
    assert model["name"] == "a-Copy3.ipynb" and model["type"] == "notebook"


def test_copy_of_tar_gz_inserts_before_first_dot(client: FlaskClient, root: Path) -> None:
    (root / "a.tar.gz").write_bytes(b"\x1f\x8b")
    assert post_json(client, "", {"copy_from": "a.tar.gz"}).get_json()["name"] == "a-Copy1.tar.gz"


def test_copy_of_notebook_with_dots_inserts_before_last_dot(client: FlaskClient, root: Path) -> None:
    nbformat.write(new_notebook(), root / "v1.2.ipynb")
    assert post_json(client, "", {"copy_from": "v1.2.ipynb"}).get_json()["name"] == "v1.2-Copy1.ipynb"


def test_copy_of_directory_is_recursive(client: FlaskClient, root: Path) -> None:
    (root / "d" / "inner").mkdir(parents=True)
    (root / "d" / "inner" / "x.txt").write_text("deep")
    (root / "d" / "y.bin").write_bytes(BINARY)
    model = post_json(client, "", {"copy_from": "d"}).get_json()
    assert model["name"] == "d-Copy1" and model["type"] == "directory"
    assert (root / "d-Copy1" / "inner" / "x.txt").read_text() == "deep"
    assert (root / "d-Copy1" / "y.bin").read_bytes() == BINARY


def test_copy_of_directory_to_new_path_creates_it(client: FlaskClient, root: Path) -> None:
    """jupyter_server makes the missing directory and copies into it (`e/d`, not `e`)."""
    (root / "d").mkdir()
    (root / "d" / "x.txt").write_text("x")
    model = post_json(client, "e", {"copy_from": "d"}).get_json()
    assert model["path"] == "e/d" and (root / "e" / "d" / "x.txt").read_text() == "x"


def test_copy_of_missing_source_is_404(client: FlaskClient) -> None:
    assert_error(post_json(client, "", {"copy_from": "nope.txt"}), 404)


def test_copy_to_missing_path_saves_under_that_path(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("abc")
    response = post_json(client, "b.txt", {"copy_from": "a.txt"})
    assert response.status_code == 201 and response.get_json()["path"] == "b.txt"
    assert (root / "b.txt").read_text() == "abc"


def test_copy_to_path_with_missing_parent_is_404(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("abc")
    assert_error(post_json(client, "no/b.txt", {"copy_from": "a.txt"}), 404)


def test_copy_of_notebook_gets_first_checkpoint(client: FlaskClient, root: Path) -> None:
    nbformat.write(new_notebook(), root / "a.ipynb")
    post_json(client, "", {"copy_from": "a.ipynb"})
    assert (root / ".ipynb_checkpoints" / "a-Copy1-checkpoint.ipynb").is_file()


@pytest.mark.parametrize("source, target", [(".h.txt", ""), ("a.txt", ".hdir")])
def test_copy_from_or_to_hidden_is_400(client: FlaskClient, root: Path, source: str, target: str) -> None:
    (root / ".h.txt").write_text("h")
    (root / "a.txt").write_text("a")
    (root / ".hdir").mkdir()
    assert_error(post_json(client, target, {"copy_from": source}), 400)


# -- PUT ----------------------------------------------------------------------------------------


def test_put_new_file_is_201_and_overwrite_is_200(client: FlaskClient, root: Path) -> None:
    first = put_json(client, "a.txt", {"type": "file", "format": "text", "content": "one"})
    assert first.status_code == 201
    model = assert_model(first.get_json())
    assert model["content"] is None and model["size"] == 3
    assert first.headers["Location"] == "/api/contents/a.txt"
    assert "Last-Modified" in first.headers
    second = put_json(client, "a.txt", {"type": "file", "format": "text", "content": "two!"})
    assert second.status_code == 200 and second.get_json()["size"] == 4
    assert (root / "a.txt").read_text() == "two!"


def test_put_ignores_name_and_path_in_body(client: FlaskClient, root: Path) -> None:
    body = {"type": "file", "format": "text", "content": "x", "name": "other.txt", "path": "other.txt"}
    assert put_json(client, "a.txt", body).get_json()["path"] == "a.txt"
    assert not (root / "other.txt").exists()


def test_put_directory_is_201_even_when_it_exists(client: FlaskClient, root: Path) -> None:
    for _ in range(2):
        response = put_json(client, "d", {"type": "directory"})
        assert response.status_code == 201
        assert assert_model(response.get_json())["type"] == "directory"
    assert (root / "d").is_dir()


def test_put_without_body_creates_untitled_in_directory(client: FlaskClient, root: Path) -> None:
    (root / "d").mkdir()
    response = client.put(f"{API}/d")
    assert response.status_code == 201
    assert response.get_json()["path"] == "d/untitled" and (root / "d" / "untitled").is_file()


def test_put_without_body_on_missing_directory_is_404(client: FlaskClient) -> None:
    assert_error(client.put(f"{API}/nope"), 404)


# Over an existing file the model must be complete; where no file is, jupyter_server's
# ContentsManager.new fills in a type and empty content (tests/api/test_request_reading.py).
def test_put_without_type_over_a_file_is_400(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("kept")
    assert_error(put_json(client, "a.txt", {"format": "text", "content": "x"}), 400, "No file type provided")


def test_put_without_content_over_a_file_is_400(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("kept")
    assert_error(put_json(client, "a.txt", {"type": "file", "format": "text"}), 400, "No file content provided")


@pytest.mark.parametrize("body", [{"type": "file", "content": "x"}, {"type": "file", "format": "json", "content": "x"}])
def test_put_file_without_valid_format_is_400(client: FlaskClient, root: Path, body: dict[str, Any]) -> None:
    assert_error(put_json(client, "a.txt", body), 400,
                 "Must specify format of file contents as 'text' or 'base64'")
    assert not (root / "a.txt").exists()


def test_put_base64_round_trips_binary(client: FlaskClient, root: Path) -> None:
    encoded = base64.encodebytes(BINARY).decode()
    assert put_json(client, "a.bin", {"type": "file", "format": "base64", "content": encoded}).status_code == 201
    assert (root / "a.bin").read_bytes() == BINARY
    assert client.get(f"{API}/a.bin").get_json()["content"] == encoded


def test_put_with_copy_from_is_400(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("abc")
    assert_error(put_json(client, "b.txt", {"copy_from": "a.txt"}), 400, "Cannot copy with PUT, only POST")
    assert not (root / "b.txt").exists()


def test_put_directory_onto_file_is_400(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("abc")
    assert_error(put_json(client, "a.txt", {"type": "directory"}), 400)
    assert (root / "a.txt").read_text() == "abc"


@pytest.mark.parametrize("data", [b"{not json", b" ", b"\n"])
def test_put_with_invalid_json_is_400(client: FlaskClient, data: bytes) -> None:
    response = client.put(f"{API}/a.txt", data=data, content_type="application/json")
    assert_error(response, 400, "Invalid JSON in body of request")


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain"])
def test_put_body_parsed_whatever_the_content_type(client: FlaskClient, root: Path, content_type: str | None) -> None:
    body = json.dumps({"type": "file", "format": "text", "content": "a=1&b=2"})
    response = client.put(f"{API}/a.txt", data=body, content_type=content_type)
    assert response.status_code == 201
    assert (root / "a.txt").read_text() == "a=1&b=2"


def test_put_into_missing_parent_is_404_without_creating_it(client: FlaskClient, root: Path) -> None:
    assert_error(put_json(client, "no/a.txt", text_body("x")), 404)
    assert not (root / "no").exists()


def test_put_file_onto_directory_is_400_and_keeps_directory(client: FlaskClient, root: Path) -> None:
    # jupyter_server answers 500 "Unexpected error while saving file"; the request is wrong.
    (root / "d").mkdir()
    (root / "d" / "x.txt").write_text("x")
    assert_error(put_json(client, "d", text_body("y")), 400, "d is a directory: a file cannot be saved over it")
    assert_error(put_json(client, "", text_body("y")), 400, "/ is a directory: a file cannot be saved over it")
    assert (root / "d" / "x.txt").read_text() == "x"


@pytest.mark.parametrize("api_path", [".h.txt", "sub/.h.txt", ".hdir/a.txt"])
def test_put_hidden_is_400(client: FlaskClient, root: Path, api_path: str) -> None:
    (root / "sub").mkdir()
    (root / ".hdir").mkdir()
    body = assert_error(put_json(client, api_path, {"type": "file", "format": "text", "content": "x"}), 400)
    assert body["message"] == f"Cannot create file or directory '{api_path}'"
    assert not (root / api_path).exists()


def test_put_notebook_writes_nbformat_bytes_without_trusted(client: FlaskClient, root: Path) -> None:
    nb = new_notebook(cells=[
        new_code_cell("a = 1\nb = 'ü'\n", metadata={"trusted": True}, execution_count=3, outputs=[
            new_output("stream", name="stdout", text="line 1\nline 2\n"),
            new_output("execute_result", execution_count=3,
                       data={"text/plain": "x\ny", "application/json": {"k": [1, 2]}, "image/png": "iVBORw0K"}),
            new_output("display_data", data={"text/html": "<p>\n</p>", "image/svg+xml": "<svg>\n</svg>"}),
        ]),
        new_markdown_cell("# T\n\nbody", metadata={"tags": ["x"]}),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    expected = nbformat.writes(nbformat.from_dict(copy.deepcopy(nb))) + "\n"
    response = put_json(client, "n.ipynb", {"type": "notebook", "content": nb})
    assert response.status_code == 201
    assert assert_model(response.get_json())["type"] == "notebook" and "message" not in response.get_json()
    written = (root / "n.ipynb").read_text(encoding="utf-8")
    assert written == expected
    assert '"trusted"' not in written
    cells = client.get(f"{API}/n.ipynb").get_json()["content"]["cells"]
    assert cells[0]["source"] == "a = 1\nb = 'ü'\n" and cells[1]["source"] == "# T\n\nbody"
    assert cells[0]["outputs"][0]["text"] == "line 1\nline 2\n"


def test_put_schema_invalid_notebook_saves_with_message(client: FlaskClient, root: Path) -> None:
    nb = {"cells": [{"cell_type": "markdown", "id": "c1", "metadata": {}, "source": "x", "bogus": 1}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    response = put_json(client, "bad.ipynb", {"type": "notebook", "content": nb})
    assert response.status_code == 201
    assert response.get_json()["message"].startswith("Notebook validation failed")
    assert json.loads((root / "bad.ipynb").read_text())["cells"][0]["bogus"] == 1


@pytest.mark.parametrize("content", ["not a notebook", {"cells": [{"cell_type": "code", "source": ""}]}])
def test_put_structurally_broken_notebook_is_refused(client: FlaskClient, root: Path, content: Any) -> None:
    body = assert_error(put_json(client, "n.ipynb", {"type": "notebook", "content": content}), 400)
    assert body["message"].startswith("Unexpected error while saving file: n.ipynb")
    assert not (root / "n.ipynb").exists()


# -- PUT: chunked upload ------------------------------------------------------------------------


def chunk_body(data: bytes, chunk: int) -> dict[str, Any]:
    return {"type": "file", "format": "base64", "content": base64.b64encode(data).decode(), "chunk": chunk}


def test_chunked_upload_assembles_all_chunks(client: FlaskClient, root: Path) -> None:
    parts = [BINARY[:100], BINARY[100:500], BINARY[500:]]
    first = put_json(client, "big.bin", chunk_body(parts[0], 1))
    assert first.status_code == 201
    assert assert_model(first.get_json())["size"] == 100
    second = put_json(client, "big.bin", chunk_body(parts[1], 2))
    assert second.status_code == 200 and second.get_json()["size"] == 500
    last = put_json(client, "big.bin", chunk_body(parts[2], -1))
    assert last.status_code == 200
    assert assert_model(last.get_json())["size"] == len(BINARY)
    assert (root / "big.bin").read_bytes() == BINARY
    assert listing_names(client) == ["big.bin"]


def test_chunked_upload_leaves_target_unchanged_until_last_chunk(client: FlaskClient, root: Path) -> None:
    (root / "f.bin").write_bytes(b"old")
    assert put_json(client, "f.bin", chunk_body(b"new-1", 1)).status_code == 200
    assert (root / "f.bin").read_bytes() == b"old"
    put_json(client, "f.bin", chunk_body(b"new-2", 2))
    assert (root / "f.bin").read_bytes() == b"old"
    assert client.get(f"{API}/f.bin").get_json()["content"] == "old"
    put_json(client, "f.bin", chunk_body(b"new-3", -1))
    assert (root / "f.bin").read_bytes() == b"new-1new-2new-3"


def test_chunked_upload_of_notebook_is_400(client: FlaskClient, root: Path) -> None:
    body = {"type": "notebook", "content": new_notebook(), "chunk": 1}
    assert_error(put_json(client, "n.ipynb", body), 400, 'File type "notebook" is not supported for large file transfer')
    assert not (root / "n.ipynb").exists()


def test_chunk_2_without_chunk_1_is_400(client: FlaskClient, root: Path) -> None:
    assert_error(put_json(client, "f.bin", chunk_body(b"x", 2)), 400)
    assert_error(put_json(client, "f.bin", chunk_body(b"x", -1)), 400)
    assert not (root / "f.bin").exists()


# -- PUT: If-Match (our extension) ------------------------------------------------------------


def change_on_disk(path: Path, text: str) -> None:
    path.write_text(text)
    os.utime(path, (1_600_000_000, 1_600_000_000))


def test_if_match_with_etag_of_content_get_succeeds_when_unchanged(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("v1")
    etag = client.get(f"{API}/a.txt").headers["ETag"]
    assert put_json(client, "a.txt", text_body("v2"), headers={"If-Match": etag}).status_code == 200
    assert (root / "a.txt").read_text() == "v2"


def test_if_match_with_stale_etag_is_409(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("v1")
    etag = client.get(f"{API}/a.txt").headers["ETag"]
    change_on_disk(root / "a.txt", "changed elsewhere")
    assert_error(put_json(client, "a.txt", text_body("v2"), headers={"If-Match": etag}), 409)
    assert (root / "a.txt").read_text() == "changed elsewhere"


def test_if_match_with_hash_works_like_etag(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("v1")
    digest = client.get(f"{API}/a.txt?hash=1&content=0").get_json()["hash"]
    assert put_json(client, "a.txt", text_body("v2"), headers={"If-Match": f'"{digest}"'}).status_code == 200
    change_on_disk(root / "a.txt", "v3")
    assert_error(put_json(client, "a.txt", text_body("v4"), headers={"If-Match": f'"{digest}"'}), 409)
    assert (root / "a.txt").read_text() == "v3"


def test_if_match_with_etag_of_content_0_get(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("v1")
    etag = client.get(f"{API}/a.txt?content=0").headers["ETag"]
    assert put_json(client, "a.txt", text_body("v2"), headers={"If-Match": etag}).status_code == 200
    etag = client.get(f"{API}/a.txt?content=0").headers["ETag"]
    change_on_disk(root / "a.txt", "v3 is longer")
    assert_error(put_json(client, "a.txt", text_body("v4"), headers={"If-Match": etag}), 409)


def test_if_match_on_notebook_with_etag(client: FlaskClient, root: Path) -> None:
    nbformat.write(new_notebook(), root / "n.ipynb")
    etag = client.get(f"{API}/n.ipynb").headers["ETag"]
    body = {"type": "notebook", "content": new_notebook(cells=[new_markdown_cell("x")])}
    assert put_json(client, "n.ipynb", body, headers={"If-Match": etag}).status_code == 200
    assert_error(put_json(client, "n.ipynb", body, headers={"If-Match": etag}), 409)


def test_if_match_star_on_missing_file_is_409(client: FlaskClient, root: Path) -> None:
    assert_error(put_json(client, "a.txt", text_body("x"), headers={"If-Match": "*"}), 409)
    assert not (root / "a.txt").exists()


def test_if_match_star_on_existing_file_saves(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("v1")
    assert put_json(client, "a.txt", text_body("v2"), headers={"If-Match": "*"}).status_code == 200


def test_if_match_on_file_deleted_since_read_is_409(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("v1")
    etag = client.get(f"{API}/a.txt").headers["ETag"]
    (root / "a.txt").unlink()
    assert_error(put_json(client, "a.txt", text_body("v2"), headers={"If-Match": etag}), 409)
    assert not (root / "a.txt").exists()


# -- PATCH --------------------------------------------------------------------------------------


def test_rename_file(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("abc")
    response = patch_json(client, "a.txt", {"path": "b c.txt"})
    assert response.status_code == 200
    model = assert_model(response.get_json())
    assert model["path"] == "b c.txt" and model["name"] == "b c.txt" and model["content"] is None
    assert response.headers["Location"] == "/api/contents/b%20c.txt"
    assert "Last-Modified" in response.headers
    assert not (root / "a.txt").exists() and (root / "b c.txt").read_text() == "abc"


def test_rename_into_subdirectory(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("abc")
    (root / "sub").mkdir()
    assert patch_json(client, "a.txt", {"path": "/sub/a.txt"}).get_json()["path"] == "sub/a.txt"
    assert (root / "sub" / "a.txt").read_text() == "abc"


def test_rename_onto_existing_is_409(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    (root / "b.txt").write_text("b")
    assert_error(patch_json(client, "a.txt", {"path": "b.txt"}), 409, "File already exists: b.txt")
    assert (root / "a.txt").read_text() == "a" and (root / "b.txt").read_text() == "b"


def test_rename_missing_source_is_404(client: FlaskClient, root: Path) -> None:
    assert_error(patch_json(client, "nope.txt", {"path": "b.txt"}), 404)


def test_rename_missing_source_onto_existing_target_is_404(client: FlaskClient, root: Path) -> None:
    (root / "b.txt").write_text("b")
    assert_error(patch_json(client, "nope.txt", {"path": "b.txt"}), 404)


def test_rename_into_missing_directory_is_404(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    assert_error(patch_json(client, "a.txt", {"path": "no/a.txt"}), 404)
    assert (root / "a.txt").exists()


def test_rename_with_empty_object_is_noop(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    response = patch_json(client, "a.txt", {})
    assert response.status_code == 200 and assert_model(response.get_json())["path"] == "a.txt"
    assert (root / "a.txt").read_text() == "a"


def test_rename_to_same_path_is_noop(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    assert patch_json(client, "a.txt", {"path": "a.txt"}).status_code == 200
    assert (root / "a.txt").read_text() == "a"


def test_rename_without_body_is_400(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    assert_error(client.patch(f"{API}/a.txt"), 400, "JSON body missing")


def test_rename_directory(client: FlaskClient, root: Path) -> None:
    (root / "d").mkdir()
    (root / "d" / "x.txt").write_text("x")
    model = patch_json(client, "d", {"path": "e"}).get_json()
    assert model["type"] == "directory" and model["path"] == "e"
    assert (root / "e" / "x.txt").read_text() == "x" and not (root / "d").exists()


@pytest.mark.parametrize("old, new", [(".h.txt", "b.txt"), ("a.txt", ".b.txt")])
def test_rename_from_or_to_hidden_is_400(client: FlaskClient, root: Path, old: str, new: str) -> None:
    (root / ".h.txt").write_text("h")
    (root / "a.txt").write_text("a")
    assert_error(patch_json(client, old, {"path": new}), 400)
    assert (root / ".h.txt").exists() and (root / "a.txt").exists()


def test_rename_moves_checkpoints_along(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    (root / "sub").mkdir()
    assert client.post(f"{API}/a.txt/checkpoints").status_code == 201
    patch_json(client, "a.txt", {"path": "sub/b.txt"})
    assert not (root / ".ipynb_checkpoints" / "a-checkpoint.txt").exists()
    assert (root / "sub" / ".ipynb_checkpoints" / "b-checkpoint.txt").read_text() == "a"
    assert [c["id"] for c in client.get(f"{API}/sub/b.txt/checkpoints").get_json()] == ["checkpoint"]
    assert client.get(f"{API}/a.txt/checkpoints").get_json() == []


# -- DELETE -------------------------------------------------------------------------------------


def test_delete_file_is_204(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    response = client.delete(f"{API}/a.txt")
    assert response.status_code == 204 and response.get_data() == b""
    assert "Content-Type" not in response.headers
    assert not (root / "a.txt").exists()


def test_delete_non_empty_directory_is_204(client: FlaskClient, root: Path) -> None:
    (root / "d" / "inner").mkdir(parents=True)
    (root / "d" / "inner" / "x.txt").write_text("x")
    (root / "d" / "y.txt").write_text("y")
    assert client.delete(f"{API}/d").status_code == 204
    assert not (root / "d").exists()


def test_delete_root_is_400(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    for url in (API, f"{API}/"):
        assert_error(client.delete(url), 400, "Can't delete root")
    assert (root / "a.txt").exists()


def test_delete_missing_is_404(client: FlaskClient) -> None:
    assert_error(client.delete(f"{API}/nope.txt"), 404)


def test_delete_hidden_is_400(client: FlaskClient, root: Path) -> None:
    (root / ".h.txt").write_text("h")
    assert_error(client.delete(f"{API}/.h.txt"), 400)
    assert (root / ".h.txt").exists()


def test_delete_removes_checkpoints(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    client.post(f"{API}/a.txt/checkpoints")
    assert (root / ".ipynb_checkpoints" / "a-checkpoint.txt").exists()
    assert client.delete(f"{API}/a.txt").status_code == 204
    assert not (root / ".ipynb_checkpoints" / "a-checkpoint.txt").exists()
    (root / "a.txt").write_text("new file, same name")
    assert client.get(f"{API}/a.txt/checkpoints").get_json() == []


# -- listing: sort and pages (our extension) ------------------------------------------------------


@pytest.fixture
def listing(root: Path) -> Path:
    """Entries whose name, size, mtime and type orders all differ."""
    for name, size, mtime in (("b.txt", 30, 3_000), ("A.txt", 10, 1_000), ("c.txt", 20, 4_000)):
        (root / name).write_bytes(b"x" * size)
        os.utime(root / name, (mtime, mtime))
    (root / "z-dir").mkdir()
    os.utime(root / "z-dir", (2_000, 2_000))
    return root


@pytest.mark.parametrize("sort, expected", [
    ("name", ["A.txt", "b.txt", "c.txt", "z-dir"]),
    ("-name", ["z-dir", "c.txt", "b.txt", "A.txt"]),
    ("size", ["z-dir", "A.txt", "c.txt", "b.txt"]),
    ("last_modified", ["A.txt", "z-dir", "b.txt", "c.txt"]),
    ("-last_modified", ["c.txt", "b.txt", "z-dir", "A.txt"]),
    ("type", ["z-dir", "A.txt", "b.txt", "c.txt"]),
])
def test_listing_sorts(client: FlaskClient, listing: Path, sort: str, expected: list[str]) -> None:
    response = client.get(f"{API}?sort={sort}")
    assert response.headers["X-Total-Count"] == "4"
    assert [child["name"] for child in response.get_json()["content"]] == expected


def test_listing_paginates_with_total_count(client: FlaskClient, listing: Path) -> None:
    pages = []
    for offset in (0, 2, 4):
        response = client.get(f"{API}?sort=name&offset={offset}&limit=2")
        assert response.status_code == 200 and response.headers["X-Total-Count"] == "4"
        for child in response.get_json()["content"]:
            assert_model(child)
        pages.append([child["name"] for child in response.get_json()["content"]])
    assert pages == [["A.txt", "b.txt"], ["c.txt", "z-dir"], []]


def test_listing_total_count_excludes_hidden(client: FlaskClient, listing: Path) -> None:
    (listing / ".hidden").write_text("h")
    (listing / "x.pyc").write_text("h")
    response = client.get(f"{API}?limit=1")
    assert response.headers["X-Total-Count"] == "4" and len(response.get_json()["content"]) == 1


def test_listing_bad_sort_is_400(client: FlaskClient, listing: Path) -> None:
    assert_error(client.get(f"{API}?sort=colour"), 400)


@pytest.mark.parametrize("query", ["limit=-1", "limit=abc", "offset=-2", "limit=1.5"])
def test_listing_bad_limit_or_offset_is_400(client: FlaskClient, listing: Path, query: str) -> None:
    assert_error(client.get(f"{API}?{query}"), 400)


# -- body size limit --------------------------------------------------------------------------


def test_body_over_limit_is_413_json_and_file_unchanged(root: Path) -> None:
    app = create_app({"TESTING": True, "NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_TOKEN": TOKEN,
                      "NOTEBOOK_MAX_BODY_SIZE": 1000})
    try:
        client = app.test_client(use_cookies=False)
        client.environ_base["HTTP_AUTHORIZATION"] = f"token {TOKEN}"
        (root / "a.txt").write_text("original")
        small = put_json(client, "small.txt", text_body("x" * 500))
        assert small.status_code == 201
        body = assert_error(put_json(client, "a.txt", text_body("x" * 2000)), 413)
        assert "1000" in body["message"]
        assert (root / "a.txt").read_text() == "original"
    finally:
        app.extensions["notebook"].shutdown_all()


# -- error shape --------------------------------------------------------------------------------


@pytest.mark.parametrize("method, url, body, status", [
    ("GET", "/nope", None, 404),
    ("GET", "/a.txt?content=x", None, 400),
    ("POST", "/a.txt", {}, 400),
    ("POST", "/nope", {}, 404),
    ("PUT", "/a.txt", {"type": "file"}, 400),
    ("PATCH", "/nope", {"path": "x"}, 404),
    ("DELETE", "/nope", None, 404),
    ("DELETE", "", None, 400),
])
def test_every_error_is_message_and_reason_json(
    client: FlaskClient, root: Path, method: str, url: str, body: Any, status: int
) -> None:
    (root / "a.txt").write_text("a")
    data = None if body is None else json.dumps(body)
    assert_error(client.open(API + url, method=method, data=data), status)


def test_unauthenticated_request_is_403_json(anon: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("a")
    assert_error(anon.get(f"{API}/a.txt"), 403)
    assert_error(anon.delete(f"{API}/a.txt"), 403)
    assert (root / "a.txt").exists()
