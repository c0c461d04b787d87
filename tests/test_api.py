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
