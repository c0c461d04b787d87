"""How passages are ranked: every ranking constant in one place, and the fusion of the evidence.

A natural-language query (plain words) is scored three ways: lexically (BM25F
over lemmas, exact forms, name keys and translations), by the similarity of
query and passage vectors, and by word alignment (``alignment``). ``fuse``
combines them: the BM25F score saturated into [0, 1) as s / (s + lexical_half * n),
n the query's content words, plus dense_weight times the vector similarity and
again times the alignment. The saturation keeps a weak lexical match weak, where
normalising by the best score would make the best of a bad lot look perfect.
Passages found only by their vector must pass a similarity floor, so nonsense
still finds nothing. Queries with operators, phrases, =exact words or prefixes
are ranked lexically only, so their logic holds exactly.

Weights were tuned on XQuAD-R (bench/xquad.py) and checked on held-out
FLORES-200 sentences (bench/flores.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Ranking:
    """The constants of ranking, each with where it was tuned."""

    bm25_b: float = 0.75
    bm25_k1: float = 1.2
    """BM25F's length normalisation and term saturation: whoosh's defaults, never tuned here."""
    exact_bonus: float = 0.2
    """Boost of an exact-form match on top of the lemma match (seeds: inflected forms rank
    just below the form typed)."""
    translation_weight: float = 1.0
    """The total weight of a word's translations, relative to a literal match (bench/xquad.py)."""
    name_weight: float = 1.5
    """The weight of a name-key match, relative to a literal match. Russian passages carry
    several keys per word (each lemma's, and the word's less its ending), so their ``names``
    field is long and BM25F's length normalisation weakens a cross-script name match: 1.5
    (bench/xquad.py, every 2nd question: en->ru 0.913 -> 0.917, ru->en 0.900 -> 0.903;
    2.0 no better) puts seed 002's «Рособоронэкспорта» among the first ten for Rosoboronexport."""
    related_verb_weight: float = 0.5
    """Translations of a Russian verb's aspect partner, relative to its own (умер: умирать -> die)."""
    max_translations: int = 6
    """Translations kept per query word, best first (bench/xquad.py: more add noise)."""
    temperature: float = 0.2
    """How sharply word similarity picks among a word's candidate translations: weights go as
    exp((cosine - best cosine) / temperature), so one 0.2 below the best weighs e^-1 of it."""
    neighbours: int = 3
    """Nearest words of the other language's vocabulary offered as translations of a word."""
    neighbour_floor: float = 0.7
    """Word similarity an embedding neighbour needs when it is a word's only translation (on
    XQuAD-R cognates score 0.7-0.9, unrelated words up to 0.65; lower admits Шойгу -> Sochi)."""
    neighbour_floor_beside_lexicon: float = 0.6
    """The floor when neighbours compete with lexicon translations (0.6 gained on
    bench/xquad.py over 0.7; 0.55 admitted more noise than help)."""
    lexical_candidates: int = 100
    """Passages taken from BM25F before fusion."""
    dense_candidates: int = 100
    """Passages taken from the vectors before fusion."""
    aligned_candidates: int = 30
    """Word alignment reorders the best candidates only (or as many as asked for): on XQuAD-R,
    aligning the best 20 ranks as well as aligning all of them, at a fraction of the cost."""
    lexical_half: float = 10.0
    """The BM25F score, per content word of the query, that counts as half a perfect match
    (bench/xquad.py: saturation by query length beat max-, min-max normalisation and RRF)."""
    dense_weight: float = 1.5
    """Weight of the vector similarity and of the alignment beside the saturated BM25F
    (bench/xquad.py)."""
    dense_full_words: int = 3
    """A sentence encoder needs a sentence: queries of fewer content words weigh vectors less,
    and a one-word query not at all (its vector says little; its translations say more)."""
    dense_floor: float = 0.3
    """When no passage matches lexically, the similarity a passage needs to be a hit at all
    (nonsense scores about 0.25 on XQuAD-R; real questions 0.3 and more)."""
    dense_floor_beside_lexical: float = 0.2
    """The similarity a passage found only by its vector needs beside lexical hits."""

    def dense(self, content_words: int) -> float:
        """The weight of vectors and alignment for a query of this many content words."""
        return self.dense_weight * min(1.0, max(0, content_words - 1) / (self.dense_full_words - 1))


RANKING = Ranking()
"""The ranking every query uses unless told otherwise."""


@dataclass(frozen=True, slots=True)
class Fused:
    """One ranked passage and the parts of its score."""

    docnum: int
    score: float
    lexical: float
    """The saturated BM25F score, in [0, 1); 0 if the passage did not match lexically."""
    similarity: float | None = None
    """The vector similarity, if vectors were fused."""
    alignment: float | None = None
    """The word alignment, if the passage was aligned."""


def fuse(lexical: Mapping[int, float], similarity: Mapping[int, float], alignment: Mapping[int, float],
         *, content_words: int, ranking: Ranking = RANKING) -> list[Fused]:
    """Rank candidates by their fused score, best first (ties by docnum).

    ``lexical``: BM25F scores; ``similarity``: vector similarities of the passages
    nearest by vector and of the lexical candidates; ``alignment``: alignments of
    the candidates that were aligned. A passage found by its vector alone must
    reach the floor. With no dense weight (one-word queries), only BM25F counts.
    """
    half = ranking.lexical_half * max(1, content_words)
    weight = ranking.dense(content_words)
    if weight <= 0:
        similarity, alignment = {}, {}
    floor = ranking.dense_floor_beside_lexical if lexical else ranking.dense_floor
    fused: list[Fused] = []
    for docnum in {**lexical, **similarity}:
        cosine = similarity.get(docnum)
        if docnum not in lexical and (cosine is None or cosine < floor):
            continue
        score = lexical.get(docnum, 0.0)
        saturated = score / (score + half)
        aligned = alignment.get(docnum)
        total = saturated
        for part in (cosine, aligned):
            if part is not None:
                total += weight * part
        fused.append(Fused(docnum, total, saturated, cosine, aligned))
    fused.sort(key=lambda item: (-item.score, item.docnum))
    return fused
