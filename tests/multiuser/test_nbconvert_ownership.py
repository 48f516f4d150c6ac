"""``/nbconvert/<format>/<path>`` converts the request user's notebook: another user's, at the
same path, is not there for them (404, as any path missing from their workspace)."""

from __future__ import annotations

import nbformat

from .conftest import Member


def test_nbconvert_reads_only_the_users_own_workspace(alice: Member, bob: Member) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("alice_secret = 1")])
    alice.api("PUT", "contents/mine.ipynb", 201, json={"type": "notebook", "content": nb})
    mine = alice.get(alice.site.url + "nbconvert/script/mine.ipynb")
    assert mine.status_code == 200 and "alice_secret = 1" in mine.text
    theirs = bob.get(bob.site.url + "nbconvert/script/mine.ipynb")
    assert theirs.status_code == 404 and theirs.json()["message"]
    assert "alice_secret" not in theirs.text
