"""The sessions API's deprecated body form ``{"notebook": {"path" | "name"}}`` (contract section 6).

Compared side by side with a live jupyter_server 2.21.1:

POST
- ``{"path": "top.ipynb", "type": "console", "notebook": {"name": "n.ipynb", "path": "p.ipynb"}}``
  -> path ``n.ipynb``, type ``notebook``: the notebook's ``name`` wins over its ``path``, and
  both over the top-level ``path`` and ``type``.
- ``{"path": "top2.ipynb", "type": "console", "notebook": {"path": "p.ipynb"}}`` -> ``p.ipynb``, notebook.
- ``{"path": "top3.ipynb", "type": "console", "notebook": {}}`` -> ``top3.ipynb``, type notebook.
- ``{"notebook": {}}`` and ``{"notebook": "x"}`` -> 400 ``Missing field in JSON data: path``.
- ``{"notebook": null, ...}``, ``{"notebook": {"name": null}, ...}``, ``{"notebook": {"path": 5}}``
  -> 500 (we answer 400).

PATCH
- ``{"notebook": {"name": "x.ipynb"}}`` -> nothing changes (only ``notebook.path`` counts).
- ``{"notebook": {"path": "new.ipynb"}, "path": "other.ipynb", "type": "file"}`` -> path
  ``new.ipynb``, type ``notebook``.
- ``{"type": "console", "notebook": {}}`` -> type ``console``.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..support.responses import assert_json_error
from ..support.server import Server

pytestmark = pytest.mark.live


def _create(server: Server, body: dict[str, Any]) -> dict[str, Any]:
    return server.json("POST", "api/sessions", 201, json=body)  # type: ignore[no-any-return]


def test_legacy_post_body_overrides_path_and_type(server: Server) -> None:
    made = [
        _create(server, {"path": "top.ipynb", "type": "console", "notebook": {"name": "n.ipynb", "path": "p.ipynb"}}),
        _create(server, {"path": "top2.ipynb", "type": "console", "notebook": {"path": "p.ipynb"}}),
        _create(server, {"path": "top3.ipynb", "type": "console", "notebook": {}}),
    ]
    try:
        assert [(s["path"], s["type"]) for s in made] == [
            ("n.ipynb", "notebook"), ("p.ipynb", "notebook"), ("top3.ipynb", "notebook")]
        assert made[0]["notebook"] == {"path": "n.ipynb", "name": None}
        for body in ({"notebook": {}}, {"notebook": {"path": None}}):
            assert_json_error(server.request("POST", "api/sessions", json=body), 400,
                              "Missing field in JSON data: path")
        for body in ({"notebook": "x"}, {"notebook": None, "path": "q.ipynb", "type": "file"}, {"notebook": [1]}):
            assert_json_error(server.request("POST", "api/sessions", json=body), 400,
                              "'notebook' must be an object with 'path' or 'name'")
        assert_json_error(server.request("POST", "api/sessions", json={"notebook": {"path": 5}}), 400,
                          "'path' must be a string")
    finally:
        for session in made:
            server.json("DELETE", f"api/sessions/{session['id']}", 204)


def test_legacy_patch_body_sets_path_and_type_only_from_notebook_path(server: Server) -> None:
    session = _create(server, {"path": "s.ipynb", "type": "console"})
    url = f"api/sessions/{session['id']}"
    try:
        unchanged = server.json("PATCH", url, 200, json={"notebook": {"name": "x.ipynb"}})
        assert (unchanged["path"], unchanged["type"]) == ("s.ipynb", "console")
        moved = server.json("PATCH", url, 200, json={"notebook": {"path": "new.ipynb"}, "path": "other.ipynb",
                                                      "type": "file"})
        assert (moved["path"], moved["type"]) == ("new.ipynb", "notebook")
        assert moved["notebook"] == {"path": "new.ipynb", "name": None}
        typed = server.json("PATCH", url, 200, json={"type": "console", "notebook": {}})
        assert (typed["path"], typed["type"]) == ("new.ipynb", "console")
        assert_json_error(server.request("PATCH", url, json={"notebook": "x"}), 400,
                          "'notebook' must be an object with 'path' or 'name'")
        assert server.kernel(session["kernel"]["id"])["id"] == session["kernel"]["id"]  # the kernel stays
    finally:
        server.json("DELETE", url, 204)
