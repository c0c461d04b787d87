"""Word vectors of the index's vocabulary translate words as the index writes them."""

from search import Index, vocabulary
from search.query.translate import NEIGHBOUR_FLOOR, NEIGHBOUR_FLOOR_BESIDE_LEXICON


def test_neighbours_come_from_the_other_languages_vocabulary(seeds_index: Index) -> None:
    found = dict(vocabulary.neighbours(seeds_index.store, "Шойгу", "ru", NEIGHBOUR_FLOOR))
    assert "shoigu" in found
    assert abs(sum(found.values()) - 1.0) < 1e-6


def test_the_floor_keeps_similar_sounding_names_out(seeds_index: Index) -> None:
    loose = dict(vocabulary.neighbours(seeds_index.store, "Шойгу", "ru", NEIGHBOUR_FLOOR_BESIDE_LEXICON))
    strict = dict(vocabulary.neighbours(seeds_index.store, "Шойгу", "ru", NEIGHBOUR_FLOOR))
    assert "sochi" in loose and list(strict) == ["shoigu"]


def test_unrelated_words_have_no_neighbours(seeds_index: Index) -> None:
    assert vocabulary.neighbours(seeds_index.store, "zzqqxx", "en", NEIGHBOUR_FLOOR_BESIDE_LEXICON) == []


def test_queries_use_neighbours_for_words_without_translation(seeds_index: Index) -> None:
    results = seeds_index.search("Шойгу", lang="en")
    origins = {alt.origin for item in results.expanded for alt in item.alternatives}
    assert "embeddings" in origins
    assert "Shoigu" in results.hits[0].text


def test_vocabulary_is_refreshed_incrementally(tmp_path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Варшава Варшава столица", encoding="utf-8")
    index = Index(tmp_path / "ix")
    index.update([str(docs)])
    words, _ = vocabulary._load(index.store.path, "ru")
    assert "варшава" in words
    (docs / "b.txt").write_text("Краков Краков город", encoding="utf-8")
    index.update([str(docs)])
    words, matrix = vocabulary._load(index.store.path, "ru")
    assert {"варшава", "краков"} <= set(words) and len(matrix) == len(words)
