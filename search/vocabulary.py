"""Word vectors of the index's own vocabulary, to translate words as the index writes them.

For each language, the most frequent indexed word forms are embedded with the
sentence encoder; a query word is embedded too, and its nearest neighbours
among the other language's words become candidate translations beside the
lexicon's (immunodeficiency -> иммунодефицит, Warsaw -> Варшава, points -> очков).
Only close neighbours count: below a floor the encoder's word similarities
are mostly noise (the caller sets it: see ``query.translate``).

The vectors are kept beside the index and refreshed after each indexing run,
re-embedding only words not seen before. A stale vocabulary is harmless: a
neighbour that no longer occurs in the index simply matches nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
from whoosh.searching import Searcher

from . import embeddings
from .atomic import replace_file
from .analysis import normal_forms
from .languages import LANGS, Lang, other, script_of
from .store import Store

MAX_WORDS = 30_000
"""Per language: the most frequent word forms are embedded."""
MIN_LENGTH = 3
NEIGHBOURS = 3


@dataclass(frozen=True, eq=False)  # hashed by identity: one object per loaded file (see _cached)
class Vocabulary:
    """One language's embedded word forms (as the ``exact`` field writes them) and their vectors."""

    words: list[str]
    matrix: np.ndarray  # (words, DIM) float32

    @cached_property
    def rows(self) -> dict[str, int]:
        """Word -> its row in ``matrix``."""
        return {word: row for row, word in enumerate(self.words)}


def load(store: Store, lang: Lang) -> Vocabulary | None:
    """The vocabulary of one language, loaded once per process until it is refreshed."""
    return _cached(str(store.path), lang, _stamp(store.path, lang))


def refresh(store: Store, searcher: Searcher) -> None:
    """Bring the vocabulary vectors in line with the index, embedding only new words."""
    frequent = _frequent_words(searcher)
    for lang in LANGS:
        old = _load(store.path, lang)
        known = dict(zip(old[0], old[1])) if old else {}
        words = frequent[lang]
        new = [word for word in words if word not in known]
        vectors = dict(zip(new, embeddings.encode(new))) if new else {}
        matrix = np.array([known[w] if w in known else vectors[w] for w in words], dtype=np.float16)
        _save(store.path, lang, words, matrix.reshape(len(words), embeddings.DIM))


def neighbours(store: Store, word: str, lang: Lang, floor: float) -> list[tuple[str, float]]:
    """Words of the other language at least ``floor`` close to ``word``, with weights summing to one."""
    vocabulary = load(store, other(lang))
    if vocabulary is None or not vocabulary.words:
        return []
    words = vocabulary.words
    similarities = vocabulary.matrix @ embeddings.short_vectors([word])[0]
    best: dict[str, float] = {}
    for i in np.argsort(-similarities)[: NEIGHBOURS * 4]:
        if similarities[i] < floor or len(best) == NEIGHBOURS:
            break
        best.setdefault(normal_forms(words[i])[0], float(similarities[i]))
    total = sum(best.values())
    return [(lemma, similarity / total) for lemma, similarity in best.items()]


def _frequent_words(searcher: Searcher) -> dict[Lang, list[str]]:
    counts: dict[Lang, list[tuple[int, str]]] = {lang: [] for lang in LANGS}
    for term, info in searcher.reader().iter_field("exact"):
        word = term.decode("utf-8") if isinstance(term, bytes) else term
        lang = script_of(word)
        if lang and len(word) >= MIN_LENGTH and word.isalpha():
            counts[lang].append((info.doc_frequency(), word))
    return {lang: [w for _, w in sorted(pairs, key=lambda p: (-p[0], p[1]))[:MAX_WORDS]]
            for lang, pairs in counts.items()}


def _paths(folder: Path, lang: Lang) -> tuple[Path, Path]:
    return folder / f"vocabulary-{lang}.json", folder / f"vocabulary-{lang}.npy"


def _stamp(folder: Path, lang: Lang) -> int:
    try:
        return _paths(folder, lang)[1].stat().st_mtime_ns
    except OSError:
        return 0


def _load(folder: Path, lang: Lang) -> tuple[list[str], np.ndarray] | None:
    words_path, matrix_path = _paths(folder, lang)
    try:
        words = json.loads(words_path.read_text(encoding="utf-8"))
        matrix = np.load(matrix_path, mmap_mode="r")
    except (OSError, ValueError):
        return None
    return (words, matrix) if len(words) == len(matrix) else None


@lru_cache(maxsize=4)
def _cached(folder: str, lang: Lang, stamp: int) -> Vocabulary | None:
    """Loaded once per process until the files change (the stamp), as float32: numpy has
    no fast float16 matrix product."""
    loaded = _load(Path(folder), lang)
    return Vocabulary(loaded[0], np.asarray(loaded[1], dtype=np.float32)) if loaded else None


def _save(folder: Path, lang: Lang, words: list[str], matrix: np.ndarray) -> None:
    """Matrix first, then the word list, each replaced atomically; _load checks they agree."""
    words_path, matrix_path = _paths(folder, lang)
    replace_file(matrix_path, lambda out: np.save(out, matrix))
    replace_file(words_path, lambda out: out.write(json.dumps(words, ensure_ascii=False).encode("utf-8")))
