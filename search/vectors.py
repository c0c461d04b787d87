"""The passage vectors of one index generation, as one memory-mapped matrix.

Built from the vectors stored in the whoosh index (the single source of truth)
and cached beside it, one file per generation, written atomically: a stale or
missing cache is simply rebuilt, so it can never disagree with the text index.
Rows are whoosh document numbers; ``langs`` marks each row's passage language
(-1 for rows that are not live passages).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from whoosh.searching import Searcher

from . import embeddings
from .languages import LANGS, Lang
from .store import Store

NOT_A_PASSAGE = -1


@dataclass(frozen=True)
class PassageVectors:
    matrix: np.ndarray  # (documents, DIM) float32, zero rows for non-passages
    langs: np.ndarray  # (documents,) int8: index into LANGS, or NOT_A_PASSAGE

    def nearest(self, query: np.ndarray, k: int, lang: Lang | None = None) -> list[tuple[int, float]]:
        """The k rows most similar to the query vector: (docnum, cosine), best first."""
        if not len(self.langs):
            return []
        scores = self.matrix @ query
        allowed = self.langs == LANGS.index(lang) if lang else self.langs != NOT_A_PASSAGE
        scores = np.where(allowed, scores, -np.inf)
        k = min(k, int(allowed.sum()))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(i), float(scores[i])) for i in top]


def for_searcher(store: Store, searcher: Searcher) -> PassageVectors:
    """The vectors of the generation this searcher reads, from the cache or rebuilt into it."""
    generation = searcher.reader().generation()
    matrix_path = store.cache_path(f"vectors-{generation}.npy")
    langs_path = store.cache_path(f"langs-{generation}.npy")
    if matrix_path.exists() and langs_path.exists():
        return PassageVectors(np.load(matrix_path, mmap_mode="r"), np.load(langs_path, mmap_mode="r"))
    vectors = _gather(searcher)
    try:
        _save(langs_path, vectors.langs)
        _save(matrix_path, vectors.matrix)
        _remove_other_generations(store.path, generation)
    except OSError:
        pass  # a read-only index still answers; it just gathers again next time
    return vectors


def _gather(searcher: Searcher) -> PassageVectors:
    reader = searcher.reader()
    count = reader.doc_count_all()
    matrix = np.zeros((count, embeddings.DIM), dtype=np.float32)
    langs = np.full(count, NOT_A_PASSAGE, dtype=np.int8)
    for docnum, stored in reader.iter_docs():
        vector = stored.get("vector")
        if stored.get("lang") in LANGS and vector:
            matrix[docnum] = embeddings.from_bytes(vector)
            langs[docnum] = LANGS.index(stored["lang"])
    return PassageVectors(matrix, langs)


def _save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as out:
        np.save(out, array)
    os.replace(tmp, path)


def _remove_other_generations(folder: Path, generation: int) -> None:
    keep = {f"vectors-{generation}.npy", f"langs-{generation}.npy"}
    for path in folder.glob("*-*.npy"):
        if path.name.startswith(("vectors-", "langs-")) and path.name not in keep:
            path.unlink(missing_ok=True)
