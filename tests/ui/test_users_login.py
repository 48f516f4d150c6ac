"""Two users of a users file in a real browser (issue 19): each logs in on the login page with
their own name and password, the pages (the file browser and the notebook) show who is
logged in, and logging out ends the login and shows the login page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from flask_notebook.core.userdb import UserDB

from ..support.browser import TIMEOUT_MS, UIServer, put_notebook
from ..support.kernels import kernel_processes
from ..support.waiting import wait_for

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def users_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UIServer]:
    base = tmp_path_factory.mktemp("users-ui")
    users = base / "users.json"
    db = UserDB(str(users))
    db.add("alice", "alice-pw", admin=True, display_name="Alice Liddell")
    db.add("bob", "bob-pw")
    srv = UIServer(base, env={"NOTEBOOK_USERS_FILE": str(users)})
    yield srv
    srv.stop()
    wait_for(lambda: not kernel_processes(srv.runtime_dir), timeout=15)


@pytest.fixture
def new_page(browser: Browser, users_server: UIServer) -> Iterator[Callable[[], Page]]:
    contexts = []

    def make() -> Page:
        context = browser.new_context(base_url=users_server.url)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    for session in users_server.json("GET", "api/sessions", 200):
        users_server.request("DELETE", f"api/sessions/{session['id']}")


def log_in(page: Page, name: str, password: str) -> None:
    page.goto("tree")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/tree/?$"))


def test_two_users_log_in_see_their_names_and_log_out(new_page: Callable[[], Page], users_server: UIServer) -> None:
    put_notebook(users_server, "shared.ipynb")
    alice, bob = new_page(), new_page()
    log_in(alice, "alice", "alice-pw")
    log_in(bob, "bob", "bob-pw")
    expect(alice.locator("#nb-user")).to_have_text("Alice Liddell")
    expect(alice.locator("#nb-user")).to_have_attribute("title", "Logged in as alice (administrator)")
    expect(bob.locator("#nb-user")).to_have_text("bob")
    bob.goto("notebooks/shared.ipynb")
    expect(bob.locator("#nb-notebook")).to_have_attribute("data-state", "ready")
    expect(bob.locator("#nb-user")).to_have_text("bob")

    bob.get_by_role("link", name="Log out").click()
    expect(bob.get_by_role("status").filter(has_text="You are logged out.")).to_be_visible()
    expect(bob.get_by_label("User name")).to_be_visible()
    bob.goto("tree")
    expect(bob).to_have_url(re.compile(r"/login\?next="))
    alice.reload()  # bob's logout is his own
    expect(alice.locator("#nb-user")).to_have_text("Alice Liddell")


def test_a_wrong_password_keeps_the_name_and_says_so(new_page: Callable[[], Page]) -> None:
    page = new_page()
    page.goto("login")
    page.get_by_label("User name").fill("bob")
    page.get_by_label("Password").fill("not-his")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid credentials.")
    expect(page.get_by_label("User name")).to_have_value("bob")
