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

from dataclasses import dataclass, field, replace
from typing import Callable, Literal, Mapping, Sequence

import numpy as np

from ..analysis import name_keys, normal_forms, query_forms, words
from ..languages import Lang, is_stopword, other, script_of
from ..languages.lexicon import MAX_PHRASE_WORDS, Lexicon, Translation
from ..ranking.fusion import RANKING, Ranking
from ..vectors.vocabulary import Vocabulary
from .parser import And, Node, Not, Or, Term

Origin = Literal["dictionary", "glossary", "names", "embeddings"]


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


WordVectors = Callable[[Sequence[str]], np.ndarray]
"""Vectors of words and short terms, one row each (cross-lingual: similar meanings are close)."""


@dataclass
class Translator:
    """Expands a query tree with cross-language alternatives, from what one index offers.

    ``occurs`` tells whether a ``body`` term is in the index: translations that
    cannot match are dropped and their weight goes to those that can. Without
    ``word_vectors`` (embeddings off) there are no vocabulary neighbours and the
    lexicon's own weights rank a word's translations.
    """

    lexicon: Lexicon
    occurs: Callable[[str], bool]
    use_lexicon: bool = True
    use_names: bool = True
    vocabularies: Mapping[Lang, Vocabulary] = field(default_factory=dict)
    word_vectors: WordVectors | None = None
    ranking: Ranking = RANKING

    def translate(self, root: Node) -> Node:
        """The tree with every plain word expanded into its alternatives.

        Two passes, so that vectors are computed in batches: each word's
        candidates first (the lexicon's, then every word's vocabulary neighbours from
        one matrix product), then the weights of all candidates (one batch of word
        vectors).
        """
        expanded = _Expander(self).node(root)
        if self.word_vectors:
            expanded = _settle(expanded, self._near(self._neighbours([t.text for t in _plain_terms(root)])))
        pending = [node for node in _walk(expanded) if isinstance(node, _Pending)]
        if self.word_vectors and pending:
            texts = [text for item in pending for text in (item.source, *(c.text for c in item.candidates))]
            rows = dict(zip(texts, self.word_vectors(texts)))
        else:
            rows = {}
        return _settle(expanded, lambda item: self._weighted(item, rows))

    def _neighbours(self, sources: list[str]) -> dict[str, list[tuple[str, float]]]:
        """Each word's nearest words in the other language's vocabulary (at least as close as
        the lower floor), with similarities: one search per language for all the words."""
        assert self.word_vectors is not None
        count = self.ranking.neighbours * 4
        floor = min(self.ranking.neighbour_floor, self.ranking.neighbour_floor_beside_lexicon)
        found: dict[str, list[tuple[str, float]]] = {}
        for lang in ("en", "ru"):
            vocabulary = self.vocabularies.get(other(lang))  # type: ignore[arg-type]
            chosen = [w for w in dict.fromkeys(sources) if script_of(w) == lang and not is_stopword(w)]
            if vocabulary is not None and chosen:
                found.update(zip(chosen, vocabulary.neighbours(chosen, self.word_vectors, count, floor)))
        return found

    def _near(self, neighbours: dict[str, list[tuple[str, float]]]) -> Callable[["_Pending"], "_Pending"]:
        """A word's candidates joined by up to ``Ranking.neighbours`` lemmas of close vocabulary
        words, weights summing to one (a higher floor for a word the lexicon does not translate)."""
        ranking = self.ranking

        def join(item: _Pending) -> _Pending:
            if item.literal is None or not item.translated:
                return item
            lang = script_of(item.source)
            floor = ranking.neighbour_floor_beside_lexicon if item.candidates else ranking.neighbour_floor
            best: dict[str, float] = {}
            for neighbour, similarity in neighbours.get(item.source, ()):
                if similarity < floor or len(best) == ranking.neighbours:
                    break
                best.setdefault(normal_forms(neighbour)[0], similarity)
            total = sum(best.values())
            found = tuple(Alternative((lemma, ), other(lang), similarity / total, "embeddings")  # type: ignore[arg-type]
                          for lemma, similarity in best.items())
            return replace(item, candidates=item.candidates + found)
        return join

    def _weighted(self, item: "_Pending", rows: dict[str, np.ndarray]) -> list[Alternative]:
        """The best candidates that can match in the index, weights summing to the translation weight.

        With word vectors, similarity to the source decides the weights (the
        dictionary's sense order is a poor guide across many senses); without
        them, the candidates' own weights do.
        """
        unique: dict[tuple[str, ...], Alternative] = {}
        for candidate in item.candidates:
            unique.setdefault(candidate.target, candidate)  # a dictionary sense beats a neighbour
        candidates = list(unique.values())
        similar = bool(rows) and len(candidates) > 1
        rank = ((np.array([rows[c.text] for c in candidates]) @ rows[item.source]).tolist() if similar
                else [c.weight for c in candidates])
        # Whether a candidate occurs costs look-ups of its lemmas and terms (20 µs for a new one):
        # asked best first, only until the translations kept are found (44 a headline, not 82).
        kept: list[int] = []
        for i in sorted(range(len(candidates)), key=lambda i: -rank[i]):
            if all(map(self._occurs, candidates[i].target)):
                kept.append(i)
                if len(kept) == self.ranking.max_translations:
                    break
        kept.sort()
        chosen = [candidates[i] for i in kept]
        weights = [c.weight for c in chosen]
        if similar and len(chosen) > 1:
            cosines = np.array([rank[i] for i in kept])
            weights = list(np.exp((cosines - cosines.max()) / self.ranking.temperature))
        best = sorted(zip(chosen, weights), key=lambda pair: -pair[1])[:self.ranking.max_translations]
        total = float(sum(w for _, w in best)) or 1.0  # Python floats: numpy's would reach the JSON
        return [replace(c, weight=self.ranking.translation_weight * float(w) / total) for c, w in best]

    def _occurs(self, word: str) -> bool:
        return any(self.occurs(form) for form in query_forms(word))


@dataclass(frozen=True)
class _Pending:
    """A word or phrase whose candidate translations are still to be weighed."""

    source: str
    literal: Term | None
    candidates: tuple[Alternative, ...]
    names: tuple[Alternative, ...] = ()
    translated: bool = True
    """Whether the word is translated on its own (not when a lexicon phrase holds it)."""


class _Expander:
    """Pass one: every plain word (or lexicon phrase) with the lexicon's candidates."""

    def __init__(self, translator: Translator) -> None:
        self.t = translator

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
                length, candidates = match
                run = items[i:i + length]
                out.extend(self.term(term, translate_words=False) for term in run)  # type: ignore[arg-type]
                out.append(_Pending(" ".join(t.text for t in run), None, candidates))  # type: ignore[union-attr, arg-type]
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
            if self.t.use_lexicon and lang and all(script_of(t) == lang for t in texts):
                # A phrase none of whose translations occur in the index would leave its words
                # with nothing: they are then translated on their own, or as a shorter phrase.
                found = tuple(t for t in self.t.lexicon.lookup(texts, lang) if all(map(self.t._occurs, t.words)))
                if found:
                    return length, tuple(self.from_lexicon(found, other(lang)))
        return None

    def term(self, term: Term, translate_words: bool) -> Node:
        if not _plain(term) or is_stopword(term.text):
            return term
        lang = script_of(term.text)
        if not lang:
            return term
        parts = [w.text for w in words(term.text) if not w.compound] or [term.text]
        found = self.t.lexicon.lookup([term.text], lang) or self.t.lexicon.lookup(parts, lang)
        candidates = self.from_lexicon(found, other(lang)) if translate_words and self.t.use_lexicon else []
        names: tuple[Alternative, ...] = ()
        if self.t.use_names and (not found or term.text[0].isupper()):  # dictionary words are rarely names
            names = tuple(Alternative((key,), None, self.t.ranking.name_weight, "names")
                          for key in name_keys(term.text, query=True))
        return _Pending(term.text, term, tuple(candidates), names, translated=translate_words)

    def from_lexicon(self, found: tuple[Translation, ...], lang: Lang) -> list[Alternative]:
        related = self.t.ranking.related_verb_weight
        return [Alternative(t.words, lang, t.weight * (related if t.related else 1.0), t.origin) for t in found]


def _settle(node: Node, change: Callable[[_Pending], "_Pending | list[Alternative]"]) -> Node:
    """Every pending word of a tree changed: joined by more candidates (a _Pending back), or,
    in pass two, weighed (its alternatives: it becomes an Expanded word)."""
    if isinstance(node, _Pending):
        changed = change(node)
        if isinstance(changed, _Pending):
            return changed  # type: ignore[return-value]
        alternatives = (*changed, *node.names) if node.candidates else node.names
        if not alternatives and node.literal is not None:
            return node.literal
        return Expanded(node.source, node.literal, alternatives)  # a phrase none of whose translations occur matches nothing
    if isinstance(node, Or):
        return Or(tuple(_settle(item, change) for item in node.items))
    if isinstance(node, And):
        return And(tuple(_settle(item, change) for item in node.items))
    if isinstance(node, Not):
        return Not(_settle(node.item, change))
    return node


def _walk(node: Node) -> list[Node]:
    if isinstance(node, (And, Or)):
        return [node, *(n for item in node.items for n in _walk(item))]
    if isinstance(node, Not):
        return [node, *_walk(node.item)]
    return [node]


def _plain_terms(node: Node) -> list[Term]:
    return [n for n in _walk(node) if _plain(n)]  # type: ignore[misc]


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
