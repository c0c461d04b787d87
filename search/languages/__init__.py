"""Language knowledge: which script a word is in, and which language a text is in.

Each concern has one module: `characters` (dashes, apostrophes, quotes, scripts),
`russian` (lemmas), `english` (stems and spelling variants), `names` (a phonetic
key shared by Latin and Cyrillic spellings) and `lexicon` (English <-> Russian
translations). Nothing else in the package knows about a particular language.

May import: search.files.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from . import english, russian
from .characters import CYRILLIC, LATIN

Lang = Literal["en", "ru"]
LANGS: tuple[Lang, ...] = ("en", "ru")


@lru_cache(maxsize=100_000)
def script_of(word: str) -> Lang | None:
    """The language whose script a word is written in, or None (digits, symbols). Memoised: a
    query asks it of its words and their candidates some 500 times."""
    if CYRILLIC.search(word):
        return "ru"
    if LATIN.search(word):
        return "en"
    return None


def detect_language(text: str) -> Lang:
    """The language of a passage: the script with more letters wins; ties go to English."""
    cyrillic = len(CYRILLIC.findall(text))
    latin = len(LATIN.findall(text))
    return "ru" if cyrillic > latin else "en"


def other(lang: Lang) -> Lang:
    """The other language of the pair."""
    return "en" if lang == "ru" else "ru"


def is_stopword(word: str) -> bool:
    """A function word of the word's own language: not translated, not searched in long queries."""
    return (russian if script_of(word) == "ru" else english).is_stopword(word)
