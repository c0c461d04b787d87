"""Passage vectors: one folder per segment, replaced whole, read back memory-mapped."""

from pathlib import Path

import numpy as np
import pytest

from search import vectors
from search.embeddings import DIM
from search.vectors import SegmentVectors


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
    vectors.save(tmp_path, "passages_abc", saved)
    loaded = vectors.load(tmp_path, "passages_abc")
    assert isinstance(loaded.passages.base, np.memmap)  # a view of the mapped file, not a copy
    assert loaded.rows.tolist() == [0, 3, 7] and loaded.owners.tolist() == [1, 1]
    assert np.array_equal(loaded.passages, saved.passages)


def test_the_newest_folder_wins_and_older_ones_go(tmp_path: Path) -> None:
    vectors.save(tmp_path, "passages_abc", _vectors([0]))
    vectors.save(tmp_path, "passages_abc", _vectors([0, 1, 2]))
    assert [p.name for p in tmp_path.iterdir()] == ["passages_abc.3"]
    assert len(vectors.load(tmp_path, "passages_abc")) == 3
    assert len(vectors.load(tmp_path, "passages_other")) == 0


def test_damaged_vector_files_are_treated_as_missing(tmp_path: Path) -> None:
    vectors.save(tmp_path, "passages_abc", _vectors([0, 1]))
    (tmp_path / "passages_abc.2" / "passages.npy").write_bytes(b"\x93NUMPY garbage")
    assert len(vectors.load(tmp_path, "passages_abc")) == 0  # the next indexing run encodes them again


def test_a_pickle_in_a_vector_file_is_refused(tmp_path: Path) -> None:
    vectors.save(tmp_path, "passages_abc", _vectors([0, 1]))
    np.save(tmp_path / "passages_abc.2" / "digests.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    assert len(vectors.load(tmp_path, "passages_abc")) == 0


def test_similarity_is_the_mean_of_passage_and_best_sentence() -> None:
    found = _vectors([0, 1, 2], [(1, 9), (1, 10)])
    query = np.zeros(DIM, np.float32)
    query[[0, 10]] = [0.6, 0.8]
    # row 0: passage 0.6, no sentences -> 0.6; row 1: passage 0, best sentence 0.8 -> 0.4; row 2: 0
    assert found.similarities(query).tolist() == pytest.approx([0.6, 0.4, 0.0])
