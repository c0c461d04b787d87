"""Text -> analysed tokens for the three indexed fields.

- ``body``: Russian words as every pymorphy3 normal form, English words as
  Snowball stems, everything else case-folded; for ranked matching.
- ``exact``: case-folded surface forms (ё -> е) with positions; for exact words
  and quoted phrases.
- ``names``: the phonetic key of capitalised words (in Russian, of each of their
  lemmas), so names meet across scripts.

Hyphenated compounds (военно-технического, Russia-China) are indexed whole and
as their parts. The analysis of each word follows its script, so mixed passages
are analysed correctly.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

from .files import MachineCache, cache_folder
from .languages import english, names, russian, script_of
from .languages.characters import WORD, split_compound


class Word(NamedTuple):
    """A word of a text: its surface form, character span and token position.

    ``compound`` marks the whole of a hyphenated word, which comes before its parts. A tuple: a
    frozen dataclass took three times as long to make, and highlighting makes one a word of ten
    passages a query.
    """

    text: str
    start: int
    end: int
    pos: int
    compound: bool = False


def words(text: str) -> Iterator[Word]:
    """The words of a text; a hyphenated compound comes whole, then part by part."""
    pos = 0
    for match in WORD.finditer(text):
        surface = match.group()
        parts = split_compound(surface)
        if len(parts) > 1:
            yield Word(surface, match.start(), match.end(), pos, compound=True)
            offset = match.start()
            for part in parts:
                yield Word(part, offset, offset + len(part), pos)
                offset += len(part) + 1
                pos += 1
        else:
            yield Word(surface, match.start(), match.end(), pos)
            pos += 1


def fold(word: str) -> str:
    """The exact form of a word: lower case, ё -> е, every dash a hyphen, every apostrophe '."""
    return russian.fold(english.fold(word))


def normal_forms(word: str) -> tuple[str, ...]:
    """The ``body`` terms of a word: Russian lemmas, an English stem, or the folded word."""
    lang = script_of(word)
    if lang == "ru":
        return russian.lemmas(word)
    if lang == "en":
        return (english.stem(word),)
    return (fold(word),)


@lru_cache(maxsize=200_000)
def query_forms(word: str) -> tuple[str, ...]:
    """The ``body`` terms a query word matches: its normal forms, and for an English word those of
    its other spelling too, so that organisation finds organization and defense defence."""
    forms = normal_forms(word)
    if script_of(word) != "en":
        return forms
    return tuple(dict.fromkeys([*forms, *(f for other in english.other_spellings(word) for f in normal_forms(other))]))


def name_keys(word: str, query: bool = False) -> tuple[str, ...]:
    """The ``names`` terms of a word, whatever its case (queries are often lower case); for a
    ``query``, with the keys of its spelling variants too (``names.query_keys``)."""
    key = names.query_keys if query else lambda form: (names.name_key(form),)
    if script_of(word) == "ru":
        # pymorphy3 guesses the lemmas of foreign names badly (Теслой -> теслоя): key the
        # word without its case ending too. A query's adjective made from a name is keyed as
        # the name too (гарлемских ~ Harlem).
        lemmas = russian.lemmas(word)
        bases = [base for lemma in lemmas for base in russian.adjective_bases(lemma)] if query else []
        forms = (*lemmas, russian.without_ending(word), *bases)
    else:
        forms = (english.without_possessive(word),)
    return tuple(k for k in dict.fromkeys(k for form in forms for k in key(form)) if len(k) > 1)


@dataclass(frozen=True, slots=True)
class Terms:
    """What one word of a text is indexed as, in each field."""

    offset: int
    """Its position relative to the first part of the word form it belongs to."""
    body: tuple[str, ...]
    exact: str
    names: tuple[str, ...]


WordTerms = tuple[tuple[str, ...], str, tuple[str, ...]]


MAX_TERMS = 200_000
"""Words whose terms a process keeps (``word_terms``)."""
_terms: dict[str, WordTerms] = {}


def word_terms(word: str) -> WordTerms:
    """What one word is indexed as: its ``body`` terms, its ``exact`` form and, for a
    capitalised word, its ``names`` keys. Memoised: texts repeat their words.

    The indexer keeps each word's terms for the machine (``analysed_afresh``), where a query
    finds those of its hits' words (highlighting): 3 µs a word, where analysing a new one took
    some 19 (37 a capitalised one, whose name keys are those of each of its lemmas)."""
    found = _terms.get(word)
    return found if found is not None else words_terms([word])[0]


def words_terms(words: Sequence[str]) -> list[WordTerms]:
    """``word_terms`` of each of these words, the machine's table read once for those not met
    before: a query's ten hits' new words, some 70, in 2-3 µs each instead of 7.5 one by one."""
    global _unnoted
    found = {word: _terms.get(word) for word in words}
    new = [word for word, terms in found.items() if terms is None]
    if new:
        afresh = russian.analysing_afresh()
        kept = {} if afresh else _kept().read(new)
        for word in new:
            value = kept.get(word)
            if value is not None:
                found[word] = _decoded(value)
                continue
            _unnoted = _unnoted or not afresh
            found[word] = terms = (normal_forms(word), fold(word),
                                   name_keys(word) if names.looks_like_name(word) else ())
            if afresh:
                _fresh[word] = terms
        if len(_terms) + len(new) > MAX_TERMS:
            _terms.clear()
        _terms.update((word, found[word]) for word in new)
    return [found[word] for word in words]  # type: ignore[misc]


def forget_terms() -> None:
    """Empty this process's memo of words' terms."""
    _terms.clear()


@contextmanager
def analysed_afresh() -> Iterator[None]:
    """``russian.analysed_afresh``, and each word's terms kept for the machine at the end (the
    indexer's: it analyses every word of the texts it reads)."""
    global _unnoted
    outer = russian.analysing_afresh()
    if not outer and _unnoted:  # memoised outside, those would never be kept: analysed again
        forget_terms()
        _unnoted = False
    try:
        with russian.analysed_afresh():
            yield
    finally:
        if not outer and _fresh:  # in key order: SQLite then appends to its B-tree
            _kept().write((word, _encoded(found)) for word, found in sorted(_fresh.items()))
            _fresh.clear()


def freeze_kept() -> None:
    """Lay the terms the machine keeps out for queries, once an indexing run's segments are built."""
    _kept().freeze()


_fresh: dict[str, WordTerms] = {}
"""Terms found within ``analysed_afresh``, until they are kept."""
_unnoted = False
"""Whether a word's terms were found outside ``analysed_afresh`` (a query of a process that indexes next)."""


def _encoded(found: WordTerms) -> str:
    body, exact, keys = found
    return "\x1f".join(("\t".join(body), exact, "\t".join(keys)))


def _decoded(kept: str) -> WordTerms:
    body, exact, keys = kept.split("\x1f")
    return tuple(body.split("\t")), exact, tuple(keys.split("\t")) if keys else ()


def _kept() -> MachineCache:
    """The terms the machine keeps, for this analysis (one file per cache folder)."""
    return _kept_in(cache_folder(), analysis_stamp())


@lru_cache(maxsize=8)
def _kept_in(folder: Path, stamp: str) -> MachineCache:
    return MachineCache(folder / f"terms-{stamp}.sqlite")


@lru_cache(maxsize=1)
def analysis_stamp() -> str:
    """What a word's terms depend on: pymorphy3 and its dictionary, the stemmer, and the code of
    this module and of the languages' rules (folding, name keys), which a change to them changes."""
    folder = Path(__file__).resolve().parent / "languages"
    digest = hashlib.sha1(f"{russian.analyser_stamp()} {english.stemmer_stamp()}".encode())
    for source in (Path(__file__).resolve(), *(folder / f"{name}.py" for name in ("__init__", "characters", "english",
                                                                                  "names", "russian"))):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def analyse_form(form: str) -> tuple[tuple[Terms, ...], int]:
    """The terms of a word form as a text holds it (a hyphenated word whole at its first
    position, then part by part), and how many positions it takes."""
    parts = split_compound(form)
    items = [(0, form)] if len(parts) == 1 else [(0, form), *enumerate(parts)]
    return tuple(Terms(offset, *word_terms(word)) for offset, word in items), len(parts)


def forms(text: str) -> list[str]:
    """The word forms of a text, in order (a hyphenated word is one form)."""
    return WORD.findall(text)


Postings = tuple[tuple[str, int], ...]
"""One field's content: (term, position) pairs."""


class Analysed(NamedTuple):
    """A text's content in each indexed field (named as the schema names the fields)."""

    body: Postings
    exact: Postings
    names: Postings


def analyse(text: str) -> Analysed:
    """All indexed fields of a text, as (term, position) pairs."""
    body: list[tuple[str, int]] = []
    exact: list[tuple[str, int]] = []
    keys: list[tuple[str, int]] = []
    pos = 0
    for form in forms(text):
        terms, width = analyse_form(form)
        for term in terms:
            at = pos + term.offset
            body.extend((lemma, at) for lemma in term.body)
            exact.append((term.exact, at))
            keys.extend((key, at) for key in term.names)
        pos += width
    return Analysed(tuple(body), tuple(exact), tuple(keys))
