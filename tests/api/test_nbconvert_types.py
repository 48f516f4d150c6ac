"""What ``GET /nbconvert/<format>/<path>`` serves code and text as: always a text type with
``nosniff``, never a type a browser renders, whatever the notebook's (author-controlled)
``language_info`` says; HTML only for the formats that make pages.

jupyter_server 2.21 serves the exporter's ``output_mimetype``: for ``script`` of a notebook
ipykernel wrote (``language_info.nbconvert_exporter: "python"``) the ScriptExporter delegates to
PythonExporter and keeps no type, so tornado's default ``text/html`` goes out and the browser
renders the Python file as a page. Here it is ``text/x-python``.
"""

from __future__ import annotations

import nbformat
import pytest

from ..support.server import Server

#: What ipykernel 6/7 writes into a notebook's metadata.
IPYKERNEL = {"name": "python", "version": "3.11.2", "mimetype": "text/x-python", "file_extension": ".py",
             "codemirror_mode": {"name": "ipython", "version": 3}, "pygments_lexer": "ipython3",
             "nbconvert_exporter": "python"}
PAYLOAD = "# <script>document.title = 'ran'</script>\nprint('hello')"


def write(server: Server, name: str, language_info: dict[str, object] | None) -> None:
    nb = nbformat.v4.new_notebook()
    if language_info is not None:
        nb.metadata["language_info"] = language_info
    nb.cells = [nbformat.v4.new_code_cell(PAYLOAD)]
    nbformat.write(nb, server.root / name)


def test_a_script_of_an_ipykernel_notebook_is_python_text(server: Server) -> None:
    write(server, "saved.ipynb", IPYKERNEL)
    for answer in (server.request("GET", "nbconvert/script/saved.ipynb"),
                   server.request("POST", "nbconvert/script",
                                  json={"content": nbformat.reads((server.root / "saved.ipynb").read_text(), 4)})):
        assert answer.status_code == 200, answer.text
        assert answer.headers["Content-Type"] == "text/x-python; charset=utf-8"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert "<script>" in answer.text  # the source as it is, as text


@pytest.mark.parametrize("language_info", [
    {"name": "evil", "mimetype": "text/html", "file_extension": ".html"},  # ScriptExporter takes it
    {"name": "evil", "mimetype": "image/svg+xml"},
    {"name": "evil", "mimetype": "application/xhtml+xml"},
    {"name": "evil", "mimetype": "text/plain\r\nX-Injected: 1"},
    {**IPYKERNEL, "nbconvert_exporter": "html"},  # delegates to HTMLExporter: its output, as text
    {"name": "evil"},
    None,
])
def test_a_hostile_language_info_never_makes_a_script_html(server: Server,
                                                          language_info: dict[str, object] | None) -> None:
    write(server, "hostile.ipynb", language_info)
    answer = server.request("GET", "nbconvert/script/hostile.ipynb")
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Injected" not in answer.headers


def test_text_formats_stay_text_and_html_stays_a_sandboxed_page(server: Server) -> None:
    write(server, "formats.ipynb", {**IPYKERNEL, "mimetype": "text/html"})
    expected = {"markdown": "text/markdown", "notebook": "application/json", "rst": "text/x-rst",
                "python": "text/x-python", "html": "text/html", "slides": "text/html"}
    for fmt, mimetype in expected.items():
        answer = server.request("GET", f"nbconvert/{fmt}/formats.ipynb")
        assert answer.status_code == 200, (fmt, answer.text)
        assert answer.headers["Content-Type"] == f"{mimetype}; charset=utf-8", fmt
        assert answer.headers["Content-Security-Policy"].endswith("; sandbox allow-scripts")


def test_the_listing_gives_script_a_text_type(server: Server) -> None:
    listed = server.json("GET", "api/nbconvert", 200)
    assert listed["script"] == {"output_mimetype": "text/plain"}
    assert listed["html"] == {"output_mimetype": "text/html"}
