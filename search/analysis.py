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

from dataclasses import dataclass
from typing import Any, Iterator

from whoosh.analysis import Analyzer, Token

from .languages import english, names, russian, script_of
from .languages.characters import WORD, split_compound

FIELDS = ("body", "exact", "names")


@dataclass(frozen=True, slots=True)
class Word:
    """A word of a text: its surface form, character span and token position.

    ``compound`` marks the whole of a hyphenated word, which comes before its parts.
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


def name_keys(word: str) -> tuple[str, ...]:
    """The ``names`` terms of a word, whatever its case (queries are often lower case)."""
    if script_of(word) == "ru":
        # pymorphy3 guesses the lemmas of foreign names badly (Теслой -> теслоя): key the
        # word without its case ending too.
        keys = (names.name_key(form) for form in (*russian.lemmas(word), russian.without_ending(word)))
    else:
        keys = (names.name_key(english.without_possessive(word)),)
    return tuple(key for key in dict.fromkeys(keys) if len(key) > 1)


Postings = tuple[tuple[str, int], ...]
"""Pre-analysed field content: (term, position) pairs."""


def analyse(text: str) -> dict[str, Postings]:
    """All indexed fields of a passage text, as (term, position) pairs."""
    body: list[tuple[str, int]] = []
    exact: list[tuple[str, int]] = []
    keys: list[tuple[str, int]] = []
    for word in words(text):
        body.extend((term, word.pos) for term in normal_forms(word.text))
        exact.append((fold(word.text), word.pos))
        if names.looks_like_name(word.text):
            keys.extend((key, word.pos) for key in name_keys(word.text))
    return {"body": tuple(body), "exact": tuple(exact), "names": tuple(keys)}


class PreAnalysed(str):
    """A field value whose tokens were computed already (perhaps in another process)."""

    postings: Postings

    def __new__(cls, postings: Postings) -> "PreAnalysed":
        value = super().__new__(cls, "")
        value.postings = postings
        return value


class FieldAnalyzer(Analyzer):
    """The whoosh analyzer of one field: replays pre-analysed postings, or analyses text."""

    def __init__(self, field: str) -> None:
        self.field = field

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldAnalyzer) and other.field == self.field

    def __hash__(self) -> int:
        return hash(self.field)

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "",
                 **kwargs: Any) -> Iterator[Token]:
        postings = value.postings if isinstance(value, PreAnalysed) else analyse(value)[self.field]
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for term, pos in postings:
            token.text = term
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = start_pos + pos
            yield token
