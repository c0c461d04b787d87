"""Which words of a passage matched the query, as character spans.

A word matches when one of the terms it is indexed as (lemma or stem, exact
form, name key) is among the query's terms, so translated and transliterated
matches are highlighted too.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from ..analysis import WordTerms, words_terms
from ..languages.characters import HYPHEN_RUN, WORD, split_compound
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

    def prepare(self, texts: Sequence[str]) -> None:
        """Decide the words of these texts (a query's hits) together: their terms are read from the
        machine's table in one pass (``analysis.words_terms``)."""
        forms: dict[str, None] = {}
        for text in texts:
            for match in WORD.finditer(text):
                surface = match.group()
                forms[surface] = None
                if HYPHEN_RUN.search(surface):
                    forms.update(dict.fromkeys(split_compound(surface)))
        new = [form for form in forms if form not in self._decided]
        for word, terms in zip(new, words_terms(new)):
            self._decide(word, terms)

    def matches(self, word: str) -> bool:
        """Whether a word (as a text holds it) is indexed as one of the query's terms."""
        found = self._decided.get(word)
        return found if found is not None else self._decide(word, words_terms([word])[0])

    def _decide(self, word: str, terms: WordTerms) -> bool:
        lemmas, form, keys = terms
        found = self._decided[word] = (form in self._exact or not self._body.isdisjoint(lemmas)
                                       or not self._names.isdisjoint(keys))
        return found

    def spans(self, text: str) -> list[Span]:
        """Spans of ``text`` whose words match: a hyphenated word whole, else its parts that do
        (``analysis.words``' words, read from the pattern's matches without making them)."""
        spans: list[Span] = []
        decided, matches = self._decided, self.matches
        for match in WORD.finditer(text):
            surface = match.group()
            found = decided.get(surface)
            if found is None:
                found = matches(surface)
            if found:
                spans.append(match.span())
            elif HYPHEN_RUN.search(surface):
                offset = match.start()
                for part in split_compound(surface):
                    end = offset + len(part)
                    if (not spans or offset >= spans[-1][1]) and matches(part):
                        spans.append((offset, end))
                    offset = end + 1
        return spans
