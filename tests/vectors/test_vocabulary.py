"""Word vectors of the index's vocabulary translate words as the index writes them."""

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from search import Index
from search.files import is_mapped
from search.ranking.fusion import RANKING
from search.vectors import vocabulary, wordvectors


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


def test_a_vocabulary_is_the_same_whether_its_word_vectors_were_encoded_or_read_from_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine keeps word vectors as float16: the first index built on a machine, which encodes
    them, must use them rounded so, as every later one reads them (or scores differ by 1e-5)."""
    monkeypatch.setattr(wordvectors, "cache_folder", lambda: tmp_path / "cache")  # a new machine's
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Варшава столица Польши. Warsaw is the capital of Poland.", encoding="utf-8")
    built = []
    for name in ("first", "second"):
        index = Index(tmp_path / name)
        index.update([str(docs)], deep=False)
        built.append(vocabulary.load(index.store.path))
    assert list((tmp_path / "cache").glob("words-*.sqlite"))  # the second read what the first encoded
    for lang in ("en", "ru"):
        assert list(built[0][lang].words) == list(built[1][lang].words)
        assert np.array_equal(built[0][lang].matrix, built[1][lang].matrix)


def _with_vocabulary(tmp_path: Path) -> tuple[Path, Index, Path]:
    """A folder of a file in both languages, its index, and the index's vocabulary folder."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Варшава Варшава столица. Warsaw is the capital.", encoding="utf-8")
    index = Index(tmp_path / "ix")
    index.update([str(docs)], deep=False)
    (folder,) = [p for p in index.store.path.iterdir() if p.name.startswith(vocabulary.PREFIX)]
    return docs, index, folder


def test_a_vocabulary_kept_before_its_words_hashes_aligns_from_text_until_a_run_writes_it_again(
        tmp_path: Path) -> None:
    """Text unchanged, a vocabulary without {lang}.hashed.npy (as indexes built before it have) still
    aligns passages, from their text; the next run writes it again, with them, and they are its
    words' and rows."""
    from search.storage import checksums
    from search.storage import wordsets

    docs, index, folder = _with_vocabulary(tmp_path)
    with index._snapshots.acquire() as snapshot:
        docnums = snapshot.passages().docnums.tolist()
        hashed = snapshot.passage_words.rows(docnums)
    for lang in ("en", "ru"):
        (folder / f"{lang}.hashed.npy").unlink()
    (folder / checksums.MANIFEST).unlink()
    checksums.seal_folder(folder)  # as written before: sealed without them
    assert vocabulary.built_from(index.store.path) is None
    assert vocabulary.load(index.store.path)["ru"].hashed() is None
    with index._snapshots.acquire() as snapshot:
        from_text = snapshot.passage_words.rows(docnums)
    def per_passage(rows_of: list) -> list:
        return [[sorted(part.tolist()) for part in np.split(rows, np.cumsum(counts)[:-1])] for rows, counts in rows_of]

    assert per_passage(from_text) == per_passage(hashed) and sum(len(rows) for rows, _ in hashed) >= 4
    index.update([str(docs)], deep=False)
    assert vocabulary.built_from(index.store.path) is not None
    for lang, known in vocabulary.load(index.store.path).items():
        table = known.hashed()
        assert table is not None and wordsets.rows_in(table, wordsets.hashes(list(known.words))).tolist() \
            == list(range(len(known.words)))


def test_a_run_writes_again_a_vocabulary_kept_before_its_int8_coordinates(tmp_path: Path) -> None:
    """Text unchanged, a vocabulary without {lang}.blocked8.npy (as indexes built before it have)
    is written again by the next run, with them; then it stays."""
    from search.storage import checksums

    docs, index, folder = _with_vocabulary(tmp_path)
    for lang in ("en", "ru"):
        (folder / f"{lang}.blocked8.npy").unlink()
        (folder / f"{lang}.scale.npy").unlink()
    (folder / checksums.MANIFEST).unlink()
    checksums.seal_folder(folder)  # as written before: sealed without them
    assert vocabulary.built_from(index.store.path) is None
    assert vocabulary.load(index.store.path)["ru"].words  # it still answers queries meanwhile
    index.update([str(docs)], deep=False)
    (again,) = [p for p in index.store.path.iterdir() if p.name.startswith(vocabulary.PREFIX)]
    assert all((again / f"{lang}.blocked8.npy").exists() for lang in ("en", "ru"))
    assert vocabulary.built_from(index.store.path) is not None
    index.update([str(docs)], deep=False)
    assert [p for p in index.store.path.iterdir() if p.name.startswith(vocabulary.PREFIX)] == [again]

def test_saved_words_are_mapped_and_each_found_at_its_row(tmp_path: Path) -> None:
    """Opening a vocabulary decodes nothing: its words are looked up in the sorted file as written."""
    import numpy as np

    words = {"en": ["warsaw", "capital", "zebra", "ångström", "abc"],
             "ru": ["варшава", "столица", "ёлка", "елка", "абв", "яблоко"]}
    vectors = np.random.default_rng(1).standard_normal((6, 512)).astype(np.float32)
    vocabulary.save(tmp_path, 3, words, lambda chosen: vectors[:len(chosen)], {"passages_x": 0})
    for lang, saved in words.items():
        loaded = vocabulary.load(tmp_path)[lang]
        assert isinstance(loaded.words, vocabulary.MappedWords)
        assert list(loaded.words) == saved and len(loaded.words) == len(saved)
        assert [loaded.words[row] for row in range(len(saved))] == saved
        assert [loaded.row(word) for word in saved] == list(range(len(saved)))
        assert loaded.row("варшавa") is None and loaded.row("war") is None and loaded.row("") is None
        assert loaded.row(saved[0] + "\x00") is None and loaded.row(saved[0] * 20) is None
        assert np.array_equal(loaded.matrix[loaded.row(saved[2])], vectors[2])
        asked = [*reversed(saved), "варшавa", "war", "", saved[0] + "\x00", saved[0] * 20, "zzzz", "яя"]
        assert loaded.words.rows(asked) == [loaded.row(word) for word in asked]  # all in one search
        assert loaded.words.rows([]) == []
        searched: list[list[str]] = []
        search = loaded.words._search
        loaded.words._search = lambda words: searched.append(list(words)) or search(words)  # type: ignore[method-assign]
        assert loaded.words.rows([saved[0], "новое", saved[1], "новое"]) == [0, None, 1, None]
        assert searched == [["новое"]]  # the words met before are remembered, with their absence


def test_a_run_writes_again_a_vocabulary_kept_as_a_json_list(tmp_path: Path) -> None:
    """A vocabulary written before its words were sorted and mapped answers queries from its JSON
    list, and the next run writes it again."""
    import json

    from search.storage import checksums

    docs, index, folder = _with_vocabulary(tmp_path)
    loaded = vocabulary.load(index.store.path)
    for lang in ("en", "ru"):
        words = list(loaded[lang].words)
        (folder / f"{lang}.sorted.npy").unlink()
        (folder / f"{lang}.order.npy").unlink()
        (folder / f"{lang}.json").write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")
    (folder / checksums.MANIFEST).unlink()
    checksums.seal_folder(folder)
    old = vocabulary.load(index.store.path)["ru"]
    assert isinstance(old.words, vocabulary.ListedWords) and old.row("варшава") is not None
    assert vocabulary.built_from(index.store.path) is None
    index.update([str(docs)], deep=False)
    again = vocabulary.load(index.store.path)["ru"]
    assert isinstance(again.words, vocabulary.MappedWords) and list(again.words) == list(old.words)


def test_nearest_is_one_product_for_many_words() -> None:
    import numpy as np

    known = vocabulary.Vocabulary(["a", "b", "c"], np.eye(3, dtype=np.float32))
    queries = np.array([[0.1, 0.9, 0.0], [1.0, 0.0, 0.2]], dtype=np.float32)
    assert [[w for w, _ in row] for row in known.nearest(queries, 2)] == [["b", "a"], ["a", "c"]]


def _projected(folder: Path) -> tuple[vocabulary.Vocabulary, np.ndarray]:
    """A vocabulary large enough to be searched through its projection, of random unit vectors."""
    rng = np.random.default_rng(3)
    matrix = rng.standard_normal((vocabulary.PROJECTED_FROM, 512)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    words = [f"w{i}" for i in range(len(matrix))]
    vocabulary.save(folder, 7, {"en": words, "ru": words[:100]}, lambda chosen: matrix[[int(w[1:]) for w in chosen]],
                    {"passages_x": 0})
    return vocabulary.load(folder)["en"], matrix


def test_a_words_neighbours_are_its_own_whatever_words_beside_it(tmp_path: Path) -> None:
    """Bit for bit, alone or among others: what lets ``neighbours`` remember them."""
    known, matrix = _projected(tmp_path)
    queries = matrix[:9] + 0.05 * np.random.default_rng(4).standard_normal((9, 512)).astype(np.float32)
    together = known.nearest(queries, 12, 0.5)
    assert all(found for found in together)
    assert [known.nearest(queries[i:i + 1], 12, 0.5)[0] for i in range(9)] == together


def test_a_words_neighbours_are_found_once_and_then_remembered(tmp_path: Path) -> None:
    """The same neighbours as ``nearest`` of the words' vectors; a word met before costs no vector
    and no search, and each count and floor is remembered apart."""
    known, matrix = _projected(tmp_path)
    rows = {f"q{i}": matrix[i] + 0.05 * np.float32(i % 3) for i in range(5)}
    asked: list[list[str]] = []

    def vectors(words: Any) -> np.ndarray:
        asked.append(list(words))
        return np.array([rows[word] for word in words])

    expected = known.nearest(vectors(["q0", "q1", "q2"]), 12, 0.5)
    assert known.neighbours(["q0", "q1", "q0"], vectors, 12, 0.5) == [expected[0], expected[1], expected[0]]
    assert known.neighbours(["q1", "q2"], vectors, 12, 0.5) == expected[1:]
    assert known.neighbours(["q0"], vectors, 3, 0.5) == [expected[0][:3]]
    assert asked[1:] == [["q0", "q1"], ["q2"], ["q0"]]


def test_a_large_vocabulary_is_searched_through_its_projection_then_exactly(tmp_path: Path) -> None:
    """The shortlist comes from the projection; the similarities returned are the exact ones."""
    known, matrix = _projected(tmp_path)
    assert vocabulary.built_from(tmp_path) == {"passages_x": 0}
    assert known.projection is not None and vocabulary.load(tmp_path)["ru"].projection is None
    queries = matrix[:20] + 0.05 * np.random.default_rng(3).standard_normal((20, 512)).astype(np.float32)
    full = vocabulary.Vocabulary(list(known.words), matrix)
    for query, fast, exact in zip(queries, known.nearest(queries, 12, 0.5), full.nearest(queries, 12, 0.5)):
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


@pytest.mark.parametrize("columns", [49, 64 * 48 * 4 + 1, 64 * 300 + 17])
def test_the_kernels_best_columns_are_those_a_partition_finds_the_lower_of_equal_ones(columns: int) -> None:
    import numpy as np

    from search.vectors import dots

    kernel = dots.kernel()
    if kernel is None:
        pytest.skip("no dots kernel here")
    rng = np.random.default_rng(columns)
    scores = rng.standard_normal((10, columns)).astype(np.float32)
    scores[3, -1] = 9.0
    k = vocabulary.SHORTLIST
    found = kernel.best(scores, k)
    expected = np.argpartition(scores, -k, axis=1)[:, -k:]
    assert found is not None and found.shape == (10, k)
    assert [sorted(row) for row in found.tolist()] == [sorted(row) for row in expected.tolist()]
    equal = np.zeros((2, columns), dtype=np.float32)
    equal[0, 20:] = 1.0
    assert [sorted(row) for row in kernel.best(equal, 10).tolist()] == [list(range(20, 30)), list(range(10))]
    assert kernel.best(scores, columns) is None and kernel.best(scores, 0) is None  # numpy's part


def _large_vocabulary(folder: Path, seed: int) -> tuple[list[str], Any]:
    """A saved vocabulary large enough to be searched through its projection: unit vectors of a 64-d
    subspace, so the projection holds them whole and its estimates differ by quantization alone,
    and each word's best dozen stand well clear of its 48th best."""
    import numpy as np

    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((64, 512))
    matrix = (rng.standard_normal((vocabulary.PROJECTED_FROM + 5, 64)) @ basis).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    words = [f"w{i}" for i in range(len(matrix))]
    vocabulary.save(folder, 1, {"en": words, "ru": words[:100]}, lambda chosen: matrix[[int(w[1:]) for w in chosen]],
                    {"passages_x": 0})
    return words, matrix


@pytest.mark.parametrize("isa", [2, 1])
def test_int8_estimates_are_the_float32_ones_within_the_quantization_bound(isa: int) -> None:
    """Both kernels, several passes of query words, a partial last block of rows, a zero query; the
    values are the integer sums scaled in float32, (sum * query scale) * row scale, to the bit."""
    import numpy as np

    from search.vectors import dots

    kernel = dots.load(isa)
    if kernel is None or kernel.isa != dots.ISA[isa]:
        pytest.skip(f"no {dots.ISA[isa]} kernel here")
    rng = np.random.default_rng(isa)
    rows = rng.standard_normal((1003, 256)).astype(np.float32) * rng.random((1003, 1)).astype(np.float32)
    queries = rng.standard_normal((17, 256)).astype(np.float32)
    queries[5] = 0
    codes, scales = dots.quantized(rows)
    query_codes, query_scales = dots.quantized(queries)
    estimates = kernel.estimates(dots.blocked(codes), scales, queries)
    # |<r, q> - <r~, q~>| <= |r - r~|.|q| + |r~|.|q - q~|, each element off by at most half its scale
    bound = (scales[None, :] / 2 * np.abs(queries).sum(axis=1)[:, None]
             + query_scales[:, None] / 2 * (np.abs(codes.astype(np.float32)) * scales[:, None]).sum(axis=1)[None, :])
    error = np.abs(estimates - queries @ rows.T)
    assert estimates.shape == (17, 1003) and (error <= bound * 1.001 + 1e-6).all()
    assert (estimates[5] == 0).all()
    sums = (query_codes.astype(np.int64) @ codes.astype(np.int64).T).astype(np.float32)
    np.testing.assert_array_equal(estimates, sums * query_scales[:, None] * scales[None, :])
    assert (dots.unblocked(dots.blocked(codes), len(codes)) == codes).all()


def test_a_saved_vocabulary_has_int8_coordinates_and_its_estimates_use_them(tmp_path: Path) -> None:
    import numpy as np

    from search.vectors import dots

    words, matrix = _large_vocabulary(tmp_path, 4)
    folder = tmp_path / f"{vocabulary.PREFIX}1"
    int8_files = {"en.blocked8.npy", "en.scale.npy", "ru.blocked8.npy", "ru.scale.npy"}
    assert {p.name for p in folder.iterdir()} >= int8_files
    loaded = vocabulary.load(tmp_path)["en"]
    assert loaded.quantized is not None and loaded.projection is not None
    codes, scales = dots.quantized(loaded.projection[1])
    assert (dots.unblocked(loaded.quantized[0], len(codes)) == codes).all() and (loaded.quantized[1] == scales).all()
    assert is_mapped(loaded.quantized[0])  # mapped, not read

    rng = np.random.default_rng(5)
    queries = matrix[:20] + 0.05 * rng.standard_normal((20, 512)).astype(np.float32)
    full = vocabulary.Vocabulary(words, matrix)
    float32 = dataclasses.replace(loaded, quantized=None)
    if dots.kernel() is None:
        pytest.skip("the dots kernel is not built here")
    fast = loaded.nearest(queries, 12, 0.1)
    assert fast == float32.nearest(queries, 12, 0.1)
    assert [[w for w, _ in row] for row in fast] == [[w for w, _ in row] for row in full.nearest(queries, 12, 0.1)]
    assert all(len(row) == 12 for row in fast) and [row[0][0] for row in fast] == words[:20]
    # the int8 codes are what the estimate reads: zeroed, the shortlist is arbitrary
    zeroed = dataclasses.replace(loaded, quantized=(np.zeros_like(loaded.quantized[0]), scales))
    assert zeroed.nearest(queries, 12, 0.1) != fast


def test_a_vocabulary_written_with_its_int8_coordinates_row_by_row_has_them_blocked_when_loaded(tmp_path: Path) -> None:
    """Indexes built before the blocks: the same estimates, so the same neighbours, until the next
    run writes the vocabulary again."""
    import numpy as np

    from search.storage import checksums
    from search.vectors import dots

    words, matrix = _large_vocabulary(tmp_path, 5)
    folder = tmp_path / f"{vocabulary.PREFIX}1"
    written = vocabulary.load(tmp_path)["en"]
    for lang in ("en", "ru"):
        blocks, scales = np.load(folder / f"{lang}.blocked8.npy"), np.load(folder / f"{lang}.scale.npy")
        np.save(folder / f"{lang}.projected8.npy", dots.unblocked(blocks, len(scales)))
        (folder / f"{lang}.blocked8.npy").unlink()
    (folder / checksums.MANIFEST).unlink()
    checksums.seal_folder(folder)
    assert vocabulary.built_from(tmp_path) is None  # the next run writes it again
    older = vocabulary.load(tmp_path)["en"]
    assert older.quantized is not None and (older.quantized[0] == written.quantized[0]).all()  # type: ignore[index]
    queries = matrix[:20] + 0.05 * np.random.default_rng(6).standard_normal((20, 512)).astype(np.float32)
    assert older.nearest(queries, 12, 0.1) == written.nearest(queries, 12, 0.1)


def test_a_vocabulary_written_without_int8_coordinates_still_loads_and_searches(tmp_path: Path) -> None:
    """Indexes built before them: the float32 coordinates give the estimates."""
    import numpy as np

    from search.storage import checksums

    words, matrix = _large_vocabulary(tmp_path, 6)
    folder = tmp_path / f"{vocabulary.PREFIX}1"
    for name in ("en.blocked8.npy", "en.scale.npy", "ru.blocked8.npy", "ru.scale.npy", checksums.MANIFEST):
        (folder / name).unlink()
    checksums.seal_folder(folder)
    loaded = vocabulary.load(tmp_path)
    assert set(loaded) == {"en", "ru"} and loaded["en"].quantized is None and loaded["en"].projection is not None
    queries = matrix[10:15] + 0.05 * np.random.default_rng(7).standard_normal((5, 512)).astype(np.float32)
    assert [row[0][0] for row in loaded["en"].nearest(queries, 3, 0.5)] == words[10:15]


def test_a_library_built_from_another_dots_c_is_never_called(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its estimates would read the rows in another layout: the kernel is then None (numpy reads them)."""
    from search.vectors import dots

    if dots.load() is None:
        pytest.skip("the dots kernel is not built here")
    monkeypatch.setattr(dots, "VERSION", dots.VERSION + 1)
    assert dots.load() is None


def test_without_the_library_the_float32_coordinates_give_the_estimates(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from search.vectors import dots

    words, matrix = _large_vocabulary(tmp_path, 8)
    loaded = vocabulary.load(tmp_path)["en"]
    assert loaded.quantized is not None
    zeroed = dataclasses.replace(loaded, quantized=(np.zeros_like(loaded.quantized[0]), loaded.quantized[1]))
    monkeypatch.setattr(dots, "kernel", lambda: None)
    queries = matrix[:20] + 0.05 * np.random.default_rng(9).standard_normal((20, 512)).astype(np.float32)
    full = vocabulary.Vocabulary(words, matrix)
    assert [[w for w, _ in row] for row in zeroed.nearest(queries, 12, 0.1)] == \
        [[w for w, _ in row] for row in full.nearest(queries, 12, 0.1)]  # the zeroed int8 codes are never read


def test_the_vector_phase_lays_the_machines_word_vectors_out_for_queries(tmp_path: Path) -> None:
    """Once it writes a vocabulary, the machine's word vectors are read without SQLite, each one as
    SQLite holds it."""
    from search.files import FrozenTable, mapped
    from search.vectors.wordvectors import WordVectors

    docs, index, _ = _with_vocabulary(tmp_path)
    cache = WordVectors()
    cache._cache.frozen_path.unlink()  # laid out by the run above, or one before it
    (docs / "b.txt").write_text("Париж — столица Франции. Paris is the capital of France.", encoding="utf-8")
    index.update([str(docs)], deep=False)  # another text: another vocabulary
    frozen = FrozenTable(mapped(cache._cache.frozen_path))
    words = [word for known in vocabulary.load(index.store.path).values() for word in known.words]
    assert words and all(frozen.get_bytes(word) is not None for word in words)
    assert {word: vector.tobytes() for word, vector in cache.cached(words).items()} \
        == dict(zip(words, frozen.get_many(words, text=False)))
