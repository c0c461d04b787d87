"""How passages are ranked: every ranking constant in one place, and the fusion of the evidence.

A natural-language query (plain words, perhaps with a quoted title among them) is scored
four ways: lexically (BM25F over lemmas, exact forms, name keys and translations), by
the similarity of query and passage vectors of the sentence encoder, by e5's (the
deep vectors, where the deep phase has reached), and by word alignment
(``alignment``). ``fuse`` combines them: the BM25F score saturated into [0, 1) as
s / (s + lexical_half * n), n the query's content words, plus weighted vector
similarities and alignment. The saturation keeps a weak lexical match weak, where
normalising by the best score would make the best of a bad lot look perfect.
Passages found only by their vector must pass a similarity floor, so nonsense
still finds nothing. Queries with operators, =exact words or prefixes, and a phrase
alone, are ranked lexically only, so their logic holds exactly.

Weights were tuned on XQuAD-R (bench/xquad.py) and the tuning half of NTREX-128's
short queries (bench/short.py), and checked on its held-out half and on FLORES-200
sentences (bench/flores.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Mapping, NamedTuple


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
    lexical_half: float = 5.0
    """The BM25F score, per content word of the query, that counts as half a perfect match
    (bench/xquad.py: saturation by query length beat max-, min-max normalisation and RRF; 5 beside
    e5 on XQuAD-R and bench/short.py's tuning half, 10 before it, within 0.002 without it)."""
    dense_weight: float = 1.5
    """Weight of the sentence encoder's vector similarity beside the saturated BM25F (bench/xquad.py)."""
    alignment_weight: float = 2.0
    """Weight of the word alignment (bench/xquad.py and bench/short.py's tuning half: 2.0 beside e5,
    where 1.5 and 2.5 lost 0.002-0.005; 1.5 before it)."""
    dense_full_words: int = 3
    """A sentence encoder needs a sentence: queries of fewer words weigh vectors less, and a
    one-word query not at all (its vector says little; its translations say more). Counted with
    stop words, which the encoders read too: "While he was working at the" is a sentence to them
    (bench/flores.py's 6-word fragments, XQuAD-R and bench/short.py all gained over counting
    content words only)."""
    dense_floor: float = 0.3
    """When no passage matches lexically, the similarity a passage needs to be a hit at all
    (nonsense scores about 0.25 on XQuAD-R; real questions 0.3 and more)."""
    dense_floor_beside_lexical: float = 0.2
    """The similarity a passage found only by its vector needs beside lexical hits."""
    deep_weight: float = 10.0
    """Weight of e5's similarity, less its offset (bench/xquad.py: 8-12 all within 0.002 of the best;
    e5's cosines span a narrow band, 0.75-0.90 on XQuAD-R)."""
    deep_offset: float = 0.80
    """e5's similarity that counts as no evidence, within a language: about that of the best
    unrelated paragraph of an XQuAD-R question, and of a nonsense query to any paragraph (e5 cannot
    tell nonsense from sense, so a passage is never found by its deep vector alone)."""
    deep_offset_across: float = 0.76
    """The same across languages, where e5's cosines run 0.04-0.07 lower (bench/xquad.py with half the
    passages covered: it keeps the crossing and the monolingual ranking where they were)."""
    dense_weight_beside_deep: float = 0.75
    """The sentence encoder's similarity weighs this instead of dense_weight where e5 has a passage:
    e5 says most of what it says (bench/xquad.py: 0 loses 0.01, 1.5 as much)."""
    deep_candidates: int = 100
    """Passages taken from e5's nearest before fusion (each must still pass the floor above)."""

    def dense(self, words: int) -> float:
        """The weight of the vector similarity for a query of this many words (vectors and
        alignment count in the same proportion)."""
        return self.dense_weight * self.sentence_share(words)

    def sentence_share(self, words: int) -> float:
        """How much of a sentence a query of this many words is, for an encoder."""
        return min(1.0, max(0, words - 1) / (self.dense_full_words - 1))


RANKING = Ranking()
"""The ranking every query uses unless told otherwise."""


class DeepMatch(NamedTuple):
    """e5's similarity of a query and a passage, and whether they are in the same language (e5's
    cosines run higher within a language than across)."""

    similarity: float
    same_language: bool


@dataclass(frozen=True, slots=True)
class Fused:
    """One ranked passage and the parts of its score."""

    docnum: int
    score: float
    lexical: float
    """The saturated BM25F score, in [0, 1); 0 if the passage did not match lexically."""
    similarity: float | None = None
    """The sentence encoder's vector similarity, if vectors were fused."""
    alignment: float | None = None
    """The word alignment, if the passage was aligned."""
    deep: DeepMatch | None = None
    """e5's similarity, if the passage has a deep vector and vectors were fused."""
    weights: tuple[float, float] = (0.0, 0.0)
    """What the similarity and the alignment were multiplied by."""
    deep_part: float = 0.0
    """What e5 added to the score: its weight times its similarity less the offset (negative where
    it found the passage less similar than an unrelated one)."""


def fuse(lexical: Mapping[int, float], similarity: Mapping[int, float], alignment: Mapping[int, float],
         *, content_words: int, words: int | None = None, ranking: Ranking = RANKING,
         deep: Mapping[int, DeepMatch] | None = None, deep_share: float = 1.0, limit: int | None = None,
         among: Collection[int] | None = None) -> list[Fused]:
    """Rank candidates by their fused score, best first (ties by docnum): the best ``limit`` of
    them, or all.

    ``content_words`` and ``words``: how many the query has (without and with stop words;
    ``words`` defaults to the first). ``lexical``: BM25F scores; ``similarity``: vector similarities of the passages
    nearest by vector and of the lexical candidates; ``alignment``: alignments of
    the candidates that were aligned; ``deep``: e5's similarities of the candidates
    that have deep vectors, and ``deep_share`` the share of the index's passages that
    have them. A passage found by its vector alone must reach the floor, unless e5 found it
    beside lexical hits (its score then decides); with no lexical hit, e5 alone finds nothing,
    since it finds nonsense as similar as sense. With no dense weight (one-word queries), only
    BM25F counts.

    e5 counts in proportion to its coverage: at full coverage a passage scores
    ``deep_weight * (e5 cosine - offset)`` on top, and the sentence encoder's similarity
    weighs ``dense_weight_beside_deep`` instead of ``dense_weight``; while the deep phase
    is under way, the passages it reached move that far towards those weights, so
    that being reached first is no advantage in itself.

    ``among``: only these candidates are ranked. With the alignments of the best ``limit`` or more
    of a fusion without them, those alone: an alignment only adds to a score, so no other candidate
    can pass them (but at an exact tie with one whose alignment is 0): a headline's two fusions took
    0.44 ms instead of 0.62 (the same 246 rankings, ``bench/rankings.py --compare``).
    """
    half = ranking.lexical_half * max(1, content_words)
    words = content_words if words is None else words
    weight = ranking.dense(words)
    ramp = ranking.sentence_share(words)
    deep = deep or {}
    if weight <= 0:
        similarity, alignment, deep = {}, {}, {}
    beside_deep = ranking.dense_weight - deep_share * (ranking.dense_weight - ranking.dense_weight_beside_deep)
    floor = ranking.dense_floor_beside_lexical if lexical else ranking.dense_floor
    fused: list[tuple] = []  # Fused's fields: made Fused for the best only (a query fuses some 300)
    for docnum in {**lexical, **similarity, **deep} if among is None else among:
        cosine = similarity.get(docnum)
        found_beside_lexical = bool(lexical) and docnum in deep
        if docnum not in lexical and not found_beside_lexical and (cosine is None or cosine < floor):
            continue
        score = lexical.get(docnum, 0.0)
        saturated = score / (score + half)
        aligned, match = alignment.get(docnum), deep.get(docnum)
        weights = (ramp * beside_deep if match else weight, ramp * ranking.alignment_weight)
        total = saturated
        for part, times in zip((cosine, aligned), weights):
            if part is not None:
                total += times * part
        deep_part = 0.0
        if match is not None:
            offset = ranking.deep_offset if match.same_language else ranking.deep_offset_across
            deep_part = ramp * deep_share * ranking.deep_weight * (match.similarity - offset)
        fused.append((docnum, total + deep_part, saturated, cosine, aligned, match, weights, deep_part))
    fused.sort(key=lambda item: (-item[1], item[0]))
    return [Fused(*item) for item in fused[:limit]]
