"""The example site in Debian's chromium: log in through the site's form, open the notebook
from the file browser, run a cell, save; log out and be sent back to the site's login."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from ..support.browser import TIMEOUT_MS
from ..support.notebook_page import expect_ready, output, run_code
from ..support.site import Site, User

pytestmark = pytest.mark.live


@pytest.fixture
def page(browser: Browser, site: Site, ada: User) -> Iterator[Page]:
    """A fresh browser, logged in to nothing. `ada` (the API) cleans up its kernels afterwards."""
    context = browser.new_context(base_url=site.url, viewport={"width": 1200, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"{error.name}: {error.message}"))
    yield page
    context.close()
    assert not errors, "uncaught errors in the page:\n" + "\n".join(errors)


def test_site_user_logs_in_and_runs_a_cell(page: Page, site: Site, ada: User) -> None:
    # Anonymous: the notebook sends the browser to the site's own login page, with `next`.
    page.goto("notebook/tree/")
    expect(page).to_have_url(site.url + "login?next=/notebook/tree/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("User name").fill("ada")
    page.get_by_label("Password").fill("lovelace")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(site.url + "notebook/tree/")

    # The file browser creates a notebook and opens it in the editor, which starts a kernel.
    with page.context.expect_page() as opened:  # in a new tab
        page.get_by_role("button", name="New Notebook", exact=True).click()
    page = opened.value
    page.wait_for_url(re.compile(r"/notebook/notebooks/Untitled\d*\.ipynb$"))
    path = page.url.rsplit("/notebooks/", 1)[1]
    expect_ready(page)
    run_code(page, 1, "6*7")
    expect(output(page, 1)).to_have_text("Out[1]:42")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved")
    saved = ada.api("GET", f"contents/{path}", 200)["content"]["cells"][0]
    assert saved["source"] == "6*7" and saved["outputs"][0]["data"]["text/plain"] == "42"

    # Logging out of the site logs out of the notebook too.
    page.goto("/")
    page.get_by_role("navigation").get_by_role("link", name="Log out").click()
    expect(page.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()
    page.goto("notebook/tree/")
    expect(page).to_have_url(site.url + "login?next=/notebook/tree/")
