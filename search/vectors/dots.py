"""The vocabulary's shortlist estimates from int8 coordinates (``dots.c``, built at install).

The estimate of a query word's similarity to every vocabulary word reads all of their
coordinates; as float32 that is 30 MB a language, and numpy's product is bound by memory
speed. Stored as int8 (``quantized``: symmetric, a scale per row) they are a quarter of the
bytes, and ``dots.c`` multiplies them with the query words' own int8 coordinates in one pass
(AVX-512 VNNI, else AVX2, chosen at run time; one thread, the GIL released by ctypes; the rows laid
out in blocks of 16, ``blocked``, so that one load serves every query word), and
picks each query word's shortlist from the estimates (``Kernel.best``: one pass with a heap,
where numpy's partitions took three; a headline's neighbours 2.3 ms instead of 3.4).

It also reads passage vectors for ``stored.SegmentVectors``: a segment's shortlist of passages
nearest a query, estimated from its projection over runs of rows (``Kernel.shortlist``), and the
exact similarities of some rows from their float32 or float16 vectors (``Kernel.exact``), each in
one call, so that e5's nearest passages, read on e5's thread, do not wait for the GIL the
caller's Python holds.

The library is optional: where it was not built, or the CPU has neither, ``kernel`` gives
None and the vocabulary multiplies its float32 coordinates with numpy (and passages are read
with numpy).
"""

from __future__ import annotations

import ctypes
from functools import cache
from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np

from ..files import compiled, compiled_library

ISA = {2: "avx512-vnni", 1: "avx2"}
VERSION = 2
"""The layout and arguments of ``dots.c`` this module passes (its ``dots_version``): 2 reads the
vocabulary's rows in blocks (``blocked``)."""


def quantized(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row as int8 and its scale (row ~ scale * int8): the largest magnitude maps to 127,
    so a value is off by at most half its row's scale."""
    matrix = np.asarray(matrix, dtype=np.float32)
    peaks = np.abs(matrix).max(axis=1) if matrix.shape[1] else np.zeros(len(matrix), np.float32)
    scales = (peaks / 127).astype(np.float32)
    inverse = np.divide(1, scales, out=np.zeros_like(scales), where=scales > 0)
    return np.rint(matrix * inverse[:, None]).clip(-127, 127).astype(np.int8), scales


BLOCK = 16
"""Rows a block of ``blocked``."""


def blocked(codes: np.ndarray) -> np.ndarray:
    """int8 rows (n, dims) as ``Kernel.estimates`` reads them: blocks of BLOCK rows, each 4 dims of
    the block's rows together ((ceil(n / BLOCK), dims / 4, BLOCK, 4); rows past n zero), so that
    one vector load serves every query word (see dots.c)."""
    n, dims = codes.shape
    if dims % 4:
        raise ValueError(f"dots: {dims} dimensions do not split into chunks of 4")
    padded = np.zeros((-(-n // BLOCK) * BLOCK, dims), np.int8)
    padded[:n] = codes
    return np.ascontiguousarray(padded.reshape(-1, BLOCK, dims // 4, 4).transpose(0, 2, 1, 3))


def unblocked(blocks: np.ndarray, n: int) -> np.ndarray:
    """The rows ``blocked`` laid out, (n, dims)."""
    return blocks.transpose(0, 2, 1, 3).reshape(-1, blocks.shape[1] * 4)[:n]


@dataclass(frozen=True)
class Scaled:
    """Rows kept as int8 codes about a centre, each scaled by its row's scale (``quantized``): row ~
    centre + scale * codes. As ``Kernel.shortlist`` reads them, and as float32 rows where numpy
    reads them (a slice or rows taken are scaled back).

    The centre is the passages' mean: e5's vectors share a large common part (their cosines run
    0.75-0.90), which about the origin sets every row's scale. On the 1x WMT bench index, of 120
    headlines' 100 nearest passages (``stored.Projection``), shortlists from codes about the origin
    ended with 19 other passages than float32's, about each matrix's mean 4, as from float16."""

    codes: np.ndarray  # (R, dims) int8
    scales: np.ndarray  # (R,) float32
    centre: np.ndarray  # (dims,) float32

    @classmethod
    def of(cls, matrix: np.ndarray, centre: np.ndarray) -> "Scaled":
        centre = np.asarray(centre, dtype=np.float32)
        return cls(*quantized(np.asarray(matrix, dtype=np.float32) - centre), centre)

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.codes.shape

    def __getitem__(self, rows: slice | np.ndarray) -> np.ndarray:
        return self.centre + self.codes[rows].astype(np.float32) * self.scales[rows, None]

    def readable(self) -> bool:
        """Whether ``Kernel.shortlist`` reads these as they are (as the index writes them)."""
        return (self.codes.dtype == np.int8 and self.scales.dtype == self.centre.dtype == np.float32
                and self.codes.ndim == 2 and self.codes.flags.c_contiguous and self.scales.flags.c_contiguous
                and self.scales.shape == (len(self.codes),) and self.centre.shape == self.codes.shape[1:])


Rows = Union[np.ndarray, Scaled]


class Kernel:
    """The built library, bound with ctypes."""

    def __init__(self, path: str, max_isa: int = 2) -> None:
        lib = compiled_library(path, "dots_version", VERSION)
        if lib is None:
            raise RuntimeError("dots: a library built from another dots.c (pip install -e . builds it again)")
        lib.dots_isa.argtypes = [ctypes.c_int]
        lib.dots_estimates.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int,
                                       ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
        isa = lib.dots_isa(max_isa)
        if isa not in ISA:
            raise RuntimeError("dots: the CPU has neither AVX2 nor AVX-512 VNNI")
        self._lib, self._max_isa, self.isa = lib, max_isa, ISA[isa]
        pointer, size, real = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
        self._best = lib.dots_best
        self._best.argtypes = [pointer, size, ctypes.c_int, ctypes.c_int, pointer]
        self._shortlist = lib.dots_shortlist
        self._shortlist.argtypes = [pointer, pointer, real, pointer, pointer, real, pointer, size, size, pointer,
                                    pointer, size, pointer, size, pointer, pointer, ctypes.c_int]
        self._shortlist.restype = size
        self._nearest = lib.dots_nearest
        self._nearest.argtypes = [pointer, size, size, size, pointer, size, size, size, pointer, pointer, ctypes.c_int]
        self._nearest.restype = size
        self._exact = lib.dots_exact
        self._exact.argtypes = [pointer, pointer, ctypes.c_int, pointer, size, size, pointer, pointer, size, pointer,
                                ctypes.c_int]
        self._exact.restype = None

    @staticmethod
    def takes(passages: Rows, sentences: Rows, owners: np.ndarray, half: bool = False) -> bool:
        """Whether ``shortlist`` reads these as they are: C-ordered float32 vectors, or int8 codes
        (``Scaled``), as the index writes them, and int32 owners, one a sentence (anything else is read
        with numpy).
        With ``half``: whether ``exact`` does, which reads float32 and float16 vectors."""
        if not (owners.dtype == np.int32 and owners.flags.c_contiguous and len(passages.shape) == 2
                and len(sentences.shape) == 2 and passages.shape[1] == sentences.shape[1]
                and len(sentences) == len(owners)):
            return False
        if isinstance(passages, Scaled) or isinstance(sentences, Scaled):
            return not half and isinstance(passages, Scaled) and isinstance(sentences, Scaled) \
                and passages.readable() and sentences.readable()
        types = (np.float32, np.float16) if half else (np.float32,)
        return (passages.dtype == sentences.dtype and passages.dtype in types
                and passages.flags.c_contiguous and sentences.flags.c_contiguous)

    def shortlist(self, passages: Rows, sentences: Rows, owners: np.ndarray, query: np.ndarray,
                  spans: Sequence[tuple[int, int]], allowed: np.ndarray, keep: int) -> tuple[np.ndarray, np.ndarray]:
        """Of the rows of the spans (start, stop) that ``allowed`` (a bool a row) lets through, the
        ``keep`` best (of equal ones the lower rows) by their similarity to ``query``, the mean of
        the passage's dot and its sentences' best (``owners``: each sentence's row, ascending):
        their rows, ascending, and similarities. From float32 rows, or from int8 codes (``Scaled``)."""
        if not self.takes(passages, sentences, owners) or query.dtype != np.float32:
            raise ValueError("dots: shortlist takes C-ordered float32 or int8 vectors and int32 owners")
        if passages.shape[1] != query.shape[0]:
            raise ValueError(f"dots: passages {passages.shape}, sentences {sentences.shape}, query {query.shape}")
        bounds = _within(np.ascontiguousarray(spans, dtype=np.int64).reshape(-1, 2), len(passages))
        if allowed.dtype != np.bool_ or allowed.shape != (len(passages),) or not allowed.flags.c_contiguous:
            raise ValueError("dots: shortlist takes a C-ordered bool a passage")
        rows = np.empty(max(0, keep), dtype=np.int64)
        values = np.empty(max(0, keep), dtype=np.float32)
        query = np.ascontiguousarray(query)
        (passage_rows, passage_scales, passage_offset), (sentence_rows, sentence_scales, sentence_offset) = (
            (matrix.codes.ctypes.data, matrix.scales.ctypes.data, float(matrix.centre @ query))
            if isinstance(matrix, Scaled) else (matrix.ctypes.data, None, 0.0) for matrix in (passages, sentences))
        found = self._shortlist(passage_rows, passage_scales, passage_offset, sentence_rows, sentence_scales,
                                sentence_offset, owners.ctypes.data,
                                len(owners), query.shape[0], query.ctypes.data, bounds.ctypes.data, len(bounds),
                                allowed.ctypes.data, max(0, keep), rows.ctypes.data, values.ctypes.data,
                                self._max_isa)
        if found < 0:
            raise MemoryError("dots: shortlist")
        return rows[:found], values[:found]

    def segment(self, basis: np.ndarray, passages: Scaled, sentences: Scaled, owners: np.ndarray,
                spans: np.ndarray, allowed: np.ndarray, full_passages: np.ndarray, full_sentences: np.ndarray,
                docnums: np.ndarray) -> list[int] | None:
        """One segment's row of the table ``nearest`` reads (``dots.c``'s segment_t), or None where
        it does not read these as they are. The table holds their addresses: whoever keeps it keeps
        the arrays too."""
        dims = basis.shape[1] if basis.ndim == 2 else -1
        if not (basis.dtype == np.float32 and basis.flags.c_contiguous
                and self.takes(passages, sentences, owners) and passages.shape[1] == dims
                and self.takes(full_passages, full_sentences, owners, half=True)
                and full_passages.shape == (len(passages), basis.shape[0])
                and spans.dtype == np.int64 and spans.flags.c_contiguous and spans.ndim == 2 and spans.shape[1] == 2
                and allowed.dtype == np.bool_ and allowed.shape == (len(passages),) and allowed.flags.c_contiguous
                and docnums.dtype == np.int64 and docnums.shape == (len(passages),) and docnums.flags.c_contiguous):
            return None
        _within(spans, len(passages))
        return [array.ctypes.data for array in (basis, passages.codes, passages.scales, passages.centre,
                                                sentences.codes, sentences.scales, sentences.centre, owners)] + [
            len(owners), spans.ctypes.data, len(spans), allowed.ctypes.data, full_passages.ctypes.data,
            full_sentences.ctypes.data, int(full_passages.dtype == np.float16), docnums.ctypes.data, len(passages)]

    def nearest(self, table: np.ndarray, dims: int, query: np.ndarray, keep: int, keep_total: int,
                k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k rows of the table's segments (``segment``) nearest ``query``, by the similarity
        ``exact`` gives, best first (equal ones by docnum): their docnums and similarities. Each
        segment's ``keep`` best by its projection's estimate are shortlisted, and of those the
        ``keep_total`` best estimates are scored exactly."""
        query = np.ascontiguousarray(query, dtype=np.float32)
        table = np.ascontiguousarray(table, dtype=np.uint64)
        docnums, values = np.empty(max(0, k), np.int64), np.empty(max(0, k), np.float32)
        found = self._nearest(table.ctypes.data, len(table), dims, len(query), query.ctypes.data, keep, keep_total, k,
                              docnums.ctypes.data, values.ctypes.data, self._max_isa)
        if found < 0:
            raise MemoryError("dots: nearest")
        return docnums[:found], values[:found]

    def exact(self, passages: np.ndarray, sentences: np.ndarray, owners: np.ndarray, query: np.ndarray,
              positions: np.ndarray) -> np.ndarray:
        """The similarities of the rows at ``positions`` (``stored.SegmentVectors.exact``) from
        float32 or float16 vectors, C-ordered as the index writes them."""
        if not self.takes(passages, sentences, owners, half=True) or passages.shape[1] != query.shape[0]:
            raise ValueError("dots: exact takes C-ordered float32 or float16 vectors and int32 owners")
        positions = np.ascontiguousarray(positions, dtype=np.int64)
        if len(positions) and (positions.min() < 0 or positions.max() >= len(passages)):
            raise ValueError("dots: a position outside the passages")
        query = np.ascontiguousarray(query, dtype=np.float32)
        out = np.empty(len(positions), dtype=np.float32)
        self._exact(passages.ctypes.data, sentences.ctypes.data, int(passages.dtype == np.float16), owners.ctypes.data, len(owners),
                    query.shape[0], query.ctypes.data, positions.ctypes.data, len(positions), out.ctypes.data,
                    self._max_isa)
        return out

    def estimates(self, blocks: np.ndarray, row_scales: np.ndarray, queries: np.ndarray) -> np.ndarray:
        """(queries, rows) similarity estimates of the float ``queries`` (quantized here the same
        way) to int8 rows laid out by ``blocked``, each scaled by its ``row_scales``."""
        blocks = np.ascontiguousarray(blocks, dtype=np.int8)
        row_scales = np.ascontiguousarray(row_scales, dtype=np.float32)
        codes, scales = quantized(queries)
        n = len(row_scales)
        out = np.empty((len(codes), n), dtype=np.float32)
        if not n or not len(codes):
            return out
        if blocks.shape != (-(-n // BLOCK), codes.shape[1] // 4, BLOCK, 4) or codes.shape[1] % 4:
            raise ValueError(f"dots: {n} rows in blocks {blocks.shape} and queries {codes.shape} do not match")
        if self._lib.dots_estimates(blocks.ctypes.data, row_scales.ctypes.data, n, codes.shape[1],
                                    codes.ctypes.data, scales.ctypes.data, len(codes), out.ctypes.data,
                                    self._max_isa) < 0:
            raise ValueError(f"dots: {codes.shape[1]} dimensions (a multiple of 16 up to 1024 are taken)")
        return out

    def best(self, scores: np.ndarray, k: int) -> np.ndarray | None:
        """The columns of each row's ``k`` highest scores, in no order ((rows, k) int64; the lower
        columns of equal scores); None where k is not below the columns."""
        rows, columns = scores.shape
        if not 0 < k < columns:
            return None
        scores = np.ascontiguousarray(scores, dtype=np.float32)
        out = np.empty((rows, k), dtype=np.int64)
        self._best(scores.ctypes.data, columns, rows, k, out.ctypes.data)
        return out


def _within(spans: np.ndarray, rows: int) -> np.ndarray:
    """The spans (start, stop), once each is found to lie within ``rows`` rows."""
    if len(spans) and (spans[:, 0].min() < 0 or spans[:, 1].max() > rows or (spans[:, 1] < spans[:, 0]).any()):
        raise ValueError("dots: a span outside the passages")
    return spans


def load(max_isa: int = 2) -> Kernel | None:
    """The kernel, or None where it was not built or cannot run here."""
    path = compiled(__file__, "_dots")
    if path is None:
        return None
    try:
        return Kernel(path, max_isa)
    except (OSError, RuntimeError):
        return None


@cache
def kernel() -> Kernel | None:
    """The best kernel here, loaded once."""
    return load()
