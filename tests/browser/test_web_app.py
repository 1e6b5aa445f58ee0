"""The web app in a real browser (Debian's Chromium, driven by Playwright) against the real stack."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from api.main import create_app
from cinestream.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(stack: Settings, built_catalogue: str) -> Iterator[str]:
    settings = Settings(mongo_db="cinestream_test", redis_url=stack.redis_url.rsplit("/", 1)[0] + "/7")
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the API did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(server: str, browser: Browser) -> Iterator[Page]:
    tab = browser.new_page()
    tab.goto(server)
    yield tab
    tab.close()


def search(page: Page, query: str) -> None:
    page.fill("#search input[name=q]", query)
    page.click("#search button")


def test_search_finds_the_matrix_with_its_directors(page: Page) -> None:
    search(page, "matrix")
    first = page.locator("#results li").first
    # the first search may wait for the title index (~4 s to read 10k titles from FerretDB)
    expect(first).to_contain_text("The Matrix (1999)", timeout=20_000)
    expect(first).to_contain_text("Lana Wachowski")


def test_a_bad_search_shows_the_apis_message(page: Page) -> None:
    search(page, "!!")
    expect(page.locator("#results")).to_contain_text("no letters or digits")


def test_the_dashboard_shows_the_learning_curve(page: Page) -> None:
    expect(page.locator("#metrics")).to_contain_text("no events learned yet")
    width = page.locator("#curve").evaluate("img => img.complete ? img.naturalWidth : 0")
    assert width > 400  # the PNG rendered by the API loaded in the browser
