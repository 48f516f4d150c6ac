"""`GET /api/nbconvert` (contract section 2).

jupyter_server 2.21.1 with nbconvert 7.17.2 (`.venv-bench`) answered 200 with exactly
``REFERENCE`` below: every exporter entry point, with its class's ``output_mimetype`` ("" where
it has none: script and custom; ours lists ``text/plain`` there, what such output is served
as when nothing better is known, test_nbconvert_types.py). ``POST`` is 405 JSON ``Method Not Allowed``; no credentials, 403.
"""

from __future__ import annotations

from flask.testing import FlaskClient

from flask_notebook.core.exporters import export_formats

from ..support.responses import assert_error

REFERENCE = {
    "asciidoc": {"output_mimetype": "text/asciidoc"}, "custom": {"output_mimetype": "text/plain"},
    "html": {"output_mimetype": "text/html"}, "latex": {"output_mimetype": "text/latex"},
    "markdown": {"output_mimetype": "text/markdown"}, "notebook": {"output_mimetype": "application/json"},
    "pdf": {"output_mimetype": "application/pdf"}, "python": {"output_mimetype": "text/x-python"},
    "qtpdf": {"output_mimetype": "text/html"}, "qtpng": {"output_mimetype": "text/html"},
    "rst": {"output_mimetype": "text/x-rst"}, "script": {"output_mimetype": "text/plain"},
    "slides": {"output_mimetype": "text/html"}, "webpdf": {"output_mimetype": "text/html"},
}


def test_nbconvert_lists_every_exporter_as_the_reference(client: FlaskClient) -> None:
    response = client.get("/api/nbconvert")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json == REFERENCE


def test_the_exporters_are_listed_once_per_process() -> None:
    """Listing them imports all of nbconvert (in a child process): once."""
    first = export_formats()
    assert export_formats() is first


def test_nbconvert_needs_credentials_and_a_get(client: FlaskClient, anon: FlaskClient) -> None:
    assert_error(anon.get("/api/nbconvert"), 403, "Forbidden")
    response = client.post("/api/nbconvert")
    assert_error(response, 405)
    assert response.headers["Allow"] == "GET, HEAD"


# -- GET /nbconvert/<format>/<path> and POST /nbconvert/<format>, on a real server ----------------
#
# jupyter_server 2.21.1 (`.venv-bench`) answered a notebook ``my nb.ipynb`` with 200, the
# exporter's MIME type plus ``; charset=utf-8`` (script: the kernel language's, text/x-python),
# ``Content-Disposition: attachment; filename*=utf-8''my%20nb.py`` with ``?download=true``,
# ``Cache-Control: no-store, no-cache, must-revalidate, max-age=0``, ``Last-Modified`` and
# ``Content-Security-Policy: ...; sandbox allow-scripts``; the ``notebook`` format's body byte for
# byte as ours. Deliberately different: an unknown format is 500 there (nbconvert 7 raises
# ExporterNameError, a ValueError, where the handler catches KeyError) and our 404
# "No exporter for format" is what its handler means; a missing notebook is its HTML 404 page
# (ours JSON); a file that is not a notebook is an empty 200 there (an un-awaited redirect) and
# a redirect to /files/ here; webpdf is "text/html" there (the class attribute WebPDFExporter
# inherits) and application/pdf here.

import json  # noqa: E402
import shutil  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

import nbformat  # noqa: E402
import pytest  # noqa: E402

from ..support.responses import assert_json_error  # noqa: E402
from ..support.server import Server  # noqa: E402
from ..support.waiting import wait_for  # noqa: E402

NOTEBOOK = "my nb.ipynb"


def write_notebook(root: Path, name: str = NOTEBOOK) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["language_info"] = {"name": "python", "file_extension": ".py", "mimetype": "text/x-python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# A title for export"),
                nbformat.v4.new_code_cell("print('exported cell')",
                                          outputs=[nbformat.v4.new_output("stream", text="exported output\n")])]
    nbformat.write(nb, root / name)


@pytest.fixture(scope="module")
def converting(server: Server) -> Server:
    write_notebook(server.root)
    (server.root / "notes.txt").write_text("plain\n")
    return server


@pytest.mark.parametrize(("fmt", "mimetype", "extension", "expected"), [
    ("html", "text/html", ".html", "<span class=\"s1\">'exported cell'</span>"),  # the source, highlighted
    ("script", "text/x-python", ".py", "print('exported cell')"),
    ("markdown", "text/markdown", ".md", "# A title for export"),
    ("notebook", "application/json", ".ipynb", '    "print(\'exported cell\')"\n'),
])
def test_nbconvert_converts_the_notebook_to_each_format(converting: Server, fmt: str, mimetype: str,
                                                       extension: str, expected: str) -> None:
    response = converting.request("GET", f"nbconvert/{fmt}/my%20nb.ipynb")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == f"{mimetype}; charset=utf-8"
    assert "Content-Disposition" not in response.headers  # shown inline unless download=true
    assert response.headers["Cache-Control"] == "no-store, no-cache, must-revalidate, max-age=0"
    assert response.headers["Content-Security-Policy"].endswith("; sandbox allow-scripts")
    assert response.headers["Last-Modified"].endswith(" GMT")
    assert expected in response.text
    download = converting.request("GET", f"nbconvert/{fmt}/my%20nb.ipynb?download=true")
    assert download.headers["Content-Disposition"] == f"attachment; filename*=utf-8''my%20nb{extension}"
    assert download.content == response.content
    if fmt == "script":
        compile(response.text, "exported.py", "exec")  # Python, not a page
    if fmt == "notebook":
        assert nbformat.reads(response.text, as_version=4).cells[1].outputs[0].text == "exported output\n"


def test_nbconvert_answers_json_errors(converting: Server) -> None:
    assert_json_error(converting.request("GET", "nbconvert/html/missing.ipynb"), 404, "does not exist")
    assert_json_error(converting.request("GET", "nbconvert/nosuchformat/my%20nb.ipynb"), 404,
                      "No exporter for format: nosuchformat")
    assert_json_error(converting.request("POST", "nbconvert/html", json={"name": "x.ipynb"}), 400)
    broken = converting.request("POST", "nbconvert/html", json={"content": {"cells": "not a list"}})
    assert_json_error(broken, 500, "nbconvert failed")
    assert converting.request("GET", "nbconvert/html/my%20nb.ipynb", headers={"Authorization": ""},
                              allow_redirects=False).status_code == 302  # to the login page, as a page


def test_nbconvert_sends_other_files_to_their_download(converting: Server) -> None:
    response = converting.request("GET", "nbconvert/html/notes.txt", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/files/notes.txt")


def test_nbconvert_converts_a_posted_model(converting: Server) -> None:
    content = nbformat.reads((converting.root / NOTEBOOK).read_text(), as_version=4)
    response = converting.request("POST", "nbconvert/script", json={"name": "posted.ipynb", "content": content})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/x-python; charset=utf-8"
    assert "print('exported cell')" in response.text


def _need_chromium() -> None:
    """webpdf prints with chromium, which `make test` installs: its absence fails, never skips."""
    if shutil.which("chromium") is None:
        pytest.fail("chromium is not on the PATH: `make test` installs Debian's chromium")


def test_nbconvert_prints_a_pdf_with_chromium(converting: Server) -> None:
    _need_chromium()
    assert "webpdf" in converting.json("GET", "api/nbconvert", 200)
    response = converting.request("GET", "nbconvert/webpdf/my%20nb.ipynb?download=true", timeout=90)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == "attachment; filename*=utf-8''my%20nb.pdf"
    assert response.content.startswith(b"%PDF-")


def test_webpdf_is_left_out_without_chromium(make_server: object) -> None:
    srv = make_server(env={"CHROMIUM": "/nonexistent/chromium"})  # type: ignore[operator]
    write_notebook(srv.root)
    formats = srv.json("GET", "api/nbconvert", 200)
    assert "html" in formats and "webpdf" not in formats
    body = assert_json_error(srv.request("GET", "nbconvert/webpdf/my%20nb.ipynb"), 404, "No exporter for format: webpdf")
    assert "chromium" in str(body["reason"])


def test_exports_are_in_the_audit_trail(make_server: object, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    srv = make_server(env={"NOTEBOOK_AUDIT_LOG": str(log)})  # type: ignore[operator]
    write_notebook(srv.root)
    assert srv.request("GET", "nbconvert/script/my%20nb.ipynb?download=true").status_code == 200
    assert srv.request("GET", "nbconvert/script/gone.ipynb").status_code == 404

    def exports() -> list[dict[str, object]] | None:
        lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        found = [line for line in lines if line["action"] == "contents.export"]
        return found if len(found) == 2 else None

    ok, missing = wait_for(exports, timeout=10)
    assert (ok["path"], ok["format"], ok["outcome"], ok["status"]) == (NOTEBOOK, "script", "ok", 200)
    assert (missing["path"], missing["outcome"], missing["status"]) == ("gone.ipynb", "failed", 404)


def _converting_children(server: Server) -> list[str]:
    """The server's child Pythons converting a notebook (core/nbconvert_worker.py)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            parent = int((proc / "stat").read_text().rpartition(")")[2].split()[1])
            if parent == server.proc.pid and b"nbconvert_worker.py" in (proc / "cmdline").read_bytes():
                found.append(proc.name)
        except (OSError, ValueError, IndexError):
            continue
    return found


def test_a_conversion_holds_up_no_other_request(converting: Server) -> None:
    """A conversion runs in a child Python: while one prints a PDF (seconds), the server
    answers others."""
    _need_chromium()
    answers: list[int] = []
    thread = threading.Thread(target=lambda: answers.append(
        converting.request("GET", "nbconvert/webpdf/my%20nb.ipynb", timeout=90).status_code))
    thread.start()
    try:
        wait_for(lambda: _converting_children(converting), timeout=30)
        assert converting.request("GET", "api/contents/my%20nb.ipynb", timeout=30).status_code == 200
        assert thread.is_alive() and _converting_children(converting)  # answered while the conversion went on
    finally:
        thread.join(90)
    assert answers == [200]
