"""BM25F over arrays: the scores whoosh gives a query, computed with numpy.

whoosh scores a query posting by posting through a tree of Python matchers. A
cross-language headline query (a dozen words, each with its translations: a
hundred terms and more, some in a third of all passages) took most of a second
that way. This module evaluates the same whoosh query tree over the codec's
arrays -- Term, Or (sum), And (sum over the documents all parts match; a part that is a term
of boost 0, such as a language's, filters them through a mask),
DisjunctionMax (max), AndNot, Phrase (its words' scores where they stand in
order, next to each other), Prefix (the terms it expands to), boosts -- with
whoosh's own BM25F statistics (idf = log(N / (df + 1)) + 1, the average field
length, one-byte field lengths), so it gives the scores whoosh gives
(tests/ranking/test_scoring.py compares them). Query types it does not know are left
to whoosh.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from whoosh import query as wq
from whoosh.codec.whoosh3 import W3Segment
from whoosh.reading import SegmentReader

from ..storage.codec import ArrayPerDocReader, ArrayTermsReader
from . import matchers  # noqa: F401  (whoosh's fallback path must agree with these scores)
from .fusion import Ranking

CACHE_POSTINGS = 4_000_000
"""Postings whose scores a snapshot keeps between queries (frequent terms recur in every query)."""


class Unsupported(Exception):
    """A query with a part this module does not evaluate (whoosh does)."""


@dataclass(frozen=True, slots=True)
class Matches:
    """Matching documents, ascending, and their scores."""

    docnums: np.ndarray  # int64
    scores: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.docnums)

    def scaled(self, boost: float) -> "Matches":
        return self if boost == 1.0 else Matches(self.docnums, self.scores * boost)

    def top(self, k: int) -> list[tuple[int, float]]:
        """The k best (docnum, score), best first, ties to the lower docnum (as whoosh)."""
        if len(self) > k:
            chosen = np.argpartition(-self.scores, k - 1)[:k]
            threshold = self.scores[chosen].min()
            chosen = np.flatnonzero(self.scores >= threshold)  # keep every tie at the boundary
        else:
            chosen = np.arange(len(self))
        order = chosen[np.lexsort((self.docnums[chosen], -self.scores[chosen]))][:k]
        return list(zip(self.docnums[order].tolist(), self.scores[order].tolist()))


_NONE = Matches(np.zeros(0, np.int64), np.zeros(0, np.float64))


@dataclass(frozen=True)
class Leaf:
    """One segment of a snapshot: its reader, the first global docnum, its deletions."""

    segment: W3Segment
    reader: SegmentReader
    docbase: int

    @property
    def terms(self) -> ArrayTermsReader:
        return self.reader._terms

    @property
    def perdoc(self) -> ArrayPerDocReader:
        return self.reader._perdoc


class Scorer:
    """Scores whoosh queries over one snapshot's segments, caching each term's scored postings."""

    def __init__(self, leaves: Sequence[Leaf], schema, ranking: Ranking) -> None:  # type: ignore[no-untyped-def]
        self.leaves, self.schema, self.ranking = list(leaves), schema, ranking
        self.doc_count = sum(leaf.segment.doc_count_all() for leaf in self.leaves)
        self._norms: dict[tuple[int, str], np.ndarray] = {}
        self._deleted = [np.fromiter(leaf.segment.deleted_docs(), np.int64) for leaf in self.leaves]
        self._cache: OrderedDict[tuple[str, str], Matches] = OrderedDict()
        self._cached = 0
        self._frequencies: dict[tuple[str, str], int] = {}
        self._masks: dict[tuple[str, str], np.ndarray] = {}

    def doc_frequency(self, field: str, text: str) -> int:
        """How many records hold a term (deleted ones included, as whoosh counts)."""
        key = (field, text)
        found = self._frequencies.get(key)
        if found is None:
            tbytes = text.encode("utf-8")
            found = 0
            for leaf in self.leaves:
                try:
                    found += leaf.terms.doc_frequency(field, tbytes)
                except KeyError:
                    pass
            self._frequencies[key] = found
        return found

    def idf(self, field: str, text: str) -> float:
        """whoosh's inverse document frequency: log(N / (df + 1)) + 1, N every record."""
        return math.log(self.doc_count / (self.doc_frequency(field, text) + 1)) + 1

    def field_length(self, field: str) -> int:
        return sum(leaf.segment._fieldlengths.get(field, 0) for leaf in self.leaves)

    def term(self, field: str, text: str) -> Matches:
        """A term's matching live documents and their (unboosted) scores."""
        key = (field, text)
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            return found
        found = self._score_term(field, text)
        self._cache[key] = found
        self._cached += len(found)
        while self._cached > CACHE_POSTINGS and len(self._cache) > 1:
            self._cached -= len(self._cache.popitem(last=False)[1])
        return found

    def _score_term(self, field: str, text: str) -> Matches:
        tbytes = text.encode("utf-8")
        found = [(i, postings) for i, leaf in enumerate(self.leaves)
                 if (postings := leaf.terms.postings(field, tbytes)) is not None]
        self._frequencies[(field, text)] = sum(len(postings.docnums) for _, postings in found)
        if not found:
            return _NONE
        scorable = self.schema[field].scorable
        if scorable:
            idf, k1 = self.idf(field, text), self.ranking.bm25_k1
        docnums_out, scores_out = [], []
        for i, postings in found:
            docnums, weights = postings.docnums, postings.weights.astype(np.float64)
            if len(self._deleted[i]):
                live = ~np.isin(docnums, self._deleted[i])
                docnums, weights = docnums[live], weights[live]
            if scorable:
                weights = idf * ((weights * (k1 + 1)) / (weights + self._normalisers(i, field)[docnums]))
            docnums_out.append(np.add(docnums, self.leaves[i].docbase, dtype=np.int64))
            scores_out.append(weights)
        if len(found) == 1:
            return Matches(docnums_out[0], scores_out[0])
        return Matches(np.concatenate(docnums_out), np.concatenate(scores_out))

    def _normalisers(self, i: int, field: str) -> np.ndarray:
        """BM25's length normalisation of every document of a segment in a field,
        k1 * (1 - b + b * length / average): computed once, where each term's postings took it
        document by document (the same operations, so the same scores to the bit)."""
        found = self._norms.get((i, field))
        if found is None:
            b, k1 = self.ranking.bm25_b, self.ranking.bm25_k1
            average = (self.field_length(field) / self.doc_count) or 1
            lengths = self.leaves[i].perdoc.field_lengths(field)
            found = self._norms[(i, field)] = k1 * ((1 - b) + b * lengths / average)
        return found

    def evaluate(self, query: wq.Query) -> Matches:
        """The documents a query matches and their scores; Unsupported for query types it does not know."""
        if isinstance(query, wq.Term):
            return self.term(query.fieldname, query.text).scaled(query.boost)
        if type(query) is wq.Phrase and query.slop == 1:
            return self._phrase(query.fieldname, list(query.words)).scaled(query.boost)
        if type(query) is wq.Prefix:
            expanded = self.expand_prefix(query.fieldname, query.text)
            return _combined([self.term(query.fieldname, word) for word in expanded], np.add).scaled(query.boost)
        if isinstance(query, wq.AndNot):
            positive, negative = self.evaluate(query.a), self.evaluate(query.b)
            keep = ~np.isin(positive.docnums, negative.docnums, assume_unique=True)
            return Matches(positive.docnums[keep], positive.scores[keep]).scaled(query.boost)
        if type(query) is wq.And:
            filters, scored = [], []
            for sub in query.subqueries:
                (filters if type(sub) is wq.Term and sub.boost == 0.0 else scored).append(sub)
            if filters and scored:  # a filter (a language's passages) adds nothing to a score
                found = _intersection([self.evaluate(sub) for sub in scored])
                keep = np.ones(len(found), dtype=bool)
                for term in filters:
                    keep &= self.holding(term.fieldname, term.text)[found.docnums]
                return Matches(found.docnums[keep], found.scores[keep]).scaled(query.boost)
        parts = [self.evaluate(sub) for sub in query.subqueries] if isinstance(query, wq.CompoundQuery) else None
        if parts is None or type(query) not in (wq.Or, wq.And, wq.DisjunctionMax):
            raise Unsupported(type(query).__name__)
        if isinstance(query, wq.And):
            return _intersection(parts).scaled(query.boost)
        if isinstance(query, wq.DisjunctionMax):
            return _combined(parts, np.maximum).scaled(query.boost)
        return _combined(parts, np.add).scaled(query.boost)

    def holding(self, field: str, text: str) -> np.ndarray:
        """Which docnums hold a term (live ones), as a mask: a filter's test is one look-up a
        document, where a binary search in half the index took a headline 0.5 ms at 2x."""
        key = (field, text)
        mask = self._masks.get(key)
        if mask is None:
            mask = self._masks[key] = np.zeros(self.doc_count, dtype=bool)
            mask[self.term(field, text).docnums] = True
        return mask

    def expand_prefix(self, field: str, prefix: str) -> list[str]:
        """The terms of a field that start with ``prefix``, in any segment, in order."""
        found: set[bytes] = set()
        start = prefix.encode("utf-8")
        for leaf in self.leaves:
            for tbytes, _ in leaf.terms.doc_frequencies(field, start):
                if not tbytes.startswith(start):
                    break
                found.add(tbytes)
        return [word.decode("utf-8") for word in sorted(found)]

    def _phrase(self, field: str, words: list[str]) -> Matches:
        """Records holding the words next to each other, in order; scored as whoosh scores a
        phrase: the sum of its words' scores."""
        both = _intersection([self.term(field, word) for word in words])
        keep = np.zeros(len(both), dtype=bool)
        for leaf in self.leaves:
            inside = np.flatnonzero((both.docnums >= leaf.docbase)
                                    & (both.docnums < leaf.docbase + leaf.segment.doc_count_all()))
            if not len(inside):
                continue
            positions = [_positions(leaf.terms.postings(field, word.encode("utf-8"))) for word in words]
            for i in inside.tolist():
                local = int(both.docnums[i]) - leaf.docbase
                starts = set(positions[0](local))
                for offset, of_word in enumerate(positions[1:], 1):
                    starts &= {p - offset for p in of_word(local)}
                keep[i] = bool(starts)
        return Matches(both.docnums[keep], both.scores[keep])


def _positions(postings):  # type: ignore[no-untyped-def]
    """docnum -> the positions of the term in that record."""
    docnums = postings.docnums
    ends = np.cumsum(postings.counts, dtype=np.int64)

    def of(docnum: int) -> list[int]:
        i = int(np.searchsorted(docnums, docnum))
        return postings.positions[ends[i] - postings.counts[i]:ends[i]].tolist()
    return of


def _combined(parts: list[Matches], ufunc: np.ufunc) -> Matches:
    """The union of matches, each document's scores reduced by ``ufunc`` (add for Or, maximum
    for DisjunctionMax)."""
    parts = [part for part in parts if len(part)]
    if len(parts) <= 1:
        return parts[0] if parts else _NONE
    docnums = np.concatenate([part.docnums for part in parts])
    scores = np.concatenate([part.scores for part in parts])
    order = np.argsort(docnums, kind="stable")
    docnums, scores = docnums[order], scores[order]
    starts = np.flatnonzero(np.diff(docnums, prepend=-1))
    return Matches(docnums[starts], ufunc.reduceat(scores, starts))


def _intersection(parts: list[Matches]) -> Matches:
    """The documents every part matches, their scores summed in the parts' order.

    The smallest part's documents are looked up in each part by one binary search (parts are
    sorted): a query filtered by language intersects its matches with half the index, and sorting
    both together (``np.intersect1d``) took 35 ms a query at a million passages."""
    if not parts or any(not len(part) for part in parts):
        return _NONE
    docnums = min(parts, key=len).docnums
    scores = np.zeros(len(docnums))
    for part in parts:
        at = np.minimum(np.searchsorted(part.docnums, docnums), len(part.docnums) - 1)
        kept = part.docnums[at] == docnums
        docnums, scores = docnums[kept], scores[kept] + part.scores[at[kept]]
    return Matches(docnums, scores)
