"""Sentence vectors: cross-lingual, normalised, and quick to start."""

from pathlib import Path

import numpy as np
import pytest

from search import embeddings


def test_vectors_are_normalised_and_cross_lingual() -> None:
    vectors = embeddings.encode(["air defense systems", "системы противовоздушной обороны",
                                 "the recipe needs two eggs"])
    assert vectors.shape == (3, embeddings.DIM)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_short_texts_are_encoded_once_and_compared() -> None:
    similarities = embeddings.similarities("city", ["город", "большой"])
    assert similarities.shape == (2,) and similarities[0] > similarities[1]
    assert embeddings.short_vectors(["city"])[0] @ embeddings.short_vectors(["город"])[0] == pytest.approx(
        float(similarities[0]), abs=1e-6)


def test_the_tokenizer_is_built_once_then_read_from_the_cache(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    built = []
    first = embeddings._cached_tokenizer(lambda: built.append(1) or {"pieces": ["▁air", "▁defense"]})
    again = embeddings._cached_tokenizer(lambda: built.append(1) or {"pieces": []})
    assert built == [1] and again == first
    assert list((tmp_path / "search").iterdir())


def test_an_unreadable_tokenizer_cache_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    embeddings._cached_tokenizer(lambda: "tokenizer")
    for path in (tmp_path / "search").iterdir():
        path.write_bytes(b"garbage")
    assert embeddings._cached_tokenizer(lambda: "rebuilt") == "rebuilt"
    assert embeddings._cached_tokenizer(lambda: "not needed") == "rebuilt"
