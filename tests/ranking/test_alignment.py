"""Word alignment scores a passage by how closely its words answer each word of the query."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from search import Index
from search.analysis import fold
from search.languages.characters import LETTER_RUN
from search.query.parser import parse
from search.ranking import alignment
from search.ranking.alignment import PassageWords, aligned_words
from search.searcher import align


def _passages(index: Index, lang: str | None = None) -> dict[int, str]:
    with index._snapshots.acquire() as snapshot:
        return {docnum: snapshot.stored(docnum)["text"] for docnum in snapshot.passages(lang).docnums.tolist()}


def _align(index: Index, text: str, docnums) -> dict[int, float]:
    with index._snapshots.acquire() as snapshot:
        parsed = parse(text)
        return align(snapshot, aligned_words(parsed.words, parsed.content_words), list(docnums))


def test_a_passage_holding_every_query_word_aligns_fully(seeds_index: Index) -> None:
    passages = _passages(seeds_index, "en")
    scores = _align(seeds_index, "air defense systems", passages)
    best = max(scores, key=scores.__getitem__)
    assert "air defense systems" in passages[best]
    assert scores[best] == pytest.approx(1.0, abs=0.01)
    assert all(0.0 <= value <= scores[best] for value in scores.values())


def test_words_align_across_languages(seeds_index: Index) -> None:
    passages = _passages(seeds_index, "ru")
    scores = _align(seeds_index, "air defense systems", passages)
    ranked = sorted(scores, key=scores.__getitem__, reverse=True)
    assert "противовоздушной обороны" in passages[ranked[0]]
    assert scores[ranked[0]] > scores[ranked[-1]] + 0.2


def test_rare_query_words_weigh_more(seeds_index: Index) -> None:
    """Rosoboronexport occurs in 10 English seed passages, China in 31: a passage naming
    the rare one aligns better than one sharing only the common one (equal weights
    would rank them the other way round)."""
    passages = _passages(seeds_index, "en")
    scores = _align(seeds_index, "Rosoboronexport China", passages)
    only_rare = [d for d, t in passages.items() if "Rosoboronexport" in t and "China" not in t]
    only_common = [d for d, t in passages.items() if "China" in t and "Rosoboronexport" not in t]
    assert only_rare and only_common
    assert max(scores[d] for d in only_rare) > max(scores[d] for d in only_common)


@pytest.mark.parametrize("query", ["the of and", "и в на", "2014 42"])
def test_queries_without_content_words_align_nothing(seeds_index: Index, query: str) -> None:
    assert _align(seeds_index, query, _passages(seeds_index)) == {}


@pytest.mark.parametrize("query, expected", [
    ("If the country you will be", ("If", "the", "country", "you", "will", "be")),
    ("While this is often only an", ("While", "this", "is", "often", "only", "an")),
    ("Who lost to the Broncos", ("Who", "lost", "to", "the", "Broncos")),
    ("Если на страну, которую вы", ("Если", "на", "страну", "которую", "вы")),
])
def test_stop_words_are_aligned_when_they_are_most_of_the_query(query: str, expected: tuple[str, ...]) -> None:
    parsed = parse(query)
    assert tuple(aligned_words(parsed.words, parsed.content_words)) == expected


@pytest.mark.parametrize("query, expected", [
    ("air defense systems", ("air", "defense", "systems")),
    ("Who won the game", ("won", "game")),  # half of them stop words: not most
    ("North Korea says 'no way' will", ("North", "Korea", "says", "way")),
    ("the of and", ()),  # no content word: nothing to align
])
def test_content_words_alone_are_aligned_otherwise(query: str, expected: tuple[str, ...]) -> None:
    parsed = parse(query)
    assert tuple(aligned_words(parsed.words, parsed.content_words)) == expected


def test_a_fragment_of_stop_words_aligns_them_too(seeds_index: Index) -> None:
    """"the air of it" has one content word: the passages that also answer its stop words
    align differently from the content word alone, and still within [0, 1]."""
    passages = _passages(seeds_index, "en")
    with seeds_index._snapshots.acquire() as snapshot:
        content_only = align(snapshot, ("air",), list(passages))
    scores = _align(seeds_index, "the air of it", passages)
    assert scores.keys() == content_only.keys()
    assert scores != content_only
    assert all(0.0 <= value <= 1.0 + 1e-4 for value in scores.values())  # float32 sums


def test_no_candidates_no_scores(seeds_index: Index) -> None:
    assert _align(seeds_index, "air defense systems", []) == {}


def test_an_index_without_vocabulary_aligns_nothing(seeds_index: Index, tmp_path: Path) -> None:
    shutil.copytree(seeds_index.store.path, tmp_path / "index")
    for path in (tmp_path / "index").glob("vocabulary.*"):
        shutil.rmtree(path)
    copy = Index(tmp_path / "index")
    assert _align(copy, "air defense systems", _passages(copy)) == {}
    assert copy.search("air defense systems").hits  # and the query still answers


def _per_passage(rows_of: list[tuple[np.ndarray, np.ndarray]]) -> list[list[list[int]]]:
    """``PassageWords.rows`` split passage by passage: per passage, per vocabulary, its rows sorted."""
    split = [np.split(rows, np.cumsum(counts)[:-1]) for rows, counts in rows_of]
    return [[sorted(per_vocabulary[i].tolist()) for per_vocabulary in split] for i in range(len(rows_of[0][1]))]


def _by_text(snapshot) -> PassageWords:
    """A snapshot's passages' words as an index without their hashes gives them: from their text."""
    return PassageWords(snapshot.vocabularies, lambda docnum: snapshot.stored(docnum)["text"])


def test_passage_words_read_as_the_indexer_hashed_them_are_those_of_their_text(seeds_index: Index) -> None:
    """The indexer keeps each passage's words' hashes, and the vocabularies theirs: the rows read
    through them are those that splitting the passage's text and looking its words up gives."""
    docnums = list(_passages(seeds_index))
    with seeds_index._snapshots.acquire() as snapshot:
        assert all(snapshot.word_hashes(docnum) is not None for docnum in docnums)
        hashed = _per_passage(snapshot.passage_words.rows(docnums))
        from_text = _per_passage(_by_text(snapshot).rows(docnums))
        vocabularies = list(snapshot.vocabularies.values())
        texts = [snapshot.stored(docnum)["text"] for docnum in docnums]
    assert hashed == from_text and sum(len(rows) for per in hashed for rows in per) > 1000
    for text, per in zip(texts, hashed):
        named = {known.words[row] for known, rows in zip(vocabularies, per) for row in rows}
        assert named <= set(LETTER_RUN.findall(fold(text))) and named


def test_passage_words_keep_giving_each_passages_rows_as_their_memo_of_forms_is_emptied(
        seeds_index: Index, monkeypatch: pytest.MonkeyPatch) -> None:
    """A snapshot keeps at most MAX_FORMS forms' rows between queries; emptied as it fills, it
    gives the rows it gave before, the forms known already among a passage's included."""
    docnums = list(_passages(seeds_index))[:40]
    with seeds_index._snapshots.acquire() as snapshot:
        expected = _per_passage(_by_text(snapshot).rows(docnums))
        monkeypatch.setattr(alignment, "MAX_FORMS", 60)
        words = _by_text(snapshot)
        found = [_per_passage(words.rows([docnum]))[0] for docnum in docnums + docnums[::-1]]
        assert len(words._forms) <= 60
    assert sum(len(rows) for per in expected for rows in per) > 200
    assert expected + expected[::-1] == found


def test_passage_words_looked_up_together_are_each_passages_own(seeds_index: Index) -> None:
    """A passage's rows are the same whether its words are looked up alone or beside others', by
    their hashes or from its text."""
    docnums = list(_passages(seeds_index))[:40]
    with seeds_index._snapshots.acquire() as snapshot:
        for words in (snapshot.passage_words, _by_text(snapshot)):
            together = _per_passage(words.rows(docnums))
            alone = [_per_passage(words.rows([docnum]))[0] for docnum in docnums]
            assert together == alone and len(together) == len(docnums)


def test_a_batch_with_a_passage_whose_segment_has_no_words_is_aligned_from_text(seeds_index: Index) -> None:
    """Where one passage's segment has no hashes (an index written before them, or under other rules),
    the whole batch is read from text, and gives what the hashes give."""
    docnums = list(_passages(seeds_index))[:20]
    with seeds_index._snapshots.acquire() as snapshot:
        hashed = _per_passage(snapshot.passage_words.rows(docnums))
        asked: list[int] = []

        def text(docnum: int) -> str:
            asked.append(docnum)
            return snapshot.stored(docnum)["text"]

        some = PassageWords(snapshot.vocabularies, text,
                            lambda docnum: None if docnum == docnums[3] else snapshot.word_hashes(docnum))
        assert _per_passage(some.rows(docnums)) == hashed and sorted(asked) == sorted(docnums)
