"""Soft word alignment: how well a passage answers each word of the query, by meaning.

A sentence vector blurs a question into its topic, so passages on the same
subject score alike; the lexicon, for its part, misses words. Alignment looks
word by word: each content word of the query is paired with the closest word
of the passage by word vector (the index's own vocabulary, see
``vocabulary``), whatever the language, and the passage scores the idf-weighted
mean of those closest similarities -- ColBERT's MaxSim, with the sentence
encoder's word vectors. A passage that holds a counterpart for every word of
the question, rare ones above all, outranks one that is merely on topic.
Stop words join the content words when they are most of the query
(``aligned_words``): a fragment such as "If the country you will be" has one
content word, and its other words are most of what tells its sentence apart.
On XQuAD-R it lifts MRR@10 by about 0.02 in each cross direction
(bench/xquad.py), and by 0.03-0.05 for short queries on held-out FLORES-200
sentences (bench/flores.py).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from itertools import chain
from typing import Callable, Mapping, Sequence

import numpy as np

from ..languages import Lang, script_of
from ..storage import wordsets
from ..vectors.vocabulary import Vocabulary, embeddable

MAX_PASSAGES = 8192
"""Passages whose word rows a snapshot keeps between queries."""
MAX_FORMS = 200_000
"""Word forms whose vocabulary rows a snapshot keeps between queries."""


class PassageWords:
    """The vocabulary rows of passages' words, per vocabulary.

    One per snapshot (the rows belong to its vocabularies), closed with it: a
    process-wide cache kept every vocabulary it had met, and their mapped files,
    long after their index was closed. A passage's words are read as the indexer
    hashed them (``wordsets``) where its segment and the vocabularies have their
    hashes; else from its text, kept for the passages met lately.
    """

    def __init__(self, vocabularies: Mapping[Lang, Vocabulary], text: Callable[[int], str],
                 hashes: Callable[[int], np.ndarray | None] = lambda docnum: None) -> None:
        """``text`` gives a passage's text, ``hashes`` its words' (``wordsets.of_text``) where kept."""
        self._languages = tuple((lang, v) for lang, v in vocabularies.items() if len(v.words))
        self.vocabularies = tuple(v for _, v in self._languages)
        self._text, self._hashes = text, hashes
        self._met: OrderedDict[str, tuple[tuple[int, ...], ...]] = OrderedDict()
        self._forms: dict[str, tuple[int, int] | None] = {}
        """Word form -> (vocabulary, row), None where no vocabulary of its script has it."""
        self._lock = threading.Lock()

    def rows(self, docnums: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per vocabulary, the rows of the passages' distinct words it has, passage after passage
        (int64), and how many each passage has. By their hashes where every passage and
        vocabulary has them: a 1x headline's 30 passages in 0.31 ms, where their text took 1.34."""
        found = [self._hashes(docnum) for docnum in docnums]
        tables = [vocabulary.hashed() for vocabulary in self.vocabularies]
        if all(hashes is not None for hashes in found) and all(table is not None for table in tables):
            return self._by_hashes(found, tables)  # type: ignore[arg-type]
        return self._by_text([self._text(docnum) for docnum in docnums])

    @staticmethod
    def _by_hashes(found: list[np.ndarray], tables: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        lengths = np.fromiter(map(len, found), np.int64, len(found))
        joined = np.concatenate(found) if found else np.zeros(0, np.uint64)
        ends = np.cumsum(lengths)
        rows_of = []
        for table in tables:
            rows = wordsets.rows_in(table, joined)
            hit = rows >= 0
            passed = np.r_[0, np.cumsum(hit)]
            rows_of.append((rows[hit], passed[ends] - passed[ends - lengths]))
        return rows_of

    def _by_text(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """From the passages' texts. The words not met lately are looked up together, one search per
        vocabulary (only those of its script: a vocabulary is mapped, and a word looked up alone
        took 5 µs); a form met before is one dict look-up."""
        with self._lock:  # queries of a server's threads share a snapshot
            met = self._met
            new = [text for text in dict.fromkeys(texts) if text not in met]
            if new:
                forms = [wordsets.forms(text) for text in new]
                self._look_up(set().union(*forms))
                known, count = self._forms, len(self._languages)
                for text, of_text in zip(new, forms):
                    found: list[list[int]] = [[] for _ in range(count)]
                    for where in filter(None, map(known.__getitem__, of_text)):
                        found[where[0]].append(where[1])
                    met[text] = tuple(map(tuple, found))
            for text in texts:
                met.move_to_end(text)
            per_passage = [met[text] for text in texts]
            while len(met) > MAX_PASSAGES:
                met.popitem(last=False)
        rows_of = []
        for i in range(len(self._languages)):
            rows = [per_vocabulary[i] for per_vocabulary in per_passage]
            counts = np.fromiter(map(len, rows), np.int64, len(rows))
            rows_of.append((np.fromiter(chain.from_iterable(rows), np.int64, int(counts.sum())), counts))
        return rows_of

    def _look_up(self, forms: set[str]) -> None:
        """Each of these forms' vocabulary and row in the memo (emptied when it would grow past
        MAX_FORMS)."""
        new = forms.difference(self._forms)
        if not new:
            return
        if len(self._forms) + len(new) > MAX_FORMS:
            self._forms.clear()
            new = forms
        by_script: dict[Lang | None, list[str]] = {}
        for form in new:
            by_script.setdefault(script_of(form), []).append(form)
            self._forms[form] = None
        for i, (lang, vocabulary) in enumerate(self._languages):
            asked = by_script.get(lang, [])
            self._forms.update((form, (i, row)) for form, row in zip(asked, vocabulary.words.rows(asked))
                               if row is not None)


def aligned_words(words: Sequence[str], content_words: Sequence[str]) -> Sequence[str]:
    """The words of a query that are aligned: its content words, or all its words when stop words
    are most of them (and there is a content word at all).

    Stop words say little beside three or four content words, and a long passage holds a
    counterpart for nearly every one. But in "If the country you will be" the content words are
    "country" alone, which a hundred sentences answer, while «Если на страну, которую вы ...»
    also answers "If" and "you"; the encoders read those words too (``Ranking.dense_full_words``).
    Their idf weighs them, as it weighs the content words. On XQuAD-R, where 347 English
    questions and 13 Russian ones are mostly stop words ("Who lost to the Broncos in the
    divisional round?"), MRR@10 went 0.954 -> 0.954 / 0.954 -> 0.955; bench/short.py's
    headlines, rarely so, ranked as before; on FLORES-200's 6-word fragments (held out), en->ru
    0.891 -> 0.904, ru->en 0.926 -> 0.931."""
    if content_words and 2 * len(content_words) < len(words):
        return words
    return content_words


def scores(content_words: Sequence[str], docnums: Sequence[int], words: PassageWords,
           word_vectors: Callable[[Sequence[str]], np.ndarray],
           weight: Callable[[str], float]) -> dict[int, float]:
    """Alignment of the query's content words (or the words ``aligned_words`` gives) with each
    passage, in [0, 1]; empty if there is nothing to align.

    ``weight`` gives a word's weight (its idf): rare words count more.
    """
    query = list(dict.fromkeys(word for word in content_words if embeddable(word)))
    if not query or not words.vocabularies or not docnums:
        return {}
    weights = np.array([weight(word) for word in query])
    query_vectors = word_vectors(query)
    best = np.zeros((len(query), len(docnums)), dtype=np.float32)  # 0: no negative similarities
    for known, (every, counts) in zip(words.vocabularies, words.rows(docnums)):
        if not len(every):
            continue
        used = np.zeros(len(known.matrix), dtype=bool)  # a mask, not np.unique: it imports numpy.ma (10 ms)
        used[every] = True
        needed = np.flatnonzero(used)
        similarity = query_vectors @ known.matrix[needed].T  # (query words, needed words)
        # each passage's best per query word: one reduction over the passages' runs of columns
        has = np.flatnonzero(counts)
        starts = np.r_[0, np.cumsum(counts)[:-1]][has]
        columns = similarity[:, np.searchsorted(needed, every)]
        best[:, has] = np.maximum(best[:, has], np.maximum.reduceat(columns, starts, axis=1))
    aligned = weights @ best / weights.sum()
    return {docnum: float(value) for docnum, value in zip(docnums, aligned)}
