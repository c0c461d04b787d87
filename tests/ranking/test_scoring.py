"""BM25F over arrays gives the scores whoosh's own matchers give, for every query shape it evaluates."""

import numpy as np
import pytest
from whoosh import query as wq

from search import Index
from search.query.compile import compile_query
from search.query.parser import parse
from search.ranking.scoring import Matches, Unsupported, _combined, _intersection
from search.searcher import Cross, _translator
from search.storage.schema import BODY, EXACT, LANG

QUERIES = [
    "Rosoboronexport",
    "military technical cooperation with China",
    "противовоздушная оборона",
    "Шойгу министр обороны",
    "Putin AND Xi",
    "Putin NOT Xi",
    "NOT China",
    "(China OR Китай) AND Russia",
    "when did the Soviet Union establish diplomatic relations with the People's Republic of China",
    '"military cooperation"',
    '"strategic partnership" Putin China',
    '"the the"',
    "licen* OR milit*",
    "Rosoboronexp* China",
]


def _whoosh(snapshot, query: wq.Query, k: int) -> list[tuple[int, float]]:
    return [(hit.docnum, hit.score) for hit in snapshot.searcher.search(query, limit=k, optimize=False)]


def _same(ours: list[tuple[int, float]], theirs: list[tuple[int, float]]) -> None:
    assert [d for d, _ in ours] == [d for d, _ in theirs]
    assert np.allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-9, atol=0)


@pytest.mark.parametrize("text", QUERIES)
@pytest.mark.parametrize("lang", [None, "en", "ru"])
@pytest.mark.parametrize("cross", [True, False])
def test_arrays_score_as_whoosh_does(seeds_index: Index, text: str, lang: str | None, cross: bool) -> None:
    with seeds_index._snapshots.acquire() as snapshot:
        root = parse(text).root
        if cross:
            root = _translator(snapshot, Cross()).translate(root)
        query = compile_query(root)
        if lang:
            query = wq.And([query, wq.Term(LANG, lang, boost=0.0)])
        _same(snapshot.scorer.evaluate(query).top(50), _whoosh(snapshot, query, 50))


def test_a_word_found_through_its_translation_scores_its_best_match_only(seeds_index: Index) -> None:
    """A disjunction-max: the name key's score, not that of another passage (whoosh 2.7.4's bug)."""
    with seeds_index._snapshots.acquire() as snapshot:
        literal = wq.Or([wq.Term(BODY, "rosoboronexport"), wq.Term(EXACT, "rosoboronexport", boost=0.2)])
        name = wq.Term("names", "rasabaranikspart")
        both = snapshot.scorer.evaluate(wq.DisjunctionMax([literal, name]))
        named = snapshot.scorer.evaluate(name)
        by_name = dict(zip(named.docnums.tolist(), named.scores.tolist()))
        russian = [d for d in both.docnums.tolist() if snapshot.stored(d)[LANG] == "ru"]
        assert russian
        for docnum in russian:
            assert both.scores[both.docnums.tolist().index(docnum)] == by_name[docnum]
        _same(both.top(20), _whoosh(snapshot, wq.DisjunctionMax([literal, name]), 20))


def test_other_query_types_are_left_to_whoosh(seeds_index: Index) -> None:
    with seeds_index._snapshots.acquire() as snapshot:
        for query in (wq.Phrase(EXACT, ["military", "cooperation"], slop=3), wq.Wildcard(EXACT, "li?en*")):
            with pytest.raises(Unsupported):
                snapshot.scorer.evaluate(wq.Or([wq.Term(BODY, "china"), query]))


def _m(docnums: list[int], scores: list[float]) -> Matches:
    return Matches(np.array(docnums, np.int64), np.array(scores, np.float64))


def test_or_sums_and_dismax_takes_the_best_per_document() -> None:
    a, b = _m([1, 3, 5], [1.0, 2.0, 3.0]), _m([3, 4], [10.0, 1.0])
    assert _combined([a, b], np.add).docnums.tolist() == [1, 3, 4, 5]
    assert _combined([a, b], np.add).scores.tolist() == [1.0, 12.0, 1.0, 3.0]
    assert _combined([a, b], np.maximum).scores.tolist() == [1.0, 10.0, 1.0, 3.0]


def test_and_keeps_documents_every_part_matches_and_sums_their_scores() -> None:
    result = _intersection([_m([1, 3, 5], [1.0, 2.0, 3.0]), _m([3, 5, 7], [0.5, 0.25, 9.0])])
    assert (result.docnums.tolist(), result.scores.tolist()) == ([3, 5], [2.5, 3.25])


def test_and_of_parts_of_very_different_sizes_is_their_exact_intersection() -> None:
    """As a language filter meets a rare word: each part's documents against a set intersection."""
    rng = np.random.default_rng(7)
    for sizes in ([3, 50_000], [50_000, 3, 400], [1, 1], [20, 20, 20_000]):
        parts = [np.unique(rng.integers(0, 60_000, size)) for size in sizes]
        result = _intersection([_m(p.tolist(), [1.0] * len(p)) for p in parts])
        common = sorted(set.intersection(*(set(p.tolist()) for p in parts)))
        assert result.docnums.tolist() == common and result.scores.tolist() == [float(len(parts))] * len(common)


def test_the_top_k_breaks_ties_by_docnum_as_whoosh_does() -> None:
    matches = _m([4, 2, 9, 7], [1.0, 3.0, 3.0, 0.5])
    assert matches.top(2) == [(2, 3.0), (9, 3.0)]
    assert matches.top(3) == [(2, 3.0), (9, 3.0), (4, 1.0)]
    assert _m([], []).top(5) == []
