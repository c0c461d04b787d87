"""Query -> ranked passages: lexical BM25F (with cross-language expansion) fused
with dense cross-lingual vectors.

A natural-language query (plain words) is run both ways and the two are fused:
the BM25F score saturated into [0, 1) as s / (s + LEXICAL_HALF * n), n the
query's content words, plus DENSE_WEIGHT times the similarity of the query and
passage vectors and again times their word alignment (``alignment``), less for
queries of fewer than DENSE_FULL_WORDS content words (weights tuned on
XQuAD-R: bench/xquad.py). The saturation keeps a weak
lexical match weak, where normalising by the best score would make the best
of a bad lot look perfect. Passages found only by vectors must pass a
similarity floor (a high one when nothing matches lexically, so nonsense still
finds nothing). Queries with operators, phrases, =exact words or prefixes are
lexical only, so their logic holds exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
from whoosh import query as wq
from whoosh.searching import Searcher

from . import alignment, embeddings, vectors, vocabulary
from .errors import InputError
from .highlight import Span, matched_spans
from .languages import Lang, lexicon
from .query.compile import compile_query
from .query.parser import Node, parse
from .query.translate import Neighbours, expansions, translate
from .store import Store

LEXICAL_CANDIDATES = 100
DENSE_CANDIDATES = 100
LEXICAL_HALF = 10.0
"""The BM25F score, per content word of the query, that counts as half a perfect match."""
DENSE_WEIGHT = 1.5
ALIGNED_CANDIDATES = 30
"""Word alignment reorders the best candidates only (or as many as asked for): on XQuAD-R,
aligning the best 20 ranks as well as aligning all of them, at a fraction of the cost."""
DENSE_FULL_WORDS = 3
"""A sentence encoder needs a sentence: queries of fewer content words weigh vectors less,
and a one-word query not at all (its vector says little; its translations say more)."""
DENSE_FLOOR = 0.3
"""When no passage matches lexically, the similarity a passage needs to be a hit at all
(nonsense scores about 0.25 on XQuAD-R; real questions 0.3 and more)."""
DENSE_FLOOR_BESIDE_LEXICAL = 0.2
"""The similarity a passage found only by its vector needs beside lexical hits."""


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
    highlights: tuple[Span, ...] = ()

    def to_json(self) -> dict:
        return {"rank": self.rank, "score": round(self.score, 6), "doc": self.doc,
                "passage": self.passage, "lang": self.lang, "text": self.text,
                "start": self.start, "end": self.end,
                "highlights": [list(span) for span in self.highlights]}


@dataclass(frozen=True)
class Results:
    """The hits of one query, and how the query was expanded."""

    query: str
    hits: list[Hit]
    expanded: list[Expanded] = field(default_factory=list)
    dense: bool = False


def search(store: Store, text: str, *, limit: int = 10, lang: Lang | None = None,
           cross: bool | Cross = True) -> Results:
    """Run one query against the index at ``store``.

    ``cross``: True for every cross-language mechanism, False for the literal
    query only, or a Cross choosing some of them.
    """
    if limit < 1:
        raise InputError("--limit must be at least 1")
    parsed = parse(text)
    if parsed.root is None:
        raise InputError("empty query: give at least one word to search for")
    lang = lang or parsed.lang
    root: Node = parsed.root
    mechanisms = Cross.of(cross)
    with store.searcher() as searcher:
        if mechanisms.lexicon or mechanisms.names or mechanisms.embeddings:
            root = translate(root, lexicon.cached(str(store.path)), use_lexicon=mechanisms.lexicon,
                             use_names=mechanisms.names,
                             indexed=lambda term: searcher.doc_frequency("body", term) > 0,
                             neighbours=_neighbours(store) if mechanisms.embeddings else None,
                             similarity=embeddings.similarities if mechanisms.embeddings else None)
        whoosh_query = compile_query(root)
        if lang:
            # Not a filter= (it builds the set of all the language's passages for every query),
            # nor Require (whoosh 2.7.4's ignores the requirement when optimize=False):
            # an And with a term that adds nothing to the score.
            whoosh_query = wq.And([whoosh_query, wq.Term("lang", lang, boost=0.0)])
        natural = mechanisms.embeddings and parsed.natural
        # optimize=False: whoosh 2.7.4's block-quality skipping can loop forever on an Or of
        # boosted terms (seen with body + exact^0.2 over a few thousand passages; it looks like
        # floating-point rounding in AndMaybeMatcher.skip_to_quality when a boost is not a
        # power of two, so that a skip moves nothing and the loop condition never changes).
        results = searcher.search(whoosh_query, limit=max(limit, LEXICAL_CANDIDATES), optimize=False)
        lexical = {hit.docnum: hit.score for hit in results}
        length = max(1, len(parsed.content_words))
        half = LEXICAL_HALF * length
        scores = {docnum: score / (score + half) for docnum, score in lexical.items()}
        weight = DENSE_WEIGHT * min(1.0, (length - 1) / (DENSE_FULL_WORDS - 1))
        fused = natural and weight > 0
        if fused:
            _fuse_dense(scores, lexical, store, searcher, parsed.text, lang, weight)
            _fuse_alignment(scores, store, searcher, parsed.content_words, weight,
                            max(limit, ALIGNED_CANDIDATES))
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:limit]
        terms = whoosh_query.all_terms()
        hits = [_hit(rank, docnum, score, searcher.stored_fields(docnum), terms)
                for rank, (docnum, score) in enumerate(ranked, 1)]
    return Results(text, hits, expansions(root), fused)


def _neighbours(store: Store) -> Neighbours:
    return lambda word, lang, floor: vocabulary.neighbours(store, word, lang, floor)


def _fuse_dense(scores: dict[int, float], lexical: dict[int, float], store: Store, searcher: Searcher,
                text: str, lang: Lang | None, weight: float) -> None:
    """Add vector similarity to every candidate, and admit the nearest passages by vector."""
    passage_vectors = vectors.for_searcher(store, searcher)
    if not len(passage_vectors.langs):
        return
    similarities = passage_vectors.similarities(embeddings.encode([text])[0])
    similarity = passage_vectors.nearest(similarities, DENSE_CANDIDATES, lang)
    for docnum in lexical:
        similarity.setdefault(docnum, float(similarities[docnum]))
    floor = DENSE_FLOOR_BESIDE_LEXICAL if lexical else DENSE_FLOOR
    for docnum, cosine in similarity.items():
        if docnum in lexical or cosine >= floor:
            scores[docnum] = scores.get(docnum, 0.0) + weight * cosine


def _fuse_alignment(scores: dict[int, float], store: Store, searcher: Searcher, query: tuple[str, ...],
                    weight: float, count: int) -> None:
    """Add word alignment to the ``count`` best candidates so far."""
    best = sorted(scores, key=lambda docnum: (-scores[docnum], docnum))[:count]
    for docnum, aligned in alignment.scores(store, searcher, query, best).items():
        scores[docnum] += weight * aligned


def _hit(rank: int, docnum: int, score: float, stored: dict, terms: Iterable[tuple[str, str]]) -> Hit:
    return Hit(rank=rank, score=score, doc=stored["doc"], passage=stored["passage"],
               lang=stored["lang"], text=stored["text"], start=stored["start"], end=stored["end"],
               highlights=tuple(matched_spans(stored["text"], terms)))

