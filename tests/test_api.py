"""The Python API that scripts import, and that the CLI itself uses."""

from pathlib import Path

import pytest

from search import Hit, Index, Results
from search.errors import IndexMissing


def test_open_search_and_get_typed_hits(seeds_index: Index) -> None:
    results = Index.open(seeds_index.store.path).search("Rosoboronexport", limit=5)
    assert isinstance(results, Results) and len(results.hits) == 5
    hit = results.hits[0]
    assert isinstance(hit, Hit) and hit.rank == 1 and hit.lang in ("en", "ru")
    assert set(hit.to_json()) >= {"rank", "score", "doc", "passage", "lang", "text", "start", "end"}


def test_hits_carry_the_passages_around_them_when_asked(seeds_index: Index) -> None:
    """context=N, as grep -C: the passages before and after each hit in its document, in order."""
    plain = seeds_index.search("Rosoboronexport", limit=3)
    assert all(hit.context is None for hit in plain.hits)
    for hit in seeds_index.search("Rosoboronexport", limit=3, context=2).hits:
        assert hit.context is not None
        before, after = hit.context
        assert [n.passage for n in before] == list(range(max(0, hit.passage - 2), hit.passage))
        assert all(n.passage > hit.passage for n in after) and len(after) <= 2
        assert [n.passage for n in after] == sorted(n.passage for n in after)
        assert all(n.text and n.line >= 1 for n in before + after)


def test_opening_a_missing_index_raises(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing):
        Index.open(tmp_path / "nothing")


def test_update_creates_the_index_and_reports(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "one.txt").write_text("Шойгу встретился с коллегой.", encoding="utf-8")
    index = Index(tmp_path / "ix")
    report = index.update([str(docs)])
    assert (report.indexed, report.passages) == (1, 1)
    assert index.search("Shoigu").hits[0].lang == "ru"
