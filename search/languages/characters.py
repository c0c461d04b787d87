"""Character classes shared by the analysis of documents and of queries, defined once.

Word processors and keyboards put many characters where a plain ASCII one is
meant: a non-breaking hyphen (U+2011) in "военно-технического", a typographic
apostrophe in "O’Brien". Documents and queries fold them the same way, so a
phrase typed with any of them finds what its ASCII spelling finds.
"""

from __future__ import annotations

import re

HYPHENS = (
    "\u002d\u058a\u05be\u1400\u1806\u2010\u2011\u2012\u2013\u2014\u2015\u2e17\u2e1a\u2e3a"
    "\u2e3b\u2e40\u2e5d\u301c\u3030\u30a0\ufe31\ufe32\ufe58\ufe63\uff0d\U00010ead"
)
"""Every dash (Unicode category Pd). Between two letters, any of them joins a compound word."""
APOSTROPHES = "'\u2019\u02bc\u2018\u00b4\u0060\u2032"
"""Characters typed as an apostrophe inside a word (don't, O’Brien, д’Артаньян)."""
CLOSING_QUOTES = "\"'\u00bb\u201d\u203a"
OPENING_QUOTES = "\"'\u00ab\u201c\u201e\u2039"
"""Quotes that may close a sentence or open the next one (sentence boundaries)."""

HYPHEN = "-"
APOSTROPHE = "'"

_LETTERS = r"[^\W\d_]"
_ALNUM = r"[^\W_]"
PART = rf"{_ALNUM}+(?:[{APOSTROPHES}]{_ALNUM}+)*"
"""A run of letters and digits, perhaps with apostrophes inside (O’Brien)."""
WORD = re.compile(rf"{PART}(?:[{re.escape(HYPHENS)}]{PART})*")
"""A word: parts joined by hyphens (военно-технического, Russia-China)."""
HYPHEN_RUN = re.compile(f"[{re.escape(HYPHENS)}]")
LETTER_RUN = re.compile(rf"{_LETTERS}+")
"""A run of letters only (no digits, hyphens or apostrophes)."""

CYRILLIC = re.compile(r"[\u0400-\u04FF]")
LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")

_FOLD_MARKS = str.maketrans({**{c: HYPHEN for c in HYPHENS}, **{c: APOSTROPHE for c in APOSTROPHES}})


def fold_marks(text: str) -> str:
    """Every dash as a hyphen-minus and every apostrophe as an ASCII apostrophe."""
    return text.translate(_FOLD_MARKS)


def split_compound(word: str) -> list[str]:
    """The parts of a hyphenated word (a word without a hyphen is its only part)."""
    return HYPHEN_RUN.split(word)
