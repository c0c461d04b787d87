"""Word vectors of the index's own vocabulary, to translate words as the index writes them.

For each language, the most frequent indexed word forms are embedded (their
vectors come from the machine's cache, ``wordvectors``); a query word is
embedded too, and its nearest neighbours among the other language's words
become candidate translations beside the lexicon's (immunodeficiency ->
иммунодефицит, Warsaw -> Варшава, points -> очков). Only close neighbours
count: below a floor the encoder's word similarities are mostly noise (the
Ranking sets it).

The indexer writes the vocabulary at the end of each run, into a new folder
renamed into place (``vocabulary.<generation>``); queries read the newest one.
A stale vocabulary is harmless: a neighbour that no longer occurs in the index
simply matches nothing.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from .embeddings import DIM
from .files import replace_path
from .languages import LANGS, Lang, script_of
from .schema import EXACT
from .codec import ArrayTermsReader

MAX_WORDS = 30_000
"""Per language: the most frequent word forms are embedded."""
MIN_LENGTH = 3
"""Shorter words are not embedded (their vectors are noise)."""
PREFIX = "vocabulary."


@dataclass(frozen=True, eq=False)  # hashed by identity: one object per loaded folder
class Vocabulary:
    """One language's embedded word forms (as the ``exact`` field writes them) and their vectors."""

    words: list[str]
    matrix: np.ndarray  # (words, DIM) float32

    @cached_property
    def rows(self) -> dict[str, int]:
        """Word -> its row in ``matrix``."""
        return {word: row for row, word in enumerate(self.words)}

    def nearest(self, vectors: np.ndarray, count: int) -> list[list[tuple[str, float]]]:
        """For each vector, the ``count`` closest words and their similarities, closest first:
        one matrix product for all of them."""
        if not len(self.words) or not len(vectors):
            return [[] for _ in range(len(vectors))]
        similarities = vectors @ self.matrix.T
        count = min(count, len(self.words))
        best = np.argpartition(-similarities, count - 1, axis=1)[:, :count]
        result = []
        for row, chosen in zip(similarities, best):
            chosen = chosen[np.argsort(-row[chosen], kind="stable")]
            result.append([(self.words[i], float(row[i])) for i in chosen])
        return result


def embeddable(word: str) -> bool:
    """A word the vocabulary could hold: letters only, MIN_LENGTH or more."""
    return word.isalpha() and len(word) >= MIN_LENGTH


def frequent_words(segments: Iterable[ArrayTermsReader]) -> dict[Lang, list[str]]:
    """Per language, the MAX_WORDS word forms of the ``exact`` field held by most records."""
    frequency: dict[str, int] = {}
    for terms in segments:
        for tbytes, count in terms.doc_frequencies(EXACT):
            word = tbytes.decode("utf-8")
            if embeddable(word):
                frequency[word] = frequency.get(word, 0) + count
    by_lang: dict[Lang, list[tuple[int, str]]] = {lang: [] for lang in LANGS}
    for word, count in frequency.items():
        lang = script_of(word)
        if lang:
            by_lang[lang].append((count, word))
    return {lang: [w for _, w in sorted(pairs, key=lambda p: (-p[0], p[1]))[:MAX_WORDS]]
            for lang, pairs in by_lang.items()}


def save(folder: Path, generation: int, words: dict[Lang, list[str]],
         vectors: Callable[[Sequence[str]], np.ndarray]) -> None:
    """Write the vocabulary of a generation (``vectors`` gives the words' vectors), atomically."""
    target = folder / f"{PREFIX}{generation}"

    def write(tmp: Path) -> None:
        tmp.mkdir()
        for lang, chosen in words.items():
            matrix = vectors(chosen).astype(np.float32).reshape(len(chosen), DIM)
            np.save(tmp / f"{lang}.npy", matrix, allow_pickle=False)
            (tmp / f"{lang}.json").write_text(json.dumps(chosen, ensure_ascii=False), encoding="utf-8")

    replace_path(target, write)
    for old in _folders(folder):
        if old != target:
            shutil.rmtree(old, ignore_errors=True)


def load(folder: Path) -> dict[Lang, Vocabulary]:
    """The newest vocabulary, memory-mapped; empty if there is none or it is unreadable."""
    found = sorted(_folders(folder), key=lambda path: int(path.name[len(PREFIX):]))
    if not found:
        return {}
    vocabularies = {}
    for lang in LANGS:
        try:
            words = json.loads((found[-1] / f"{lang}.json").read_text(encoding="utf-8"))
            matrix = np.load(found[-1] / f"{lang}.npy", mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            continue
        if isinstance(words, list) and matrix.shape == (len(words), DIM):
            vocabularies[lang] = Vocabulary([str(w) for w in words], matrix)
    return vocabularies


def _folders(folder: Path) -> list[Path]:
    try:
        return [folder / name for name in os.listdir(folder)
                if name.startswith(PREFIX) and name[len(PREFIX):].isdigit()]
    except OSError:
        return []
