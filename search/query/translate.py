"""Cross-language expansion: each query word gets alternatives in the other language.

Three sources, each named in ``--explain``:
- the lexicon (dictionary and glossary), phrases first: "air defense" is
  translated as one unit, and its words are then not translated one by one;
- the phonetic name key, so Rosoboronexport meets Рособоронэкспорт;
- the embedding model: a word's nearest neighbours in the index's own
  vocabulary of the other language (see ``vocabulary``) join its lexicon
  translations, and cross-lingual word similarity chooses among them all
  (city -> город rather than большой; people -> люди rather than народ).

Quoted phrases, =exact words and prefixes are never translated.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Literal

import numpy as np

from ..analysis import name_keys, normal_forms, words
from ..languages import Lang, is_stopword, other, script_of
from ..languages.lexicon import MAX_PHRASE_WORDS, MAX_TRANSLATIONS, Lexicon, Translation
from .parser import And, Node, Not, Or, Term

Origin = Literal["dictionary", "glossary", "names", "embeddings"]

NAME_WEIGHT = 1.0
"""The weight of a name-key match, relative to a literal match (tuned on bench/xquad.py)."""
TRANSLATION_WEIGHT = 1.0
"""The total weight of a word's translations, relative to a literal match."""


@dataclass(frozen=True)
class Alternative:
    """One way to find a query word in the other language."""

    target: tuple[str, ...]  # target words (or one name key)
    lang: Lang | None  # language of the target words; None for name keys
    weight: float
    origin: Origin

    @property
    def text(self) -> str:
        return " ".join(self.target)


@dataclass(frozen=True)
class Expanded:
    """A query word, or a phrase of plain words, with its cross-language alternatives.

    ``literal`` is None for a phrase, whose words stay in the query on their own.
    """

    source: str
    literal: Term | None
    alternatives: tuple[Alternative, ...]


Neighbours = Callable[[str, Lang, float], list[tuple[str, float]]]
"""Given a word, its language and a similarity floor, similar words of the other language with weights."""
NEIGHBOUR_FLOOR = 0.7
"""Word similarity an embedding neighbour needs when it is a word's only translation (on
XQuAD-R cognates score 0.7-0.9, unrelated words up to 0.65; lower admits Шойгу -> Sochi)."""
NEIGHBOUR_FLOOR_BESIDE_LEXICON = 0.6
"""The floor when the neighbours compete with lexicon translations, which keeps noise down
(0.6 gained on bench/xquad.py over 0.7; 0.55 admitted more noise than help)."""
Similarity = Callable[[str, list[str]], np.ndarray]
"""Cosine of a source text to each candidate translation (cross-lingual word vectors)."""
TEMPERATURE = 0.2
"""How sharply word similarity picks among candidate translations: weights go as
exp((cosine - best cosine) / TEMPERATURE), so one 0.2 below the best weighs e^-1 of it."""


def translate(node: Node, lexicon: Lexicon, neighbours: Neighbours | None = None, *,
              use_lexicon: bool = True, use_names: bool = True,
              indexed: Callable[[str], bool] | None = None,
              similarity: Similarity | None = None) -> Node:
    """The query tree with every plain word expanded into its alternatives.

    ``indexed`` tells whether a ``body`` term occurs in the index: translations
    that cannot match are dropped and their weight goes to those that can.
    """
    return _Translator(lexicon, neighbours, use_lexicon, use_names, indexed, similarity).node(node)


class _Translator:
    def __init__(self, lexicon: Lexicon, neighbours: Neighbours | None, use_lexicon: bool,
                 use_names: bool, indexed: Callable[[str], bool] | None,
                 similarity: Similarity | None) -> None:
        self.similarity = similarity
        self.lexicon = lexicon
        self.neighbours = neighbours
        self.use_lexicon = use_lexicon
        self.use_names = use_names
        self.indexed = indexed

    def node(self, node: Node) -> Node:
        if isinstance(node, Term):
            return self.term(node, translate_words=True)
        if isinstance(node, Or):
            return Or(self.items(node.items))
        if isinstance(node, And):
            return And(tuple(self.node(item) for item in node.items))
        if isinstance(node, Not):
            return Not(self.node(node.item))
        return node  # phrases are literal

    def items(self, items: tuple[Node, ...]) -> tuple[Node, ...]:
        """Or-items: runs of plain words may form a phrase the lexicon knows."""
        out: list[Node] = []
        i = 0
        while i < len(items):
            match = self.phrase_at(items, i)
            if match:
                length, alternatives = match
                run = items[i:i + length]
                out.extend(self.term(term, translate_words=False) for term in run)  # type: ignore[arg-type]
                out.append(Expanded(" ".join(t.text for t in run), None, alternatives))  # type: ignore[union-attr]
                i += length
            else:
                out.append(self.node(items[i]))
                i += 1
        return tuple(out)

    def phrase_at(self, items: tuple[Node, ...], i: int) -> tuple[int, tuple[Alternative, ...]] | None:
        for length in range(MAX_PHRASE_WORDS, 1, -1):
            run = items[i:i + length]
            if len(run) < length or not all(_plain(item) for item in run):
                continue
            texts = [item.text for item in run]  # type: ignore[union-attr]
            lang = script_of(" ".join(texts))
            if self.use_lexicon and lang and all(script_of(t) == lang for t in texts):
                found = self.lexicon.lookup(texts, lang)
                if found:
                    return length, tuple(self.weighted(" ".join(texts), _from_lexicon(found, other(lang))))
        return None

    def term(self, term: Term, translate_words: bool) -> Node:
        if not _plain(term) or is_stopword(term.text):
            return term
        alternatives: list[Alternative] = []
        lang = script_of(term.text)
        if not lang:
            return term
        parts = [w.text for w in words(term.text) if not w.compound] or [term.text]
        found = self.lexicon.lookup([term.text], lang) or self.lexicon.lookup(parts, lang)
        if translate_words:
            candidates = _from_lexicon(found, other(lang)) if self.use_lexicon else []
            if self.neighbours:
                floor = NEIGHBOUR_FLOOR_BESIDE_LEXICON if candidates else NEIGHBOUR_FLOOR
                candidates += [Alternative((word,), other(lang), weight, "embeddings")
                               for word, weight in self.neighbours(term.text, lang, floor)]
            alternatives.extend(self.weighted(term.text, candidates))
        if self.use_names and (not found or term.text[0].isupper()):  # dictionary words are rarely names
            alternatives.extend(Alternative((key,), None, NAME_WEIGHT, "names") for key in name_keys(term.text))
        return Expanded(term.text, term, tuple(alternatives)) if alternatives else term

    def weighted(self, source: str, candidates: list[Alternative]) -> list[Alternative]:
        """The best MAX_TRANSLATIONS candidates that can match in the index, weights summing to one.

        With word vectors, similarity to the source decides the weights (the
        dictionary's sense order is a poor guide across many senses); without
        them, the candidates' own weights do.
        """
        unique: dict[tuple[str, ...], Alternative] = {}
        for candidate in candidates:
            unique.setdefault(candidate.target, candidate)  # a dictionary sense beats a neighbour
        chosen = [c for c in unique.values() if not self.indexed or all(map(self.occurs, c.target))]
        weights = [c.weight for c in chosen]
        if self.similarity and len(chosen) > 1:
            cosines = self.similarity(source, [c.text for c in chosen])
            weights = list(np.exp((cosines - cosines.max()) / TEMPERATURE))
        best = sorted(zip(chosen, weights), key=lambda pair: -pair[1])[:MAX_TRANSLATIONS]
        total = float(sum(w for _, w in best)) or 1.0  # Python floats: numpy's would reach the JSON
        return [replace(c, weight=TRANSLATION_WEIGHT * float(w) / total) for c, w in best]

    def occurs(self, word: str) -> bool:
        assert self.indexed is not None
        return any(self.indexed(form) for form in normal_forms(word))


def _from_lexicon(found: tuple[Translation, ...], lang: Lang) -> list[Alternative]:
    return [Alternative(t.words, lang, t.weight, t.origin) for t in found]


def _plain(node: Node) -> bool:
    return isinstance(node, Term) and not node.exact and not node.prefix


def expansions(node: Node) -> list[Expanded]:
    """Every expanded word of a translated tree, in query order (for --explain)."""
    if isinstance(node, Expanded):
        return [node]
    if isinstance(node, (And, Or)):
        return [e for item in node.items for e in expansions(item)]
    if isinstance(node, Not):
        return expansions(node.item)
    return []

