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
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from ..files import mapped, replace_path
from ..languages import LANGS, Lang, script_of
from ..storage import checksums, wordsets
from ..storage.codec import ArrayTermsReader
from ..storage.schema import EXACT
from . import dots
from .embeddings import DIM, SPACE
from .stored import principal_components

MEMORY = 100_000
"""Look-ups of words a loaded vocabulary keeps."""
NEIGHBOURS_MEMO = 20_000
"""Query words whose neighbours a vocabulary keeps in memory (``Vocabulary.neighbours``): up to
12 pairs each, some 20 MB."""
MAX_WORDS = 30_000
"""Per language: the most frequent word forms are embedded."""
MIN_LENGTH = 3
"""Shorter words are not embedded (their vectors are noise)."""
PROJECTED_FROM = 8192
"""Vocabularies smaller than this are searched in full: the product is cheap already."""
SHORTLIST = 48
"""Words per query word, best by the projection, that are scored exactly. (A margin below the
floor instead admitted some 500 words each: USE's word vectors crowd together above 0.5.)"""
PREFIX = "vocabulary."


class Words(Sequence[str]):
    """A vocabulary's words by row (most frequent first), and each word's row."""

    def row(self, word: str) -> int | None:
        """The word's row, if the vocabulary has it."""
        raise NotImplementedError

    def rows(self, words: Sequence[str]) -> list[int | None]:
        """Each word's row, if the vocabulary has it."""
        return [self.row(word) for word in words]


class ListedWords(Words):
    """Words held in memory (a vocabulary computed, not loaded)."""

    def __init__(self, words: Sequence[str]) -> None:
        self._words = list(words)
        self._rows = dict(zip(self._words, range(len(self._words))))

    def __len__(self) -> int:
        return len(self._words)

    def __getitem__(self, row):  # type: ignore[no-untyped-def, override]
        return self._words[row]

    def row(self, word: str) -> int | None:
        return self._rows.get(word)


_UNSEEN = object()


class MappedWords(Words):
    """Words as ``save`` writes them, memory-mapped: sorted, as fixed-width UTF-8
    (``{lang}.sorted.npy``), with each one's row (``{lang}.order.npy``).

    Opening them decodes and hashes nothing: a JSON list of 30,000 words a language and a dict
    of their rows took 20-30 ms of a first query. Look-ups are binary searches, memoised (MEMORY
    words, then afresh); the words a query meets first are searched together (``rows``).
    """

    def __init__(self, ordered: np.ndarray, order: np.ndarray) -> None:
        self._sorted, self._order = ordered, order
        self._position = np.empty_like(order)
        self._position[order] = np.arange(len(order), dtype=order.dtype)
        self._known: dict[str, int | None] = {}

    def __len__(self) -> int:
        return len(self._order)

    def __getitem__(self, row):  # type: ignore[no-untyped-def, override]
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        return self._sorted[self._position[row]].decode("utf-8")

    def __iter__(self) -> Iterator[str]:
        return iter([word.decode("utf-8") for word in self._sorted[self._position]])

    def row(self, word: str) -> int | None:
        found = self._known.get(word, _UNSEEN)
        return self.rows([word])[0] if found is _UNSEEN else found  # type: ignore[return-value]

    def rows(self, words: Sequence[str]) -> list[int | None]:
        """Each word's row, if the vocabulary has it: the words not met before in one binary
        search (looked up one by one, a passage's new words took 5 µs each). Safe beside other
        threads: each reads the memo once a word, and may only find it emptied."""
        known = self._known
        found = {word: known.get(word, _UNSEEN) for word in words}
        new = [word for word, row in found.items() if row is _UNSEEN]
        if new:
            searched = dict(zip(new, self._search(new)))
            found.update(searched)
            if len(known) + len(new) > MEMORY:
                known.clear()
            known.update(searched)
        return [found[word] for word in words]  # type: ignore[misc]

    def _search(self, words: list[str]) -> list[int | None]:
        if not len(self._sorted):
            return [None] * len(words)
        width = self._sorted.dtype.itemsize
        encoded = [word.encode("utf-8") for word in words]
        # too long to be a word of the vocabulary, or with NULs that fixed-width bytes would drop
        usable = [len(e) <= width and b"\x00" not in e for e in encoded]
        keys = np.array([e if ok else b"" for e, ok in zip(encoded, usable)], dtype=self._sorted.dtype)
        at = np.minimum(self._sorted.searchsorted(keys), len(self._sorted) - 1)
        found = (self._sorted[at] == keys) & np.array(usable)
        return [row if hit else None for row, hit in zip(self._order[at].tolist(), found.tolist())]

    @staticmethod
    def arrays(words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """What ``save`` writes of the words: the sorted ones and each one's row."""
        encoded = np.array([word.encode("utf-8") for word in words], dtype=bytes)
        order = np.argsort(encoded, kind="stable").astype(np.int32)
        return encoded[order], order


@dataclass(frozen=True, eq=False)  # hashed by identity: one object per loaded folder
class Vocabulary:
    """One language's embedded word forms (as the ``exact`` field writes them) and their vectors."""

    words: Words
    """Given as a list, they are held as ``ListedWords``."""
    matrix: np.ndarray  # (words, DIM) float32
    projection: tuple[np.ndarray, np.ndarray] | None = None
    """The basis (DIM, the sentence encoder's projected dimensions) and the words' coordinates in it."""
    quantized: tuple[np.ndarray, np.ndarray] | None = None
    """The coordinates as int8 in blocks (``dots.quantized``, ``dots.blocked``) and each word's scale,
    which the estimate reads where the ``dots`` kernel is built: a quarter of the bytes."""
    hashes: np.ndarray | None = None
    """The words' hashes and rows (``wordsets.table``), as ``save`` writes them; computed when first
    asked for where the words are held in memory."""

    def __post_init__(self) -> None:
        if not isinstance(self.words, Words):
            object.__setattr__(self, "words", ListedWords(self.words))
        object.__setattr__(self, "_neighbours", OrderedDict())

    def hashed(self) -> np.ndarray | None:
        """The words' hashes and rows (``wordsets.table``), which passages' words are looked up in;
        None for a vocabulary written before it kept them (its passages are aligned from their text)."""
        if self.hashes is None and isinstance(self.words, ListedWords):
            object.__setattr__(self, "hashes", wordsets.table(list(self.words)))
        return self.hashes

    def neighbours(self, words: Sequence[str], vectors: Callable[[Sequence[str]], np.ndarray], count: int,
                   floor: float = -1.0) -> list[list[tuple[str, float]]]:
        """``nearest`` of the words' vectors (``vectors`` gives them), memoised per word: a word's
        vector is the same in every query, and its neighbours among these rows cost 0.3-0.6 ms a
        word (the int8 estimates read 7.7 MB at 30,000 words), which a server, a batch or a
        query of a word met before then skips. At most NEIGHBOURS_MEMO words are kept.

        Only a vocabulary searched through its projection remembers: there a word's neighbours
        are computed from its own vector alone, bit for bit the same beside any other words. A
        small one's single product (a few ms at most) is left as it is: BLAS may round a row's
        similarities in the last bit differently with the number of words beside it."""
        if self.projection is None:
            return self.nearest(vectors(words), count, floor)
        memo: OrderedDict[tuple[str, int, float], list[tuple[str, float]]] = self._neighbours  # type: ignore[attr-defined]
        keys = [(word, count, floor) for word in words]
        missing = list(dict.fromkeys(key[0] for key in keys if key not in memo))
        if missing:
            memo.update(((word, count, floor), found)
                        for word, found in zip(missing, self.nearest(vectors(missing), count, floor)))
            while len(memo) > NEIGHBOURS_MEMO:
                memo.popitem(last=False)
        return [memo[key] for key in keys]

    def row(self, word: str) -> int | None:
        """The word's row in ``matrix``, if the vocabulary has it."""
        return self.words.row(word)

    def nearest(self, vectors: np.ndarray, count: int, floor: float = -1.0) -> list[list[tuple[str, float]]]:
        """For each vector, its closest words at least ``floor`` similar (at most ``count``), with
        their exact similarities, closest first.

        The words' results are each their own where the vocabulary has a projection (each
        vector projected and scored exactly alone; the int8 estimates are exact sums, numpy's
        float32 ones may differ in the last bit, which moves no shortlist but at an exact tie).

        The full product reads the whole matrix (60 MB for 30,000 words: 9-11 ms a query on
        this project's machines, bound by memory speed). A large vocabulary is searched
        first in its first ``embeddings.SPACE.projected_dims`` principal components (half the bytes, 97% of the
        vectors' energy), and the SHORTLIST best words by that estimate are then scored
        exactly. On the WMT benchmark's vocabularies the shortlists keep 8,166 of the 8,169
        neighbours translation uses (those above its floor among the best three) English ->
        Russian, and all 8,762 the other way. (A 128-component sketch with a bound
        on the rest, exact by construction, was tried and dropped: USE's word vectors keep
        too much outside it for the bound to help.)

        Where the vocabulary has its coordinates as int8 too and the ``dots`` kernel is built, the
        estimate reads those (7.7 MB): on the 1x WMT bench index, 10 words' estimates cost 0.7-1.6 ms
        on one thread against numpy's 7-8 ms (the whole search 2.4-2.9 ms against 9.5-11), and the
        results of 2,000 words (1,000 each way, the best 12 above 0.6) were all the same (estimates
        off by 0.008 at most; the shortlist's margin is wider). Read in blocks of 16 words, 6 words'
        estimates take 0.59 ms alone, against 0.90 with each word's coordinates broadcast (AVX2:
        0.93 against 1.53); the same values.
        """
        if not len(self.words) or not len(vectors):
            return [[] for _ in range(len(vectors))]
        if self.projection is None:
            similarities = vectors @ self.matrix.T
            rows, columns = np.nonzero(similarities >= floor)
            return [self._ranked(columns[rows == i], similarities[i, columns[rows == i]], count)
                    for i in range(len(vectors))]
        basis, coordinates = self.projection
        kernel = dots.kernel()
        projected = np.stack([vector @ basis for vector in vectors])
        if self.quantized is not None and kernel is not None:
            estimates = kernel.estimates(*self.quantized, projected)
        else:
            # The words' side on the left: BLAS then reads the 30 MB of coordinates once, in order,
            # without first copying them into panels (8 ms a query on one thread against 12).
            estimates = (coordinates @ projected.T).T
        shortlists = kernel.best(estimates, SHORTLIST) if kernel is not None else None
        if shortlists is None:
            shortlists = _best_columns(estimates, SHORTLIST)
        result = []
        for vector, chosen in zip(vectors, shortlists):
            exact = self.matrix[chosen] @ vector
            kept = exact >= floor
            result.append(self._ranked(chosen[kept], exact[kept], count))
        return result

    def _ranked(self, candidates: np.ndarray, similarities: np.ndarray, count: int) -> list[tuple[str, float]]:
        """The ``count`` best candidates (rows, with their similarities), best first."""
        best = np.lexsort((candidates, -similarities))[:count]
        return [(self.words[i], float(similarities[j])) for i, j in zip(candidates[best].tolist(), best.tolist())]


BLOCK = 64
"""Columns per block in ``_best_columns``."""


def _best_columns(scores: np.ndarray, k: int) -> np.ndarray:
    """The columns of each row's ``k`` highest scores, in no order.

    The same columns as an ``argpartition`` of each whole row, at a third of its cost: the k
    best of a row lie in the k blocks of BLOCK columns whose maxima are highest (a block holding
    one of them has a maximum at least as high as the k-th best), so only those are partitioned."""
    rows, columns = scores.shape
    if columns <= 4 * k * BLOCK:
        return np.argpartition(scores, -k, axis=1)[:, -k:] if columns > k else np.tile(np.arange(columns), (rows, 1))
    whole = columns // BLOCK * BLOCK
    maxima = scores[:, :whole].reshape(rows, -1, BLOCK).max(axis=2)
    blocks = np.argpartition(maxima, -k, axis=1)[:, -k:]
    candidates = (blocks[:, :, None] * BLOCK + np.arange(BLOCK)).reshape(rows, -1)
    if whole < columns:  # the last, partial block is always a candidate
        candidates = np.concatenate([candidates, np.tile(np.arange(whole, columns), (rows, 1))], axis=1)
    chosen = np.argpartition(np.take_along_axis(scores, candidates, axis=1), -k, axis=1)[:, -k:]
    return np.take_along_axis(candidates, chosen, axis=1)


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
         vectors: Callable[[Sequence[str]], np.ndarray], source: dict[str, int]) -> None:
    """Write the vocabulary of a generation (``vectors`` gives the words' vectors), atomically.

    ``source`` says what text it was built from (see ``built_from``)."""
    target = folder / f"{PREFIX}{generation}"

    def write(tmp: Path) -> None:
        tmp.mkdir()
        (tmp / "source.json").write_text(json.dumps(source, sort_keys=True), encoding="utf-8")
        matrices = {lang: vectors(chosen).astype(np.float32).reshape(len(chosen), DIM)
                    for lang, chosen in words.items()}
        basis = principal_components(matrices.values(), SPACE.projected_dims)
        np.save(tmp / "basis.npy", basis, allow_pickle=False)
        for lang, matrix in matrices.items():
            np.save(tmp / f"{lang}.npy", matrix, allow_pickle=False)
            projected = matrix @ basis
            np.save(tmp / f"{lang}.projected.npy", projected, allow_pickle=False)
            codes, scales = dots.quantized(projected)
            np.save(tmp / f"{lang}.blocked8.npy", dots.blocked(codes), allow_pickle=False)
            np.save(tmp / f"{lang}.scale.npy", scales, allow_pickle=False)
            ordered, order = MappedWords.arrays(words[lang])
            np.save(tmp / f"{lang}.sorted.npy", ordered, allow_pickle=False)
            np.save(tmp / f"{lang}.order.npy", order, allow_pickle=False)
            np.save(tmp / f"{lang}.hashed.npy", wordsets.table(words[lang]), allow_pickle=False)
        checksums.seal_folder(tmp)

    replace_path(target, write)
    for old in _folders(folder):
        if old != target:
            shutil.rmtree(old, ignore_errors=True)


def built_from(folder: Path) -> dict[str, int] | None:
    """What text the newest vocabulary was built from: each segment's id and deletions (a vocabulary
    depends on the text alone, so it stays current while vectors are added). None for one written
    before its coordinates were also kept as int8, or its words' hashes: the next run writes it
    again, with them."""
    newest = _newest(folder)
    if newest is None or not all((newest / f"{lang}.{name}.npy").exists() for lang in LANGS
                                 for name in ("blocked8", "sorted", "hashed")):
        return None
    try:
        return json.loads((newest / "source.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def load(folder: Path) -> dict[Lang, Vocabulary]:
    """The newest vocabulary, memory-mapped; empty if there is none or it is unreadable."""
    newest = _newest(folder)
    if newest is None:
        return {}
    vocabularies = {}
    for lang in LANGS:
        try:
            words = _words(newest, lang)
            matrix = mapped(newest / f"{lang}.npy")
            projection = (mapped(newest / "basis.npy"), mapped(newest / f"{lang}.projected.npy"))
        except (OSError, ValueError):
            continue
        if matrix.shape == (len(words), DIM) and len(projection[1]) == len(words):
            large = len(words) >= PROJECTED_FROM
            vocabularies[lang] = Vocabulary(words, matrix, projection if large else None,
                                            _quantized(newest, lang, projection[1].shape) if large else None,
                                            _hashed(newest, lang, len(words)))
    return vocabularies


def _words(folder: Path, lang: Lang) -> Words:
    """A language's words, as ``save`` writes them; or, in a vocabulary written before it wrote them
    so, from its JSON list (the next indexing run writes it again)."""
    try:
        ordered, order = mapped(folder / f"{lang}.sorted.npy"), mapped(folder / f"{lang}.order.npy")
    except FileNotFoundError:
        words = json.loads((folder / f"{lang}.json").read_text(encoding="utf-8"))
        if not isinstance(words, list):
            raise ValueError(f"{lang}.json is not a list")
        return ListedWords(words)
    if ordered.dtype.kind != "S" or order.dtype != np.int32 or ordered.shape != order.shape:
        raise ValueError(f"{lang}'s words are not as written")
    return MappedWords(ordered, order)


def _hashed(folder: Path, lang: Lang, count: int) -> np.ndarray | None:
    """A language's words' hashes and rows, if its vocabulary has them as ``save`` writes them."""
    try:
        found = mapped(folder / f"{lang}.hashed.npy")
    except (OSError, ValueError):
        return None
    return found if found.dtype == np.uint64 and found.shape == (2, count) else None


def _quantized(folder: Path, lang: Lang, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    """A language's int8 coordinates in blocks (``dots.blocked``) and scales, if its vocabulary has
    them. One written with its coordinates one row after another has them blocked here (12 ms a
    language at 30,000 words, once a process; its next indexing run writes it again); one written
    before int8 coordinates has none: its estimates stay float32."""
    n, dims = shape
    try:
        scales = mapped(folder / f"{lang}.scale.npy")
        if (folder / f"{lang}.blocked8.npy").exists():
            blocks = mapped(folder / f"{lang}.blocked8.npy")
        else:
            codes = mapped(folder / f"{lang}.projected8.npy")
            blocks = dots.blocked(codes) if codes.dtype == np.int8 and codes.shape == shape else codes[:0]
    except (OSError, ValueError):
        return None
    expected = (-(-n // dots.BLOCK), dims // 4, dots.BLOCK, 4)
    ok = blocks.dtype == np.int8 and blocks.shape == expected and scales.dtype == np.float32 and scales.shape == (n,)
    return (blocks, scales) if ok else None


def merged(parts: Sequence[dict[Lang, Vocabulary]], segments: Iterable[ArrayTermsReader],
           vectors: Callable[[Sequence[str]], np.ndarray]) -> dict[Lang, Vocabulary]:
    """The vocabulary one index of several indexes' union would have: its words chosen from all
    their ``segments``, each word's vector taken from a part that has it (else from ``vectors``),
    and the principal components of them all, as ``save`` computes them. Empty if no part has one."""
    if not any(parts):
        return {}
    words = frequent_words(segments)
    known = {word: vocabulary.matrix[row] for part in parts for vocabulary in part.values()
             for row, word in enumerate(vocabulary.words)}
    missing = sorted({w for chosen in words.values() for w in chosen if w not in known})
    if missing:
        known.update(zip(missing, vectors(missing)))
    matrices = {lang: np.array([known[w] for w in chosen], np.float32).reshape(len(chosen), DIM)
                for lang, chosen in words.items()}
    basis = principal_components(matrices.values(), SPACE.projected_dims)
    return {lang: _projected(words[lang], matrix, basis) for lang, matrix in matrices.items()}


def _projected(words: list[str], matrix: np.ndarray, basis: np.ndarray) -> Vocabulary:
    """A vocabulary held in memory, with its coordinates (float32 and int8) if it is large."""
    if len(matrix) < PROJECTED_FROM:
        return Vocabulary(words, matrix)
    coordinates = matrix @ basis
    codes, scales = dots.quantized(coordinates)
    return Vocabulary(words, matrix, (basis, coordinates), (dots.blocked(codes), scales))


def _newest(folder: Path) -> Path | None:
    """The folder of the newest vocabulary, if there is one and it is as it was written (a damaged
    one counts as none: the next indexing run writes it again)."""
    newest = max(_folders(folder), key=lambda path: int(path.name[len(PREFIX):]), default=None)
    return newest if newest is None or checksums.folder_damaged(newest) is None else None


def _folders(folder: Path) -> list[Path]:
    try:
        return [folder / name for name in os.listdir(folder)
                if name.startswith(PREFIX) and name[len(PREFIX):].isdigit()]
    except OSError:
        return []
