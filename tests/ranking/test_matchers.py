"""whoosh's own matchers, as corrected by search.ranking.matchers: block-quality skipping ends and loses nothing."""

import threading

import pytest
from whoosh import query as wq
from whoosh.matching import binary, mcore, wrappers

import search.ranking.matchers  # noqa: F401  (the corrections under test)
from search import Index
from search.query.compile import compile_query
from search.query.parser import parse
from search.searcher import Cross, _translator
from search.storage.schema import LANG

from ..conftest import CORPORA
from .test_scoring import QUERIES

NEWS = CORPORA / "wmt-news-en-ru"
HEADLINES = CORPORA / "ntrex128-en-ru"


class _Constant:
    """A scorer whose every block has one quality, as a leaf's block of postings would."""

    def __init__(self, quality: float) -> None:
        self.quality = quality

    def supports_block_quality(self) -> bool:
        return True

    def block_quality(self, matcher: mcore.Matcher) -> float:
        return self.quality

    def max_quality(self) -> float:
        return self.quality

    def score(self, matcher: mcore.Matcher) -> float:
        return self.quality


def _ends(call, seconds: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive()


@pytest.mark.parametrize("shape", [binary.UnionMatcher, binary.AndMaybeMatcher])
def test_a_skip_that_rounding_stops_ends_the_loop(shape: type) -> None:
    """0.2 * 3.432 + 4.049 <= m, yet 3.432 > (m - 4.049) / 0.2 in floats: whoosh's loop
    asked the boosted side to skip, it stayed put, and the loop never ended."""
    quality, boost, other = 3.432, 0.2, 4.049
    minquality = quality * boost + other
    assert quality > (minquality - other) / boost  # the rounding the loop tripped on
    boosted = wrappers.WrappingMatcher(mcore.ListMatcher([1, 2, 3], scorer=_Constant(quality)), boost=boost)
    matcher = shape(boosted, mcore.ListMatcher([2, 5], scorer=_Constant(other)))
    assert _ends(lambda: matcher.skip_to_quality(minquality))
    assert matcher.is_active()  # it stopped skipping; it did not throw the postings away


def test_a_boost_above_one_keeps_a_child_that_can_still_reach_the_minimum() -> None:
    """A name key (boost 1.5) whose own best is 2 can score 3: whoosh asked it for 2.5 unscaled."""
    boosted = wrappers.WrappingMatcher(mcore.ListMatcher([1, 2], scorer=_Constant(2.0)), boost=1.5)
    assert boosted.replace(2.5).is_active()
    assert not boosted.replace(3.5).is_active()


def test_the_optional_side_follows_the_required_side_where_it_lands() -> None:
    required = mcore.ListMatcher([1, 5, 9], scorer=_Constant(1.0))
    optional = mcore.ListMatcher([2, 4, 5, 9], scorer=_Constant(2.0))
    matcher = binary.AndMaybeMatcher(required, optional)
    matcher.skip_to(3)  # the required side lands on 5, past 3; whoosh left the optional one on 4
    assert (matcher.id(), matcher.score()) == (5, 3.0)


def test_a_zero_boost_never_skips_on_its_own() -> None:
    """The language filter is a term with boost 0; whoosh divided by it."""
    matcher = wrappers.WrappingMatcher(mcore.ListMatcher([1, 2], scorer=_Constant(1.0)), boost=0.0)
    assert matcher.skip_to_quality(0.5) == 0
    assert matcher.id() == 1


@pytest.mark.parametrize("text", QUERIES)
@pytest.mark.parametrize("lang", [None, "en", "ru"])
def test_skipping_postings_finds_the_same_top_hits(seeds_index: Index, text: str, lang: str | None) -> None:
    with seeds_index._snapshots.acquire() as snapshot:
        query = compile_query(_translator(snapshot, Cross()).translate(parse(text).root))
        if lang:
            query = wq.And([query, wq.Term(LANG, lang, boost=0.0)])

        def top(optimize: bool) -> list[tuple[int, float]]:
            return [(hit.docnum, round(hit.score, 9))
                    for hit in snapshot.searcher.search(query, limit=5, optimize=optimize)]

        assert top(True) == top(False)


@pytest.fixture(scope="module")
def news_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    """The text index of 2,000 English and 2,000 Russian WMT news sentences (no vectors)."""
    folder = tmp_path_factory.mktemp("news")
    for name in ("newstest2017.en", "newstest2017.ru"):
        lines = (NEWS / name).read_text(encoding="utf-8").splitlines()[:2000]
        for part in range(4):
            text = "\n\n".join(lines[part * 500:(part + 1) * 500])
            (folder / f"{name}.{part}.txt").write_text(text, encoding="utf-8")
    index = Index(folder / "index")
    index.update([str(folder)], vectors=False)
    return index


def _headlines(name: str, count: int) -> list[str]:
    return [" ".join(line.split()[:15]) for line in (HEADLINES / name).read_text(encoding="utf-8").splitlines()[:count]]


@pytest.mark.parametrize(("name", "lang"), [("newstest2019-src.eng.txt", "ru"), ("newstest2019-ref.rus.txt", "en")])
def test_whoosh_collects_the_top_hits_the_arrays_find(news_index: Index, name: str, lang: str) -> None:
    """Headlines across languages (translations, name keys at 1.5, a language filter): whoosh's
    collector, which replaces matchers as its minimum score rises, loses no passage and no
    part of a score, with block-quality skipping or without."""
    with news_index._snapshots.acquire() as snapshot:
        translator = _translator(snapshot, Cross(embeddings=False))
        for text in _headlines(name, 40):
            query = wq.And([compile_query(translator.translate(parse(text).root)), wq.Term(LANG, lang, boost=0.0)])
            expected = [(d, round(s, 9)) for d, s in snapshot.scorer.evaluate(query).top(30)]
            for optimize in (False, True):
                found = [(hit.docnum, round(hit.score, 9))
                         for hit in snapshot.searcher.search(query, limit=30, optimize=optimize)]
                assert found == expected, (text, optimize)
