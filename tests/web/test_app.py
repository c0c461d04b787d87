"""The web application through Starlette's TestClient, on a real index of the seeds and files
made here: the JSON API is the CLI's, pages escape everything, documents are found by their
identity in the index only, and bad parameters are 400s."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from search import Index
from search.errors import IndexCorrupt
from search.web.app import create_app
from search.web.documents import doc_id

from .conftest import HOSTILE


@pytest.fixture(scope="module")
def client(web_index: Index) -> TestClient:
    with TestClient(create_app(web_index)) as client:
        yield client


def _doc_link(page: str, named: str = "") -> str:
    """The first hit's link to its document view (of the first hit in a file whose name has ``named``)."""
    links = re.findall(r'href="(/doc/[0-9a-f]{16}\?[^"]*)">([^<]*)</a>', page)
    link = next((link for link, where in links if named in where), None)
    assert link, f"no document link to {named or 'any file'}"
    return link.replace("&amp;", "&")


def test_api_search_gives_exactly_what_the_cli_prints(client: TestClient, web_corpus: Path) -> None:
    for query, lang in [("Rosoboronexport", None), ("Рособоронэкспорта", "ru"), ("air defense systems", "en")]:
        response = client.get("/api/search", params={"q": query, "limit": 5, **({"lang": lang} if lang else {})})
        assert response.status_code == 200
        body = response.json()
        command = [sys.executable, "-m", "search", "query", query, "--json", "--limit", "5",
                   "--index", str(web_corpus / "index"), *(["--lang", lang] if lang else [])]
        printed = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        assert body["hits"] == [json.loads(line) for line in printed.splitlines()]
        assert body["query"] == query and body["corrected"] is None and body["hits"]


def test_api_search_context_adds_the_neighbours(client: TestClient) -> None:
    hit = client.get("/api/search", params={"q": "Rosoboronexport", "limit": 1, "context": 1}).json()["hits"][0]
    assert {"before", "after"} <= hit.keys()
    assert all(set(n) == {"passage", "line", "page", "member", "text"} for n in hit["before"] + hit["after"])


def test_a_repaired_query_says_what_it_searched(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "Rosoboronexprot"}).json()
    assert body["corrected"] == "Rosoboronexport"
    assert all(hit["corrected"] == "Rosoboronexport" for hit in body["hits"])
    page = client.get("/", params={"q": "Rosoboronexprot"}).text
    assert "Showing results for <strong>Rosoboronexport</strong>" in page


def test_api_stats_is_what_search_stats_prints(client: TestClient, web_index: Index) -> None:
    assert client.get("/api/stats").json() == web_index.stats().to_json()
    page = client.get("/stats")
    assert page.status_code == 200 and "documents" in page.text


@pytest.mark.parametrize("params, message", [
    ({"q": ""}, "empty query"),
    ({"q": "   "}, "empty query"),
    ({}, "empty query"),
    ({"q": "x", "limit": "abc"}, "limit must be a whole number"),
    ({"q": "x", "limit": "0"}, "limit must be between 1 and"),
    ({"q": "x", "limit": "-3"}, "limit must be between 1 and"),
    ({"q": "x", "limit": "99999999999999999999"}, "limit must be between 1 and"),
    ({"q": "x", "lang": "de"}, "lang must be one of en, ru"),
    ({"q": "x", "context": "many"}, "context must be a whole number"),
    ({"q": "x", "cross": "maybe"}, "cross must be on or off"),
    ({"q": "AND"}, ""),
    ({"q": "\"unclosed"}, ""),
])
def test_bad_parameters_are_400_with_a_message(client: TestClient, params: dict, message: str) -> None:
    response = client.get("/api/search", params=params)
    assert response.status_code in (200, 400)  # some odd queries are still queries
    if response.status_code == 400:
        assert message in response.json()["error"]
    else:
        assert not message
    if params.get("q"):
        page = client.get("/", params=params)
        assert page.status_code == response.status_code
        if message:
            assert message in page.text


def test_the_search_page_and_a_results_page(client: TestClient) -> None:
    home = client.get("/")
    assert home.status_code == 200 and 'name="q"' in home.text and 'name="lang"' in home.text
    assert 'name="cross"' in home.text and 'name="limit"' in home.text and "<ol" not in home.text
    page = client.get("/", params={"q": "Рособоронэкспорта", "lang": "ru"}).text
    assert "<mark>Рособоронэкспорта</mark>" in page
    assert "[ru]" in page and "[en]" not in page and "score " in page
    assert re.search(r"002_ee52442a67b35ebb\.txt:\d+</a>", page)
    english = client.get("/", params={"q": "Zanzibarite", "cross": "off"}).text
    assert "<mark>Zanzibarite</mark>" in english and "Занзибарит" not in english


def test_cross_language_can_be_turned_off(client: TestClient) -> None:
    on = client.get("/api/search", params={"q": "противовоздушная оборона", "lang": "en"}).json()["hits"]
    off = client.get("/api/search", params={"q": "противовоздушная оборона", "lang": "en", "cross": "off"}).json()
    assert on and not off["hits"]


def test_a_pdf_hit_says_its_page_and_the_document_view_breaks_pages(client: TestClient) -> None:
    page = client.get("/", params={"q": "submarines navy", "lang": "en"}).text
    assert re.search(r"report\.pdf:\d+ \(page 3\)", page)
    view = client.get(_doc_link(page, "report.pdf")).text
    assert [int(n) for n in re.findall(r'class="page-break" id="page(\d+)"', view)] == [1, 2, 3]


def test_the_explain_view_is_on_demand(client: TestClient) -> None:
    closed = client.get("/", params={"q": "Шойгу"}).text
    assert '<details class="explain">' in closed and "names" in closed
    assert '<details class="explain" open>' in client.get("/", params={"q": "Шойгу", "explain": "1"}).text


def test_a_document_view_marks_the_hit_and_lists_the_other_hits(client: TestClient) -> None:
    page = client.get("/", params={"q": "Rosoboronexport", "lang": "en"}).text
    link = _doc_link(page, "003_")
    passage = int(re.search(r"passage=(\d+)", link).group(1))
    view = client.get(link)
    assert view.status_code == 200
    assert f'id="p{passage}"' in view.text and 'class="passage current matched"' in view.text
    others = re.findall(r'<li><a href="/doc/[0-9a-f]{16}\?[^"]*passage=(\d+)#p\d+"', view.text)
    assert len(others) > 1 and str(passage) in others
    assert view.text.count("<mark>Rosoboronexport") >= len(others)
    bare = client.get(link.split("?")[0])
    assert bare.status_code == 200 and "<mark>" not in bare.text and "passage current" not in bare.text


def test_every_text_is_escaped(client: TestClient) -> None:
    for page in (client.get("/", params={"q": "Zanzibarite report warning"}).text,
                 client.get("/", params={"q": '<script>alert("q")</script>'}).text):
        assert "<script" not in page and "<img" not in page
    results = client.get("/", params={"q": "Zanzibarite report warning"}).text
    assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in results
    assert "&lt;img src=x onerror=alert(1)&gt;" in results
    view = client.get(_doc_link(results)).text
    assert "<script" not in view and "&lt;script&gt;" in view and "onerror=alert(1)&gt;" in view
    hits = client.get("/api/search", params={"q": "Zanzibarite report warning"}).json()["hits"]
    assert any(hit["text"] == HOSTILE for hit in hits)


@pytest.mark.parametrize("path", [
    "/doc/../../etc/passwd", "/doc/..%2f..%2fetc%2fpasswd", "/doc/%2e%2e/%2e%2e/etc/passwd",
    "/doc/%2Fetc%2Fpasswd", "/doc//etc/passwd", "/doc/etc/passwd", "/doc/0123456789abcdef",
    "/doc/0123456789ABCDEF", "/doc/", "/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd",
    "/nothing",
])
def test_paths_outside_the_index_are_404(client: TestClient, path: str, web_corpus: Path) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "root:" not in response.text


def test_a_document_is_found_by_its_key_only(client: TestClient, web_corpus: Path) -> None:
    key = str((web_corpus / "docs" / "english.txt").resolve())
    assert client.get(f"/doc/{doc_id(key)}").status_code == 200
    assert client.get("/doc/" + key.replace("/", "%2F")).status_code == 404
    assert client.get(f"/doc/{doc_id(str(Path('/etc/passwd')))}").status_code == 404


def test_pages_forbid_inline_scripts(client: TestClient) -> None:
    for path in ("/", "/?q=Rosoboronexport", "/stats", "/api/search?q=x", "/nothing", "/static/style.css"):
        policy = client.get(path).headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")


def test_concurrent_requests_get_what_one_at_a_time_gets(client: TestClient, web_index: Index) -> None:
    queries = ["Rosoboronexport", "Шойгу", "air defense systems", "Си Цзиньпин", "military cooperation",
               "подводные лодки", "China", "Занзибарит"] * 3
    alone = {q: client.get("/api/search", params={"q": q}).json() for q in set(queries)}
    app = client.app

    def ask(query: str) -> tuple[str, dict]:
        with TestClient(app) as own:
            return query, own.get("/api/search", params={"q": query}).json()

    with ThreadPoolExecutor(8) as pool:
        for query, body in pool.map(ask, queries):
            assert body == alone[query]


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(path): (path.stat().st_size, path.stat().st_mtime_ns) for path in folder.rglob("*")}


def test_a_commit_made_while_serving_is_searched_next_and_requests_write_nothing(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Alpha passage about Rosoboronexport.", encoding="utf-8")
    Index(tmp_path / "index").update([str(docs)], vectors=False)
    with Index.open(tmp_path / "index") as served, TestClient(create_app(served)) as client:
        assert client.get("/api/search", params={"q": "Quuxwidget"}).json()["hits"] == []
        before = _listing(tmp_path / "index")
        for path in ("/", "/?q=Alpha", "/stats", "/api/stats", "/api/search?q=Alpha", "/doc/0123456789abcdef"):
            client.get(path)
        client.get(_doc_link(client.get("/", params={"q": "Alpha"}).text))
        assert _listing(tmp_path / "index") == before
        (docs / "b.txt").write_text("Квуксвиджет: a Quuxwidget made in Tula.", encoding="utf-8")
        with Index(tmp_path / "index") as writer:
            writer.update([str(docs)], vectors=False)
        hits = client.get("/api/search", params={"q": "Quuxwidget"}).json()["hits"]
        assert [Path(hit["doc"]).name for hit in hits] == ["b.txt"]
        assert client.get("/api/stats").json()["documents"] == 2


def test_requests_do_not_need_a_writable_index(web_corpus: Path, tmp_path: Path) -> None:
    """A read-only copy of the index serves every page."""
    import shutil

    copy = tmp_path / "readonly"
    shutil.copytree(web_corpus / "index", copy)
    for path in [copy, *copy.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        with Index.open(copy) as served, TestClient(create_app(served)) as client:
            page = client.get("/", params={"q": "Rosoboronexport"})
            assert page.status_code == 200 and "<mark>" in page.text
            assert client.get(_doc_link(page.text)).status_code == 200
            assert client.get("/api/stats").status_code == 200
    finally:
        for path in [copy, *copy.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert os.access(copy, os.W_OK)


class _Failing:
    """An index whose every read fails: as a damaged one does (SearchError), or as a bug does."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def search(self, *args: object, **kwargs: object) -> None:
        raise self.error

    stats = search


@pytest.mark.parametrize("error, status", [(IndexCorrupt("cannot read the index at x"), 503),
                                           (RuntimeError("a bug"), 500)])
def test_a_failing_read_is_one_line_never_a_traceback(error: Exception, status: int,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    with TestClient(create_app(_Failing(error)), raise_server_exceptions=False) as client:  # type: ignore[arg-type]
        response = client.get("/api/search", params={"q": "x"})
        assert response.status_code == status and "Traceback" not in response.text
        assert response.json()["error"] in ("cannot read the index at x", "internal error: RuntimeError")
        page = client.get("/stats")
        assert page.status_code == status and "Traceback" not in page.text
    logged = [record.getMessage() for record in caplog.records]
    assert logged == ([] if status == 503 else ["internal error on /api/search: RuntimeError: a bug",
                                                "internal error on /stats: RuntimeError: a bug"])
