"""English <-> Russian translations for query translation.

Two sources, read at run time and never copied into the repository:
- Debian's Mueller English-Russian dictionary (``mueller7-dict``, GPL-2+), a
  dictd database under /usr/share/dictd; its senses are parsed into clean terms
  (phonetics, labels and examples stripped, ``= headword`` references followed)
  and reversed for Russian -> English.
- ``glossary.tsv`` in this package: modern vocabulary a 1961-based dictionary
  lacks, and names that transliteration cannot reach.

Everything is compiled once per machine into one SQLite file in the user's
cache folder, rebuilt when a source changes (compiling takes about 9 s); a
query reads only the entries it looks up (loading the whole 13 MB of tables took
a second of every ``search query``'s start-up). Translations
are ranked by sense order, and the weights of one source word's translations
add up to 1, so a word with twenty senses weighs no more than a word with one
(Pirkola's structured query).
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import logging
import marshal
import os
import re
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal, TypeVar

from ..files import FrozenTable, cache_folder, frozen_at, read_only, replace_path
from . import Lang, english, russian, script_of

DICTIONARY = Path(os.environ.get("SEARCH_DICTIONARY", "/usr/share/dictd/mueller7"))
"""The dictd database, without its .index / .dict.dz suffix."""
GLOSSARY = Path(__file__).with_name("glossary.tsv")
FORMAT = 7
"""Bump when the compiled form changes, so old caches are rebuilt."""
MAX_CANDIDATES = 16
"""Translations kept per source term; a query uses the best of them (``Ranking.max_translations``)."""
MAX_PHRASE_WORDS = 4

Origin = Literal["dictionary", "glossary"]
T = TypeVar("T")
log = logging.getLogger("search")


@dataclass(frozen=True, slots=True)
class Translation:
    """One translation of a source word or phrase: target words, weight, where from."""

    words: tuple[str, ...]
    weight: float
    origin: Origin
    related: bool = False
    """A translation of a verb the dictionary lists instead of the one looked up (its aspect
    partner, or the verb without a prefix): a weaker one."""

    @property
    def text(self) -> str:
        return " ".join(self.words)


Entries = tuple[tuple[tuple[str, ...], float, Origin], ...]
"""A source key's translations: (target words, weight, origin), plain tuples, which marshal stores."""


class Table(Mapping[str, Entries]):
    """Source key -> its translations, with phrases (keys of several words) findable by their first."""

    def starts_phrase(self, word: str) -> bool:
        """Whether a phrase of the table starts with this word: a query tries every run of up to
        MAX_PHRASE_WORDS words as a phrase, and few of them start one."""
        raise NotImplementedError


class _CompiledTable(dict, Table):  # type: ignore[misc]
    """A table compiled in memory."""

    @cached_property
    def _starts(self) -> frozenset[str]:
        return _phrase_starts(self)

    def starts_phrase(self, word: str) -> bool:
        return word in self._starts
TABLES = ("en_ru", "ru_en", "en_stems")


@dataclass
class Lexicon:
    """Compiled translation tables, keyed by normalised source terms."""

    en_ru: Table
    ru_en: Table
    en_stems: Mapping[str, tuple[str, ...]]
    has_dictionary: bool

    def lookup(self, words: list[str], lang: Lang) -> tuple[Translation, ...]:
        """Translations of a word or phrase (its words in order) in language ``lang``.

        A Russian verb also gets those of the verbs a dictionary lists instead of
        it, marked ``related`` (найти: retrieve, and from находить: find); a relational
        adjective the dictionary lacks, its noun's (сенатский: senate).
        """
        table = self.en_ru if lang == "en" else self.ru_en
        if len(words) > 1:
            firsts = russian.lemmas(words[0]) if lang == "ru" else (english.fold(words[0]),)
            if not any(map(table.starts_phrase, firsts)):
                return ()
        # One get per key: from the cache, a membership test would read the entry twice.
        found = next((entry for key in _keys(words, lang, self) if (entry := table.get(key)) is not None), ())
        translations = [Translation(*entry) for entry in found]
        if lang == "ru" and len(words) == 1:
            seen = {t.words for t in translations}
            for lemma in russian.lemmas(words[0]):
                related = russian.related_verbs(lemma) + ([] if translations else russian.adjective_bases(lemma))
                for base in related:
                    for target, weight, origin in table.get(base, ()):
                        if target not in seen:
                            seen.add(target)
                            translations.append(Translation(target, weight, origin, related=True))
        return tuple(translations)


_DOTTED = re.compile(r"^(?:[a-z]\.)+[a-z]?\.?$")
"""An abbreviation written with dots (u.s, a.i.)."""


def _keys(words: list[str], lang: Lang, lexicon: Lexicon) -> Iterator[str]:
    """Normalised keys to try for a source phrase, most specific first."""
    if lang == "ru":
        choices = [russian.lemmas(word) for word in words]
        for combination in itertools.islice(itertools.product(*choices), 16):
            yield " ".join(combination)
        return
    folded = [english.fold(word) for word in words]
    yield " ".join(folded)
    if len(words) == 1 and _DOTTED.match(folded[0]):
        yield folded[0].replace(".", "")  # U.S. -> us, A.I. -> ai
    head, last = folded[:-1], folded[-1]
    for variant in english.spelling_variants(last):
        yield " ".join([*head, variant])
    if len(words) == 1:
        yield from lexicon.en_stems.get(english.stem(last), ())


def ru_key(words: Iterable[str]) -> str:
    """The key of a Russian term: the first lemma of each word."""
    return " ".join(russian.lemmas(word)[0] for word in words)


# ---- compiling ----------------------------------------------------------------

def load(folder: Path | None = None) -> Lexicon:
    """The compiled lexicon, from the machine's cache (in ``folder``) if it is current."""
    stamp = _stamp()
    cache = (folder or cache_folder()) / f"lexicon-{hashlib.sha1(repr(stamp).encode()).hexdigest()[:16]}.sqlite"
    stored = _open_cache(cache, stamp)
    if stored:
        return stored
    with russian.analysed_afresh():  # its words' lemmas are kept: queries check translations by them
        lexicon = _compiled(stamp)
    russian.freeze_kept()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        for name in TABLES:  # before the cache: where it is found, they are too (or it is older)
            entries, starts = _frozen_paths(cache, name)
            table: Mapping[str, Any] = getattr(lexicon, name)
            FrozenTable.write(entries, ((key, marshal.dumps(value)) for key, value in table.items()))
            FrozenTable.write(starts, ((word, b"") for word in _phrase_starts(table)))
        replace_path(cache, lambda tmp: _write_cache(tmp, stamp, lexicon))
    except (OSError, sqlite3.Error):
        pass  # a read-only cache folder: every process compiles it in memory
    return lexicon


def _frozen_paths(cache: Path, name: str) -> tuple[Path, Path]:
    """Where a table's frozen entries and its phrases' first words lie, beside the cache."""
    return cache.with_name(f"{cache.name}.{name}.npy"), cache.with_name(f"{cache.name}.{name}.starts.npy")


def _phrase_starts(keys: Iterable[str]) -> frozenset[str]:
    """The first words of the keys that are phrases."""
    return frozenset(key.split(" ", 1)[0] for key in keys if " " in key)


class _StoredTable(Table):
    """One table of the cache, read entry by entry as queries look words up, and each entry
    (or its absence) kept once read: a query looks up 50-60 keys, most of them absent.

    Read from the frozen tables written beside the cache (``files.FrozenTable``: its entries, and
    the first words of its phrases) where they are: SQLite's look-ups and ranges took a headline
    0.5 ms. A cache written before them is read from SQLite."""

    MEMORY = 100_000
    """Entries a table keeps in memory before it starts afresh."""

    def __init__(self, db: sqlite3.Connection, name: str, cache: Path) -> None:
        self._db, self._name, self._cache = db, name, cache
        self._read: dict[str, tuple | None] = {}
        self._starts: dict[str, bool] = {}

    def get(self, key: str, default: Any = None) -> Any:
        value = self._kept(self._read, key, lambda: self._entry(key))
        return default if value is None else value

    def starts_phrase(self, word: str) -> bool:
        """From the frozen first words, or from SQLite as a range of the keys' index: those after
        "word " and before "word!" (in UTF-8 order, a space is followed by "!")."""
        if self._frozen is not None:
            return self._kept(self._starts, word, lambda: self._frozen[1].get_bytes(word) is not None)
        return self._kept(self._starts, word, lambda: self._db.execute(
            f"SELECT 1 FROM {self._name} WHERE key > ? AND key < ? LIMIT 1", (f"{word} ", f"{word}!")
        ).fetchone() is not None)

    def _entry(self, key: str) -> tuple | None:
        if self._frozen is not None:
            value = self._frozen[0].get_bytes(key)
            return None if value is None else marshal.loads(value)
        row = self._db.execute(f"SELECT value FROM {self._name} WHERE key = ?", (key,)).fetchone()
        return None if row is None else marshal.loads(row[0])

    @cached_property
    def _frozen(self) -> tuple[FrozenTable, FrozenTable] | None:
        """The table's entries and its phrases' first words, frozen, if both were written; mapped
        when first asked (not by a first query whose words the process memo has)."""
        entries, starts = (frozen_at(path) for path in _frozen_paths(self._cache, self._name))
        return None if entries is None or starts is None else (entries, starts)

    def _kept(self, memory: dict[str, T], key: str, read: Callable[[], T]) -> T:
        """What ``read`` gives for a key, read once and kept (MEMORY keys, then afresh)."""
        try:
            return memory[key]
        except KeyError:
            if len(memory) >= self.MEMORY:
                memory.clear()
            value = memory[key] = read()
            return value

    def __getitem__(self, key: str) -> tuple:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return (key for (key,) in self._db.execute(f"SELECT key FROM {self._name}"))

    def __len__(self) -> int:
        return self._db.execute(f"SELECT count(*) FROM {self._name}").fetchone()[0]


def _open_cache(cache: Path, stamp: tuple) -> Lexicon | None:
    """The cached lexicon, or None if the cache is missing, unreadable or stale."""
    try:
        # written aside and renamed into place (``replace_path``), never changed in place: a query's
        # look-ups took 5.4 µs instead of 9-13 the first time
        db = read_only(cache, immutable=True)
    except sqlite3.Error:
        return None
    try:
        row = db.execute("SELECT stamp, has_dictionary FROM meta").fetchone()
        if row and marshal.loads(row[0]) == stamp:
            return Lexicon(*(_StoredTable(db, name, cache) for name in TABLES), bool(row[1]))
    except (sqlite3.Error, ValueError, EOFError, TypeError):
        pass
    db.close()
    return None


def _write_cache(path: Path, stamp: tuple, lexicon: Lexicon) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE meta (stamp BLOB, has_dictionary INTEGER)")
        db.execute("INSERT INTO meta VALUES (?, ?)", (marshal.dumps(stamp), lexicon.has_dictionary))
        for name in TABLES:
            db.execute(f"CREATE TABLE {name} (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID")
            db.executemany(f"INSERT INTO {name} VALUES (?, ?)",
                           ((key, marshal.dumps(value)) for key, value in getattr(lexicon, name).items()))
        db.commit()


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
    parts: list = [FORMAT, str(DICTIONARY), russian.analyser_stamp()]  # its Russian keys are lemmas
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
    ru_en: dict[str, list[tuple[tuple[str, ...], float, Origin]]] = {}
    has_dictionary = dictionary_available(dictionary)
    if has_dictionary:
        for entry in parse_dictionary(dictionary):
            en_ru[entry.headword] = [(term, rank, "dictionary") for rank, term in enumerate(entry.terms)]
            for rank, term in enumerate(entry.own):
                ru_en.setdefault(ru_key(term), []).append(
                    (tuple(entry.headword.split()), _reverse_rank(rank, entry.size), "dictionary"))
    glossary_pairs = list(read_glossary(glossary))
    for english_term, russian_terms in glossary_pairs:
        key = " ".join(english.fold(w) for w in english_term.split())
        # The glossary is curated for modern usage: its senses come first.
        entries = [(tuple(t.split()), rank, "glossary") for rank, t in enumerate(russian_terms)]
        en_ru[key] = entries + [(t, r + len(entries), o) for t, r, o in en_ru.get(key, [])]
        for russian_term in russian_terms:
            english_words = tuple(english_term.split())
            ru_key_ = ru_key(russian_term.split())
            ru_en[ru_key_] = [(english_words, -1.0, "glossary")] + [
                entry for entry in ru_en.get(ru_key_, []) if entry[0] != english_words]
    for word in {word for entries in en_ru.values() for target, _, _ in entries for word in target}:
        if script_of(word) == "ru":
            russian.lemmas(word)  # a query checks by their lemmas which translations occur
    en_table = _CompiledTable({key: _weighted(entries) for key, entries in en_ru.items()})
    ru_table = _CompiledTable({key: _weighted(_ranked(entries)) for key, entries in ru_en.items()})
    stems: dict[str, list[str]] = {}
    for key in en_table:
        if " " not in key and "-" not in key:
            stems.setdefault(english.stem(key), []).append(key)
    en_stems = {stem: tuple(sorted(keys, key=len)) for stem, keys in stems.items()}
    return Lexicon(en_table, ru_table, en_stems, has_dictionary)


def _reverse_rank(rank: int, size: int) -> float:
    """How far down an English headword ranks as a translation of one of its Russian terms.

    Its sense rank, discounted for headwords with long entries: a long entry
    marks a common word (человек -> person, man) where a short one marks a rare
    word whose first sense happens to be the same (aprilfool: человек, ...).
    """
    return (rank + 1) / size ** 0.5


def _ranked(entries: list[tuple[tuple[str, ...], float, Origin]]) -> list[tuple[tuple[str, ...], int, Origin]]:
    """Best first, each entry's score replaced by its position."""
    ordered = sorted(entries, key=lambda entry: (entry[1], len(entry[0]), " ".join(entry[0])))
    return [(words, position, origin) for position, (words, _, origin) in enumerate(ordered)]


def _weighted(entries: list[tuple[tuple[str, ...], int, Origin]]) -> tuple[tuple[tuple[str, ...], float, Origin], ...]:
    """The best MAX_CANDIDATES distinct translations, weights 1/(rank+1) summing to 1."""
    best: dict[tuple[str, ...], tuple[int, Origin]] = {}
    for words, rank, origin in sorted(entries, key=lambda entry: entry[1]):
        best.setdefault(words, (rank, origin))
    chosen = list(best.items())[:MAX_CANDIDATES]
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
_HOMOGRAPH = re.compile(r"_[IVX]+\b")
_LABEL = re.compile(r"_[^\s.]+\.?")
_SENSE_MARK = re.compile(r"(?:^|\s)(?:\d+[.)]|[а-я]\)|[IVX]+\b)(?=\s)")
_REFERENCE = re.compile(r"(?:^|\s)=\s*([A-Za-z][A-Za-z' -]*[A-Za-z])")
_FORM_OF = re.compile(r"_[^\s]+\.?\s+от\s+([A-Za-z][A-Za-z'-]*)")
"""``_p. от choose``, ``_pl. от tooth``, ``_сокр. от violoncellist``: the entry is a form of another."""
_ONLY_RUSSIAN = re.compile(r"[а-яё]+(?:[- ][а-яё]+)*")
_GLOSS = ("обозначает", "означает", "указывает", "употребляется", "выражает", "служит")
"""A sense that starts so describes usage instead of translating (away: обозначает движение)."""


def parse_entry(body: str) -> tuple[list[tuple[str, ...]], list[str], list[str]]:
    """Clean Russian terms of one entry in sense order, the headwords it refers to as the
    same word (``= defence``), and those it is a form of (``_p. от find``)."""
    text = " ".join(body.split("\n")[1:])  # the first line repeats the headword
    forms_of = [ref.lower() for ref in _FORM_OF.findall(text)]
    text = _PHONETICS.sub(" ", text)
    text = _BRACES.sub(" ", text)
    while _PARENS.search(text):
        text = _PARENS.sub(" ", text)
    text = _HOMOGRAPH.sub(" 1) ", text)  # found _I (основывать) and found _II (плавить) are separate senses
    text = _LABEL.sub(" ", text)
    references = [ref.strip().lower() for ref in _REFERENCE.findall(text)]
    terms: list[tuple[str, ...]] = []
    for sense in _SENSE_MARK.split(text):
        for segment in sense.split(";"):
            if re.search(r"[A-Za-z]", segment):
                continue  # an example or a reference, not a translation
            for term in _segment_terms(segment):
                if term not in terms:
                    terms.append(term)
    return terms, references, forms_of


def _is_clause(chunk: str) -> bool:
    """A relative or participial clause (который ..., знающий своё дело), not a participle
    qualifying a noun (вооружённые силы)."""
    words = chunk.split()
    return len(words) > 1 and (words[0].startswith("котор") or russian.is_participle(words[0])
                               and not russian.is_nominative_noun(words[1]))


def _segment_terms(segment: str) -> list[tuple[str, ...]]:
    """The comma-separated terms of one segment of a sense.

    Adjectives listed before a noun phrase qualify its noun (city: большой,
    старинный город): they are not translations, and the noun alone is one.
    """
    candidates: list[tuple[str, ...]] = []
    chunks = segment.split(",")
    for i, candidate in enumerate(chunks):
        if i + 1 < len(chunks) and _is_clause(chunks[i + 1]) or i > 0 and _is_clause(candidate):
            continue  # a description (человек, знающий своё дело), not a translation
        candidate = " ".join(candidate.replace("ё", "е").split()).strip(" -.:!?")
        if (_ONLY_RUSSIAN.fullmatch(candidate) and candidate.count(" ") < MAX_PHRASE_WORDS
                and not candidate.startswith(_GLOSS)):
            words = tuple(candidate.split())
            if any(len(word) > 1 and not russian.is_stopword(word) for word in words):
                candidates.append(words)
    last = candidates[-1] if candidates else ()
    modifiers = [c for c in candidates[:-1] if len(c) == 1 and russian.is_adjective(c[0])]
    if len(modifiers) == len(candidates) - 1 > 0 and len(last) > 1 and all(
            russian.is_adjective(word) for word in last[:-1]) and russian.is_noun(last[-1]):
        return [last, last[-1:]]
    return candidates


@dataclass(frozen=True)
class Entry:
    """One headword of the dictionary and its Russian terms."""

    headword: str
    own: list[tuple[str, ...]]  # its senses and those of ``= headword`` references (defense = defence)
    terms: list[tuple[str, ...]]  # then those of the words it is a form of (found: find)
    size: int  # characters of text: long entries are common words


def parse_dictionary(dictionary: Path) -> Iterator[Entry]:
    """Every entry with terms, following ``= headword`` and ``_p. от headword`` references.

    Inflected forms (found, shown) take their base word's terms for English ->
    Russian, but are not offered as translations of them (найти -> find, not found).
    """
    parsed: dict[str, tuple[list[tuple[str, ...]], list[str], list[str], int]] = {}
    for headword, body in read_dictd(dictionary):
        key = " ".join(headword.lower().split())
        terms, references, forms_of = parse_entry(body)
        old_terms, old_references, old_forms_of, old_size = parsed.get(key, ([], [], [], 0))
        parsed[key] = (_merged(old_terms, terms), old_references + references, old_forms_of + forms_of,
                       old_size + len(body))

    def terms_of(headwords: list[str]) -> list[tuple[str, ...]]:
        return [term for headword in headwords for term in parsed.get(headword, ([],))[0]]

    for key, (terms, references, forms_of, size) in parsed.items():
        own = _merged(terms, terms_of(references))
        merged = _merged(own, terms_of(forms_of))
        if merged:
            yield Entry(key, own, merged, size)


def _merged(first: list[tuple[str, ...]], then: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    return first + [term for term in dict.fromkeys(then) if term not in first]


@lru_cache(maxsize=1)
def cached() -> Lexicon:
    """One lexicon per process."""
    return load()

