"""The documentation site as a reader meets it: built strictly, served over HTTP and opened in Chromium.
The integration page renders with its navigation, its copy-paste examples and working links; its
screenshot goes to the reports folder beside the web app's."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from core.settings import Settings
from tests.browser.test_web_app import CHROMIUM_FLAGS

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("site")
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300,
                           env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert built.returncode == 0, built.stderr[-3000:]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_the_integration_page_renders_in_chromium(site: str, settings: Settings) -> None:
    shots = settings.reports_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        failed: list[str] = []
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.on("requestfailed", lambda r: failed.append(f"{r.failure} {r.url}"))
        page.goto(f"{site}/integrate/")
        expect(page.locator("h1")).to_have_text("Integrate a streaming platform")
        expect(page.locator("nav.md-nav--primary")).to_contain_text("Benchmarks")
        blocks = page.locator("div.highlight pre code")
        assert blocks.count() >= 5  # the examples a test runs (tests/integration/test_integration_guide.py)
        expect(page.get_by_title("Copy to clipboard").first).to_be_attached()  # each example has a copy button
        page.screenshot(path=shots / "site-integrate.png")
        page.get_by_role("link", name="Benchmarks").first.click()
        expect(page.locator("h1")).to_have_text("Benchmarks")
        assert failed == [], failed  # everything the pages ask for was served, and by the site itself
        browser.close()
