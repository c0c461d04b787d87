"""Passage vectors: one folder per segment, filled in by the second phase of indexing.

A whoosh segment never changes once written (deletions aside), so the vectors
of its passages are kept beside it, keyed by the segment's id:
``vectors/<segment>.<covered>/`` holds the vectors of ``covered`` of its
passages. The second phase of indexing writes a new folder with more of them
as it goes (into a temporary name, then renamed: a reader sees the old folder
or the new one), so it can be stopped and resumed at any point, and queries
fuse vectors for the passages that have them. The files are plain ``.npy``
arrays, memory-mapped and never unpickled.

A passage's similarity to a query is the mean of its own cosine and that of its
best sentence: a question is usually answered by one sentence, and on XQuAD-R
this mix ranks better than either alone (bench/xquad.py).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .embeddings import DIM
from .files import mapped, replace_path

_ARRAYS = ("rows", "passages", "digests", "sentences", "owners")


@dataclass(frozen=True)
class SegmentVectors:
    """The vectors of one segment's passages that have them."""

    rows: np.ndarray
    """(R,) int32: the docnum (within the segment) of each passage with a vector, ascending."""
    passages: np.ndarray
    """(R, DIM) float32: each passage's vector."""
    digests: np.ndarray
    """(R,) uint64: a hash of each passage's text, so its vector is reused if the passage moves."""
    sentences: np.ndarray
    """(S, DIM) float32: the vectors of the sentences of passages of two sentences or more."""
    owners: np.ndarray
    """(S,) int32: the row (into ``rows``) of each sentence's passage, ascending."""

    @classmethod
    def empty(cls) -> "SegmentVectors":
        return cls(np.zeros(0, np.int32), np.zeros((0, DIM), np.float32), np.zeros(0, np.uint64),
                   np.zeros((0, DIM), np.float32), np.zeros(0, np.int32))

    @cached_property
    def _sentence_starts(self) -> np.ndarray:
        """Where each passage's run of sentences starts in ``sentences``."""
        return np.flatnonzero(np.r_[True, self.owners[1:] != self.owners[:-1]]) if len(self.owners) else self.owners

    def similarities(self, query: np.ndarray) -> np.ndarray:
        """Each row's similarity to a query vector: mean of passage and best-sentence cosine."""
        passage = self.passages @ query
        best = passage.copy()
        if len(self.owners):
            starts = self._sentence_starts
            best[self.owners[starts]] = np.maximum.reduceat(self.sentences @ query, starts)
        return (passage + best) / 2

    def __len__(self) -> int:
        return len(self.rows)


def latest(folder: Path, segment_id: str) -> Path | None:
    """The newest vector folder of a segment, if it has one."""
    best, found = -1, None
    try:
        entries = os.listdir(folder)
    except OSError:
        return None
    for name in entries:
        stem, _, covered = name.partition(".")
        if stem == segment_id and covered.isdigit() and int(covered) > best:
            best, found = int(covered), folder / name
    return found


def load(folder: Path, segment_id: str, retry: bool = True) -> SegmentVectors:
    """A segment's vectors, memory-mapped (none if it has none yet, or its files are unreadable)."""
    path = latest(folder, segment_id)
    if path is None:
        return SegmentVectors.empty()
    try:
        arrays = [mapped(path / f"{name}.npy") for name in _ARRAYS]
    except FileNotFoundError:
        return load(folder, segment_id, retry=False) if retry else SegmentVectors.empty()  # just replaced
    except (OSError, ValueError):
        return SegmentVectors.empty()  # unreadable: the next indexing run computes them again
    vectors = SegmentVectors(*arrays)
    shapes_agree = (len(vectors.rows) == len(vectors.passages) == len(vectors.digests)
                    and len(vectors.sentences) == len(vectors.owners)
                    and vectors.passages.shape[1:] == (DIM,) and vectors.sentences.shape[1:] == (DIM,))
    return vectors if shapes_agree else SegmentVectors.empty()


def save(folder: Path, segment_id: str, vectors: SegmentVectors) -> None:
    """Write a segment's vectors as its newest folder, atomically, and remove the older ones."""
    folder.mkdir(exist_ok=True)
    target = folder / f"{segment_id}.{len(vectors)}"
    if target.exists():
        return  # the same passages are covered already

    def write(tmp: Path) -> None:
        tmp.mkdir()
        for name in _ARRAYS:
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(getattr(vectors, name)), allow_pickle=False)

    replace_path(target, write)
    for name in os.listdir(folder):
        stem, _, covered = name.partition(".")
        if stem == segment_id and name != target.name:
            shutil.rmtree(folder / name, ignore_errors=True)
