"""The passage and sentence vectors of one index generation, memory-mapped.

Built from the vectors stored in the whoosh index (the single source of truth)
and cached beside it in a folder per generation, written atomically: a stale or
missing cache is simply rebuilt, so it can never disagree with the text index.

A passage's similarity to a query is the mean of its own cosine and that of its
best sentence: a question is usually answered by one sentence, and on XQuAD-R
this mix ranks better than either alone (bench/xquad.py).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
from whoosh.searching import Searcher

from . import embeddings
from .languages import LANGS, Lang
from .store import Store

NOT_A_PASSAGE = -1
_ARRAYS = ("passages", "langs", "sentences", "owners")


@dataclass(frozen=True)
class PassageVectors:  # one per generation folder and process: see _load
    passages: np.ndarray  # (documents, DIM) float32; zero rows for records that are not passages
    langs: np.ndarray  # (documents,) int8: index into LANGS, or NOT_A_PASSAGE
    sentences: np.ndarray  # (sentences, DIM) float32: passages of two sentences or more
    owners: np.ndarray  # (sentences,) int32: the docnum of each sentence's passage, ascending

    @cached_property
    def _sentence_starts(self) -> np.ndarray:
        """Where each passage's run of sentences starts in ``sentences``."""
        return np.flatnonzero(np.r_[True, self.owners[1:] != self.owners[:-1]])

    def similarities(self, query: np.ndarray) -> np.ndarray:
        """Similarity of every row to the query vector: mean of passage and best-sentence cosine."""
        passage = self.passages @ query
        best = passage.copy()
        if len(self.owners):
            starts = self._sentence_starts
            best[self.owners[starts]] = np.maximum.reduceat(self.sentences @ query, starts)
        return (passage + best) / 2

    def nearest(self, scores: np.ndarray, k: int, lang: Lang | None = None) -> dict[int, float]:
        """The k passages (of that language) with the highest similarities: docnum -> similarity."""
        allowed = self.langs == LANGS.index(lang) if lang else self.langs != NOT_A_PASSAGE
        masked = np.where(allowed, scores, -np.inf)
        k = min(k, int(allowed.sum()))
        if k <= 0:
            return {}
        top = np.argpartition(-masked, k - 1)[:k]
        return {int(i): float(scores[i]) for i in top[np.argsort(-masked[top])]}


def for_searcher(store: Store, searcher: Searcher) -> PassageVectors:
    """The vectors of the generation this searcher reads, from the cache or rebuilt into it."""
    generation = searcher.reader().generation()
    folder = store.cache_path(f"vectors-{generation}")
    if folder.is_dir():
        stat = folder.stat()  # in case the index was deleted and built again at the same path
        return _load(str(folder), stat.st_ino, stat.st_mtime_ns)
    vectors = _gather(searcher)
    try:
        _save(folder, vectors)
        for old in store.path.glob("vectors-*"):
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)
    except OSError:
        pass  # a read-only index still answers; it just gathers again next time
    return vectors


@lru_cache(maxsize=4)
def _load(folder: str, inode: int, mtime_ns: int) -> PassageVectors:
    """Opened once per process: a generation's folder never changes once written."""
    return PassageVectors(*(np.load(Path(folder) / f"{name}.npy", mmap_mode="r") for name in _ARRAYS))


def _gather(searcher: Searcher) -> PassageVectors:
    reader = searcher.reader()
    count = reader.doc_count_all()
    passages = np.zeros((count, embeddings.DIM), dtype=np.float32)
    langs = np.full(count, NOT_A_PASSAGE, dtype=np.int8)
    sentences, owners = [], []
    for docnum, stored in reader.iter_docs():  # ascending docnums, so owners ascend too
        if stored.get("lang") not in LANGS or not stored.get("vector"):
            continue
        rows = embeddings.from_bytes(stored["vector"]).reshape(-1, embeddings.DIM)
        passages[docnum] = rows[0]
        langs[docnum] = LANGS.index(stored["lang"])
        if len(rows) > 1:
            sentences.append(rows[1:])
            owners.extend([docnum] * (len(rows) - 1))
    matrix = np.vstack(sentences).astype(np.float32) if sentences else np.zeros((0, embeddings.DIM), np.float32)
    return PassageVectors(passages, langs, matrix, np.asarray(owners, dtype=np.int32))


def _save(folder: Path, vectors: PassageVectors) -> None:
    """Write the arrays into a temporary folder, then rename it into place."""
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name in _ARRAYS:
        np.save(tmp / f"{name}.npy", getattr(vectors, name))
    os.replace(tmp, folder)
