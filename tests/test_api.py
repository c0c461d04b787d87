"""The Python API that scripts import, and that the CLI itself uses."""

from pathlib import Path

import pytest

from search import Hit, Index, Results
from search.api import MultiIndex
from search.errors import IndexMissing

from .conftest import news


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


UNION_QUERIES = ["президент России", "football match", "выборы в парламент", "oil prices", "Трамп заявил",
                 '"Prime Minister"', "нефть OR газ"]


@pytest.fixture(scope="module")
def halves(tmp_path_factory: pytest.TempPathFactory) -> tuple[Index, Index, Index]:
    """Two indexes of a corpus's halves, and one index of both."""
    work = tmp_path_factory.mktemp("halves")
    first, second = news(work / "first", 30, 0), news(work / "second", 30, 15)
    indexes = []
    for name, paths in (("a", [first]), ("b", [second]), ("union", [first, second])):
        index = Index(work / name)
        index.update([str(path) for path in paths], deep=False)
        indexes.append(index)
    return indexes[0], indexes[1], indexes[2]


@pytest.mark.parametrize("cross", [True, False])
def test_several_indexes_rank_as_one_index_of_their_union(halves: tuple[Index, Index, Index], cross: bool) -> None:
    first, second, union = halves
    with Index.union([first.store.path, second.store.path]) as both:
        for query in UNION_QUERIES:
            want = union.search(query, cross=cross).hits
            got = both.search(query, cross=cross).hits
            assert want, query
            assert [(h.doc, h.passage) for h in got] == [(h.doc, h.passage) for h in want], query
            assert [h.score for h in got] == pytest.approx([h.score for h in want], rel=1e-6), query
            folders = {"first": str(first.store.path), "second": str(second.store.path)}
            assert all(h.index == folders[Path(h.doc).parent.name] for h in got)


def test_a_missing_index_among_several_is_index_missing(halves: tuple[Index, Index, Index], tmp_path: Path) -> None:
    with pytest.raises(IndexMissing):
        MultiIndex([halves[0].store.path, tmp_path / "none"])
