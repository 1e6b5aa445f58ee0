"""The web app in a real browser (Debian's Chromium, driven by Playwright) against the real stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from cinestream.settings import Settings
from tests.serving import serving

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server(stack: Settings, built_catalogue: str) -> Iterator[str]:
    with serving(Settings(mongo_db="cinestream_test", redis_url=stack.redis_url.rsplit("/", 1)[0] + "/7")) as url:
        yield url


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
    expect(page.locator("#results")).to_contain_text("q: String should match pattern '[A-Za-z0-9]'")


def test_the_dashboard_shows_the_learning_curve(page: Page) -> None:
    expect(page.locator("#metrics")).to_contain_text("no events learned yet")
    # the PNG is rendered by the API (matplotlib, off the event loop): wait for it to arrive
    page.wait_for_function("() => document.querySelector('#curve').complete", timeout=20_000)
    width = page.locator("#curve").evaluate("img => img.naturalWidth")
    assert width > 400  # the PNG loaded in the browser (a failed load leaves it at 0)


@pytest.fixture()
def saved_run(stack: Settings) -> Iterator[str]:
    """A newest evaluation run on disk (two models, three cut-offs), removed afterwards."""
    from evaluation.report import save
    from evaluation.suite import Result

    results = [Result("hybrid", 1.5, 0.82, 0.63, {"P@10": 0.31, "NDCG@10": 0.27}, [0.4, 0.35, 0.3], [0.02, 0.05, 0.08]),
               Result("popularity", 0.01, None, None, {"P@10": 0.12, "NDCG@10": 0.13}, [0.2, 0.15, 0.1],
                      [0.01, 0.02, 0.03])]
    data, png = save(results, stack.reports_dir, "evaluation-browser-test", {"dataset": "ml-test", "split": "random"})
    yield data.stem
    data.unlink()
    png.unlink()


def test_the_dashboard_shows_the_newest_evaluation_and_its_curves(saved_run: str, page: Page) -> None:
    page.reload()
    table = page.locator("#evaluation-table")
    expect(table).to_contain_text("hybrid")
    expect(table.locator("tr").nth(1)).to_contain_text("0.8200")  # hybrid's RMSE, as saved
    expect(table.locator("tr").nth(2)).to_contain_text("—")  # popularity predicts no ratings
    expect(page.locator("#pr-curve")).to_be_visible()
    width = page.locator("#pr-curve").evaluate("img => img.complete ? img.naturalWidth : 0")
    assert width > 400


def test_logging_in_shows_your_recommendations(page: Page, stack: Settings) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from cinestream import accounts
    from cinestream.secrets import load_secrets
    from storage.mongo import connect, database

    async def demo() -> tuple[str, str]:
        client, found = connect(stack), load_secrets(stack)
        try:
            return await accounts.demo_login(database(client, stack), found.cipher(), 1)
        finally:
            client.close()

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API runs an event loop in this thread
        email, password = pool.submit(asyncio.run, demo()).result()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#recs")).to_contain_text("wrong e-mail or password")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#model")).to_contain_text("model: ")
    expect(page.locator("#login")).to_be_hidden()
    page.reload()  # the session is an HttpOnly cookie: it survives a reload
    expect(page.locator("#model")).to_contain_text("model: ")
