"""The file browser and the Running view under a base URL (/nb/) and over TLS: every URL the
pages use comes from the page config, so nothing escapes the prefix or the scheme."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from playwright.sync_api import Browser, Page, expect

from ..support.browser import TIMEOUT_MS, UIServer
from ..support.env import TOKEN
from ..support.kernels import kernel_processes
from ..support.tree_page import row
from ..support.waiting import wait_for

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UIServer]:
    certs = tmp_path_factory.mktemp("certs")
    cert = trustme.CA().issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = certs / "cert.pem", certs / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    srv = UIServer(tmp_path_factory.mktemp("ui-tls"),
                   ["--base-url", "/nb/", "--certfile", str(certfile), "--keyfile", str(keyfile)])
    yield srv
    srv.stop()
    wait_for(lambda: not kernel_processes(srv.runtime_dir), timeout=15)


@pytest.fixture
def tls_page(browser: Browser, tls_server: UIServer) -> Iterator[Page]:
    context = browser.new_context(base_url=tls_server.url, ignore_https_errors=True,
                                  viewport={"width": 1200, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(f"{error.name}: {error.message}"))
    outside: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(tls_server.url) else outside.append(request.url))
    page.goto(f"tree/?token={TOKEN}")
    yield page
    context.close()
    assert not errors, errors
    assert not outside, f"requests outside https://…/nb/: {outside}"


def test_tree_works_under_a_base_url_over_tls(tls_page: Page, tls_server: UIServer) -> None:
    page = tls_page
    assert tls_server.url.startswith("https://") and tls_server.url.endswith("/nb/")
    (tls_server.root / "data.txt").write_text("payload")
    page.goto("tree/")
    expect(page.locator("html")).to_have_attribute("data-nb-ready", "true")
    expect(row(page, "data.txt").get_by_role("link")).to_have_attribute("href", "/nb/edit/data.txt")

    page.get_by_role("button", name="New Folder").click()
    dialog = page.get_by_role("dialog", name="Name the new folder")
    dialog.get_by_label("Folder name").fill("inside")
    dialog.get_by_role("button", name="Create").click()
    page.get_by_role("link", name="inside", exact=True).click()
    expect(page).to_have_url(re.compile(r"^https://127\.0\.0\.1:\d+/nb/tree/inside$"))
    expect(page.get_by_text("This folder is empty.")).to_be_visible()

    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload").click()
    chooser.value.set_files([{"name": "up.bin", "mimeType": "application/octet-stream", "buffer": b"\x00\xffok"}])
    expect(row(page, "up.bin")).to_be_visible()
    assert (tls_server.root / "inside" / "up.bin").read_bytes() == b"\x00\xffok"

    page.get_by_role("navigation", name="Breadcrumbs").get_by_role("link", name="Root folder").click()
    expect(page).to_have_url(re.compile(r"/nb/tree/$"))
    page.get_by_role("link", name="Running", exact=True).click()
    expect(page).to_have_url(re.compile(r"^https://127\.0\.0\.1:\d+/nb/running$"))
    expect(page.get_by_text("No kernels are running.")).to_be_visible()

    page.goto("tree/inside")
    with page.context.expect_page() as opened:
        page.get_by_role("button", name="New Notebook", exact=True).click()
    opened.value.wait_for_url(re.compile(r"^https://127\.0\.0\.1:\d+/nb/notebooks/inside/Untitled\.ipynb$"))
    assert Path(tls_server.root / "inside" / "Untitled.ipynb").is_file()
