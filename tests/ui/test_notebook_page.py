"""The notebook page itself: served with its bundle, a 404 for a missing notebook."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from .conftest import UIServer, put_notebook


def test_missing_notebook_is_a_404_page(page: Page, ui_server: UIServer) -> None:
    response = page.goto("notebooks/missing.ipynb")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_bundle_and_styles_are_served_from_our_server(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "assets.ipynb")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto("notebooks/assets.ipynb")
    expect(page.locator("#nb-notebook")).to_have_attribute("data-state", "ready")
    assert requests and all(url.startswith(ui_server.url) for url in requests), requests
