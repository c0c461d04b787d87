"""Passage vectors: one folder per segment, replaced whole, read back memory-mapped."""

from pathlib import Path

import numpy as np
import pytest

from search.files import is_mapped
from search.vectors import deep, stored
from search.vectors.embeddings import DIM, SPACE
from search.vectors.stored import SegmentVectors


def _unit(*hot: int) -> np.ndarray:
    rows = np.zeros((len(hot), DIM), np.float32)
    rows[np.arange(len(hot)), hot] = 1.0
    return rows


def _vectors(rows: list[int], sentences: list[tuple[int, int]] = ()) -> SegmentVectors:
    """Passage i points along axis i; sentences are (owner row, axis)."""
    owners = [owner for owner, _ in sentences]
    return SegmentVectors(np.array(rows, np.int32), _unit(*range(len(rows))), np.arange(len(rows), dtype=np.uint64),
                          _unit(*[axis for _, axis in sentences]) if sentences else np.zeros((0, DIM), np.float32),
                          np.array(owners, np.int32))


def test_saved_vectors_load_back_memory_mapped(tmp_path: Path) -> None:
    saved = _vectors([0, 3, 7], [(1, 5), (1, 6)])
    stored.save(tmp_path, "passages_abc", saved, SPACE)
    loaded = stored.load(tmp_path, "passages_abc", SPACE)
    assert is_mapped(loaded.passages)  # a view of the mapped file, not a copy
    assert loaded.rows.tolist() == [0, 3, 7] and loaded.owners.tolist() == [1, 1]
    assert np.array_equal(loaded.passages, saved.passages)


def test_the_newest_folder_wins_and_older_ones_go(tmp_path: Path) -> None:
    stored.save(tmp_path, "passages_abc", _vectors([0]), SPACE)
    stored.save(tmp_path, "passages_abc", _vectors([0, 1, 2]), SPACE)
    assert [p.name for p in tmp_path.iterdir()] == ["passages_abc.3"]
    assert len(stored.load(tmp_path, "passages_abc", SPACE)) == 3
    assert len(stored.load(tmp_path, "passages_other", SPACE)) == 0


def test_deep_vectors_are_kept_in_half_precision_in_their_own_space(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    rows = rng.standard_normal((3, deep.DIM)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    saved = SegmentVectors(np.arange(3, dtype=np.int32), rows, np.arange(3, dtype=np.uint64),
                           np.zeros((0, deep.DIM), np.float32), np.zeros(0, np.int32))
    stored.save(tmp_path, "passages_abc", saved, deep.SPACE)
    loaded = stored.load(tmp_path, "passages_abc", deep.SPACE)
    assert loaded.passages.dtype == np.float16 and loaded.passages.shape == (3, deep.DIM)
    assert loaded.similarities(rows[1]) == pytest.approx(rows @ rows[1], abs=2e-3)  # half precision holds
    assert len(stored.load(tmp_path, "passages_abc", SPACE)) == 0  # another space's shape: not its vectors


def test_damaged_vector_files_are_treated_as_missing(tmp_path: Path) -> None:
    stored.save(tmp_path, "passages_abc", _vectors([0, 1]), SPACE)
    (tmp_path / "passages_abc.2" / "passages.npy").write_bytes(b"\x93NUMPY garbage")
    assert len(stored.load(tmp_path, "passages_abc", SPACE)) == 0  # the next indexing run encodes them again


def test_a_pickle_in_a_vector_file_is_refused(tmp_path: Path) -> None:
    stored.save(tmp_path, "passages_abc", _vectors([0, 1]), SPACE)
    np.save(tmp_path / "passages_abc.2" / "digests.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    assert len(stored.load(tmp_path, "passages_abc", SPACE)) == 0


def test_similarity_is_the_mean_of_passage_and_best_sentence() -> None:
    found = _vectors([0, 1, 2], [(1, 9), (1, 10)])
    query = np.zeros(DIM, np.float32)
    query[[0, 10]] = [0.6, 0.8]
    # row 0: passage 0.6, no sentences -> 0.6; row 1: passage 0, best sentence 0.8 -> 0.4; row 2: 0
    assert found.similarities(query).tolist() == pytest.approx([0.6, 0.4, 0.0])


def test_chosen_rows_score_as_the_full_computation_does() -> None:
    found = _vectors([0, 1, 2, 5], [(1, 9), (1, 10), (3, 11)])
    query = np.random.default_rng(0).standard_normal(DIM).astype(np.float32)
    positions = np.array([0, 1, 3])
    assert found.exact(positions, query) == pytest.approx(found.similarities(query)[positions], abs=1e-6)


def test_a_complete_large_segment_is_read_through_its_projection(tmp_path: Path, monkeypatch) -> None:
    """Stored with its principal components; the nearest passages found through them are the
    nearest passages, with their exact similarities."""
    from types import SimpleNamespace

    from search.ranking.scoring import Matches
    from search.snapshot import PassageVectors

    monkeypatch.setattr(stored, "PROJECT_FROM", 300)
    rng = np.random.default_rng(1)
    topics = rng.standard_normal((64, DIM)).astype(np.float32)  # sentence vectors live near a low-rank space
    rows = (rng.standard_normal((600, 64)) @ topics + 0.05 * rng.standard_normal((600, DIM))).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    sentences = rows[:100] + 0.1 * rng.standard_normal((100, DIM)).astype(np.float32)
    saved = SegmentVectors(np.arange(600, dtype=np.int32), rows, np.arange(600, dtype=np.uint64),
                           sentences.astype(np.float32), np.arange(100, dtype=np.int32))
    stored.save(tmp_path, "passages_big", saved, SPACE, complete=True)
    loaded = stored.load(tmp_path, "passages_big", SPACE)
    assert loaded.projection is not None and loaded.projection.basis.shape == (DIM, SPACE.projected_dims)
    every = Matches(np.arange(600, dtype=np.int64), np.ones(600))
    russian = np.r_[np.arange(0, 150), np.arange(400, 600)]  # one language's files: runs of rows
    through = PassageVectors([(SimpleNamespace(docbase=0), loaded)],
                             lambda lang: Matches(russian, np.ones(len(russian))) if lang == "ru" else every)
    for query in rows[[3, 150, 480]] + 0.2 * rng.standard_normal((3, DIM)).astype(np.float32):
        full = loaded.similarities(query)
        for lang, allowed in ((None, np.arange(600)), ("ru", russian)):
            expected = [int(i) for i in allowed[np.argsort(-full[allowed])[:10]]]
            nearest = through.nearest(query, 10, lang)
            assert list(nearest) == expected
            assert [nearest[d] for d in expected] == pytest.approx(full[expected].tolist(), abs=1e-5)
    loaded.release()  # pages let go of; the vectors still read
    assert through.of(rows[7], [7, 9999]) == {7: pytest.approx(float(loaded.similarities(rows[7])[7]), abs=1e-5)}
    stored.save(tmp_path, "passages_small", _vectors([0, 1, 2]), SPACE, complete=True)
    assert stored.load(tmp_path, "passages_small", SPACE).projection is None  # small: read in full


def test_a_segments_shortlist_and_exact_similarities_are_the_same_in_dots_c_as_in_numpy(tmp_path: Path,
                                                                                      monkeypatch) -> None:
    """A segment's shortlist (its best rows by the projection's estimate, over the runs a language's
    rows make, of the rows allowed) and the exact similarities of its rows are each one call of
    dots.c, without the GIL; the same rows and similarities as numpy finds them: passages with no
    sentence, one, or several, runs that are empty or cut between two passages' sentences, and
    full vectors in float32 and in float16 (e5's)."""
    from search.vectors import dots

    kernel = dots.kernel()
    if kernel is None:
        pytest.skip("dots.c is not built here")
    monkeypatch.setattr(stored, "PROJECT_FROM", 300)
    rng = np.random.default_rng(4)
    rows = _clustered(600, 5)
    owners = np.sort(rng.choice(np.arange(0, 600, 3), 250))  # a third of the rows have 1-4 sentences
    sentences = rows[owners] + 0.1 * rng.standard_normal((len(owners), DIM)).astype(np.float32)
    saved = SegmentVectors(np.arange(600, dtype=np.int32), rows, np.arange(600, dtype=np.uint64),
                           sentences.astype(np.float32), owners.astype(np.int32))
    half = stored.Space("half", DIM, np.float16, SPACE.projected_dims)
    for space in (SPACE, half):
        stored.save(tmp_path / space.folder, "passages_big", saved, space, complete=True)
    loaded, loaded_half = (stored.load(tmp_path / space.folder, "passages_big", space) for space in (SPACE, half))
    assert loaded_half.passages.dtype == np.float16
    runs = [(0, 150), (150, 150), (151, 200), (int(owners[100]) + 1, int(owners[140])), (590, 600)]
    assert all(stop <= start for (_, stop), (start, _) in zip(runs, runs[1:]))  # in order, apart, as a language's
    allowed = rng.random(600) < 0.7
    kernels = [found for isa in (2, 1) if (found := dots.load(isa)) is not None]  # AVX-512, AVX2, where they run
    for query in rows[[3, 200, 595]] + 0.2 * rng.standard_normal((3, DIM)).astype(np.float32):
        positions = rng.choice(600, 80, replace=False)
        with monkeypatch.context() as without:
            without.setattr(dots, "kernel", lambda: None)
            expected = {keep: loaded.span_shortlist(query, runs, allowed, keep) for keep in (40, 600)}
            exact = [vectors.exact(positions, query) for vectors in (loaded, loaded_half)]
        for each in kernels:
            monkeypatch.setattr(dots, "kernel", lambda: each)
            for keep, (rows_expected, values_expected) in expected.items():
                found, values = loaded.span_shortlist(query, runs, allowed, keep)
                in_runs = sum(allowed[start:stop].sum() for start, stop in runs)
                assert len(found) == min(keep, in_runs) and allowed[found].all() and (np.diff(found) > 0).all()
                assert np.array_equal(found, rows_expected) and np.abs(values - values_expected).max() < 1e-5
            for vectors, expected_exact in zip((loaded, loaded_half), exact):
                assert np.abs(vectors.exact(positions, query) - expected_exact).max() < 1e-5
    projection = loaded.projection
    assert not kernel.takes(projection.passages, projection.sentences, loaded.owners.astype(np.int64))  # numpy's
    assert not kernel.takes(loaded_half.passages, loaded_half.sentences, loaded_half.owners)  # float16: exact only
    with pytest.raises(ValueError, match="span outside"):
        kernel.shortlist(projection.passages, projection.sentences, loaded.owners,
                         query @ projection.basis, [(590, 601)], allowed, 10)
    with pytest.raises(ValueError, match="position outside"):
        kernel.exact(loaded.passages, loaded.sentences, loaded.owners, query, np.array([600]))


def _clustered(count: int, seed: int) -> np.ndarray:
    """Unit rows around a few dozen topics, as passages of news gather."""
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((40, DIM)).astype(np.float32)
    rows = topics[rng.integers(0, 40, count)] + 0.6 * rng.standard_normal((count, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_lists_hold_every_row_once_and_a_probe_reads_the_nearest_lists_first() -> None:
    projected = _clustered(2_000, 5)[:, :SPACE.projected_dims].copy()
    lists = stored.Lists.of(projected)
    assert len(lists.centroids) == int(stored.LISTS_PER_ROOT * np.sqrt(2_000))
    assert sorted(lists.rows.tolist()) == list(range(2_000)) and lists.offsets[-1] == 2_000
    for i in range(len(lists.centroids)):  # each row is in the list of its nearest centroid
        members = lists.rows[lists.offsets[i]:lists.offsets[i + 1]]
        distances = ((projected[members, None, :] - lists.centroids[None]) ** 2).sum(axis=2)
        assert (distances.argmin(axis=1) == i).all()
    assert np.array_equal(lists.projected, projected[lists.rows])  # the projections lie in list order
    query = projected[17]
    at = lists.probe(query, share=0.1)
    assert 200 <= len(at) < 400 and (np.diff(at) > 0).all()
    assert 17 in lists.rows[at]  # a row's own list is the nearest to it
    assert np.array_equal(stored.Lists.of(projected).rows, lists.rows)  # a build is repeatable


def test_a_segment_of_lists_from_passages_is_searched_through_its_lists(tmp_path: Path, monkeypatch) -> None:
    """Saved with lists; a query reads PROBE_SHARE of the rows and still finds nearly all of the
    nearest passages, with their exact similarities; a language's rows only."""
    from types import SimpleNamespace

    from search.ranking.scoring import Matches
    from search.snapshot import PassageVectors

    monkeypatch.setattr(stored, "PROJECT_FROM", 300)
    monkeypatch.setattr(stored, "LISTS_FROM", 1_000)
    rows = _clustered(3_000, 6)
    saved = SegmentVectors(np.arange(3_000, dtype=np.int32), rows, np.arange(3_000, dtype=np.uint64),
                           rows[:200] + 0.0, np.arange(200, dtype=np.int32))
    stored.save(tmp_path, "passages_big", saved, SPACE, complete=True)
    loaded = stored.load(tmp_path, "passages_big", SPACE)
    assert loaded.projection is not None and loaded.projection.lists is not None
    russian = np.arange(0, 3_000, 2)
    through = PassageVectors([(SimpleNamespace(docbase=0), loaded)],
                             lambda lang: Matches(russian, np.ones(len(russian))))
    rng = np.random.default_rng(7)
    kept = []
    for query in rows[rng.integers(0, 3_000, 20)] + 0.3 * rng.standard_normal((20, DIM)).astype(np.float32):
        full = loaded.similarities(query)
        expected = [int(i) for i in russian[np.argsort(-full[russian])[:10]]]
        nearest = through.nearest(query, 10, "ru")
        assert set(nearest) <= set(russian.tolist())
        assert [nearest[d] for d in nearest] == pytest.approx(full[list(nearest)].tolist(), abs=1e-5)
        kept.append(len(set(nearest) & set(expected)) / 10)
    assert np.mean(kept) >= 0.9


def test_a_segment_saved_before_lists_were_kept_gets_them_when_saved_again(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(stored, "PROJECT_FROM", 300)
    rows = _clustered(1_200, 8)
    saved = SegmentVectors(np.arange(1_200, dtype=np.int32), rows, np.arange(1_200, dtype=np.uint64),
                           np.zeros((0, DIM), np.float32), np.zeros(0, np.int32))
    stored.save(tmp_path, "passages_old", saved, SPACE, complete=True)  # LISTS_FROM above it: no lists
    before = stored.load(tmp_path, "passages_old", SPACE)
    assert before.projection is not None and before.projection.lists is None and not stored.wants_layout(before)
    monkeypatch.setattr(stored, "LISTS_FROM", 1_000)
    assert stored.wants_layout(before)
    stored.save(tmp_path, "passages_old", before, SPACE, complete=True)
    after = stored.load(tmp_path, "passages_old", SPACE)
    assert after.projection is not None and after.projection.lists is not None
    assert after.projection.passages is None  # held in list order only
    assert np.array_equal(after.passages, rows) and not stored.wants_layout(after)


def test_a_projection_saved_in_float32_is_read_and_laid_out_as_codes_when_saved_again(tmp_path: Path,
                                                                                     monkeypatch) -> None:
    """A segment whose projected passages an older build saved in float32 is read as it is (the
    same nearest passages), and saving it again writes them as int8 codes, a quarter of the bytes."""
    from types import SimpleNamespace

    from search.ranking.scoring import Matches
    from search.snapshot import PassageVectors
    from search.storage import checksums
    from search.vectors import dots

    monkeypatch.setattr(stored, "PROJECT_FROM", 300)
    rows = _clustered(600, 9)
    saved = SegmentVectors(np.arange(600, dtype=np.int32), rows, np.arange(600, dtype=np.uint64),
                           rows[:40] + 0.05, np.arange(0, 80, 2, dtype=np.int32))
    stored.save(tmp_path, "passages_old", saved, SPACE, complete=True)
    (folder,) = tmp_path.iterdir()
    coded = stored.load(tmp_path, "passages_old", SPACE)
    assert isinstance(coded.projection.passages, dots.Scaled) and not stored.wants_layout(coded)
    assert coded.projection.passages.codes.dtype == coded.projection.sentences.codes.dtype == np.int8
    basis = coded.projection.basis
    for name in ("passages", "sentences"):  # as an older build laid them out
        np.save(folder / f"{name}.projected.npy", np.asarray(getattr(saved, name), np.float32) @ basis)
        for suffix in ("projected8", "projected8.scales", "projected8.centre"):
            (folder / f"{name}.{suffix}.npy").unlink()
    (folder / checksums.MANIFEST).unlink()
    checksums.seal_folder(folder)
    old = stored.load(tmp_path, "passages_old", SPACE)
    assert old.projection.passages.dtype == np.float32 and stored.wants_layout(old)
    every = Matches(np.arange(600, dtype=np.int64), np.ones(600))
    for query in rows[[5, 300]]:
        found = [PassageVectors([(SimpleNamespace(docbase=0), vectors)], lambda lang: every).nearest(query, 10, None)
                 for vectors in (old, coded)]
        assert list(found[0]) == list(found[1])
    stored.save(tmp_path, "passages_old", old, SPACE, complete=True)
    again = stored.load(tmp_path, "passages_old", SPACE)
    assert isinstance(again.projection.passages, dots.Scaled) and not stored.wants_layout(again)


@pytest.mark.parametrize("half", [False, True])
def test_the_nearest_found_in_one_call_of_dots_c_are_those_found_segment_by_segment(tmp_path: Path, monkeypatch,
                                                                                     half: bool) -> None:
    """On e5's thread (``spread=False``) every segment is read in one call of dots.c: the same
    passages in the same order as segment by segment, similarities to float rounding; passages with
    sentences, a language's runs of rows, the shortlists cut across segments, float32 and float16."""
    from types import SimpleNamespace

    from search.ranking.scoring import Matches
    from search.snapshot import PassageVectors
    from search.vectors import dots

    kernel = dots.kernel()
    if kernel is None:
        pytest.skip("dots.c is not built here")
    monkeypatch.setattr(stored, "PROJECT_FROM", 300)
    monkeypatch.setattr(stored, "SHORTLIST_TOTAL_PER_HIT", 4)  # fewer than the segments' shortlists: cut
    space = stored.Space("half", DIM, np.float16, SPACE.projected_dims) if half else SPACE
    rng = np.random.default_rng(7)
    parts = []
    for i in range(3):
        rows = _clustered(500, 20 + i)
        owners = np.sort(rng.choice(np.arange(0, 500, 2), 200)).astype(np.int32)
        sentences = rows[owners] + 0.2 * rng.standard_normal((len(owners), DIM)).astype(np.float32)
        stored.save(tmp_path, f"passages_{i}", SegmentVectors(np.arange(500, dtype=np.int32), rows,
                    np.arange(500, dtype=np.uint64), sentences, owners), space, complete=True)
        parts.append((SimpleNamespace(docbase=500 * i), stored.load(tmp_path, f"passages_{i}", space)))
    assert all(isinstance(found.projection.passages, dots.Scaled) for _, found in parts)
    russian = np.concatenate([np.arange(500 * i + 100, 500 * i + 350) for i in range(3)])
    every = Matches(np.arange(1_500, dtype=np.int64), np.ones(1_500))
    calls = []
    monkeypatch.setattr(kernel, "nearest", lambda *args, original=kernel.nearest: calls.append(1) or original(*args))
    through = PassageVectors(parts, lambda lang: Matches(russian, np.ones(len(russian))) if lang == "ru" else every)
    for query in _clustered(4, 30):
        for lang in (None, "ru"):
            through.prepare(lang)
            for k in (1, 10, 40):
                one_call, by_segment = through.nearest(query, k, lang, spread=False), through.nearest(query, k, lang)
                assert list(one_call) == list(by_segment)
                assert list(one_call.values()) == pytest.approx(list(by_segment.values()), abs=1e-6)
    assert len(calls) == 4 * 2 * 3  # every one of them in one call


def test_across_segments_only_the_best_estimates_are_scored_exactly(tmp_path: Path, monkeypatch) -> None:
    """Each segment shortlists by its projection; of all shortlists the SHORTLIST_TOTAL_PER_HIT * k
    best estimates are scored exactly, and the nearest passages come out as a full read finds them."""
    from types import SimpleNamespace

    from search.ranking.scoring import Matches
    from search.snapshot import PassageVectors

    monkeypatch.setattr(stored, "PROJECT_FROM", 300)
    rng = np.random.default_rng(2)
    topics = rng.standard_normal((64, DIM)).astype(np.float32)  # low rank: the projection keeps nearly all
    parts, loaded = [], []
    for i in range(3):
        rows = (rng.standard_normal((400, 64)) @ topics + 0.05 * rng.standard_normal((400, DIM))).astype(np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        stored.save(tmp_path, f"passages_{i}", SegmentVectors(np.arange(400, dtype=np.int32), rows,
                    np.arange(400, dtype=np.uint64), np.zeros((0, DIM), np.float32), np.zeros(0, np.int32)),
                    SPACE, complete=True)
        loaded.append(stored.load(tmp_path, f"passages_{i}", SPACE))
        parts.append((SimpleNamespace(docbase=400 * i), loaded[-1]))
    every = Matches(np.arange(1_200, dtype=np.int64), np.ones(1_200))
    through = PassageVectors(parts, lambda lang: every)
    exact_rows = []
    monkeypatch.setattr(SegmentVectors, "exact", lambda self, positions, query, original=SegmentVectors.exact:
                        exact_rows.append(len(positions)) or original(self, positions, query))
    query = loaded[1].passages[5] + 0.3 * rng.standard_normal(DIM).astype(np.float32)
    full = np.concatenate([found.similarities(query) for found in loaded])
    nearest = through.nearest(query, 10, None)
    assert list(nearest) == [int(i) for i in np.argsort(-full)[:10]]
    assert sum(exact_rows) <= stored.SHORTLIST_TOTAL_PER_HIT * 10 < 3 * stored.SHORTLIST_PER_HIT * 10
    # Read on the caller's thread alone (beside a query's lexical side), the same passages and similarities.
    assert through.nearest(query, 10, None, spread=False) == nearest
