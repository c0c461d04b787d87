"""Everything derived from one commit of an index, opened once and closed with it.

Lucene's SearcherManager hands out a point-in-time searcher that is acquired
and released; a Snapshot is that here. It holds what queries need from one
generation -- whoosh's reader and searcher, the scorer and its cache of term
postings, the passage vectors, the vocabularies, the lexicon, word vectors --
each opened on first use and kept until the snapshot is closed. Nothing else
derives state from an index's path, and nothing a query does writes to the
index folder: a read-only index answers every query.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Iterator, Sequence

import numpy as np
from whoosh.index import FileIndex
from whoosh.scoring import BM25F
from whoosh.searching import Searcher

from . import vectors, vocabulary
from .embeddings import DIM
from .languages import Lang, lexicon, script_of
from .ranking import RANKING, Ranking
from .schema import BODY, KIND, LANG, PASSAGE
from .scoring import Leaf, Matches, Scorer
from .store import Commit, Store
from .wordvectors import WordVectors


class Snapshot:
    """One committed generation of an index, as queries see it."""

    def __init__(self, store: Store, commit: Commit, ranking: Ranking = RANKING) -> None:
        self.store, self.commit, self.ranking = store, commit, ranking
        self.generation = commit.generation
        reader = FileIndex._reader(store.storage, commit.schema, commit.segments, commit.generation)
        self.searcher = Searcher(reader, weighting=BM25F(B=ranking.bm25_b, K1=ranking.bm25_k1))
        leaves = reader.leaf_readers() if commit.segments else []
        self.leaves = [Leaf(segment, leaf, docbase) for segment, (leaf, docbase) in zip(commit.segments, leaves)]
        self.scorer = Scorer(self.leaves, commit.schema, ranking)
        self._occurs: dict[str, bool] = {}
        self.users = 0
        self.retired = False

    def close(self) -> None:
        self.searcher.close()

    def stored(self, docnum: int) -> dict:
        """A record's stored fields."""
        return self.searcher.stored_fields(docnum)

    def occurs(self, term: str) -> bool:
        """Whether a ``body`` term is in the index (translations that are not cannot match)."""
        found = self._occurs.get(term)
        if found is None:
            found = self._occurs[term] = self.scorer.doc_frequency(BODY, term) > 0
        return found

    def passages(self, lang: Lang | None = None) -> Matches:
        """The live passages (of one language)."""
        return self.scorer.term(LANG, lang) if lang else self.scorer.term(KIND, PASSAGE)

    @cached_property
    def vectors(self) -> "PassageVectors":
        folder = self.store.vectors_folder()
        return PassageVectors([(leaf, vectors.load(folder, leaf.segment.segment_id())) for leaf in self.leaves],
                              live=self.passages().docnums)

    @cached_property
    def vocabularies(self) -> dict[Lang, vocabulary.Vocabulary]:
        return vocabulary.load(self.store.path)

    @cached_property
    def lexicon(self) -> lexicon.Lexicon:
        return lexicon.cached()

    @cached_property
    def _word_vectors(self) -> WordVectors:
        return WordVectors()

    def word_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of words and short terms: the vocabulary's rows where it has them."""
        rows = np.zeros((len(texts), DIM), dtype=np.float32)
        missing = []
        for i, text in enumerate(texts):
            known = self.vocabularies.get(script_of(text) or "en")
            row = known.rows.get(text) if known else None
            if row is None:
                missing.append(i)
            else:
                rows[i] = known.matrix[row]  # type: ignore[union-attr]
        if missing:
            rows[missing] = self._word_vectors.get([texts[i] for i in missing])
        return rows


@dataclass(frozen=True)
class Coverage:
    """How many live passages have vectors."""

    covered: int
    passages: int

    @property
    def partial(self) -> bool:
        return self.covered < self.passages


class PassageVectors:
    """The vectors of a snapshot's passages, segment by segment, by global docnum."""

    def __init__(self, parts: list[tuple[Leaf, vectors.SegmentVectors]], live: np.ndarray) -> None:
        self.parts = [(leaf.docbase, found) for leaf, found in parts if len(found)]
        docnums = [docbase + found.rows.astype(np.int64) for docbase, found in self.parts]
        self.docnums = np.concatenate(docnums) if docnums else np.zeros(0, np.int64)
        self.live = np.isin(self.docnums, live, assume_unique=True)
        self.coverage = Coverage(int(self.live.sum()), len(live))

    def similarities(self, query: np.ndarray) -> np.ndarray:
        """Each covered passage's similarity to a query vector, in the order of ``docnums``."""
        parts = [found.similarities(query) for _, found in self.parts]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def nearest(self, similarities: np.ndarray, k: int, allowed: np.ndarray) -> dict[int, float]:
        """The k live passages among ``allowed`` (sorted docnums) most similar to the query."""
        mask = self.live & np.isin(self.docnums, allowed, assume_unique=True)
        candidates = np.flatnonzero(mask)
        k = min(k, len(candidates))
        if k <= 0:
            return {}
        chosen = candidates[np.argpartition(-similarities[candidates], k - 1)[:k]]
        chosen = chosen[np.lexsort((self.docnums[chosen], -similarities[chosen]))]
        return {int(self.docnums[i]): float(similarities[i]) for i in chosen}

    def of(self, similarities: np.ndarray, docnums: Sequence[int]) -> dict[int, float]:
        """The similarities of the given passages that have vectors."""
        wanted = np.asarray(docnums, dtype=np.int64)
        if not len(self.docnums):
            return {}
        at = np.searchsorted(self.docnums, wanted)
        found = (at < len(self.docnums)) & (self.docnums[np.minimum(at, len(self.docnums) - 1)] == wanted)
        return {int(d): float(similarities[i]) for d, i in zip(wanted[found], at[found])}


class Snapshots:
    """Hands out the snapshot of the newest commit, as Lucene's SearcherManager does.

    ``acquire`` gives the current snapshot, opening a new one when another commit
    has been made since; a replaced snapshot is closed once nobody holds it.
    """

    def __init__(self, store: Store, ranking: Ranking = RANKING) -> None:
        self.store, self.ranking = store, ranking
        self._current: Snapshot | None = None

    @contextmanager
    def acquire(self) -> Iterator[Snapshot]:
        snapshot = self._refreshed()
        snapshot.users += 1
        try:
            yield snapshot
        finally:
            snapshot.users -= 1
            if snapshot.retired and not snapshot.users:
                snapshot.close()

    def _refreshed(self) -> Snapshot:
        generation = self.store.generation()
        if self._current is None or self._current.generation != generation:
            self._retire(self._current)
            self._current = Snapshot(self.store, self.store.read(generation), self.ranking)
        return self._current

    def close(self) -> None:
        self._retire(self._current)
        self._current = None

    @staticmethod
    def _retire(snapshot: Snapshot | None) -> None:
        if snapshot is not None:
            snapshot.retired = True
            if not snapshot.users:
                snapshot.close()
