"""Query -> the query the user meant: words typed in the wrong keyboard layout, Russian typed in
Latin letters, and typos, each repaired only when the typed word is not found.

A word is left alone when the index has it (one of its normal forms is a ``body`` term), and
so is what is never a slip: a Roman numeral (XV, II), an acronym (AAA, SP), a word a dictionary
of either language knows (pymorphy3's, Debian's English word lists), and a capitalised word in
Latin letters, which is a name (Columbia, Gazprom: its name key finds it in Cyrillic) unless
other words of the query are Russian in Latin letters too. Otherwise, in this order:
- layout: its keys read in the other layout make a known word and the typed form is not one
  (``кщыщищкщтучзщке`` -> rosoboronexport; ``gjldjlyst`` -> подводные);
- transliteration: a Latin word that is no English word the lexicon knows is read as Russian
  (``sotrudnichestva`` -> сотрудничества, see ``languages.translit``);
- typo: a word that no dictionary knows either becomes the closest word of the index's
  vocabulary in the same script, at most one edit away
  (two from eight letters on; a swap of neighbours is one edit), the most frequent of equals
  (``Rosoboronexprot`` -> rosoboronexport), with rapidfuzz.

Whole whitespace-separated chunks are repaired before parsing, since a layout slip turns letters
into the parser's punctuation (``Hjcj,jhjy'rcgjhn``). Phrases, =exact words, prefixes* and
operators are never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

from ..analysis import name_keys, query_forms
from ..languages import Lang, english, russian, script_of
from ..languages.keyboard import other_layout
from ..languages.lexicon import Lexicon
from ..languages.translit import readings

Kind = Literal["layout", "transliteration", "typo"]
_OPERATORS = frozenset({"AND", "OR", "NOT"})
_EDGES = re.compile(r"^([-+(]*)(.*?)([)]*)$", re.DOTALL)
_PUNCTUATION = ".,;:!?«»“”„"
"""Punctuation around a word that is not part of it."""
_ROMAN = re.compile(r"(?=[MDCLXVI])M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})")
MIN_TYPO_LENGTH = 4
"""Shorter words are not corrected: one edit away from too many others."""
TWO_EDITS_FROM = 8
"""Words this long may be two edits away."""
MIN_SLIP_LENGTH = 3
"""Shorter words do not count towards a query typed in the wrong layout as a whole (their other
reading is often a word too: еру -> the, ф -> a)."""


@dataclass(frozen=True)
class Correction:
    """One word repaired: as typed, as searched, and how."""

    typed: str
    used: str
    kind: Kind


@dataclass(frozen=True)
class Repaired:
    """The query to search with, and what was changed in the typed one."""

    text: str
    corrections: tuple[Correction, ...] = ()


class Spelling:
    """One language's vocabulary, most frequent first, for correcting typos."""

    def __init__(self, words: Sequence[str]) -> None:
        self._by_length: dict[int, tuple[list[str], list[int]]] = {}
        for rank, word in enumerate(words):
            bucket = self._by_length.setdefault(len(word), ([], []))
            bucket[0].append(word)
            bucket[1].append(rank)

    def correct(self, word: str) -> str | None:
        """The closest vocabulary word within the allowed edits (the most frequent of equals)."""
        if len(word) < MIN_TYPO_LENGTH:
            return None
        from rapidfuzz import process  # here: a query whose words are all known never needs it (8 ms to import)
        from rapidfuzz.distance import OSA

        edits = 2 if len(word) >= TWO_EDITS_FROM else 1
        best: tuple[int, int, str] | None = None
        for length in range(len(word) - edits, len(word) + edits + 1):
            words, ranks = self._by_length.get(length, ([], []))
            for candidate, distance, i in process.extract(word, words, scorer=OSA.distance, score_cutoff=edits,
                                                           limit=None):
                if best is None or (distance, ranks[i]) < best[:2]:
                    best = (int(distance), ranks[i], candidate)
        return best[2] if best and best[2] != word else None


@dataclass
class Words:
    """What one index and the language resources know, for telling typed words from slips."""

    occurs: Callable[[str], bool]
    """Whether a ``body`` term is in the index."""
    lexicon: Lexicon
    spelling: Callable[[Lang], Spelling | None]
    """A language's vocabulary for typos (loaded when a typo is first looked for), if any."""
    named: Callable[[str], bool]
    """Whether a ``names`` key is in the index."""
    written: Callable[[str], bool]
    """Whether a word form is in the index as written (its ``exact`` term)."""

    def found(self, word: str) -> bool:
        return any(self.occurs(form) for form in query_forms(word))

    def a_name(self, word: str) -> bool:
        """Whether a capitalised word may be a name the index holds in the other script (Sarah in
        an index that holds Сара only is no slip: its name key finds her)."""
        return word[:1].isupper() and any(self.named(key) for key in name_keys(word, query=True))

    def known(self, word: str) -> bool:
        """In the index, or a word of its language (pymorphy3's dictionary, the lexicon, an English
        word list); a hyphenated word as a whole (давным-давно)."""
        lang = script_of(word)
        if not word.replace("-", "").isalpha() or lang is None:
            return False
        if self.found(word):
            return True
        if lang == "ru":
            return russian.is_known(word)
        return english.is_word(word) or bool(self.lexicon.lookup([word], "en"))


def repair(text: str, words: Words) -> Repaired:
    """``text`` with each mistyped word replaced by the one meant (see the module's docstring).

    Capitalised Latin words are read as Russian only where another word of the query was:
    a second pass, when the first found Russian in Latin letters. And a query most of whose
    words in one script were typed in the wrong layout was typed in it as a whole: a second pass
    reads every word of that script the index lacks in the other layout, the short words, acronyms
    and names the first pass leaves alone too (``Which ТФЫФ location came around last to еру
    idea ща еру ДЩК`` -> Which NASA location came around last to the idea of the LOR)."""
    chunks = re.split(r"(\s+)", text)
    found = _corrections(chunks, words, names_in_latin=False)
    if any(correction.kind == "transliteration" for correction in found.values()):
        found = _corrections(chunks, words, names_in_latin=True)
    typed_in = _wrong_layout(chunks, found)
    if typed_in:
        found = _corrections(chunks, words, names_in_latin=False, wrong_layout=typed_in)
    for i, correction in found.items():
        before, _, after = _EDGES.match(chunks[i]).groups()  # type: ignore[union-attr]
        chunks[i] = before + correction.used + after
    return Repaired("".join(chunks), tuple(found.values()))


def _wrong_layout(chunks: list[str], found: dict[int, Correction]) -> Lang | None:
    """The script a query was typed in with the wrong layout active: more than half of its words in
    that script that could be slips (not acronyms, three letters or more) were repaired as layout
    slips (a clean query has none)."""
    cores = {i: _EDGES.match(chunk).group(2).strip(_PUNCTUATION) for i, chunk in enumerate(chunks)}  # type: ignore[union-attr]
    for lang in ("en", "ru"):
        typed = [i for i, core in cores.items()
                 if script_of(core) == lang and len(core) >= MIN_SLIP_LENGTH and not _never_a_slip(core)]
        slips = sum(1 for i in typed if i in found and found[i].kind == "layout")
        if slips and 2 * slips > len(typed):
            return lang  # type: ignore[return-value]
    return None


def _corrections(chunks: list[str], words: Words, names_in_latin: bool,
                 wrong_layout: Lang | None = None) -> dict[int, Correction]:
    """The repaired word of each chunk that needs one, by the chunk's position."""
    found: dict[int, Correction] = {}
    quoted = False
    quotes = sum(chunk.count('"') for chunk in chunks) // 2 * 2  # a last quote without its pair is punctuation
    for i, chunk in enumerate(chunks):
        literal = quoted or chunk.startswith("=") or chunk.endswith("*") or chunk in _OPERATORS or \
            chunk.lower().startswith("lang:") or ('"' in chunk and quotes > 0)
        for _ in range(min(chunk.count('"'), quotes)):
            quoted, quotes = not quoted, quotes - 1
        if chunk.isspace() or not chunk or literal:
            continue
        core = _EDGES.match(chunk).group(2)  # type: ignore[union-attr]
        correction = _in_other_layout(core, words) if wrong_layout and script_of(core) == wrong_layout else None
        correction = correction or _repaired(core, words, names_in_latin)
        if correction:
            found[i] = correction
    return found


def _in_other_layout(core: str, words: Words) -> Correction | None:
    """A word of a query typed in the wrong layout, read in the other one unless the index has it
    as typed (a word too short to tell is read as the rest of the query: ща -> of)."""
    word = core.strip(_PUNCTUATION)
    swapped = other_layout(word)
    held = len(word) >= MIN_SLIP_LENGTH and words.found(word)
    if not word or held or not swapped.replace("&", "").replace("'", "").isalpha():
        return None
    return Correction(core, swapped, "layout")


def _never_a_slip(word: str) -> bool:
    """A Roman numeral or an acronym: written as meant, whether or not the index has it."""
    return word.isupper() and word.isalpha() and (len(word) > 1 or _ROMAN.fullmatch(word) is not None)


def _repaired(core: str, words: Words, names_in_latin: bool) -> Correction | None:
    word = core.strip(_PUNCTUATION)
    if not word or words.found(word) or _never_a_slip(word):
        return None
    parts = word.split("-")
    if len(parts) > 1 and all(part.isalpha() for part in parts):  # voenno-tekhnicheskoe: part by part
        if words.known(word):
            return None
        repaired = [_repaired(part, words, names_in_latin) for part in parts]
        if not any(repaired):
            return None
        used = "-".join(r.used if r else part for r, part in zip(repaired, parts))
        return Correction(word, used, next(r.kind for r in repaired if r))
    swapped = other_layout(core).strip(_PUNCTUATION)
    if swapped.isalpha() and words.known(swapped) and not words.known(word):
        return Correction(core, swapped, "layout")
    if not word.isalpha():
        return None
    lang = script_of(word)
    name = words.a_name(word)
    capitalised = lang == "en" and word[:1].isupper()
    if lang == "en" and (names_in_latin or not capitalised) and not words.known(word):
        found = readings(word, russian.is_known_prefix, lambda w: russian.is_known(w) or words.found(w))
        # A name's letters read as some other word are no better than its name key (Sarah is
        # not Сарах): a name is read as Russian only where the index has the reading as written.
        in_index = [w for w in found if (words.written if name else words.found)(w)]
        if in_index or (found and not name):
            return Correction(word, _cased((in_index or found)[0], word), "transliteration")
    if name or words.known(word):
        return None  # a name, or a real word the index lacks: correcting it would search for another one
    spelling = words.spelling(lang) if lang else None
    corrected = spelling.correct(word.lower()) if spelling else None
    if corrected and words.found(corrected):
        return Correction(word, _cased(corrected, word), "typo")
    return None


def _cased(word: str, like: str) -> str:
    return word[:1].upper() + word[1:] if like[:1].isupper() else word
