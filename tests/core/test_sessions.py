"""The session record and its wire model, without a kernel or an app."""

from __future__ import annotations

import json

from flask_notebook.core.sessions import Session

KERNEL = {"id": "k1", "name": "python3", "last_activity": "2025-01-01T00:00:00.000000Z",
          "execution_state": "idle", "connections": 0}


def test_notebook_session_model_carries_the_legacy_notebook_key() -> None:
    session = Session(id="s1", path="dir/a.ipynb", name="a.ipynb", type="notebook", kernel_id="k1")
    # Key order too: the JSON text is what clients see.
    assert json.dumps(session.model(KERNEL)) == json.dumps({
        "id": "s1", "path": "dir/a.ipynb", "name": "a.ipynb", "type": "notebook", "kernel": KERNEL,
        "notebook": {"path": "dir/a.ipynb", "name": "a.ipynb"},
    })


def test_console_session_model_has_no_notebook_key_and_may_have_no_name() -> None:
    session = Session(id="s2", path="console-1", name=None, type="console", kernel_id="k1")
    assert session.model(KERNEL) == {"id": "s2", "path": "console-1", "name": None, "type": "console",
                                     "kernel": KERNEL}
