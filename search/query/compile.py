"""A (translated) query tree -> a whoosh query over the indexed fields.

Plain words search the ``body`` field (lemmas and stems) with a small bonus for
the exact form; quoted phrases and =words search the ``exact`` field;
alternatives search ``body`` (translations) or ``names`` (name keys), boosted by
their weight, and a word scores by its best match among them. In a list of plain words, stop words are dropped when other words
remain, so long natural-language questions rank by their content words.
"""

from __future__ import annotations

from whoosh import query as wq

from ..analysis import fold, query_forms, words
from ..languages import is_stopword
from ..ranking.fusion import RANKING, Ranking
from ..storage.schema import BODY, EXACT, KIND, NAMES, PASSAGE
from .parser import And, Node, Not, Phrase, Term
from .translate import Alternative, Expanded

EVERY_PASSAGE = wq.Term(KIND, PASSAGE)
"""What a query of exclusions only starts from (text fields match passages only anyway)."""


def compile_query(node: Node, ranking: Ranking = RANKING) -> wq.Query:
    """The whoosh query for a parsed (and perhaps translated) query tree."""
    if isinstance(node, Expanded):
        # The best way a word matched counts, not the sum of all of them, so a
        # passage found through a translation ranks beside one found literally.
        parts = [compile_query(node.literal, ranking)] if node.literal else []
        parts.extend(_alternative(alt) for alt in node.alternatives)
        return parts[0] if len(parts) == 1 else wq.DisjunctionMax(parts)
    if isinstance(node, Term):
        return _term(node, ranking)
    if isinstance(node, Phrase):
        return _phrase(node.text)
    if isinstance(node, And):
        return wq.And([compile_query(item, ranking) for item in node.items])
    if isinstance(node, Not):  # passages without it (a bare Not would match file records too)
        return wq.AndNot(EVERY_PASSAGE, compile_query(node.item, ranking))
    return _or_items(node.items, ranking)


def _or_items(items: tuple[Node, ...], ranking: Ranking) -> wq.Query:
    """Or with negated items as exclusions, and stop words dropped if content words remain."""
    positive = [item for item in items if not isinstance(item, Not)]
    negative = [item.item for item in items if isinstance(item, Not)]
    content = [item for item in positive if not _is_stop(item)]
    query = _or([compile_query(item, ranking) for item in (content or positive)]) if positive else EVERY_PASSAGE
    if negative:
        query = wq.AndNot(query, _or([compile_query(item, ranking) for item in negative]))
    return query


def _is_stop(node: Node) -> bool:
    term = node.literal if isinstance(node, Expanded) else node
    return isinstance(term, Term) and not term.exact and is_stopword(term.text)


def _term(term: Term, ranking: Ranking) -> wq.Query:
    forms = [w.text for w in words(term.text)]
    if term.prefix:
        return _or([wq.Prefix(EXACT, fold(form)) for form in forms])
    exact = [wq.Term(EXACT, fold(form)) for form in forms]
    if term.exact:
        return _or(exact)
    lemmas = [wq.Term(BODY, t) for form in forms for t in query_forms(form)]
    return _or(lemmas + [wq.Term(EXACT, fold(form), boost=ranking.exact_bonus) for form in forms])


def _phrase(text: str) -> wq.Query:
    parts = [fold(w.text) for w in words(text) if not w.compound]
    if len(parts) == 1:
        return wq.Term(EXACT, parts[0])
    return wq.Phrase(EXACT, parts)


def _alternative(alternative: Alternative) -> wq.Query:
    if alternative.origin == "names":
        return wq.Term(NAMES, alternative.target[0], boost=alternative.weight)
    per_word = [[wq.Term(BODY, t) for t in query_forms(word)] for word in alternative.target]
    if len(per_word) > 1:
        return wq.And([_or(terms) for terms in per_word], boost=alternative.weight)
    return _or(per_word[0], boost=alternative.weight)


def _or(queries: list[wq.Query], boost: float = 1.0) -> wq.Query:
    """An Or of the queries, or the one query, with a boost (set on the new query: whoosh's
    copy() would deep-copy the tree)."""
    if len(queries) > 1:
        return wq.Or(queries, boost=boost)
    if boost == 1.0:
        return queries[0]
    only = queries[0]
    assert isinstance(only, wq.Term)
    return wq.Term(only.fieldname, only.text, boost=only.boost * boost)
