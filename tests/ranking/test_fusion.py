"""Fusion of lexical scores, vector similarities and word alignment, tested without an index."""

from dataclasses import replace

import pytest

from search.ranking.fusion import RANKING, Fused, Ranking, fuse


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


def test_vectors_weigh_more_as_the_query_grows_to_a_sentence() -> None:
    weights = [RANKING.dense(n) for n in range(1, 6)]
    assert weights[0] == 0 and weights == sorted(weights)
    assert weights[RANKING.dense_full_words - 1] == weights[-1] == RANKING.dense_weight


def test_similarity_and_alignment_add_to_the_lexical_score() -> None:
    lexical, similarity, alignment = {1: 20.0, 2: 20.0}, {1: 0.5, 2: 0.4}, {2: 0.9}
    by_docnum = {item.docnum: item for item in fuse(lexical, similarity, alignment, content_words=4)}
    weight = RANKING.dense(4)
    assert by_docnum[1].score == pytest.approx(by_docnum[1].lexical + weight * 0.5)
    assert by_docnum[2].score == pytest.approx(by_docnum[2].lexical + weight * (0.4 + 0.9))
    assert (by_docnum[1].alignment, by_docnum[2].alignment) == (None, 0.9)


def test_a_passage_found_only_by_its_vector_must_reach_the_floor() -> None:
    beside = RANKING.dense_floor_beside_lexical
    assert ranked({1: 10.0}, {1: 0.1, 2: beside + 0.01, 3: beside - 0.01}, {}, content_words=5) == [1, 2]
    alone = ranked({}, {2: RANKING.dense_floor - 0.01, 4: RANKING.dense_floor + 0.01}, {}, content_words=5)
    assert alone == [4]


def test_nonsense_finds_nothing() -> None:
    assert fuse({}, {5: 0.25, 6: 0.28}, {}, content_words=3) == []


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
