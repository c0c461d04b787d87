"""Everything derived from one commit of an index, opened once and closed with it.

Lucene's SearcherManager hands out a point-in-time searcher that is acquired
and released; a Snapshot is that here. It holds what queries need from one
generation -- whoosh's reader and searcher, the scorer and its cache of term
postings, the passage vectors, the vocabularies, the lexicon, word vectors --
each opened on first use and kept until the snapshot is closed. Nothing else
derives state from an index's path, and nothing a query does writes to the
index folder: a read-only index answers every query.

A snapshot may span several indexes (``api.MultiIndex``): their segments are then
the leaves of one reader, so every statistic BM25F reads (document frequencies,
field lengths, record counts) is summed over all of them, as Elasticsearch's
dfs_query_then_fetch does, and their vocabularies are merged as one index of
their union would have built it: a query ranks as it would on that index.
"""

from __future__ import annotations

import bisect
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Callable, Iterator, Sequence

import numpy as np
from whoosh.index import FileIndex
from whoosh.reading import EmptyReader, MultiReader
from whoosh.scoring import BM25F
from whoosh.searching import Searcher

from .analysis import fold
from .languages import Lang, lexicon, script_of
from .query.repair import Spelling, Words
from .ranking import alignment
from .ranking.fusion import RANKING, Ranking
from .ranking.scoring import Leaf, Matches, Scorer
from .storage import wordsets
from .storage.schema import BODY, EXACT, KIND, LANG, NAMES, PASSAGE
from .storage.store import Commit, Store
from .vectors import deep, dots, embeddings, stored, vocabulary
from .vectors.wordvectors import WordVectors


class Snapshot:
    """One committed generation of an index, as queries see it."""

    def __init__(self, store: Store, commit: Commit, ranking: Ranking = RANKING,
                 others: Sequence[tuple[Store, Commit]] = ()) -> None:
        """``others``: more indexes (each with its commit) to search as one with this one."""
        self.store, self.commit, self.ranking = store, commit, ranking
        self.parts = [(store, commit), *others]
        self.generations = tuple(part.generation for _, part in self.parts)
        self.generation = commit.generation
        readers = [FileIndex._reader(s.storage, c.schema, c.segments, c.generation) for s, c in self.parts]
        if others:  # one reader over every index's segments: docnums and statistics span them all
            readers = [leaf for reader, (_, c) in zip(readers, self.parts) if c.segments
                       for leaf, _ in reader.leaf_readers()]
            reader = MultiReader(readers) if readers else EmptyReader(commit.schema)
        else:
            reader = readers[0]
        self.searcher = Searcher(reader, weighting=BM25F(B=ranking.bm25_b, K1=ranking.bm25_k1))
        segments = [segment for _, c in self.parts for segment in c.segments]
        leaves = reader.leaf_readers() if segments else []
        self.leaves = [Leaf(segment, leaf, docbase) for segment, (leaf, docbase) in zip(segments, leaves)]
        self._docbases = [leaf.docbase for leaf in self.leaves]
        self._stores = [s for s, c in self.parts for _ in c.segments]
        """Each leaf's index."""
        self.scorer = Scorer(self.leaves, commit.schema, ranking)
        self._occurs: dict[str, bool] = {}
        self._named: dict[str, bool] = {}
        self.users = 0
        self.retired = False

    def close(self) -> None:
        """Close the searcher and drop what was derived from this commit (mapped files with it)."""
        self.searcher.close()
        for derived in ("vectors", "deep", "vocabularies", "spelling", "words", "passage_words", "_segment_words",
                        "_word_vectors"):
            self.__dict__.pop(derived, None)

    def stored(self, docnum: int) -> dict:
        """A record's stored fields, from its segment's column: through whoosh's reader layers (and
        their filter of fields a schema has dropped, which ours never does) twice as long."""
        leaf = self.leaves[bisect.bisect_right(self._docbases, docnum) - 1]
        return leaf.perdoc.stored_fields(docnum - leaf.docbase)

    def occurs(self, term: str) -> bool:
        """Whether a ``body`` term is in the index (translations that are not cannot match)."""
        found = self._occurs.get(term)
        if found is None:
            found = self._occurs[term] = self.scorer.doc_frequency(BODY, term) > 0
        return found

    def passages(self, lang: Lang | None = None) -> Matches:
        """The live passages (of one language)."""
        return self.scorer.term(LANG, lang) if lang else self.scorer.term(KIND, PASSAGE)

    def in_language(self, docnums: np.ndarray, lang: Lang) -> np.ndarray:
        """Which of these passages are in that language."""
        return self.scorer.holding(LANG, lang)[docnums]

    @cached_property
    def vectors(self) -> "PassageVectors":
        """The sentence encoder's passage vectors."""
        return self._passage_vectors(embeddings.SPACE)

    @cached_property
    def deep(self) -> "PassageVectors":
        """e5's passage vectors (the deep phase's), for the passages it has reached."""
        return self._passage_vectors(deep.SPACE)

    def _passage_vectors(self, space: stored.Space) -> "PassageVectors":
        return PassageVectors([(leaf, stored.load(store.vectors_folder(space.folder), leaf.segment.segment_id(), space))
                               for leaf, store in zip(self.leaves, self._stores)], self.passages)

    def index_of(self, docnum: int) -> int:
        """Which of the snapshot's indexes (0 for the first) holds a record."""
        for leaf, store in zip(reversed(self.leaves), reversed(self._stores)):
            if docnum >= leaf.docbase:
                return next(i for i, (s, _) in enumerate(self.parts) if s is store)
        return 0

    @cached_property
    def vocabularies(self) -> dict[Lang, vocabulary.Vocabulary]:
        if len(self.parts) == 1:
            return vocabulary.load(self.store.path)
        return vocabulary.merged([vocabulary.load(s.path) for s, _ in self.parts], [leaf.terms for leaf in self.leaves],
                                 self._word_vectors.get)

    def named(self, key: str) -> bool:
        """Whether a ``names`` key is in the index."""
        found = self._named.get(key)
        if found is None:
            found = self._named[key] = self.scorer.doc_frequency(NAMES, key) > 0
        return found

    @cached_property
    def spelling(self) -> dict[Lang, Spelling]:
        """Each language's vocabulary, for correcting typos in queries."""
        return {lang: Spelling(vocabulary.words) for lang, vocabulary in self.vocabularies.items()}

    @cached_property
    def words(self) -> Words:
        """What this commit knows of words, for repairing mistyped queries."""
        return Words(self.occurs, self.lexicon, lambda lang: self.spelling.get(lang), self.named,
                     lambda word: self.scorer.doc_frequency(EXACT, fold(word)) > 0)

    @cached_property
    def passage_words(self) -> alignment.PassageWords:
        return alignment.PassageWords(self.vocabularies, lambda docnum: self.stored(docnum)["text"], self.word_hashes)

    def word_hashes(self, docnum: int) -> np.ndarray | None:
        """The hashes of a passage's words (``wordsets``), where its segment has them."""
        at = bisect.bisect_right(self._docbases, docnum) - 1
        found = self._segment_words[at]
        return None if found is None else found.of(docnum - self._docbases[at])

    @cached_property
    def _segment_words(self) -> list[wordsets.SegmentWords | None]:
        return [wordsets.load(store.vectors_folder(wordsets.FOLDER), leaf.segment.segment_id(),
                              leaf.segment.doc_count_all()) for leaf, store in zip(self.leaves, self._stores)]

    @cached_property
    def lexicon(self) -> lexicon.Lexicon:
        return lexicon.cached()

    @cached_property
    def _word_vectors(self) -> WordVectors:
        return WordVectors()

    def word_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of words and short terms: the vocabulary's rows where it has them."""
        rows = np.zeros((len(texts), embeddings.DIM), dtype=np.float32)
        by_language: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            by_language.setdefault(script_of(text) or "en", []).append(i)
        missing = []
        for lang, positions in by_language.items():  # one search and one gather a language
            known = self.vocabularies.get(lang)  # type: ignore[call-overload]
            found = known.words.rows([texts[i] for i in positions]) if known else [None] * len(positions)
            missing += [i for i, row in zip(positions, found) if row is None]
            kept = [(i, row) for i, row in zip(positions, found) if row is not None]
            if kept:
                rows[[i for i, _ in kept]] = known.matrix[[row for _, row in kept]]  # type: ignore[union-attr]
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


SPAN_GAP = 64
"""Rows of other passages a read of one language's runs may cross rather than start another."""
KEEP_MAPPED_MB = 1024
"""Full vectors up to this size stay mapped between queries, as Lucene's MMapDirectory keeps its
files (pages of the file cache, which the kernel may take back; the process's resident size counts
them); larger ones are let go after each segment's rows are read (a row read maps a whole large
folio: at 4x, 219 MB for one query's 1,200 rows). Faulting them in again cost a headline 1-2 ms at
1x, 1.0 at 2x and 1.2 at 4x (bench/performance.py's headlines, medians of 5 alternating runs);
kept, the 4x query process's peak went from 1.15 to 1.65 GB."""


@cache
def _segments() -> ThreadPoolExecutor:
    """Threads that read segments' vectors side by side, one per core."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="segments")


class PassageVectors:
    """The vectors of a snapshot's passages, segment by segment, by global docnum."""

    def __init__(self, parts: list[tuple[Leaf, stored.SegmentVectors]],
                 passages_of: Callable[[Lang | None], Matches]) -> None:
        self.parts = [(leaf.docbase + found.rows.astype(np.int64), found) for leaf, found in parts if len(found)]
        self.passages_of = passages_of
        self._masks: dict[Lang | None, list[np.ndarray]] = {}
        self._spans: dict[Lang | None, list[list[tuple[int, int]]]] = {}
        self._tables: dict[Lang | None, tuple[np.ndarray, list[np.ndarray]] | None] = {}
        size = sum(found.passages.nbytes + found.sentences.nbytes for _, found in self.parts)
        self._release = size > KEEP_MAPPED_MB * 2**20
        live = self._allowed(None)
        self.coverage = Coverage(int(sum(mask.sum() for mask in live)), len(passages_of(None)))

    def _allowed(self, lang: Lang | None) -> list[np.ndarray]:
        """Per segment, which rows are live passages (of that language): computed once."""
        masks = self._masks.get(lang)
        if masks is None:
            wanted = self.passages_of(lang).docnums
            masks = self._masks[lang] = [np.isin(docnums, wanted, assume_unique=True) for docnums, _ in self.parts]
        return masks

    def _spanned(self, lang: Lang | None) -> list[list[tuple[int, int]]]:
        """Per segment, the runs of rows (start, stop) that hold the allowed ones: a segment keeps
        each file's passages together, so one language's are a few dozen runs, and a query
        for it reads half the rows. Runs closer than SPAN_GAP rows are read as one."""
        spans = self._spans.get(lang)
        if spans is None:
            spans = self._spans[lang] = []
            for mask in self._allowed(lang):
                allowed = np.flatnonzero(mask)
                breaks = np.flatnonzero(np.diff(allowed) > SPAN_GAP)
                starts = np.r_[allowed[:1], allowed[breaks + 1]]
                stops = np.r_[allowed[breaks], allowed[-1:]] + 1
                spans.append(list(zip(starts.tolist(), stops.tolist())))
        return spans

    def prepare(self, lang: Lang | None) -> None:
        """Work out which rows a search of that language reads, so that ``nearest`` may then run on
        another thread: it needs the scorer (for the live passages), which is not thread-safe."""
        self._table(lang)

    def _table(self, lang: Lang | None) -> tuple[np.ndarray, list[np.ndarray]] | None:
        """The segments of a language's search as ``dots.Kernel.nearest`` reads them in one call,
        with the arrays it reads (kept while the table is); None unless each segment has codes (no
        lists) and the kernel reads its arrays as they are. Made once a language."""
        if lang in self._tables:
            return self._tables[lang]
        kernel = dots.kernel()
        rows, kept = [], []
        for (docnums, found), mask, spans in zip(self.parts, self._allowed(lang), self._spanned(lang)):
            projection = found.projection
            if not spans:
                continue
            if kernel is None or projection is None or not isinstance(projection.passages, dots.Scaled) \
                    or not isinstance(projection.sentences, dots.Scaled):
                rows = []
                break
            bounds = np.array(spans, dtype=np.int64).reshape(-1, 2)
            row = kernel.segment(projection.basis, projection.passages, projection.sentences, found.owners, bounds,
                                 mask, found.passages, found.sentences, docnums)
            if row is None:
                rows = []
                break
            rows.append(row)
            kept += [bounds, mask, docnums]
        table = self._tables[lang] = (np.array(rows, dtype=np.uint64), kept) if rows else None
        return table

    def nearest(self, query: np.ndarray, k: int, lang: Lang | None, *, spread: bool = True) -> dict[int, float]:
        """The k live passages (of that language) most similar to a query vector, with their
        (exact) similarities. A large segment is read through its projection, its SHORTLIST_PER_HIT
        * k best passages by that estimate are gathered from every segment, and the best
        SHORTLIST_TOTAL_PER_HIT * k of those scored exactly.

        ``spread``: segments are read on every core (``_segments``; the reads are numpy's and release
        the GIL). Not where the cores are taken already, as beside a query's lexical side: e5's
        nearest read on its own thread made the headlines of bench/performance.py 1.1-2.1 ms sooner
        at 1x-4x and 4 ms at 16x (57.4 against 61.2) than read on every core."""
        parts = [(rows, found, mask, spans) for (rows, found), mask, spans
                 in zip(self.parts, self._allowed(lang), self._spanned(lang)) if spans]
        table = None if spread else self._table(lang)
        if table is not None:
            kernel = dots.kernel()
            assert kernel is not None
            docnums, values = kernel.nearest(table[0], parts[0][1].projection.basis.shape[1], query,  # type: ignore[union-attr]
                                             stored.SHORTLIST_PER_HIT * k, stored.SHORTLIST_TOTAL_PER_HIT * k, k)
            for _, found, _, _ in parts:
                self._let_go(found)
            return dict(zip(docnums.tolist(), values.tolist()))
        spreading = _segments().map if spread else map
        listed = list(spreading(lambda part: self._shortlist(*part, query, k), parts))
        estimated = [i for i, (_, found, _, _) in enumerate(parts) if found.projection is not None]
        if estimated:
            estimates = np.concatenate([listed[i][1] for i in estimated])
            if len(estimates) > stored.SHORTLIST_TOTAL_PER_HIT * k:
                floor = -np.partition(-estimates, stored.SHORTLIST_TOTAL_PER_HIT * k - 1)[
                    stored.SHORTLIST_TOTAL_PER_HIT * k - 1]
                for i in estimated:
                    positions, values = listed[i]
                    listed[i] = positions[values >= floor], values[values >= floor]
            exact = list(spreading(lambda i: self._exact(parts[i][1], listed[i][0], query), estimated))
            for i, values in zip(estimated, exact):
                listed[i] = listed[i][0], values
        if not listed:
            return {}
        every = np.concatenate([parts[i][0][positions] for i, (positions, _) in enumerate(listed)])
        scores = np.concatenate([values for _, values in listed])
        k = min(k, len(every))
        if k <= 0:
            return {}
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.lexsort((every[best], -scores[best]))]
        return {int(every[i]): float(scores[i]) for i in best}

    def _shortlist(self, rows: np.ndarray, found: stored.SegmentVectors, mask: np.ndarray,
                   spans: list[tuple[int, int]], query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """One segment's candidates for ``nearest``: positions (ascending) and their similarities,
        estimated where the segment has a projection (its best SHORTLIST_PER_HIT * k), else exact
        (every allowed row). A segment with lists is read in the lists nearest the query, one without
        in the runs of allowed rows."""
        keep = stored.SHORTLIST_PER_HIT * k
        if found.projection is None:
            read = np.concatenate([np.arange(start, stop) for start, stop in spans])
            values = np.concatenate([found.similarities(query, start, stop) for start, stop in spans])
            self._let_go(found)  # its full vectors were read
            return stored.best_rows(read, values, mask, None)
        if found.projection.lists is None:
            return found.span_shortlist(query, spans, mask, keep)
        return stored.best_rows(*found.listed(found.projection.lists.probe(query @ found.projection.basis), query),
                                mask, keep)

    def _exact(self, found: stored.SegmentVectors, positions: np.ndarray, query: np.ndarray) -> np.ndarray:
        """The exact similarities of some of a segment's rows, its full vectors let go of after."""
        values = found.exact(positions, query)
        self._let_go(found)
        return values

    def of(self, query: np.ndarray, docnums: Sequence[int]) -> dict[int, float]:
        """The similarities of the given passages that have vectors."""
        wanted = np.asarray(docnums, dtype=np.int64)
        found: dict[int, float] = {}
        for rows, part in self.parts:
            if not len(wanted) or not len(rows):
                continue
            at = np.minimum(np.searchsorted(rows, wanted), len(rows) - 1)
            hit = rows[at] == wanted
            if hit.any():
                found.update(zip(wanted[hit].tolist(), self._exact(part, at[hit], query).tolist()))
        return found

    def _let_go(self, found: stored.SegmentVectors) -> None:
        """After each read of a segment's full vectors: their pages stay in the system's file cache,
        but a long session does not come to hold them all. (The vocabularies are kept mapped: at
        most vocabulary.MAX_WORDS rows a language, 61 MB, which every query reads from; faulting
        their rows in again took 2-4 ms a query.)"""
        if self._release:
            found.release()


class Snapshots:
    """Hands out the snapshot of the newest commit, as Lucene's SearcherManager does.

    ``acquire`` gives the current snapshot, opening a new one when another commit
    has been made since; a replaced snapshot is closed once nobody holds it.
    """

    def __init__(self, store: Store, ranking: Ranking = RANKING, others: Sequence[Store] = ()) -> None:
        """``others``: more indexes each snapshot spans (``api.MultiIndex``)."""
        self.store, self.ranking, self.others = store, ranking, list(others)
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
        generations = tuple(store.generation() for store in [self.store, *self.others])
        if self._current is None or self._current.generations != generations:
            self._retire(self._current)
            self._current = Snapshot(self.store, self.store.read(generations[0]), self.ranking,
                                     [(store, store.read(g)) for store, g in zip(self.others, generations[1:])])
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
