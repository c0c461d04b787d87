"""Fusion of lexical scores, vector similarities (the sentence encoder's and e5's) and word alignment,
tested without an index."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.ranking.fusion import RANKING, DeepMatch, Fused, Ranking, fuse


def ranked(*args, **kwargs) -> list[int]:
    return [item.docnum for item in fuse(*args, **kwargs)]


def test_a_one_word_query_ranks_by_bm25f_alone() -> None:
    assert RANKING.dense(1) == 0
    result = fuse({1: 5.0, 2: 10.0}, {1: 0.9, 3: 0.95}, {1: 1.0}, content_words=1)
    assert [item.docnum for item in result] == [2, 1]
    assert all(item.similarity is None and item.alignment is None for item in result)


def test_bm25f_is_saturated_by_query_length() -> None:
    (item,) = fuse({7: 30.0}, {}, {}, content_words=3)
    assert item.lexical == pytest.approx(30.0 / (30.0 + RANKING.lexical_half * 3))
    assert item.score == item.lexical
    (short,) = fuse({7: 30.0}, {}, {}, content_words=1)
    assert short.lexical > item.lexical  # the same score means more for a shorter query


def test_vectors_weigh_more_as_the_query_grows_to_a_sentence_stop_words_and_all() -> None:
    weights = [RANKING.dense(n) for n in range(1, 6)]
    assert weights[0] == 0 and weights == sorted(weights)
    assert weights[RANKING.dense_full_words - 1] == weights[-1] == RANKING.dense_weight
    (fragment,) = fuse({1: 5.0}, {1: 0.5}, {}, content_words=1, words=6)  # "While he was working at the"
    assert fragment.score == pytest.approx(fragment.lexical + RANKING.dense_weight * 0.5)


def test_similarity_and_alignment_add_to_the_lexical_score() -> None:
    lexical, similarity, alignment = {1: 20.0, 2: 20.0}, {1: 0.5, 2: 0.4}, {2: 0.9}
    by_docnum = {item.docnum: item for item in fuse(lexical, similarity, alignment, content_words=4)}
    weight, aligning = RANKING.dense(4), RANKING.alignment_weight * RANKING.sentence_share(4)
    assert by_docnum[1].score == pytest.approx(by_docnum[1].lexical + weight * 0.5)
    assert by_docnum[2].score == pytest.approx(by_docnum[2].lexical + weight * 0.4 + aligning * 0.9)
    assert (by_docnum[1].alignment, by_docnum[2].alignment) == (None, 0.9)


def test_a_passage_found_only_by_its_vector_must_reach_the_floor() -> None:
    beside = RANKING.dense_floor_beside_lexical
    assert ranked({1: 10.0}, {1: 0.1, 2: beside + 0.01, 3: beside - 0.01}, {}, content_words=5) == [1, 2]
    alone = ranked({}, {2: RANKING.dense_floor - 0.01, 4: RANKING.dense_floor + 0.01}, {}, content_words=5)
    assert alone == [4]


def test_nonsense_finds_nothing() -> None:
    assert fuse({}, {5: 0.25, 6: 0.28}, {}, content_words=3) == []


def test_e5_adds_its_similarity_less_the_offset_and_the_sentence_encoder_weighs_less_beside_it() -> None:
    deep = {1: DeepMatch(0.86, True), 2: DeepMatch(0.86, False)}
    by_docnum = {item.docnum: item for item in fuse({1: 20.0, 2: 20.0, 3: 20.0}, {1: 0.5, 2: 0.5, 3: 0.5}, {},
                                                     content_words=4, deep=deep)}
    saturated = by_docnum[3].lexical
    assert by_docnum[3].score == pytest.approx(saturated + RANKING.dense_weight * 0.5)  # no deep vector
    for docnum, offset in ((1, RANKING.deep_offset), (2, RANKING.deep_offset_across)):
        item = by_docnum[docnum]
        assert item.deep_part == pytest.approx(RANKING.deep_weight * (0.86 - offset))
        assert item.score == pytest.approx(saturated + RANKING.dense_weight_beside_deep * 0.5 + item.deep_part)
    assert by_docnum[2].score > by_docnum[1].score  # e5's cosines run lower across languages


def test_e5_counts_in_proportion_to_the_passages_it_covers() -> None:
    lexical, similarity = {1: 20.0, 2: 20.0}, {1: 0.5, 2: 0.5}
    alike = {1: DeepMatch(RANKING.deep_offset, True)}  # e5 finds it no more similar than an unrelated one
    none = fuse(lexical, similarity, {}, content_words=4, deep=alike, deep_share=0.0)
    assert [(i.docnum, i.score) for i in none] == [(i.docnum, i.score) for i in fuse(lexical, similarity, {},
                                                                                     content_words=4)]
    half = {i.docnum: i for i in fuse(lexical, similarity, {}, content_words=4, deep=alike, deep_share=0.5)}
    assert half[1].score < half[2].score  # reached first is no advantage in itself
    closer = {1: DeepMatch(RANKING.deep_offset + 0.05, True)}
    half = {i.docnum: i for i in fuse(lexical, similarity, {}, content_words=4, deep=closer, deep_share=0.5)}
    whole = {i.docnum: i for i in fuse(lexical, similarity, {}, content_words=4, deep=closer, deep_share=1.0)}
    assert whole[1].deep_part > 0 and half[1].deep_part == pytest.approx(whole[1].deep_part / 2)


def test_e5_alone_never_makes_a_hit() -> None:
    """It finds nonsense as similar as sense: a passage must match lexically or by the sentence encoder."""
    assert fuse({}, {5: 0.25}, {}, content_words=3, deep={5: DeepMatch(0.95, True), 6: DeepMatch(0.95, True)}) == []


def test_ties_go_to_the_lower_docnum_and_scores_never_increase() -> None:
    result = fuse({9: 10.0, 3: 10.0, 5: 40.0}, {}, {}, content_words=2)
    assert [item.docnum for item in result] == [5, 3, 9]
    assert all(a.score >= b.score for a, b in zip(result, result[1:]))


def test_the_ranking_is_a_value_that_can_be_varied() -> None:
    lexical_only = replace(RANKING, dense_weight=0.0)
    assert ranked({1: 1.0}, {2: 0.9}, {}, content_words=5, ranking=lexical_only) == [1]
    with pytest.raises(AttributeError):
        RANKING.dense_weight = 2.0  # type: ignore[misc]
    assert isinstance(fuse({1: 1.0}, {}, {}, content_words=1)[0], Fused)
    assert Ranking() == RANKING


def test_a_limit_keeps_the_best_of_the_same_ranking() -> None:
    lexical = {docnum: float(docnum % 7) for docnum in range(40)}
    similarity = {docnum: 0.3 + 0.01 * (docnum % 5) for docnum in range(20, 60)}
    every = fuse(lexical, similarity, {}, content_words=3)
    assert fuse(lexical, similarity, {}, content_words=3, limit=10) == every[:10]
    assert len(every) > 10


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), limit=st.integers(1, 30), words=st.integers(1, 12))
def test_ranking_again_among_the_aligned_best_gives_what_ranking_every_candidate_gives(
        seed: int, limit: int, words: int) -> None:
    """The searcher aligns the best of a first fusion, then ranks only those: an alignment only
    adds, so no other candidate could have passed them."""
    rng = np.random.default_rng(seed)
    docnums = rng.choice(1000, size=300, replace=False).tolist()
    lexical = {d: float(rng.uniform(0, 30)) for d in docnums[:120]}
    similarity = {d: float(rng.uniform(0.2, 0.9)) for d in docnums[60:240]}
    deep = {d: DeepMatch(float(rng.uniform(0.6, 0.95)), bool(rng.integers(2))) for d in docnums[100:]}
    common = dict(content_words=words, deep=deep, deep_share=float(rng.uniform(0, 1)))
    best = fuse(lexical, similarity, {}, limit=max(limit, 30), **common)
    aligned = {item.docnum: float(rng.uniform(0, 1)) for item in best}
    assert (fuse(lexical, similarity, aligned, limit=limit, among=[item.docnum for item in best], **common)
            == fuse(lexical, similarity, aligned, limit=limit, **common))
