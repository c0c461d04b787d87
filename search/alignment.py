"""Soft word alignment: how well a passage answers each word of the query, by meaning.

A sentence vector blurs a question into its topic, so passages on the same
subject score alike; the lexicon, for its part, misses words. Alignment looks
word by word: each content word of the query is paired with the closest word
of the passage by word vector (the index's own vocabulary, see
``vocabulary``), whatever the language, and the passage scores the idf-weighted
mean of those closest similarities -- ColBERT's MaxSim, with the sentence
encoder's word vectors. A passage that holds a counterpart for every word of
the question, rare ones above all, outranks one that is merely on topic.
On XQuAD-R it lifts MRR@10 by about 0.02 in each cross direction
(bench/xquad.py), and by 0.03-0.05 for short queries on held-out FLORES-200
sentences (bench/flores.py).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np
from whoosh.searching import Searcher

from . import embeddings, vocabulary
from .analysis import fold
from .languages import LANGS
from .languages.characters import LETTER_RUN
from .store import Store
from .vocabulary import Vocabulary

MAX_PASSAGES = 8192
"""Passages whose word rows are kept in memory between queries."""



def scores(store: Store, searcher: Searcher, content_words: Sequence[str],
           docnums: Iterable[int]) -> dict[int, float]:
    """Alignment of the query's content words with each passage, in [0, 1]; empty if there is
    nothing to align."""
    query = list(dict.fromkeys(word for word in content_words if _alignable(word)))
    loaded = (vocabulary.load(store, lang) for lang in LANGS)
    vocabularies = tuple(v for v in loaded if v is not None and v.words)
    docnums = list(docnums)
    if not query or not vocabularies or not docnums:
        return {}
    count = searcher.doc_count()
    weights = np.array([math.log(count / (searcher.doc_frequency("exact", fold(word)) + 1)) + 1
                        for word in query])
    query_vectors = embeddings.short_vectors(query)
    passage_rows = [_rows(searcher.stored_fields(docnum)["text"], vocabularies) for docnum in docnums]
    best = np.zeros((len(docnums), len(query)), dtype=np.float32)  # 0: no negative similarities
    for i, known in enumerate(vocabularies):
        rows = [per_vocabulary[i] for per_vocabulary in passage_rows]
        needed = np.unique(np.concatenate(rows))
        if not len(needed):
            continue
        similarity = query_vectors @ known.matrix[needed].T  # (query words, needed words)
        for j, own in enumerate(rows):
            if len(own):
                columns = np.searchsorted(needed, own)
                best[j] = np.maximum(best[j], similarity[:, columns].max(axis=1))
    aligned = best @ weights / weights.sum()
    return {docnum: float(value) for docnum, value in zip(docnums, aligned)}


def _alignable(word: str) -> bool:
    """A word the vocabulary could hold (it embeds words of letters, of MIN_LENGTH or more)."""
    return word.isalpha() and len(word) >= vocabulary.MIN_LENGTH


@lru_cache(maxsize=MAX_PASSAGES)
def _rows(text: str, vocabularies: tuple[Vocabulary, ...]) -> tuple[np.ndarray, ...]:
    """The vocabulary rows of a passage's words, per vocabulary."""
    forms = set(LETTER_RUN.findall(fold(text)))
    return tuple(np.array(sorted(v.rows[f] for f in forms if f in v.rows), dtype=np.int64)
                 for v in vocabularies)
