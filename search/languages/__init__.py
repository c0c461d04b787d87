"""Language knowledge: which script a word is in, and which language a text is in.

Each concern has one module: `russian` (lemmas), `english` (stems and spelling
variants), `names` (a phonetic key shared by Latin and Cyrillic spellings) and
`lexicon` (English <-> Russian translations). Nothing else in the package knows
about a particular language.
"""

from __future__ import annotations

import re
from typing import Literal

Lang = Literal["en", "ru"]
LANGS: tuple[Lang, ...] = ("en", "ru")

_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")


def script_of(word: str) -> Lang | None:
    """The language whose script a word is written in, or None (digits, symbols)."""
    if _CYRILLIC.search(word):
        return "ru"
    if _LATIN.search(word):
        return "en"
    return None


def detect_language(text: str) -> Lang:
    """The language of a passage: the script with more letters wins; ties go to English."""
    cyrillic = len(_CYRILLIC.findall(text))
    latin = len(_LATIN.findall(text))
    return "ru" if cyrillic > latin else "en"


def other(lang: Lang) -> Lang:
    """The other language of the pair."""
    return "en" if lang == "ru" else "ru"
