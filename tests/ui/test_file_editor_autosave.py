"""The file editor's autosave, on a server whose NOTEBOOK_AUTOSAVE_INTERVAL is one second: an
edit reaches the file with no Save, and a file changed on disk is not overwritten by it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from ..support.browser import UIServer
from ..support.editor_page import editor_text, open_editor, status
from ..support.tree_page import make_folder
from ..support.waiting import wait_for

pytestmark = pytest.mark.live

INTERVAL = 1


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UIServer]:
    srv = UIServer(tmp_path_factory.mktemp("ui-edit-autosave"), env={"NOTEBOOK_AUTOSAVE_INTERVAL": str(INTERVAL)})
    yield srv
    srv.stop()


def test_autosave_writes_edits_but_never_over_a_file_changed_on_disk(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "auto", {"log.md": "# Log\n"})
    box = open_editor(page, "auto/log.md")
    assert page.evaluate("JSON.parse(document.getElementById('nb-config').textContent).autosaveInterval") == INTERVAL
    # Every status the editor shows, kept: with a one-second autosave, "Unsaved changes" can
    # come and go between two looks at the page.
    page.evaluate("""() => {
        const node = document.getElementById("nb-editor-status");
        window.statuses = [node.textContent];
        new MutationObserver(() => window.statuses.push(node.textContent))
            .observe(node, { childList: true, characterData: true, subtree: true });
    }""")
    box.press("Control+End")
    box.press_sequentially("- entry")
    wait_for(lambda: (folder / "log.md").read_text() == "# Log\n- entry", timeout=10)
    assert "Unsaved changes" in page.evaluate("window.statuses")
    expect(status(page)).to_have_text("Saved")
    expect(page).to_have_title("log.md · flask-notebook")

    # Changed on disk: the autosave finds the conflict, says so, and leaves the file alone.
    ui_server.json("PUT", "api/contents/auto/log.md", 200, json={"type": "file", "format": "text", "content": "other\n"})
    box.press_sequentially(" two")
    expect(status(page)).to_have_text("Changed on disk")
    expect(page.get_by_role("group", name="Changed on disk")).to_be_visible()
    # Later edits do not try again behind the person's back.
    box.press_sequentially(" three")
    page.wait_for_timeout(2500)  # two autosave intervals, to show that nothing is written
    assert (folder / "log.md").read_text() == "other\n"
    assert editor_text(page) == "# Log\n- entry two three"
    page.get_by_role("button", name="Overwrite with my version").click()
    expect(status(page)).to_have_text("Saved")
    assert (folder / "log.md").read_text() == "# Log\n- entry two three"
