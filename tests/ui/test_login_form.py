"""Our login form in a real browser: it logs in over an `_xsrf` cookie another page set, and
tells a browser that keeps guessing to wait."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from ..support.browser import TIMEOUT_MS, UIServer
from ..support.env import TOKEN
from ..support.waiting import wait_for


@pytest.fixture
def anonymous_page(browser: Browser, ui_server: UIServer) -> Iterator[Page]:
    context = browser.new_context(base_url=ui_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def submit(page: Page, secret: str) -> None:
    page.get_by_label("Token").fill(secret)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_the_form_logs_in_over_an_xsrf_cookie_another_page_chose(anonymous_page: Page, ui_server: UIServer) -> None:
    """Cookies ignore ports: a page of another server on this host can set `_xsrf` for ours."""
    page = anonymous_page
    page.context.add_cookies([{"name": "_xsrf", "value": "chosen-elsewhere", "url": ui_server.url}])
    page.goto("tree")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    xsrf = {c["name"]: c["value"] for c in page.context.cookies()}["_xsrf"]
    assert xsrf != "chosen-elsewhere"
    submit(page, TOKEN)
    expect(page).to_have_url(re.compile(r"/tree$"))


def test_a_browser_that_keeps_guessing_is_told_to_wait(anonymous_page: Page) -> None:
    page = anonymous_page
    page.goto("login")
    for i in range(5):
        submit(page, f"guess-{i}")
        expect(page.get_by_role("alert")).to_have_text("Invalid credentials.")
    submit(page, TOKEN)
    expect(page.get_by_role("alert")).to_have_text(re.compile(r"Too many failed attempts; try again in 1 s\."))
    # The wait is a second: the right token gets in after it.
    wait_for(lambda: submit(page, TOKEN) or "/login" not in page.url, timeout=10, interval=0.2)
    expect(page).to_have_url(re.compile(r"/tree/?$"))
