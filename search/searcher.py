"""Query -> ranked passages: lexical BM25F (with cross-language expansion) fused
with dense cross-lingual vectors.

A natural-language query (plain words) is run both ways and the two are fused:
the BM25F score saturated into [0, 1) as s / (s + LEXICAL_HALF), plus
DENSE_WEIGHT times the cosine similarity of the query and passage vectors
(weights tuned on XQuAD-R: bench/xquad.py). The saturation keeps a weak
lexical match weak, where normalising by the best score would make the best
of a bad lot look perfect. Passages found only by vectors must pass a
similarity floor, so nonsense still finds nothing. Queries
with operators, phrases, =exact words or prefixes are lexical only, so their
logic holds exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from whoosh import query as wq

from . import embeddings, vectors
from .errors import InputError
from .highlight import Span, matched_spans
from .languages import Lang, lexicon
from .query.compile import compile_query
from .query.parser import Node, Or, Term, parse
from .query.translate import Expanded, expansions, translate
from .store import PASSAGE, Store

LEXICAL_CANDIDATES = 100
DENSE_CANDIDATES = 100
LEXICAL_HALF = 20.0
"""The BM25F score that counts as half a perfect lexical match."""
DENSE_WEIGHT = 2.0
DENSE_FLOOR = 0.35
"""Cosine below which a passage found only by its vector is not a hit."""


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
    passages = wq.And([wq.Term("kind", PASSAGE)] + ([wq.Term("lang", lang)] if lang else []))
    with store.searcher() as searcher:
        if mechanisms.lexicon or mechanisms.names:
            root = translate(root, lexicon.cached(str(store.path)), use_lexicon=mechanisms.lexicon,
                             use_names=mechanisms.names,
                             indexed=lambda term: searcher.doc_frequency("body", term) > 0)
        whoosh_query = compile_query(root)
        natural = mechanisms.embeddings and _is_natural(root)
        # optimize=False: whoosh 2.7's block-quality skipping can loop forever on
        # an Or of boosted terms (seen with body + exact^0.2 over a few thousand passages).
        results = searcher.search(whoosh_query, limit=max(limit, LEXICAL_CANDIDATES), filter=passages,
                                  optimize=False)
        lexical = {hit.docnum: hit.score for hit in results}
        scores = {docnum: score / (score + LEXICAL_HALF) for docnum, score in lexical.items()}
        if natural:
            _fuse_dense(scores, lexical, store, searcher, text, lang)
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:limit]
        terms = whoosh_query.all_terms()
        hits = [_hit(rank, docnum, score, searcher.stored_fields(docnum), terms)
                for rank, (docnum, score) in enumerate(ranked, 1)]
    return Results(text, hits, expansions(root), natural)


def _is_natural(node: Node) -> bool:
    """Plain words only (perhaps expanded): the query a person types into a search box."""
    if isinstance(node, Expanded):
        return node.literal is None or _is_natural(node.literal)
    if isinstance(node, Term):
        return not node.exact and not node.prefix
    return isinstance(node, Or) and all(_is_natural(item) for item in node.items)


def _fuse_dense(scores: dict[int, float], lexical: dict[int, float], store: Store, searcher,
                text: str, lang: Lang | None) -> None:
    """Add vector similarity to every candidate; admit vector-only candidates above the floor."""
    matrix = vectors.for_searcher(store, searcher)
    if not len(matrix.langs):
        return
    query_vector = embeddings.encode([text])[0]
    similarity = dict(matrix.nearest(query_vector, DENSE_CANDIDATES, lang))
    for docnum in lexical:
        similarity.setdefault(docnum, float(matrix.matrix[docnum] @ query_vector))
    for docnum, cosine in similarity.items():
        if docnum in lexical or cosine >= DENSE_FLOOR:
            scores[docnum] = scores.get(docnum, 0.0) + DENSE_WEIGHT * cosine


def _hit(rank: int, docnum: int, score: float, stored: dict, terms) -> Hit:
    return Hit(rank=rank, score=score, doc=stored["doc"], passage=stored["passage"],
               lang=stored["lang"], text=stored["text"], start=stored["start"], end=stored["end"],
               highlights=tuple(matched_spans(stored["text"], terms)))

