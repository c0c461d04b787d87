"""End to end in Debian's headless chromium, driven by Playwright, against ``search serve`` run as
a real process on a free port (one server and one browser for the module)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import pytest

from search import Index

from .conftest import HOSTILE, indexed_corpus
from .server import Server

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="no /usr/bin/chromium: install it with sh scripts/install-dictionary.sh --browser"),
]


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The indexed files: this module adds one while the server runs, so it has its own index."""
    return indexed_corpus(tmp_path_factory.mktemp("browser")) / "docs"


@pytest.fixture(scope="module")
def server(docs: Path) -> Iterator[Server]:
    running = Server(docs.parent / "index")
    yield running
    code, said = running.stop()
    assert code in (0, 130) and "Traceback" not in said


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("profile")), executable_path=str(CHROMIUM), headless=True,
            args=FLAGS, viewport={"width": 1000, "height": 700})
        yield context
        context.close()


@pytest.fixture()
def page(browser):  # type: ignore[no-untyped-def]
    """A fresh tab; any JavaScript dialog (an escaping failure) is recorded, then dismissed."""
    tab = browser.new_page()
    tab.dialogs = []
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    yield tab
    tab.close()


def _search(page, server: Server, query: str, lang: str = "", cross: str = "on") -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url + "/")
    page.fill("input[name=q]", query)
    page.select_option("select[name=lang]", lang)
    page.select_option("select[name=cross]", cross)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_an_english_search_from_the_form_marks_the_matched_words(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    _search(page, server, "Rosoboronexport", lang="en")
    assert "/?q=Rosoboronexport" in page.url
    hits = page.locator("li.hit")
    assert hits.count() == 10
    assert page.locator("li.hit .lang").all_inner_texts() == ["[en]"] * 10
    assert set(page.locator("li.hit mark").all_inner_texts()) <= {"Rosoboronexport", "Rosoboronexport’s"}
    for where in page.locator("li.hit .where").all_inner_texts():
        assert re.fullmatch(r"/\S+\.(txt|pdf):\d+( \(page \d\))?", where), where


def test_a_russian_search_finds_english_too_unless_cross_is_off(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    _search(page, server, "Рособоронэкспорта")
    languages = set(page.locator("li.hit .lang").all_inner_texts())
    assert languages == {"[en]", "[ru]"}
    assert "Рособоронэкспорта" in page.locator("li.hit mark").all_inner_texts()
    _search(page, server, "противовоздушная оборона", lang="en", cross="off")
    assert page.locator("li.hit").count() == 0 and "No passage matches" in page.inner_text("ol.hits")


def test_a_document_view_scrolls_to_the_hit_and_lists_the_others(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    _search(page, server, "Rosoboronexport", lang="en")
    page.locator("li.hit .where").nth(4).click()
    page.wait_for_load_state()
    assert "/doc/" in page.url and "#p" in page.url
    current = page.locator("article .passage.current")
    assert current.count() == 1 and current.locator("mark").count() >= 1
    assert current.get_attribute("id") == page.url.rsplit("#", 1)[1]
    top = current.evaluate("element => element.getBoundingClientRect().top")
    assert 0 <= top < 700, "the hit's passage is not scrolled into view"
    assert page.locator("nav.in-doc li").count() >= 2
    page.click("nav.in-doc a >> text=results for")
    assert page.locator("li.hit").count() == 10


def test_a_pdf_document_shows_its_pages(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    _search(page, server, "submarines navy", lang="en")
    page.locator("li.hit .where", has_text="report.pdf").first.click()
    assert page.locator(".page-break").all_inner_texts() == ["page 1", "page 2", "page 3"]
    assert "(page 3)" in page.inner_text("nav.in-doc")


def test_hostile_text_is_shown_as_text(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    _search(page, server, "Zanzibarite report warning")
    assert HOSTILE in page.locator("li.hit .text").all_inner_texts()
    page.locator("li.hit .where", has_text="hostile.txt").first.click()
    assert page.locator("article .passage.current").inner_text() == HOSTILE
    assert page.locator("main script, main img").count() == 0
    page.goto(server.url + "/?q=" + quote('<img src=x onerror=alert(2)>'))
    assert page.input_value("input[name=q]") == "<img src=x onerror=alert(2)>"
    assert page.locator("script, main img").count() == 0
    assert page.dialogs == []


def test_the_explain_view_opens_on_demand(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    _search(page, server, "Шойгу")
    explain = page.locator("details.explain pre")
    assert not explain.is_visible()
    page.click("details.explain summary")
    assert explain.is_visible() and "names" in explain.inner_text()


@pytest.mark.parametrize("path", ["/doc/../../etc/passwd", "/doc/%2e%2e/%2e%2e/etc/passwd",
                                  "/doc/..%2F..%2Fetc%2Fpasswd", "/doc//etc/passwd", "/doc/0123456789abcdef",
                                  "/static/..%2F..%2F..%2Fetc%2Fpasswd"])
def test_paths_outside_the_index_are_404(page, server: Server, path: str) -> None:  # type: ignore[no-untyped-def]
    response = page.goto(server.url + path)
    assert response.status == 404 and "root:" not in page.content()


def test_bad_parameters_are_400_with_a_message(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    for query, message in [("q=", "empty query"), ("q=x&limit=abc", "limit must be a whole number"),
                           ("q=x&limit=0", "limit must be between"), ("q=x&lang=de", "lang must be one of")]:
        response = page.goto(f"{server.url}/api/search?{query}")
        assert response.status == 400 and message in response.json()["error"]
        if query != "q=":
            response = page.goto(f"{server.url}/?{query}")
            assert response.status == 400 and message in page.inner_text(".error")
    policy = page.goto(server.url + "/").headers["content-security-policy"]
    assert "script-src 'self'" in policy


def test_a_commit_made_while_serving_is_searched_next(page, server: Server, docs: Path) -> None:  # type: ignore[no-untyped-def]
    _search(page, server, "Quuxwidget")
    assert page.locator("li.hit").count() == 0
    (docs / "late.txt").write_text("Квуксвиджет и Quuxwidget, собранные в Туле.", encoding="utf-8")
    with Index(docs.parent / "index") as writer:
        writer.update([str(docs)], vectors=False)
    _search(page, server, "Quuxwidget")
    assert page.locator("li.hit .where").all_inner_texts() == [f"{docs / 'late.txt'}:1"]
    assert "Quuxwidget" in page.locator("li.hit mark").all_inner_texts()
