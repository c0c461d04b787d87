"""Passage vectors: one folder per segment and encoder, filled in by the vector phases of indexing.

A whoosh segment never changes once written (deletions aside), so the vectors
of its passages are kept beside it, keyed by the segment's id: each encoder's
``Space`` names a folder, and ``<space>/<segment>.<covered>/`` holds its vectors of
``covered`` of the segment's passages (``vectors/`` for the sentence encoder,
``deep/`` for e5). A vector phase writes a new folder with more of them
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
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..files import mapped, release, replace_path
from ..storage import checksums
from . import dots

_ARRAYS = ("rows", "passages", "digests", "sentences", "owners")
_PROJECTED = ("basis", "sentences.projected")
_LISTS = ("lists.centroids", "lists.rows", "lists.offsets", "lists.projected")
_CODED = tuple(f"{rows}.projected8{part}" for rows in ("passages", "sentences") for part in ("", ".scales", ".centre"))


@dataclass(frozen=True)
class Space:
    """One encoder's passage vectors: the folder they are kept in beside the segments, their
    dimensions, the type their full vectors are stored in, and how many principal components
    a query reads in full (``Projection``)."""

    folder: str
    dim: int
    dtype: type
    projected_dims: int
PROJECT_FROM = 8192
"""Segments with fewer passages than this are read in full: it is cheap already."""
SHORTLIST_PER_HIT = 3
"""Passages per segment scored exactly, best by the projection, for each passage a query asks
for (300 for Ranking.dense_candidates). On the WMT benchmark's 120 headline queries (60 each
way, --lang) this keeps every one of the exact 100 nearest at 1x and 11,997 of 12,000 at 4x,
as a shortlist of 4,000 does. Each exact row read is a page fault: with 1,000 rows a segment
the search took 10.8 ms a query at 1x, with 300 it takes 6.4 ms."""
SHORTLIST_TOTAL_PER_HIT = 6
"""Across all segments, at most this many passages per hit are scored exactly: the best estimates
of the segments' shortlists (at 1x, two segments, that is all of them). At 16x the twelve
segments' 3,600 exact rows, a page fault each, took a third of the nearest search."""


LISTS_FROM = 65_536
"""Segments of this many passages or more are also kept as an inverted file (``Lists``), and a
query reads only the lists nearest it. Below it every row is read: at 1x (two segments of some
33,000 passages) a query's nearest are exact, as bench/xquad.py and bench/short.py measured them."""
LISTS_PER_ROOT = 8
"""A segment of R passages has LISTS_PER_ROOT * sqrt(R) lists (2,335 at 85,000: 36 rows each).
Finer lists keep more of the nearest passages for the same rows read: on 80 WMT headlines at 16x,
the ten nearest of a segment were kept 0.92 / 0.97 / 0.99 of the time with 1, 4 and 8 per root at
a tenth of the rows read."""
PROBE_SHARE = 0.15
"""The share of a segment's rows a query reads through its lists, nearest lists first: on those
headlines it keeps 0.991 of each segment's ten nearest (0.986 at 0.10, 0.995 at 0.20), and at
1M passages it reads 80 MB of projections a query instead of 256 MB (the rows of a list lie
together: reading 15% of a segment's rows one by one took longer than reading them all in order)."""
KMEANS_ROUNDS = 8


@dataclass(frozen=True)
class Lists:
    """An inverted file over a segment's projected passages: k-means centroids (Lloyd's, from a
    seeded sample, so a build is repeatable), the rows of each list, and the projected passages
    in that order."""

    centroids: np.ndarray  # (C, projected dims) float32
    rows: np.ndarray  # (R,) int32: row positions grouped by list, ascending within each
    offsets: np.ndarray  # (C + 1,) int64: list i is rows[offsets[i]:offsets[i + 1]]
    projected: np.ndarray  # (R, projected dims) float32: projected[i] is row rows[i]

    @classmethod
    def of(cls, projected: np.ndarray) -> "Lists":
        count = min(len(projected), int(LISTS_PER_ROOT * np.sqrt(len(projected))))
        chosen = np.sort(np.random.default_rng(0).choice(len(projected), count, replace=False))
        centroids = np.array(projected[chosen], np.float32)
        wide = np.asarray(projected, np.float64)  # the sums' precision, converted once
        for _ in range(KMEANS_ROUNDS):
            nearest = _nearest_centroid(projected, centroids)
            order = np.argsort(nearest, kind="stable")
            sizes = np.bincount(nearest, minlength=count)
            filled = sizes > 0  # an emptied list keeps its centroid
            starts = np.r_[0, np.cumsum(sizes)[:-1]][filled]
            sums = np.add.reduceat(wide[order], starts)
            centroids[filled] = (sums / sizes[filled, None]).astype(np.float32)
        nearest = _nearest_centroid(projected, centroids)
        rows, sizes = np.argsort(nearest, kind="stable"), np.bincount(nearest, minlength=count)
        return cls(centroids, rows.astype(np.int32), np.r_[0, np.cumsum(sizes)].astype(np.int64),
                   np.ascontiguousarray(projected[rows], np.float32))

    def probe(self, query: np.ndarray, share: float = PROBE_SHARE) -> np.ndarray:
        """Positions (into ``rows`` and ``projected``, ascending) in the lists nearest a projected
        query vector: lists taken nearest first until they hold ``share`` of the rows."""
        taken = np.argsort(-(self.centroids @ query))
        sizes = np.diff(self.offsets)[taken]
        taken = np.sort(taken[:int(np.searchsorted(np.cumsum(sizes), share * len(self.rows))) + 1])
        starts, counts = self.offsets[taken], np.diff(self.offsets)[taken]
        return np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(counts.sum())


def _nearest_centroid(rows: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Each row's nearest centroid (Euclidean), a block of rows at a time."""
    half = (centroids * centroids).sum(axis=1) / 2
    return np.concatenate([np.argmax(np.asarray(rows[start:start + 4096], np.float32) @ centroids.T - half, axis=1)
                           for start in range(0, len(rows), 4096)]).astype(np.int64)


@dataclass(frozen=True)
class Projection:
    """A segment's vectors in their first principal components, whatever the full vectors' type:
    its passages' in row order, as int8 codes (``dots.Scaled``), or for a segment of LISTS_FROM
    passages or more in its lists (float32).

    A query reads every projected passage of its language (at 1x, 16 MB as float32 at 128
    components), and beside the caller's thread that read is bound by memory speed: 2.5 ms a
    headline at 1x against 0.9 alone. As codes about their mean (``dots.Scaled``) it reads a
    quarter of the bytes. On the 246 headlines of bench/performance.py at 1x, e5's 100 nearest
    passages from codes differ from those from float32 in 13 of 24,600, and both miss 162 of the
    exact 24,600 (the sentence encoder's: 1 differs; 2 and 3 missed). Segments saved before the
    codes keep float32 (``wants_layout``: the next indexing run lays them out afresh)."""

    basis: np.ndarray  # (dim, projected dims) float32
    sentences: dots.Rows  # (S, projected dims): codes where the passages are, else float32
    passages: dots.Rows | None = None  # (R, projected dims), where there are no lists
    lists: Lists | None = None

    @classmethod
    def of(cls, passages: np.ndarray, sentences: np.ndarray, dims: int) -> "Projection":
        basis = principal_components((passages, sentences), dims)
        projected = _projected(passages, basis)
        if len(projected) >= LISTS_FROM:
            return cls(basis, _projected(sentences, basis), lists=Lists.of(projected))
        centre = projected.mean(axis=0) if len(projected) else np.zeros(dims, np.float32)
        return cls(basis, dots.Scaled.of(_projected(sentences, basis), centre), dots.Scaled.of(projected, centre))


def _projected(matrix: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """The rows in the basis, a block at a time (a float16 matrix is never converted whole)."""
    out = np.empty((len(matrix), basis.shape[1]), np.float32)
    for start in range(0, len(matrix), 8192):
        out[start:start + 8192] = np.asarray(matrix[start:start + 8192], np.float32) @ basis
    return out


def principal_components(matrices: Iterable[np.ndarray], dims: int) -> np.ndarray:
    """The ``dims`` directions that keep most of the rows, (dim, dims): the
    leading eigenvectors of XᵀX, gathered a block of rows at a time (an SVD of the rows
    themselves held copies of them). Each block's product is single precision, their sum
    double: four times as fast as double throughout, and the same subspace (the cosines
    between the two bases' directions were all above 0.999999 on the 1x WMT index)."""
    matrices = list(matrices)
    width = matrices[0].shape[1]
    gram = np.zeros((width, width), dtype=np.float64)
    for matrix in matrices:
        for start in range(0, len(matrix), 8192):
            block = np.asarray(matrix[start:start + 8192], dtype=np.float32)
            gram += block.T @ block
    _, directions = np.linalg.eigh(gram)  # ascending eigenvalues
    return np.ascontiguousarray(directions[:, ::-1][:, :dims], dtype=np.float32)


@dataclass(frozen=True)
class SegmentVectors:
    """The vectors of one segment's passages that have them."""

    rows: np.ndarray
    """(R,) int32: the docnum (within the segment) of each passage with a vector, ascending."""
    passages: np.ndarray
    """(R, dim): each passage's vector (of the space's type)."""
    digests: np.ndarray
    """(R,) uint64: a hash of each passage's text, so its vector is reused if the passage moves."""
    sentences: np.ndarray
    """(S, dim): the vectors of the sentences of passages of two sentences or more."""
    owners: np.ndarray
    """(S,) int32: the row (into ``rows``) of each sentence's passage, ascending."""
    projection: Projection | None = None
    """For a complete segment of PROJECT_FROM passages or more."""

    @classmethod
    def empty(cls, space: Space) -> "SegmentVectors":
        return cls(np.zeros(0, np.int32), np.zeros((0, space.dim), space.dtype), np.zeros(0, np.uint64),
                   np.zeros((0, space.dim), space.dtype), np.zeros(0, np.int32))

    def similarities(self, query: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The similarity to a query vector of rows start:stop (all by default): the mean of the
        passage's cosine and its best sentence's."""
        return self._similarities(self.passages, self.sentences, query, start, stop)

    def span_shortlist(self, query: np.ndarray, spans: Sequence[tuple[int, int]], allowed: np.ndarray,
                       keep: int) -> tuple[np.ndarray, np.ndarray]:
        """Of the rows of several runs (start, stop) that ``allowed`` lets through, the ``keep`` best
        as the projection estimates them (the rows read at half the cost), for a segment without
        lists: positions, ascending, and estimates. By ``dots.c`` in one call that releases the GIL
        where it was built: a query's e5 nearest are read on e5's thread, and the caller's Python
        kept the GIL from that thread between numpy's calls (some ten a run, and the shortlist's),
        so that at 1x the nearest took 4.9 ms a headline beside the caller against 1.9 alone."""
        assert self.projection is not None and self.projection.passages is not None
        projected = np.asarray(query @ self.projection.basis, dtype=np.float32)
        passages, sentences = self.projection.passages, self.projection.sentences
        kernel = dots.kernel()
        if kernel is not None and kernel.takes(passages, sentences, self.owners):
            return kernel.shortlist(passages, sentences, self.owners, projected, spans, allowed, keep)
        read = np.concatenate([np.arange(start, stop) for start, stop in spans] or [np.zeros(0, np.int64)])
        values = np.concatenate([self._similarities(passages, sentences, projected, start, stop)
                                 for start, stop in spans] or [np.zeros(0, np.float32)])
        return best_rows(read, values, allowed, keep)

    def _similarities(self, passages: np.ndarray, sentences: np.ndarray, query: np.ndarray,
                      start: int, stop: int | None) -> np.ndarray:
        """Only rows start:stop and their sentences are read (a query for one language skips the
        other's rows where a segment keeps them apart, as it does the files of each)."""
        stop = len(passages) if stop is None else stop
        passage = passages[start:stop] @ query
        best = passage.copy()
        first, last = np.searchsorted(self.owners, [start, stop])
        owners = self.owners[first:last]
        if len(owners):
            starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
            best[owners[starts] - start] = np.maximum.reduceat(sentences[first:last] @ query, starts)
        return (passage + best) / 2

    def exact(self, positions: np.ndarray, query: np.ndarray) -> np.ndarray:
        """The similarities of some rows (positions into ``rows``), read from the full vectors: by
        ``dots.c`` where it was built, in one call without the GIL (as ``span_shortlist``)."""
        kernel = dots.kernel()
        if kernel is not None and kernel.takes(self.passages, self.sentences, self.owners,
                                                                       half=True):
            return kernel.exact(self.passages, self.sentences, self.owners, query, positions)
        return self._with_sentences(self.passages[positions] @ query, self.sentences, positions, query)

    def listed(self, at: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows at some positions of the lists (``Lists.probe``), and their similarities as the
        projection estimates them."""
        assert self.projection is not None and self.projection.lists is not None
        lists, projected = self.projection.lists, query @ self.projection.basis
        positions = lists.rows[at]
        return positions, self._with_sentences(lists.projected[at] @ projected, self.projection.sentences,
                                               positions, projected)

    def _with_sentences(self, passage: np.ndarray, sentences: np.ndarray, positions: np.ndarray,
                        query: np.ndarray) -> np.ndarray:
        """The rows' similarities from their passages' (``passage``) and their best sentences'."""
        best = passage.copy()
        if len(self.owners) and len(positions):
            first = np.searchsorted(self.owners, positions, side="left")
            last = np.searchsorted(self.owners, positions, side="right")
            has = last > first
            if has.any():
                counts = last[has] - first[has]
                runs = np.r_[0, np.cumsum(counts)[:-1]]
                indexes = np.repeat(first[has] - runs, counts) + np.arange(counts.sum())
                best[has] = np.maximum.reduceat(sentences[indexes] @ query, runs)
        return (passage + best) / 2

    def release(self) -> None:
        """Let go of the full vectors' pages a query read (they stay in the system's file cache)."""
        release(self.passages)
        release(self.sentences)

    def __len__(self) -> int:
        return len(self.rows)


def best_rows(read: np.ndarray, values: np.ndarray, allowed: np.ndarray,
              keep: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Of rows read and their similarities, those ``allowed`` lets through, the ``keep`` best of
    them (all, for None): positions ascending, and their similarities."""
    read, values = read[allowed[read]], values[allowed[read]]
    if keep is not None and len(read) > keep:
        best = np.argpartition(-values, keep - 1)[:keep]
        read, values = read[best], values[best]
    order = np.argsort(read)
    return read[order], values[order]


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


def load(folder: Path, segment_id: str, space: Space, retry: bool = True) -> SegmentVectors:
    """A segment's vectors in a space, memory-mapped (none if it has none yet, or its files are
    unreadable or of another shape)."""
    path = latest(folder, segment_id)
    empty = SegmentVectors.empty(space)
    if path is None:
        return empty
    if checksums.folder_damaged(path) is not None:
        if retry and not path.exists():
            return load(folder, segment_id, space, retry=False)  # just replaced
        return empty  # the next indexing run computes them again
    try:
        arrays = [mapped(path / f"{name}.npy") for name in _ARRAYS]
    except FileNotFoundError:
        return load(folder, segment_id, space, retry=False) if retry else empty  # just replaced
    except (OSError, ValueError):
        return empty  # unreadable: the next indexing run computes them again
    vectors = SegmentVectors(*arrays, _projection(path, len(arrays[0]), len(arrays[3]), space))
    shapes_agree = (len(vectors.rows) == len(vectors.passages) == len(vectors.digests)
                    and len(vectors.sentences) == len(vectors.owners)
                    and vectors.passages.shape[1:] == (space.dim,) and vectors.sentences.shape[1:] == (space.dim,)
                    and vectors.passages.dtype == space.dtype and vectors.sentences.dtype == space.dtype)
    return vectors if shapes_agree else empty


def _projection(path: Path, rows: int, sentences: int, space: Space) -> Projection | None:
    """A segment's saved projection, with its passages in row order or in lists; None if there is
    none (a small or incomplete segment) or it is unreadable or of another shape: read in full."""
    dims = space.projected_dims

    def arrays(names: tuple[str, ...]) -> list[np.ndarray] | None:
        try:
            return [mapped(path / f"{name}.npy") for name in names]
        except (OSError, ValueError):
            return None

    basis = arrays(("basis",))
    if basis is None or basis[0].shape != (space.dim, dims):
        return None
    coded = arrays(_CODED)
    if coded is not None:
        passages, sentences_coded = dots.Scaled(*coded[:3]), dots.Scaled(*coded[3:])
        if passages.shape == (rows, dims) and sentences_coded.shape == (sentences, dims) \
                and passages.scales.shape == (rows,) and sentences_coded.scales.shape == (sentences,) \
                and passages.centre.shape == sentences_coded.centre.shape == (dims,):
            return Projection(basis[0], sentences_coded, passages)
        return None
    common = arrays(_PROJECTED)
    if common is None or common[1].shape != (sentences, dims):
        return None
    found = arrays(_LISTS)
    if found is not None:
        lists = Lists(*found)
        if (lists.centroids.ndim == 2 and lists.centroids.shape[1] == dims and lists.rows.shape == (rows,)
                and lists.offsets.shape == (len(lists.centroids) + 1,) and int(lists.offsets[-1]) == rows
                and lists.projected.shape == (rows, dims)):
            return Projection(*common, lists=lists)
    passages = arrays(("passages.projected",))
    return Projection(*common, passages[0]) if passages and passages[0].shape == (rows, dims) else None


def wants_layout(vectors: SegmentVectors) -> bool:
    """A complete segment saved by a build before its projection was laid out as it is now: one large
    enough for lists without them, or a smaller one in float32 rather than codes. Saving it again
    lays it out afresh."""
    projection = vectors.projection
    if projection is None or projection.lists is not None:
        return False
    return len(vectors) >= LISTS_FROM or not isinstance(projection.passages, dots.Scaled)


def save(folder: Path, segment_id: str, vectors: SegmentVectors, space: Space, complete: bool = False) -> None:
    """Write a segment's vectors in a space as its newest folder, atomically, and remove the
    older ones; with their projection when the segment is ``complete`` and large."""
    folder.mkdir(exist_ok=True)
    target = folder / f"{segment_id}.{len(vectors)}"
    if checksums.folder_damaged(target) is None and not (complete and wants_layout(vectors)):
        return  # the same passages are covered already

    def write(tmp: Path) -> None:
        tmp.mkdir()
        for name in _ARRAYS:
            array = getattr(vectors, name)
            if name in ("passages", "sentences"):
                array = array.astype(space.dtype, copy=False)
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        if complete and len(vectors) >= PROJECT_FROM:
            projection = Projection.of(vectors.passages, vectors.sentences, space.projected_dims)
            arrays = {"basis": projection.basis}
            if projection.lists is not None:
                lists = projection.lists
                arrays |= dict(zip(_PROJECTED[1:] + _LISTS, (projection.sentences, lists.centroids, lists.rows,
                                                             lists.offsets, lists.projected)))
            else:
                assert isinstance(projection.passages, dots.Scaled) and isinstance(projection.sentences, dots.Scaled)
                arrays |= dict(zip(_CODED, (part for rows in (projection.passages, projection.sentences)
                                            for part in (rows.codes, rows.scales, rows.centre))))
            for name, array in arrays.items():
                np.save(tmp / f"{name}.npy", array, allow_pickle=False)
        checksums.seal_folder(tmp)

    replace_path(target, write)
    for name in os.listdir(folder):
        stem, _, covered = name.partition(".")
        if stem == segment_id and name != target.name:
            shutil.rmtree(folder / name, ignore_errors=True)
