"""Query -> ranked passages: parsed query -> translated query -> candidates -> fused ranking.

Candidates come three ways: lexically, BM25F over the translated query
(``scoring``, or whoosh's own matchers for phrases and prefixes), and, for
natural-language queries, by the similarity of the query's vector to passage
vectors, the sentence encoder's and e5's (the deep vectors, where the deep phase
has reached). ``ranking.fusion.fuse`` combines them, with word alignment for the
best candidates (``alignment``). e5's query vector, the costliest part, and the passages
nearest it are found on a thread of its own while the query is translated and scored lexically.
Everything a query reads comes from one snapshot.
"""

from __future__ import annotations

from concurrent.futures import Future
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
from whoosh import query as wq

from .analysis import fold
from .errors import InputError
from .languages import Lang, detect_language
from .query.compile import compile_query
from .query.parser import parse
from .query.repair import Correction, Repaired, repair
from .query.translate import Expanded, Translator, expansions
from .ranking import alignment
from .ranking.fusion import DeepMatch, Fused, fuse
from .ranking.highlight import Highlighter, Span
from .ranking.scoring import Unsupported
from .snapshot import Coverage, Snapshot
from .storage.schema import EXACT, KEY, LANG
from .vectors import deep, embeddings


@dataclass(frozen=True)
class Cross:
    """Which cross-language mechanisms a query uses (all by default)."""

    lexicon: bool = True
    names: bool = True
    embeddings: bool = True

    @classmethod
    def of(cls, cross: "bool | Cross") -> "Cross":
        if isinstance(cross, Cross):
            return cross
        return cls() if cross else cls(False, False, False)

    def __bool__(self) -> bool:
        return self.lexicon or self.names or self.embeddings


@dataclass(frozen=True)
class Neighbour:
    """A passage next to a hit in its document (``--context``)."""

    passage: int
    line: int
    page: int | None
    text: str
    member: str | None = None

    def to_json(self) -> dict:
        return {"passage": self.passage, "member": self.member, "line": self.line, "page": self.page,
                "text": self.text}


@dataclass(frozen=True)
class Hit:
    """One ranked passage."""

    rank: int
    score: float
    doc: str
    passage: int
    lang: Lang
    text: str
    start: int
    end: int
    line: int = 1
    """The 1-based line of the document's text where the passage starts (within its page, for a PDF)."""
    page: int | None = None
    """The 1-based page, for a PDF."""
    highlights: tuple[Span, ...] = ()
    parts: Fused | None = None
    """The parts of the score (for --explain)."""
    key: str = ""
    """The document's identity in the index (its resolved path)."""
    context: tuple[tuple[Neighbour, ...], tuple[Neighbour, ...]] | None = None
    """The passages before and after it in its document, when asked for (``--context``)."""
    index: str | None = None
    """The index folder that holds it, when several were searched as one (``api.MultiIndex``)."""
    member: str | None = None
    """Its path inside an archive or e-mail (``nested.zip/deep/note.txt``), None for a file's own text."""

    @property
    def location(self) -> str:
        return location(self.doc, self.line, self.page, self.member)

    def to_json(self) -> dict:
        return {"rank": self.rank, "score": round(self.score, 6), "doc": self.doc, "member": self.member,
                "passage": self.passage, "line": self.line, "page": self.page, "lang": self.lang,
                "text": self.text, "start": self.start, "end": self.end,
                "highlights": [list(span) for span in self.highlights]} | ({"index": self.index} if self.index else {})


def location(doc: str, line: int, page: int | None, member: str | None = None) -> str:
    """``path:line``, as grep and editors write a place in a file (`` (page N)`` for a PDF);
    ``path » member:line`` inside an archive or e-mail."""
    return (f"{doc} » {member}:{line}" if member else f"{doc}:{line}") + (f" (page {page})" if page else "")


@dataclass(frozen=True)
class Results:
    """The hits of one query, and how the query was expanded and ranked."""

    query: str
    hits: list[Hit]
    expanded: list[Expanded] = field(default_factory=list)
    dense: bool = False
    """Whether passage vectors and word alignment were fused."""
    coverage: Coverage | None = None
    """How many passages had vectors, when vectors were fused."""
    deep_coverage: Coverage | None = None
    """How many passages had deep vectors, when vectors were fused."""
    corrections: tuple[Correction, ...] = ()
    """Mistyped words that were repaired (``query.repair``)."""
    searched: str = ""
    """The query searched with: the typed one, or the repaired one."""

    @property
    def corrected(self) -> str | None:
        """The repaired query, when a word of the typed one was repaired."""
        return self.searched if self.corrections else None


def search(snapshot: Snapshot, text: str, *, limit: int = 10, lang: Lang | None = None,
           cross: bool | Cross = True, context: int = 0) -> Results:
    """Run one query against a snapshot of an index.

    ``cross``: True for every cross-language mechanism, False for the literal
    query only, or a Cross choosing some of them. ``context``: each hit comes with
    up to this many passages before and after it, from the same snapshot.
    """
    if limit < 1:
        raise InputError("--limit must be at least 1")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:  # bytes a shell passed that are not UTF-8 (kept as surrogates)
        shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise InputError(f"the query is not UTF-8 text: {shown} (character {error.start + 1})") from None
    mechanisms = Cross.of(cross)
    repaired = repair(text, snapshot.words) if mechanisms else Repaired(text)
    parsed = parse(repaired.text)
    if parsed.root is None:
        raise InputError("empty query: give at least one word to search for")
    lang = lang or parsed.lang
    ranking = snapshot.ranking
    content, words = len(parsed.content_words), len(parsed.words)
    dense = mechanisms.embeddings and parsed.natural and ranking.dense(words) > 0
    deep_coverage = snapshot.deep.coverage if dense else None
    deep_nearest = None
    deep_vector: Future[np.ndarray] = Future()
    sentence = embeddings.QueryVector(parsed.text)
    beside = bool(deep_coverage and deep_coverage.covered)
    # e5 on its thread, the rest on this one, each one thread: two cores (see deep.beside_query). Entered
    # before e5's thread starts: OpenBLAS's set_num_threads(1) waits for its own worker thread, which
    # found no free core once e5's pass had one and other work the other (a median 2.2 ms a 1x headline
    # beside another benchmark; 0.01 ms either way on a quiet machine).
    with deep.beside_query() if beside else nullcontext():
        if beside:
            snapshot.deep.prepare(lang)  # here: the scorer it reads is this thread's
            deep_nearest = deep.soon(_deep_nearest, snapshot, parsed.text, lang, sentence, deep_vector)
            sentence.tokenize()  # while e5's thread computes e5's vector, for the pass it offers next
        if dense:
            embeddings.preload()  # it loads while the query is translated and scored
        root = _translator(snapshot, mechanisms).translate(parsed.root) if mechanisms else parsed.root
        query = compile_query(root, ranking)
        if lang:
            # An And with a term that adds nothing to the score: only passages of that language.
            query = wq.And([query, wq.Term(LANG, lang, boost=0.0)])
        lexical = _lexical(snapshot, query, max(limit, ranking.lexical_candidates))
        similarity: dict[int, float] = {}
        aligned: dict[int, float] = {}
        best: list[int] | None = None  # the candidates aligned, which alone can rank first
        matches: dict[int, DeepMatch] = {}
        coverage = None
        share = 0.0
        if dense:
            passage_vectors = snapshot.vectors
            coverage = passage_vectors.coverage
            query_vector = sentence.get()
            if deep_nearest is None or deep_coverage.partial:  # type: ignore[union-attr]
                # Where e5 covers every passage, its nearest find what these would: bench/xquad.py and
                # bench/short.py's tuning half rank exactly the same without them (and 10 ms sooner).
                similarity = passage_vectors.nearest(query_vector, ranking.dense_candidates, lang,
                                                     spread=deep_nearest is None)
            # The candidates' similarities while e5's thread still looks for its nearest passages:
            # the tail after them is this thread's alone.
            similarity.update(passage_vectors.of(query_vector, sorted(lexical.keys() - similarity.keys())))
            if deep_nearest is not None:
                vector = deep_vector.result()
                known = snapshot.deep.of(vector, sorted(lexical.keys() | similarity.keys()))
                matches = _deep(snapshot, vector, deep_nearest.result(), known, detect_language(parsed.text))
                share = deep_coverage.covered / deep_coverage.passages  # type: ignore[union-attr]
            similarity.update(passage_vectors.of(query_vector, sorted(matches.keys() - similarity.keys())))
            best = [item.docnum for item in fuse(lexical, similarity, {}, content_words=content, words=words,
                                                 ranking=ranking, deep=matches, deep_share=share,
                                                 limit=max(limit, ranking.aligned_candidates))]
            aligned = align(snapshot, alignment.aligned_words(parsed.words, parsed.content_words), best)
        ranked = fuse(lexical, similarity, aligned, content_words=content, words=words, ranking=ranking,
                      deep=matches, deep_share=share, limit=limit, among=best)
    highlighter = Highlighter(query.all_terms())
    records = [snapshot.stored(item.docnum) for item in ranked]
    highlighter.prepare([record["text"] for record in records])
    hits = [_hit(rank, item, record, highlighter) for rank, (item, record) in enumerate(zip(ranked, records), 1)]
    if len(snapshot.parts) > 1:
        hits = [replace(hit, index=str(snapshot.parts[snapshot.index_of(item.docnum)][0].path))
                for hit, item in zip(hits, ranked)]
    if context:
        hits = [replace(hit, context=_around(snapshot, hit, context)) for hit in hits]
    return Results(text, hits, expansions(root), dense, coverage, deep_coverage, repaired.corrections, repaired.text)


def _deep_nearest(snapshot: Snapshot, text: str, lang: Lang | None, sentence: embeddings.QueryVector,
                  vector_out: Future[np.ndarray]) -> dict[int, float]:
    """The passages (of ``lang``) nearest the query's deep vector, which ``vector_out`` gets as soon
    as it is computed: on e5's thread, beside the lexical side (at a million passages the nearest
    take as long as the rest of the query). Between the two, the query's sentence-encoder vector,
    unless the caller has begun it: after a first meeting with a query's words the caller reaches
    it later than this thread does (at 1x, 226 of the 234 headlines of bench/performance.py), and
    the headline took 1 ms less than with it computed after the nearest; after, the caller is
    sooner and computes it."""
    try:
        vector = deep.query(text)
    except BaseException as error:
        vector_out.set_exception(error)  # the caller waits for it
        raise
    vector_out.set_result(vector)
    sentence.offer()
    return snapshot.deep.nearest(vector, snapshot.ranking.deep_candidates, lang, spread=False)


def _deep(snapshot: Snapshot, vector: np.ndarray, found: dict[int, float], known: dict[int, float],
          query_lang: Lang) -> dict[int, DeepMatch]:
    """e5's similarities of the passages nearest the query's deep vector (``found``) and of the
    other candidates (``known``, those that have deep vectors), and whether each is in the query's
    language."""
    found = found | known
    docnums = np.fromiter(found, np.int64, len(found))
    same = snapshot.in_language(docnums, query_lang)
    return {docnum: DeepMatch(similarity, bool(is_same))
            for (docnum, similarity), is_same in zip(found.items(), same.tolist())}


def _around(snapshot: Snapshot, hit: Hit, count: int) -> tuple[tuple[Neighbour, ...], tuple[Neighbour, ...]]:
    """Up to ``count`` passages before a hit and after it in its document (its member, inside an
    archive or e-mail), in order."""
    wanted = set(range(hit.passage - count, hit.passage + count + 1)) - {hit.passage}
    found = {}
    for docnum in snapshot.scorer.term(KEY, hit.key).docnums.tolist():
        stored = snapshot.stored(docnum)
        if stored.get("passage") in wanted and stored.get("member") == hit.member:  # a file record has none
            found[stored["passage"]] = Neighbour(stored["passage"], stored.get("line", 1), stored.get("page"),
                                                 stored["text"], stored.get("member"))
    ordered = [found[number] for number in sorted(found)]
    return (tuple(n for n in ordered if n.passage < hit.passage),
            tuple(n for n in ordered if n.passage > hit.passage))


def _translator(snapshot: Snapshot, mechanisms: Cross) -> Translator:
    return Translator(snapshot.lexicon, snapshot.occurs, use_lexicon=mechanisms.lexicon,
                      use_names=mechanisms.names,
                      vocabularies=snapshot.vocabularies if mechanisms.embeddings else {},
                      word_vectors=snapshot.word_vectors if mechanisms.embeddings else None,
                      ranking=snapshot.ranking)


def _lexical(snapshot: Snapshot, query: wq.Query, k: int) -> dict[int, float]:
    """The k best BM25F candidates: by arrays where the scorer knows the query, else by whoosh."""
    try:
        return dict(snapshot.scorer.evaluate(query).top(k))
    except Unsupported:
        # Block-quality skipping is safe with matchers' corrections (tests/ranking/test_matchers.py).
        return {hit.docnum: hit.score for hit in snapshot.searcher.search(query, limit=k, optimize=True)}


def align(snapshot: Snapshot, words: Sequence[str], docnums: list[int]) -> dict[int, float]:
    """Word alignment of the query's words (``alignment.aligned_words``) with these passages,
    each word weighed by the idf of its exact form (rare words count more)."""
    return alignment.scores(words, docnums, snapshot.passage_words, snapshot.word_vectors,
                            lambda word: snapshot.scorer.idf(EXACT, fold(word)))


def _hit(rank: int, item: Fused, stored: dict, highlighter: Highlighter) -> Hit:
    return Hit(rank=rank, score=item.score, doc=stored["doc"], passage=stored["passage"],
               lang=stored["lang"], text=stored["text"], start=stored["start"], end=stored["end"],
               line=stored.get("line", 1), page=stored.get("page"),
               highlights=tuple(highlighter.spans(stored["text"])), parts=item, key=stored[KEY],
               member=stored.get("member"))
