"""Word vectors of the index's vocabulary translate words as the index writes them."""

from pathlib import Path

import pytest

from search import Index
from search.ranking.fusion import RANKING
from search.vectors import vocabulary


def _nearest(index: Index, word: str, lang: str) -> dict[str, float]:
    with index._snapshots.acquire() as snapshot:
        known = snapshot.vocabularies[lang]
        return dict(known.nearest(snapshot.word_vectors([word]), RANKING.neighbours * 4)[0])


def test_neighbours_come_from_the_other_languages_vocabulary(seeds_index: Index) -> None:
    found = _nearest(seeds_index, "Шойгу", "en")
    assert max(found, key=found.__getitem__) == "shoigu"
    assert found["shoigu"] >= RANKING.neighbour_floor


def test_the_floor_keeps_similar_sounding_names_out(seeds_index: Index) -> None:
    """Sochi sounds like Shoigu: close enough for the looser floor, not for the strict one."""
    found = _nearest(seeds_index, "Шойгу", "en")
    assert RANKING.neighbour_floor_beside_lexicon <= found["sochi"] < RANKING.neighbour_floor
    (expanded,) = seeds_index.search("Шойгу", lang="en").expanded
    assert [alt.text for alt in expanded.alternatives if alt.origin == "embeddings"] == ["shoigu"]


def test_unrelated_words_have_no_neighbours_above_the_floor(seeds_index: Index) -> None:
    assert max(_nearest(seeds_index, "zzqqxx", "en").values()) < RANKING.neighbour_floor_beside_lexicon


def test_queries_use_neighbours_for_words_without_translation(seeds_index: Index) -> None:
    results = seeds_index.search("Шойгу", lang="en")
    origins = {alt.origin for item in results.expanded for alt in item.alternatives}
    assert "embeddings" in origins
    assert "Shoigu" in results.hits[0].text


def test_the_vocabulary_follows_the_index(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Варшава Варшава столица", encoding="utf-8")
    index = Index(tmp_path / "ix")
    index.update([str(docs)])
    assert "варшава" in vocabulary.load(index.store.path)["ru"].words
    (docs / "b.txt").write_text("Краков Краков город", encoding="utf-8")
    index.update([str(docs)], deep=False)  # the deep phase commits after the vocabulary is built
    (folder,) = [p for p in index.store.path.iterdir() if p.name.startswith(vocabulary.PREFIX)]
    assert folder.name == f"{vocabulary.PREFIX}{index.store.generation()}"
    loaded = vocabulary.load(index.store.path)["ru"]
    assert {"варшава", "краков"} <= set(loaded.words) and loaded.matrix.shape[0] == len(loaded.words)
    index.update([str(docs)])  # no text changed: the vocabulary stays as it was built
    assert [p for p in index.store.path.iterdir() if p.name.startswith(vocabulary.PREFIX)] == [folder]


def test_nearest_is_one_product_for_many_words() -> None:
    import numpy as np

    known = vocabulary.Vocabulary(["a", "b", "c"], np.eye(3, dtype=np.float32))
    queries = np.array([[0.1, 0.9, 0.0], [1.0, 0.0, 0.2]], dtype=np.float32)
    assert [[w for w, _ in row] for row in known.nearest(queries, 2)] == [["b", "a"], ["a", "c"]]


def test_a_large_vocabulary_is_searched_through_its_projection_then_exactly(tmp_path: Path) -> None:
    """The shortlist comes from the projection; the similarities returned are the exact ones."""
    import numpy as np

    rng = np.random.default_rng(3)
    matrix = rng.standard_normal((vocabulary.PROJECTED_FROM, 512)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    words = [f"w{i}" for i in range(len(matrix))]
    vocabulary.save(tmp_path, 7, {"en": words, "ru": words[:100]}, lambda chosen: matrix[[int(w[1:]) for w in chosen]],
                    {"passages_x": 0})
    assert vocabulary.built_from(tmp_path) == {"passages_x": 0}
    loaded = vocabulary.load(tmp_path)
    assert loaded["en"].projection is not None and loaded["ru"].projection is None
    queries = matrix[:20] + 0.05 * rng.standard_normal((20, 512)).astype(np.float32)
    full = vocabulary.Vocabulary(words, matrix)
    for query, fast, exact in zip(queries, loaded["en"].nearest(queries, 12, 0.5), full.nearest(queries, 12, 0.5)):
        assert [w for w, _ in fast] == [w for w, _ in exact]  # the close copy, as the full product finds it
        for word, similarity in fast:
            assert similarity == pytest.approx(float(matrix[int(word[1:])] @ query), abs=1e-5)
            assert similarity >= 0.5


@pytest.mark.parametrize("columns", [30, 64 * 48 * 4 + 1, 64 * 300, 64 * 300 + 17])
def test_the_best_columns_are_those_a_partition_of_each_whole_row_finds(columns: int) -> None:
    """Whole blocks, a partial last block, and rows too short to be split into blocks."""
    import numpy as np

    rng = np.random.default_rng(columns)
    scores = rng.standard_normal((10, columns)).astype(np.float32)
    scores[3, -1] = 9.0  # a best column in the partial block
    k = min(vocabulary.SHORTLIST, columns)
    found = vocabulary._best_columns(scores, k)
    expected = np.argpartition(scores, -k, axis=1)[:, -k:] if columns > k else np.tile(np.arange(columns), (10, 1))
    assert [sorted(row) for row in found.tolist()] == [sorted(row) for row in expected.tolist()]
    assert columns - 1 in found[3]
