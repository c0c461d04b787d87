"""English <-> Russian translations for query translation.

Two sources, read at run time and never copied into the repository:
- Debian's Mueller English-Russian dictionary (``mueller7-dict``, GPL-2+), a
  dictd database under /usr/share/dictd; its senses are parsed into clean terms
  (phonetics, labels and examples stripped, ``= headword`` references followed)
  and reversed for Russian -> English.
- ``glossary.tsv`` in this package: modern vocabulary a 1961-based dictionary
  lacks, and names that transliteration cannot reach.

Everything is compiled into one cache file beside the index (marshal: it loads
several times faster than pickle), rebuilt when a source changes. Translations
are ranked by sense order, and the weights of one source word's translations
add up to 1, so a word with twenty senses weighs no more than a word with one
(Pirkola's structured query).
"""

from __future__ import annotations

import base64
import gzip
import itertools
import logging
import marshal
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Literal

from ..atomic import replace_file
from . import Lang, english, russian

DICTIONARY = Path(os.environ.get("SEARCH_DICTIONARY", "/usr/share/dictd/mueller7"))
"""The dictd database, without its .index / .dict.dz suffix."""
GLOSSARY = Path(__file__).with_name("glossary.tsv")
FORMAT = 3
"""Bump when the compiled form changes, so old caches are rebuilt."""
MAX_TRANSLATIONS = 6
CACHE_NAME = "lexicon.marshal"
MAX_PHRASE_WORDS = 4

Origin = Literal["dictionary", "glossary"]
log = logging.getLogger("search")


@dataclass(frozen=True, slots=True)
class Translation:
    """One translation of a source word or phrase: target words, weight, where from."""

    words: tuple[str, ...]
    weight: float
    origin: Origin

    @property
    def text(self) -> str:
        return " ".join(self.words)


Table = dict[str, tuple[tuple[tuple[str, ...], float, Origin], ...]]
"""Source key -> (target words, weight, origin): plain tuples, which load fast."""


@dataclass
class Lexicon:
    """Compiled translation tables, keyed by normalised source terms."""

    en_ru: Table
    ru_en: Table
    en_stems: dict[str, tuple[str, ...]]
    has_dictionary: bool

    def lookup(self, words: list[str], lang: Lang) -> tuple[Translation, ...]:
        """Translations of a word or phrase (its words in order) in language ``lang``."""
        for key in _keys(words, lang, self):
            found = (self.en_ru if lang == "en" else self.ru_en).get(key)
            if found:
                return tuple(Translation(*entry) for entry in found)
        return ()


def _keys(words: list[str], lang: Lang, lexicon: Lexicon) -> Iterator[str]:
    """Normalised keys to try for a source phrase, most specific first."""
    if lang == "ru":
        choices = [russian.lemmas(word) for word in words]
        for combination in itertools.islice(itertools.product(*choices), 16):
            yield " ".join(combination)
        return
    folded = [english.fold(word) for word in words]
    yield " ".join(folded)
    head, last = folded[:-1], folded[-1]
    for variant in english.spelling_variants(last):
        yield " ".join([*head, variant])
    if len(words) == 1:
        yield from lexicon.en_stems.get(english.stem(last), ())


def ru_key(words: Iterable[str]) -> str:
    """The key of a Russian term: the first lemma of each word."""
    return " ".join(russian.lemmas(word)[0] for word in words)


# ---- compiling ----------------------------------------------------------------

def ensure_cached(cache_dir: Path) -> None:
    """Compile the lexicon into ``cache_dir`` unless a current cache is there already."""
    if not (cache_dir / CACHE_NAME).exists() or _read_stamp(cache_dir / CACHE_NAME) != _stamp():
        load(cache_dir)


def _read_stamp(cache: Path) -> tuple | None:
    """The stamp alone: marshal stores it first, so one small read suffices."""
    try:
        with open(cache, "rb") as f:
            return marshal.load(f)
    except Exception:
        return None


def load(cache_dir: Path | None) -> Lexicon:
    """The compiled lexicon, from the cache in ``cache_dir`` if it is current."""
    stamp = _stamp()
    cache = cache_dir / CACHE_NAME if cache_dir else None
    if cache and cache.exists():
        try:
            with open(cache, "rb") as f:
                if marshal.load(f) == stamp:
                    return Lexicon(*marshal.load(f))
        except Exception:  # an unreadable cache is rebuilt
            pass
    lexicon = _compiled(stamp)
    if cache:
        try:
            tables = (lexicon.en_ru, lexicon.ru_en, lexicon.en_stems, lexicon.has_dictionary)
            replace_file(cache, lambda out: out.write(marshal.dumps(stamp) + marshal.dumps(tables)))
        except OSError:
            pass
    return lexicon


@lru_cache(maxsize=2)
def _compiled(stamp: tuple) -> Lexicon:
    """Compile once per process and set of sources (the stamp), whatever the cache folder."""
    if not dictionary_available(DICTIONARY):
        log.warning("the Mueller dictionary is not installed (%s.index); cross-language lookup uses "
                    "the glossary, names and embeddings only (Debian: apt-get install mueller7-dict)",
                    DICTIONARY)
    return compile_lexicon(DICTIONARY, GLOSSARY)


def dictionary_available(dictionary: Path = DICTIONARY) -> bool:
    return dictionary.with_suffix(".index").exists() and dictionary.with_suffix(".dict.dz").exists()


def _stamp() -> tuple:
    parts: list = [FORMAT, str(DICTIONARY)]
    for path in (DICTIONARY.with_suffix(".index"), DICTIONARY.with_suffix(".dict.dz"), GLOSSARY):
        try:
            stat = path.stat()
            parts.append((stat.st_size, stat.st_mtime_ns))
        except OSError:
            parts.append(None)
    return tuple(parts)


def compile_lexicon(dictionary: Path, glossary: Path) -> Lexicon:
    """Parse the dictionary (if present) and the glossary into lookup tables."""
    en_ru: dict[str, list[tuple[tuple[str, ...], int, Origin]]] = {}
    has_dictionary = dictionary_available(dictionary)
    if has_dictionary:
        for headword, terms in parse_dictionary(dictionary):
            for rank, term in enumerate(terms):
                en_ru.setdefault(headword, []).append((term, rank, "dictionary"))
    glossary_pairs = list(read_glossary(glossary))
    for english_term, russian_terms in glossary_pairs:
        key = " ".join(english.fold(w) for w in english_term.split())
        # The glossary is curated for modern usage: its senses come first.
        entries = [(tuple(t.split()), rank, "glossary") for rank, t in enumerate(russian_terms)]
        en_ru[key] = entries + [(t, r + len(entries), o) for t, r, o in en_ru.get(key, [])]
    ru_en = _reverse(en_ru)
    for english_term, russian_terms in glossary_pairs:
        for russian_term in russian_terms:
            key = ru_key(russian_term.split())
            ru_en[key] = [(tuple(english_term.split()), 0, "glossary")] + [
                entry for entry in ru_en.get(key, []) if entry[0] != tuple(english_term.split())
            ]
    en_table = {key: _weighted(entries) for key, entries in en_ru.items()}
    ru_table = {key: _weighted(entries) for key, entries in ru_en.items()}
    stems: dict[str, list[str]] = {}
    for key in en_table:
        if " " not in key and "-" not in key:
            stems.setdefault(english.stem(key), []).append(key)
    en_stems = {stem: tuple(sorted(keys, key=len)) for stem, keys in stems.items()}
    return Lexicon(en_table, ru_table, en_stems, has_dictionary)


def _reverse(en_ru: dict[str, list[tuple[tuple[str, ...], int, Origin]]]) -> dict[str, list]:
    """Russian term -> English headwords, best sense rank first."""
    ru_en: dict[str, list[tuple[tuple[str, ...], int, Origin]]] = {}
    for headword, entries in en_ru.items():
        for words, rank, origin in entries:
            ru_en.setdefault(ru_key(words), []).append((tuple(headword.split()), rank, origin))
    for entries in ru_en.values():
        entries.sort(key=lambda entry: (entry[1], len(entry[0]), " ".join(entry[0])))
    return ru_en


def _weighted(entries: list[tuple[tuple[str, ...], int, Origin]]) -> tuple[tuple[tuple[str, ...], float, Origin], ...]:
    """The best MAX_TRANSLATIONS distinct translations, weights 1/(rank+1) summing to 1."""
    best: dict[tuple[str, ...], tuple[int, Origin]] = {}
    for words, rank, origin in sorted(entries, key=lambda entry: entry[1]):
        best.setdefault(words, (rank, origin))
    chosen = list(best.items())[:MAX_TRANSLATIONS]
    raw = [1.0 / (rank + 1) for _, (rank, _) in chosen]
    total = sum(raw) or 1.0
    return tuple((words, w / total, origin) for (words, (_, origin)), w in zip(chosen, raw))


def read_glossary(path: Path) -> Iterator[tuple[str, list[str]]]:
    """``english<TAB>russian; russian`` lines; ``#`` starts a comment."""
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "\t" not in line:
            continue
        english_term, russian_terms = line.split("\t", 1)
        terms = [t.strip() for t in russian_terms.split(";") if t.strip()]
        if english_term.strip() and terms:
            yield english_term.strip(), terms


# ---- the dictd database -------------------------------------------------------

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64_number(text: str) -> int:
    value = 0
    for char in text:
        value = value * 64 + _B64.index(char)
    return value


def read_dictd(dictionary: Path) -> Iterator[tuple[str, str]]:
    """(headword, entry text) pairs of a dictd database (.index + .dict.dz)."""
    data = gzip.decompress(dictionary.with_suffix(".dict.dz").read_bytes())
    for line in dictionary.with_suffix(".index").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[0].startswith("00-database") or parts[0].startswith("_"):
            continue
        offset, length = _b64_number(parts[1]), _b64_number(parts[2])
        yield parts[0], data[offset:offset + length].decode("utf-8", errors="replace")


_PHONETICS = re.compile(r"\[[^\]]*\]")
_BRACES = re.compile(r"\{[^}]*\}")
_PARENS = re.compile(r"\([^()]*\)")
_LABEL = re.compile(r"_[^\s.]+\.?")
_SENSE_MARK = re.compile(r"(?:^|\s)(?:\d+[.)]|[а-я]\)|[IVX]+\b)(?=\s)")
_REFERENCE = re.compile(r"(?:^|\s)=\s*([A-Za-z][A-Za-z' -]*[A-Za-z])")
_ONLY_RUSSIAN = re.compile(r"[а-яё]+(?:[- ][а-яё]+)*")


def parse_entry(body: str) -> tuple[list[tuple[str, ...]], list[str]]:
    """Clean Russian terms of one entry in sense order, and the headwords it refers to."""
    text = " ".join(body.split("\n")[1:])  # the first line repeats the headword
    text = _PHONETICS.sub(" ", text)
    text = _BRACES.sub(" ", text)
    while _PARENS.search(text):
        text = _PARENS.sub(" ", text)
    text = _LABEL.sub(" ", text)
    references = [ref.strip().lower() for ref in _REFERENCE.findall(text)]
    terms: list[tuple[str, ...]] = []
    for sense in _SENSE_MARK.split(text):
        for segment in sense.split(";"):
            if re.search(r"[A-Za-z]", segment):
                continue  # an example or a reference, not a translation
            for candidate in segment.split(","):
                candidate = " ".join(candidate.replace("ё", "е").split()).strip(" -.:!?")
                if _ONLY_RUSSIAN.fullmatch(candidate) and candidate.count(" ") < MAX_PHRASE_WORDS:
                    term = tuple(candidate.split())
                    if term not in terms:
                        terms.append(term)
    return terms, references


def parse_dictionary(dictionary: Path) -> Iterator[tuple[str, list[tuple[str, ...]]]]:
    """(headword, Russian terms) for every entry, following ``= headword`` references."""
    entries: dict[str, tuple[list[tuple[str, ...]], list[str]]] = {}
    for headword, body in read_dictd(dictionary):
        key = " ".join(headword.lower().split())
        terms, references = parse_entry(body)
        old_terms, old_references = entries.get(key, ([], []))
        entries[key] = (old_terms + [t for t in terms if t not in old_terms], old_references + references)
    for key, (terms, references) in entries.items():
        merged = list(terms)
        for reference in references:
            for term in entries.get(reference, ([], []))[0]:
                if term not in merged:
                    merged.append(term)
        if merged:
            yield key, merged


@lru_cache(maxsize=4)
def cached(cache_dir: str | None) -> Lexicon:
    """One lexicon per process and cache folder."""
    return load(Path(cache_dir) if cache_dir else None)

