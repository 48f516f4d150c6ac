"""Each user's files are theirs: contents, listings, /files, checkpoints, trust, config and
pages reach only the user's own workspace; shared folders are read-only for everyone."""

from __future__ import annotations

import hashlib
import stat
from typing import Any

from .conftest import Member, Site

MISSING_FILE = "file or directory '/notes.txt' does not exist"


def _save(member: Member, path: str, text: str) -> dict[str, Any]:
    """Save a file, new (201) or not (200: the site lives for the whole module)."""
    response = member.put(member.site.url + f"api/contents/{path}",
                          json={"type": "file", "format": "text", "content": text})
    assert response.status_code in (200, 201), response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_users_file_is_in_their_workspace_made_0700(site: Site, alice: Member) -> None:
    _save(alice, "notes.txt", "alice's")
    workspace = site.workspace("alice")
    assert (workspace / "notes.txt").read_text() == "alice's"
    assert stat.S_IMODE(workspace.stat().st_mode) == 0o700
    assert not (site.base / "root" / "notes.txt").exists()


def test_another_users_file_is_not_found_anywhere(site: Site, alice: Member, bob: Member) -> None:
    _save(alice, "notes.txt", "alice's secret")
    assert bob.api("GET", "contents/notes.txt", 404)["message"] == MISSING_FILE
    assert "notes.txt" not in [entry["name"] for entry in bob.api("GET", "contents", 200)["content"]]
    assert bob.page("files/notes.txt").status_code == 404
    assert bob.page("tree/notes.txt").status_code == 404
    assert bob.page("edit/notes.txt").status_code == 404
    assert bob.api("POST", "contents/notes.txt/checkpoints", 404)
    assert bob.api("GET", "resolvePath", 200, params={"path": "notes.txt"}) == {"resolved": []}
    # Bob's own file of that name is another file, and alice's is untouched by his writes.
    _save(bob, "notes.txt", "bob's")
    bob.api("DELETE", "contents/notes.txt", 204)
    assert alice.api("GET", "contents/notes.txt", 200)["content"] == "alice's secret"
    assert alice.page("files/notes.txt").text == "alice's secret"


def test_paths_out_of_a_workspace_are_refused(site: Site, alice: Member, bob: Member) -> None:
    _save(bob, "mine.txt", "bob's")
    for path in ("..%2Fbob%2Fmine.txt", "%2E%2E/bob/mine.txt"):
        assert alice.get(site.url + "api/contents/" + path).status_code in (400, 404)
        assert alice.get(site.url + "files/" + path).status_code in (400, 404)
    assert alice.api("GET", "resolvePath", 200,
                     params={"path": str(site.workspace("bob") / "mine.txt")}) == {"resolved": []}


def test_checkpoints_are_per_workspace(alice: Member, bob: Member) -> None:
    _save(alice, "cp.txt", "one")
    checkpoint = alice.api("POST", "contents/cp.txt/checkpoints", 201)
    _save(bob, "cp.txt", "bob")
    assert bob.api("GET", "contents/cp.txt/checkpoints", 200) == []
    bob.api("POST", f"contents/cp.txt/checkpoints/{checkpoint['id']}", 404)
    bob.api("DELETE", f"contents/cp.txt/checkpoints/{checkpoint['id']}", 404)
    assert [c["id"] for c in alice.api("GET", "contents/cp.txt/checkpoints", 200)] == [checkpoint["id"]]


def _notebook_with_html() -> dict[str, Any]:
    output = {"output_type": "display_data", "data": {"text/html": "<b>hi</b>"}, "metadata": {}}
    cell = {"cell_type": "code", "source": "x", "metadata": {}, "outputs": [output], "execution_count": 1}
    return {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _trusted(member: Member, path: str) -> bool:
    model = member.api("GET", f"contents/{path}", 200)
    return bool(model["content"]["cells"][0]["metadata"]["trusted"])


def test_trust_is_per_user_and_kept_outside_the_workspace(site: Site, alice: Member, bob: Member) -> None:
    for member in (alice, bob):
        member.api("PUT", "contents/t.ipynb", 201, json={"type": "notebook", "content": _notebook_with_html()})
    assert not _trusted(alice, "t.ipynb") and not _trusted(bob, "t.ipynb")
    alice.api("POST", "contents/t.ipynb/trust", 201)
    assert _trusted(alice, "t.ipynb")
    assert not _trusted(bob, "t.ipynb")  # the same notebook, signed in alice's database only
    digest = hashlib.sha256(b"alice").hexdigest()
    store = site.base / "data" / "flask_notebook" / "users" / digest
    assert (store / "nbsignatures.db").is_file()
    assert not any(path.name == "nbsignatures.db" for path in site.workspace("alice").rglob("*"))


def test_config_sections_are_per_user(alice: Member, bob: Member) -> None:
    alice.api("PUT", "config/tree", 204, json={"theme": "dark"})
    assert alice.api("GET", "config/tree", 200) == {"theme": "dark"}
    assert bob.api("GET", "config/tree", 200) == {}


def test_a_user_name_that_would_escape_is_refused_before_any_path_is_made(site: Site, bad: Member) -> None:
    before = sorted(p.name for p in site.base.iterdir())
    answer = bad.api("GET", "contents", 403)
    assert answer["reason"] == "bad user name"
    bad.api("POST", "kernels", 403, json={"name": "python3"})
    assert bad.page("tree/").status_code == 403
    assert sorted(p.name for p in site.base.iterdir()) == before
    assert not (site.base / "x").exists() and not (site.base / "users" / "x").exists()


# -- shared folders ----------------------------------------------------------------------------


def test_a_shared_folder_is_listed_first_and_read_only(alice: Member) -> None:
    _save(alice, "a.txt", "a")
    listing = alice.api("GET", "contents", 200)["content"]
    assert listing[0]["name"] == "course" and listing[0]["type"] == "directory"
    assert listing[0]["writable"] is False
    inside = alice.api("GET", "contents/course", 200)
    assert inside["writable"] is False
    assert [(e["name"], e["writable"]) for e in inside["content"]] == [("lesson.txt", False)]
    assert alice.api("GET", "contents/course/lesson.txt", 200)["content"] == "read me\n"
    assert alice.page("files/course/lesson.txt").text == "read me\n"


def test_writing_in_a_shared_folder_is_a_403_that_says_why(site: Site, alice: Member) -> None:
    attempts = [
        ("PUT", "contents/course/new.txt", {"json": {"type": "file", "format": "text", "content": "x"}}),
        ("PUT", "contents/course/lesson.txt", {"json": {"type": "file", "format": "text", "content": "x"}}),
        ("PUT", "contents/course/sub", {"json": {"type": "directory"}}),
        ("POST", "contents/course", {"json": {"type": "file"}}),
        ("DELETE", "contents/course/lesson.txt", {}),
        ("DELETE", "contents/course", {}),
        ("PATCH", "contents/course/lesson.txt", {"json": {"path": "mine.txt"}}),
        ("POST", "contents/course/lesson.txt/checkpoints", {}),
        ("PUT", "contents/course/up.bin", {"json": {"type": "file", "format": "base64", "content": "", "chunk": 1}}),
    ]
    for method, path, kwargs in attempts:
        answer = alice.api(method, path, 403, **kwargs)
        assert "'course' is a shared folder: it is read-only" in answer["message"], (method, path, answer)
        assert answer["reason"] == "read-only"
    _save(alice, "mine.txt", "x")
    alice.api("PATCH", "contents/mine.txt", 403, json={"path": "course/mine.txt"})
    assert sorted(p.name for p in (site.base / "shared").iterdir()) == ["lesson.txt"]
    assert (site.base / "shared" / "lesson.txt").read_text() == "read me\n"


def test_copying_out_of_a_shared_folder_makes_the_users_own_file(site: Site, alice: Member) -> None:
    copy = alice.api("POST", "contents", 201, json={"copy_from": "course/lesson.txt"})
    assert copy["path"] == "lesson.txt" and copy["writable"] is True
    assert (site.workspace("alice") / "lesson.txt").read_text() == "read me\n"
    alice.api("DELETE", "contents/lesson.txt", 204)
    assert (site.base / "shared" / "lesson.txt").exists()


def test_a_real_folder_of_a_shared_folders_name_is_hidden_by_it(site: Site, alice: Member) -> None:
    _save(alice, "x.txt", "")  # the workspace exists
    own = site.workspace("alice") / "course"
    own.mkdir(exist_ok=True)
    (own / "private.txt").write_text("hidden")
    assert [e["name"] for e in alice.api("GET", "contents", 200)["content"]].count("course") == 1
    alice.api("GET", "contents/course/private.txt", 404)
    assert [e["name"] for e in alice.api("GET", "contents/course", 200)["content"]] == ["lesson.txt"]
