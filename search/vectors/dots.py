"""The vocabulary's shortlist estimates from int8 coordinates (``dots.c``, built at install).

The estimate of a query word's similarity to every vocabulary word reads all of their
coordinates; as float32 that is 30 MB a language, and numpy's product is bound by memory
speed. Stored as int8 (``quantized``: symmetric, a scale per row) they are a quarter of the
bytes, and ``dots.c`` multiplies them with the query words' own int8 coordinates in one pass
(AVX-512 VNNI, else AVX2, chosen at run time; one thread, the GIL released by ctypes), and
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
from typing import Sequence

import numpy as np

from ..files import compiled

ISA = {2: "avx512-vnni", 1: "avx2"}


def quantized(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row as int8 and its scale (row ~ scale * int8): the largest magnitude maps to 127,
    so a value is off by at most half its row's scale."""
    matrix = np.asarray(matrix, dtype=np.float32)
    peaks = np.abs(matrix).max(axis=1) if matrix.shape[1] else np.zeros(len(matrix), np.float32)
    scales = (peaks / 127).astype(np.float32)
    inverse = np.divide(1, scales, out=np.zeros_like(scales), where=scales > 0)
    return np.rint(matrix * inverse[:, None]).clip(-127, 127).astype(np.int8), scales


class Kernel:
    """The built library, bound with ctypes."""

    def __init__(self, path: str, max_isa: int = 2) -> None:
        lib = ctypes.CDLL(path)
        lib.dots_isa.argtypes = [ctypes.c_int]
        lib.dots_estimates.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int,
                                       ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
        isa = lib.dots_isa(max_isa)
        if isa not in ISA:
            raise RuntimeError("dots: the CPU has neither AVX2 nor AVX-512 VNNI")
        self._lib, self._max_isa, self.isa = lib, max_isa, ISA[isa]
        self._best = getattr(lib, "dots_best", None)  # not in a library built from an older dots.c
        if self._best is not None:
            self._best.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
        pointer, size = ctypes.c_void_p, ctypes.c_int64
        self._shortlist = getattr(lib, "dots_shortlist", None)
        if self._shortlist is not None:
            self._shortlist.argtypes = [pointer, pointer, pointer, size, size, pointer, pointer, size, pointer, size,
                                        pointer, pointer, ctypes.c_int]
            self._shortlist.restype = size
        self._exact = getattr(lib, "dots_exact", None)
        if self._exact is not None:
            self._exact.argtypes = [pointer, pointer, ctypes.c_int, pointer, size, size, pointer, pointer, size, pointer,
                                    ctypes.c_int]
            self._exact.restype = None

    @property
    def has_shortlist(self) -> bool:
        """Whether the library has ``shortlist`` and ``exact`` (one built from an older dots.c has not)."""
        return self._shortlist is not None and self._exact is not None

    @staticmethod
    def takes(passages: np.ndarray, sentences: np.ndarray, owners: np.ndarray, half: bool = False) -> bool:
        """Whether ``shortlist`` (or with ``half``, ``exact``, which reads float16 too) reads these as
        they are: C-ordered float32 vectors and int32 owners, as the index writes them (anything
        else is read with numpy)."""
        types = (np.float32, np.float16) if half else (np.float32,)
        return (passages.dtype == sentences.dtype and passages.dtype in types and owners.dtype == np.int32
                and passages.flags.c_contiguous and sentences.flags.c_contiguous and owners.flags.c_contiguous
                and passages.ndim == sentences.ndim == 2 and passages.shape[1] == sentences.shape[1])

    def _bounds(self, passages: np.ndarray, sentences: np.ndarray, owners: np.ndarray, query: np.ndarray,
                spans: Sequence[tuple[int, int]]) -> np.ndarray:
        """The spans as a C array, once the arrays are checked to be as ``shortlist`` reads them."""
        if not self.takes(passages, sentences, owners) or query.dtype != np.float32:
            raise ValueError("dots: shortlist takes C-ordered float32 vectors and int32 owners")
        if passages.shape[1] != query.shape[0]:
            raise ValueError(f"dots: passages {passages.shape}, sentences {sentences.shape}, query {query.shape}")
        bounds = np.ascontiguousarray(spans, dtype=np.int64).reshape(-1, 2)
        if len(bounds) and (bounds[:, 0].min() < 0 or bounds[:, 1].max() > len(passages)
                            or (bounds[:, 1] < bounds[:, 0]).any()):
            raise ValueError("dots: a span outside the passages")
        return bounds

    def shortlist(self, passages: np.ndarray, sentences: np.ndarray, owners: np.ndarray, query: np.ndarray,
                  spans: Sequence[tuple[int, int]], allowed: np.ndarray, keep: int) -> tuple[np.ndarray, np.ndarray]:
        """Of the rows of the spans that ``allowed`` (a bool a row) lets through, the ``keep`` best by
        ``spans``' similarities (of equal ones the lower rows): their rows, ascending, and similarities."""
        bounds = self._bounds(passages, sentences, owners, query, spans)
        if allowed.dtype != np.bool_ or allowed.shape != (len(passages),) or not allowed.flags.c_contiguous:
            raise ValueError("dots: shortlist takes a C-ordered bool a passage")
        rows = np.empty(max(0, keep), dtype=np.int64)
        values = np.empty(max(0, keep), dtype=np.float32)
        assert self._shortlist is not None
        query = np.ascontiguousarray(query)
        found = self._shortlist(passages.ctypes.data, sentences.ctypes.data, owners.ctypes.data, len(owners),
                                query.shape[0], query.ctypes.data, bounds.ctypes.data, len(bounds),
                                allowed.ctypes.data, max(0, keep), rows.ctypes.data, values.ctypes.data,
                                self._max_isa)
        if found < 0:
            raise MemoryError("dots: shortlist")
        return rows[:found], values[:found]

    def exact(self, passages: np.ndarray, sentences: np.ndarray, owners: np.ndarray, query: np.ndarray,
              positions: np.ndarray) -> np.ndarray:
        """The similarities of the rows at ``positions`` (``stored.SegmentVectors.exact``) from
        float32 or float16 vectors, C-ordered as the index writes them."""
        if not self.takes(passages, sentences, owners, half=True) or passages.shape[1] != query.shape[0] \
                or len(sentences) != len(owners):
            raise ValueError("dots: exact takes C-ordered float32 or float16 vectors and int32 owners")
        positions = np.ascontiguousarray(positions, dtype=np.int64)
        if len(positions) and (positions.min() < 0 or positions.max() >= len(passages)):
            raise ValueError("dots: a position outside the passages")
        query = np.ascontiguousarray(query, dtype=np.float32)
        out = np.empty(len(positions), dtype=np.float32)
        assert self._exact is not None
        self._exact(passages.ctypes.data, sentences.ctypes.data, int(passages.dtype == np.float16), owners.ctypes.data, len(owners),
                    query.shape[0], query.ctypes.data, positions.ctypes.data, len(positions), out.ctypes.data,
                    self._max_isa)
        return out

    def estimates(self, rows: np.ndarray, row_scales: np.ndarray, queries: np.ndarray) -> np.ndarray:
        """(queries, rows) similarity estimates of the float ``queries`` (quantized here the same
        way) to int8 ``rows`` scaled by ``row_scales``."""
        rows = np.ascontiguousarray(rows, dtype=np.int8)
        row_scales = np.ascontiguousarray(row_scales, dtype=np.float32)
        codes, scales = quantized(queries)
        out = np.empty((len(codes), len(rows)), dtype=np.float32)
        if not len(rows) or not len(codes):
            return out
        if rows.shape[1] != codes.shape[1] or len(row_scales) != len(rows):
            raise ValueError(f"dots: rows {rows.shape} and queries {codes.shape} do not match")
        if self._lib.dots_estimates(rows.ctypes.data, row_scales.ctypes.data, len(rows), rows.shape[1],
                                    codes.ctypes.data, scales.ctypes.data, len(codes), out.ctypes.data,
                                    self._max_isa) < 0:
            raise ValueError(f"dots: {rows.shape[1]} dimensions (a multiple of 16 up to 1024 are taken)")
        return out

    def best(self, scores: np.ndarray, k: int) -> np.ndarray | None:
        """The columns of each row's ``k`` highest scores, in no order ((rows, k) int64; the lower
        columns of equal scores); None where the library has no ``dots_best`` or k is not below
        the columns."""
        rows, columns = scores.shape
        if self._best is None or not 0 < k < columns:
            return None
        scores = np.ascontiguousarray(scores, dtype=np.float32)
        out = np.empty((rows, k), dtype=np.int64)
        self._best(scores.ctypes.data, columns, rows, k, out.ctypes.data)
        return out


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
