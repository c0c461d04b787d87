"""Which words of a passage matched the query, as character spans.

A word matches when one of the terms it is indexed as (lemma or stem, exact
form, name key) is among the query's terms, so translated and transliterated
matches are highlighted too.
"""

from __future__ import annotations

from typing import Iterable

from ..analysis import word_terms, words
from ..storage.schema import BODY, EXACT, NAMES

Span = tuple[int, int]


def matched_spans(text: str, terms: Iterable[tuple[str, str]]) -> list[Span]:
    """Spans of ``text`` whose words match (field, term) pairs; hyphenated parts separately."""
    by_field: dict[str, set[str]] = {}
    for field, term in terms:
        by_field.setdefault(field, set()).add(term)
    body, exact, names = (by_field.get(f, set()) for f in (BODY, EXACT, NAMES))
    spans: list[Span] = []
    for word in words(text):
        lemmas, form, keys = word_terms(word.text)
        if form in exact or body.intersection(lemmas) or names.intersection(keys):
            if not spans or word.start >= spans[-1][1]:
                spans.append((word.start, word.end))
    return spans
