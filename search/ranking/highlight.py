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


class Highlighter:
    """The matched words of a query's hits: one per query, which decides each word form once
    for all its hits (their words recur: half of ten news passages' words are repeats)."""

    def __init__(self, terms: Iterable[tuple[str, str]]) -> None:
        by_field: dict[str, set[str]] = {}
        for field, term in terms:
            by_field.setdefault(field, set()).add(term)
        self._body, self._exact, self._names = (frozenset(by_field.get(f, ())) for f in (BODY, EXACT, NAMES))
        self._decided: dict[str, bool] = {}

    def matches(self, word: str) -> bool:
        """Whether a word (as a text holds it) is indexed as one of the query's terms."""
        found = self._decided.get(word)
        if found is None:
            lemmas, form, keys = word_terms(word)
            found = self._decided[word] = (form in self._exact or not self._body.isdisjoint(lemmas)
                                           or not self._names.isdisjoint(keys))
        return found

    def spans(self, text: str) -> list[Span]:
        """Spans of ``text`` whose words match: a hyphenated word whole, else its parts that do."""
        spans: list[Span] = []
        for word in words(text):
            if (not spans or word.start >= spans[-1][1]) and self.matches(word.text):
                spans.append((word.start, word.end))
        return spans
